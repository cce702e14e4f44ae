"""What an alert looks like in Debian's Chromium: a title and a message line, an icon per kind, a
picture from the user's images folder (and nothing from outside it), and the in/out animation presets.

Animations are never raced: the page's `Element.animate` is wrapped before it loads, and the moment an
alert element starts an animation the wrapper notes what `element.getAnimations()` says then
(keyframes, timing). The alert then stays up for as long as the test needs (the server's queue runs on
a ManualClock) and leaves when the test skips it (`POST /api/alerts/skip`).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from overlay_support import BusMaker, open_overlay
from yarl import URL

from dxbus.alerts.config import ICONS
from dxbus.alerts.install import alerts_part
from dxbus.bus import Bus
from dxbus.config import ConfigError, load_config
from dxbus.events import TEST

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# A 1x1 GIF (the smallest valid one) and a 3x2 PNG, written by the tests into the user's folder.
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def png(width: int = 3, height: int = 2) -> bytes:
    """An opaque red RGBA PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


# Before any page script: note every animation an alert element starts, as getAnimations() reports it.
RECORD_ANIMATIONS = """(() => {
  const real = Element.prototype.animate;
  window.alertAnimations = [];
  Element.prototype.animate = function (...args) {
    const made = real.apply(this, args);
    if (this.classList && this.classList.contains("alert")) {
      window.alertAnimations.push({
        id: this.dataset.id,
        animations: this.getAnimations().map((a) => ({
          keyframes: a.effect.getKeyframes().map((k) => ({offset: k.computedOffset, opacity: k.opacity,
                                                          transform: k.transform || null})),
          duration: a.effect.getTiming().duration, easing: a.effect.getTiming().easing,
          fill: a.effect.getTiming().fill, running: a.playState === "running"})),
      });
    }
    return made;
  };
})()"""

LONG = 120  # seconds: an alert that stays until the test skips it


async def post(bus: Bus, path: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as http, http.post(bus.url() + path, json=body or {}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def get_status(bus: Bus, path: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(URL(bus.url() + path, encoded=True)) as resp:
        return resp.status


async def open_recorded(browser: Any, bus: Bus, query: str = "") -> Any:
    page = await browser.new_page(viewport={"width": 960, "height": 540})
    await page.add_init_script(RECORD_ANIMATIONS)
    query = "&".join(p for p in ("preview=1", "sound=0", query) if p)
    await page.goto(bus.url() + "/overlays/alerts?" + query)
    await page.wait_for_function("window.DXBus && DXBus.client && DXBus.client.stats.snapshots >= 1 "
                                 "&& document.documentElement.dataset.bus === 'live'", timeout=10_000)
    return page


async def shown(page: Any, alert_id: str) -> dict[str, Any]:
    """Once the page shows alert `alert_id`: its title, message, icon and picture as the viewer sees them."""
    selector = f'.alert[data-id="{alert_id}"]'
    await page.wait_for_selector(selector, timeout=10_000)
    return dict(await page.eval_on_selector(selector, """el => {
      const img = (cls) => { const i = el.querySelector("img." + cls);
        return i ? {src: i.dataset.src, loaded: i.complete && i.naturalWidth > 0} : null; };
      const title = el.querySelector(".title");
      return {title: title ? title.textContent : null, message: el.querySelector(".message").textContent,
              icon: img("icon"), picture: img("picture"),
              tags: el.querySelectorAll("b, i, img:not(.icon):not(.picture)").length};
    }"""))


async def loaded(page: Any, alert_id: str, cls: str) -> None:
    await page.wait_for_function(
        f'(() => {{ const i = document.querySelector(\'.alert[data-id="{alert_id}"] img.{cls}\');'
        " return i && i.complete && i.naturalWidth > 0; })()", timeout=10_000)


async def test_every_kind_has_a_title_and_an_icon_of_its_own(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make(overrides={"Alerts": {"Rules": [
        {"Name": "big_hit", "Event": "combat_damage", "Duration": LONG,
         "Message": "Ouch <b>{{ data.damage }}</b>", "Title": "<i>Hit</i> for {{ data.damage }}"},
        {"Name": "custom_thing", "Event": "custom_event", "Duration": LONG, "Message": "hello"}]}})
    page = await open_recorded(browser, bus)
    expected = {"boss_defeated": ("Boss defeated", "boss"), "death": ("Death", "death"),
                "low_health": ("Low health", "low-health"), "ability_obtained": ("Ability obtained", "item"),
                "no_damage_streak": ("No-hit streak", "milestone"),
                "perfect_room": ("Perfect room", "perfect"),
                "speed_room": ("Speed room", "speed"), "new_area": ("Discovered", "area")}
    icons = set()
    for rule, (title, icon) in expected.items():
        fired = (await post(bus, "/api/alerts/test", {"rule": rule}))["alert"]
        seen = await shown(page, fired["id"])
        assert seen["title"] == title and seen["message"] == fired["message"], rule
        assert seen["icon"]["src"] == f"/static/alerts/icons/{icon}.svg", rule
        await loaded(page, fired["id"], "icon")  # the shipped SVG is there and draws
        assert seen["picture"] is None
        icons.add(icon)
        await post(bus, "/api/alerts/skip")  # the next test alert may come, after the gap
        await bus.clock.advance(1)
    assert len(icons) == len(expected)
    # A custom rule: its own title template (text, never HTML), or its name in words, and the generic icon.
    fired = (await post(bus, "/api/alerts/test", {"rule": "big_hit", "data": {"damage": 3}}))["alert"]
    seen = await shown(page, fired["id"])
    assert seen["title"] == "<i>Hit</i> for 3" and seen["message"] == "Ouch <b>3</b>" and seen["tags"] == 0
    assert seen["icon"]["src"] == "/static/alerts/icons/generic.svg"
    await post(bus, "/api/alerts/skip")
    await bus.clock.advance(1)
    fired = (await post(bus, "/api/alerts/test", {"rule": "custom_thing", "data": {}}))["alert"]
    assert (await shown(page, fired["id"]))["title"] == "Custom thing"
    # Typography: a dash and a multiplication sign, not ASCII stand-ins.
    assert bus.alerts.specs["death"].merge_message.startswith("\u00d7")
    assert "\u2014 NEW BEST" in bus.alerts.specs["boss_defeated"].message
    await page.close()


async def test_every_shipped_icon_is_a_small_svg_the_page_can_draw(buses: BusMaker) -> None:
    bus = await buses.make()
    folder = Path(__file__).resolve().parent.parent / "static" / "alerts" / "icons"
    for name in ICONS:
        text = (folder / f"{name}.svg").read_text()
        assert text.startswith("<svg") and "<script" not in text and len(text) < 2000, name
        assert await get_status(bus, f"/static/alerts/icons/{name}.svg") == 200


async def test_a_picture_from_the_users_folder_shows_and_nothing_outside_it(
        browser: Any, buses: BusMaker, tmp_path: Path) -> None:
    folder = tmp_path / "my-images"
    folder.mkdir()
    (folder / "hype.gif").write_bytes(GIF)
    (folder / "boss.png").write_bytes(png())
    (folder / "notes.txt").write_text("not an image")
    (folder / "evil.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    (tmp_path / "secret.png").write_bytes(png())  # beside the folder, never served
    bus = await buses.make(overrides={"Alerts": {
        "ImagesDirectory": str(folder),
        "Detectors": {"BossDefeated": {"Image": "boss.png", "Duration": LONG}},
        "Rules": [{"Name": "hype", "Event": "custom_event", "Image": "hype.gif", "Duration": LONG,
                   "Message": "hype"}]}})
    page = await open_recorded(browser, bus)
    fired = (await post(bus, "/api/alerts/test", {"rule": "hype", "data": {}}))["alert"]
    assert fired["image"] == "/static/user-images/hype.gif"
    seen = await shown(page, fired["id"])
    assert seen["picture"]["src"] == "/static/user-images/hype.gif"
    await loaded(page, fired["id"], "picture")
    await post(bus, "/api/alerts/skip")
    await bus.clock.advance(1)
    fired = (await post(bus, "/api/alerts/test", {"rule": "boss_defeated"}))["alert"]
    await loaded(page, fired["id"], "picture")
    assert (await shown(page, fired["id"]))["icon"]["src"] == "/static/alerts/icons/boss.svg"
    # Only plain image names inside the folder are served.
    assert await get_status(bus, "/static/user-images/boss.png") == 200
    for path in ("..%2Fsecret.png", "%2e%2e%2fsecret.png", "..%5Csecret.png", "notes.txt", "evil.svg",
                 "missing.png", ".hidden.png"):
        assert await get_status(bus, "/static/user-images/" + path) == 404, path
    assert await get_status(bus, "/static/user-images/../secret.png") == 404
    # An `alert` event naming a picture elsewhere shows the alert without it.
    for where in ("http://evil.example/x.png", "/static/../secret.png", "javascript:alert(1)"):
        bus.hub.emit("alert", {"id": "elsewhere", "message": "no picture", "image": where, "icon": where,
                               "duration": LONG}, origin=TEST)
        seen = await shown(page, "elsewhere")
        assert seen["message"] == "no picture" and seen["picture"] is None and seen["icon"] is None
        await page.evaluate("document.querySelector('.alert[data-id=\"elsewhere\"]').remove()")
    await page.close()


async def test_a_picture_that_is_not_a_plain_image_in_the_folder_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "secret.png").write_bytes(png())
    (tmp_path / "images" / "logo.svg").write_text("<svg/>")
    for image, says in (("../secret.png", "not a plain image file name"), ("logo.svg", "not a plain image"),
                        ("missing.gif", "not found")):
        config = load_config(None, {"State": {"File": str(tmp_path / "s.json")},
                                    "Alerts": {"Detectors": {"Death": {"Image": image}}}})
        with pytest.raises(ConfigError) as info:
            alerts_part(Bus(config, base_dir=tmp_path))
        assert "Detectors.Death Image" in str(info.value) and says in str(info.value), image
    with pytest.raises(ConfigError) as info:
        load_config(None, {"Alerts": {"Detectors": {"Death": {"Icon": "../x"}}}})
    assert "not a built-in icon" in str(info.value)


def frames(preset: str, entering: bool) -> list[dict[str, Any]]:
    """The keyframes each preset should give (computed by the browser: offsets filled in)."""
    if preset == "fade":
        out = [{"offset": 0, "opacity": "0", "transform": None},
               {"offset": 1, "opacity": "1", "transform": None}]
    elif preset == "slide":
        out = [{"offset": 0, "opacity": "0", "transform": "translateY(-60px)"},
               {"offset": 1, "opacity": "1", "transform": "translateY(0px)"}]
    else:
        if not entering:
            return [{"offset": 0, "opacity": "1", "transform": "scale(1)"},
                    {"offset": 1, "opacity": "0", "transform": "scale(0.5)"}]
        return [{"offset": 0, "opacity": "0", "transform": "scale(0.5)"},
                {"offset": 0.7, "opacity": "1", "transform": "scale(1.08)"},
                {"offset": 1, "opacity": "1", "transform": "scale(1)"}]
    return out if entering else [{**out[1], "offset": 0}, {**out[0], "offset": 1}]


@pytest.mark.parametrize("preset", ["fade", "slide", "pop"])
async def test_each_animation_preset_runs_its_keyframes_in_and_out(
        browser: Any, buses: BusMaker, preset: str) -> None:
    bus = await buses.make(overrides={"Alerts": {"Detectors": {"Death": {"Duration": LONG}}}})
    page = await open_recorded(browser, bus, f"animation_in={preset}&animation_out={preset}&motion=1.5")
    fired = (await post(bus, "/api/alerts/test", {"rule": "death"}))["alert"]
    await shown(page, fired["id"])
    [entered] = await page.evaluate("window.alertAnimations")
    assert entered["id"] == fired["id"]
    [anim] = entered["animations"]  # element.getAnimations() as the in animation started
    assert anim["keyframes"] == frames(preset, True)
    assert anim["duration"] == 600 and anim["easing"] == "ease-out" and anim["running"]  # 400 ms x motion
    await post(bus, "/api/alerts/skip")  # the operator ends it: the page plays the out animation
    await page.wait_for_function("window.alertAnimations.length === 2", timeout=10_000)
    left = (await page.evaluate("window.alertAnimations"))[1]
    assert left["id"] == fired["id"]
    out = [a for a in left["animations"] if a["fill"] == "forwards"]
    assert [a["keyframes"] for a in out] == [frames(preset, False)]
    assert out[0]["duration"] == 600 and out[0]["easing"] == "ease-in"
    await page.wait_for_function("document.querySelectorAll('.alert').length === 0", timeout=10_000)
    await page.close()


async def test_slide_comes_from_the_bottom_for_an_overlay_at_the_bottom(
        browser: Any, buses: BusMaker) -> None:
    bus = await buses.make(overrides={"Alerts": {"Detectors": {"Death": {"Duration": LONG}}}})
    page = await open_recorded(browser, bus, "animation_in=slide&position=bottom-center")
    fired = (await post(bus, "/api/alerts/test", {"rule": "death"}))["alert"]
    await shown(page, fired["id"])
    [entered] = await page.evaluate("window.alertAnimations")
    assert entered["animations"][0]["keyframes"][0]["transform"] == "translateY(60px)"
    await page.close()


async def test_none_shows_and_takes_down_an_alert_without_any_animation(
        browser: Any, buses: BusMaker) -> None:
    bus = await buses.make(overrides={"Alerts": {"Detectors": {"Death": {"Duration": LONG}}}})
    page = await open_recorded(browser, bus, "animation_in=none&animation_out=none")
    fired = (await post(bus, "/api/alerts/test", {"rule": "death"}))["alert"]
    await shown(page, fired["id"])
    assert await page.eval_on_selector(".alert", "el => el.getAnimations().length") == 0
    await post(bus, "/api/alerts/skip")
    await page.wait_for_function("document.querySelectorAll('.alert').length === 0", timeout=10_000)
    assert await page.evaluate("window.alertAnimations") == []
    await page.close()


async def test_the_gallery_sample_and_the_defaults_look_right(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page, console = await open_overlay(browser, bus, "alerts", "preview=1&sound=0")
    await post(bus, "/api/overlays/alerts/test")
    await page.wait_for_selector(".alert .title", timeout=10_000)
    assert await page.text_content(".alert .title") == "Boss defeated"
    assert await page.get_attribute(".alert img.icon", "data-src") == "/static/alerts/icons/boss.svg"
    assert await page.evaluate("DXBus.settings.animation_in") == "pop"
    assert await page.evaluate("DXBus.settings.animation_out") == "fade"
    assert not console.of("error") and not console.of("pageerror")
    await page.close()


async def test_the_page_follows_the_server_a_new_alert_replaces_the_one_on_screen(
        browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page = await open_recorded(browser, bus, "animation_out=none")
    bus.hub.emit("alert", {"id": "one", "title": "First", "message": "one", "duration": LONG}, origin=TEST)
    await shown(page, "one")
    bus.hub.emit("alert_end", {"id": "someone-else", "reason": "skipped"}, origin=TEST)  # not this one
    bus.hub.emit("alert", {"id": "two", "title": "Second", "message": "two", "duration": LONG}, origin=TEST)
    await shown(page, "two")  # at once: the page never holds an alert back the server sent
    assert await page.eval_on_selector_all(".alert", "els => els.map(e => e.dataset.id)") == ["two"]
    bus.hub.emit("alert_end", {"id": "two", "reason": "skipped"}, origin=TEST)
    await page.wait_for_function("document.querySelectorAll('.alert').length === 0", timeout=10_000)
    assert await page.get_attribute("#alerts", "data-shown") == "2"
    await page.close()
