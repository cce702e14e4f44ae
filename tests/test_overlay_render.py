"""Each overlay in Debian's Chromium against a real bus fed deterministic events: what a viewer sees."""

from __future__ import annotations

from typing import Any

import pytest
from overlay_support import BusMaker, Console, emit_state, eventually, open_overlay, png_alpha, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

def player(health: int, health_max: int, mp: int, mp_max: int) -> dict[str, int]:
    return {"health_current": health, "health_max": health_max, "mp_current": mp, "mp_max": mp_max}


XSS = '<img src=x onerror="window.__pwned=1"><b>Lace</b>'


async def test_hp_masks_follow_health_and_silk_bar_follows_mp(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    await emit_state(bus, "player_update", player(4, 5, 3, 9))
    page, console = await open_overlay(browser, bus, "hp", "show_numbers=1")
    # the snapshot alone draws the current values
    assert await page.locator(".mask").count() == 5
    assert await page.locator(".mask.full").count() == 4
    await emit_state(bus, "player_update", player(2, 7, 9, 9))
    await page.wait_for_function("document.querySelectorAll('.mask.full').length === 2")
    # a hit flashes (and the lost masks crack); started in the next frame
    await page.wait_for_function("document.getElementById('fx-hit').getAnimations().length === 1")
    assert await page.locator(".mask").count() == 7
    assert await page.text_content("#hp-num") == "2/7"
    assert await page.get_attribute("#silk-fill", "style") == "transform: scaleX(1);"
    await emit_state(bus, "player_update", player(6, 7, 3, 9))
    await page.wait_for_function("document.querySelectorAll('.mask.full').length === 6")
    await page.wait_for_function("document.getElementById('fx-heal').getAnimations().length === 1")
    assert await page.text_content("#silk-num") == "3/9"
    assert not console.of("error") and not console.of("pageerror")
    await page.close()


async def test_damage_number_appears_then_is_gone_after_its_animation(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    # The page's clock is Playwright's, paused once the page is live: a number fades only when the
    # test moves it, however slow the machine (no race with the 1 s float).
    page = await browser.new_page(viewport={"width": 960, "height": 540})
    console = Console()
    page.on("console", console)
    await page.clock.install()
    await page.goto(f"{bus.url('http')}/overlays/damage?duration=1000")
    await wait_live(page)
    await page.clock.pause_at(1_900_000_000_000)
    bus.hub.emit("combat_damage", {"damage": 13, "is_player_damage": False, "enemy_type": "Moss Mother"})
    await page.wait_for_selector(".dmg.dealt", timeout=5000)
    assert await page.text_content(".dmg.dealt") == "13"
    bus.hub.emit("combat_damage", {"damage": 2, "is_player_damage": True})
    await page.wait_for_selector(".dmg.taken.big", timeout=5000)
    # a taken hit has its own color
    dealt, taken = await page.evaluate(
        "[getComputedStyle(document.querySelector('.dmg.dealt')).color,"
        " getComputedStyle(document.querySelector('.dmg.taken')).color]")
    assert dealt != taken
    await page.clock.run_for(1300)  # past the float (and its backup timer)
    await page.wait_for_function("document.querySelectorAll('.dmg').length === 0", timeout=5000)
    assert not console.of("error")
    await page.close()


async def test_damage_numbers_cap_and_merge_at_high_rates(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    merged, _ = await open_overlay(browser, bus, "damage", "duration=5000&merge_ms=5000")
    capped, _ = await open_overlay(browser, bus, "damage", "duration=5000&merge_ms=0&max_numbers=5")
    for _ in range(40):
        bus.hub.emit("combat_damage", {"damage": 5, "is_player_damage": False})
    await merged.wait_for_function("document.querySelector('.dmg') && "
                                   "document.querySelector('.dmg .times').textContent === '\u00d740'")
    assert await merged.locator(".dmg").count() == 1
    assert await merged.text_content(".dmg span") == "200"
    assert "huge" in (await merged.get_attribute(".dmg", "class") or "")  # 200 >= 3 x big_hit 20
    await capped.wait_for_function("document.getElementById('damage').dataset.shown === '40'")
    assert await capped.locator(".dmg").count() == 5
    await merged.close()
    await capped.close()


async def test_death_counter_shows_session_and_all_time(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    for _ in range(2):
        bus.hub.emit("player_death", {"location": "Bone_05", "cause": "Moss Mother"})
    page, _ = await open_overlay(browser, bus, "deaths", "label=" + "%3Cb%3ERIP%3C%2Fb%3E")
    assert await page.text_content("#session") == "2"
    assert int(await page.text_content("#total") or 0) >= 2
    bus.hub.emit("player_death", {"location": "Bone_05"})
    await page.wait_for_function("document.getElementById('session').textContent === '3'")
    assert await page.text_content(".session .dx-label") == "<b>RIP</b>"  # a string setting is text too
    assert bus.state.snapshot()["deaths"]["session"] == 3
    await page.close()


async def test_boss_timer_counts_attempts_best_and_last_result(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page, console = await open_overlay(browser, bus, "boss")
    bus.hub.emit("boss_encounter", {"boss_name": XSS, "phase": "start"})
    await page.wait_for_function("document.getElementById('boss').classList.contains('active')")
    # the HTML-carrying name is shown as text: no element was created from it
    assert await page.text_content("#boss-name") == XSS
    assert await page.locator("#boss-name img, #boss-name b").count() == 0
    assert await page.evaluate("window.__pwned") is None
    assert await page.text_content("#boss-attempts") == "1"
    first = await page.text_content("#boss-timer")
    await page.wait_for_function(f"document.getElementById('boss-timer').textContent !== {first!r}")
    bus.hub.emit("boss_defeated", {"boss_name": XSS, "time": 42.5})
    await page.wait_for_function("document.getElementById('boss-last').textContent.startsWith('Defeated')")
    assert await page.text_content("#boss-last") == f"Defeated {XSS} in 0:42.5"
    assert await page.text_content("#boss-best") == "0:42.5"
    assert await page.text_content("#boss-timer") == "0:42.5"
    # a second attempt, lost: attempts 2, best unchanged
    bus.hub.emit("boss_encounter", {"boss_name": XSS, "phase": "start"})
    await page.wait_for_function("document.getElementById('boss-attempts').textContent === '2'")
    bus.hub.emit("player_death", {"location": "Cradle_03"})
    await page.wait_for_function("document.getElementById('boss-last').textContent.startsWith('Died')")
    assert await page.text_content("#boss-best") == "0:42.5"
    assert not console.of("error")
    # a fresh page gets the same from the snapshot
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother", "time": 61.0})
    again, _ = await open_overlay(browser, bus, "boss", "show_list=1")
    assert await again.text_content("#boss-best") == "1:01.0"
    assert (await again.text_content("#boss-last") or "").startswith("Defeated Moss Mother")
    rows = await again.eval_on_selector_all(
        "#boss-list li", "lis => lis.map(li => Array.from(li.children, c => c.textContent))")
    assert rows == [["Moss Mother", "1\u00d7", "1:01.0"], [XSS, "2\u00d7", "0:42.5"]]
    assert await again.locator("#boss-list img").count() == 0
    await page.close()
    await again.close()


async def test_room_shows_area_room_and_time_in_room(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page, _ = await open_overlay(browser, bus, "room")
    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bonetown"})
    await page.wait_for_function("document.getElementById('room-name').textContent === 'Bonetown'")
    assert await page.text_content("#room-area") == "Bone Bottom"
    await emit_state(bus, "timing_update", {"scene_time": 75.0, "session_time": 600.0})
    await page.wait_for_function("document.getElementById('room-time').textContent.startsWith('1:15')")
    bus.hub.emit("scene_transition", {"from_scene": "Bonetown", "to_scene": "<i>Nowhere</i>"})
    await page.wait_for_function("document.getElementById('room-name').textContent === '<i>Nowhere</i>'")
    assert await page.locator("#room i").count() == 0
    await page.close()


async def test_session_stats(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bonetown"})
    bus.hub.emit("combat_damage", {"damage": 10, "is_player_damage": False})
    page, _ = await open_overlay(browser, bus, "stats", "show_kills=1")
    assert await page.text_content("#stat-dealt") == "10"
    bus.hub.emit("combat_damage", {"damage": 7, "is_player_damage": False})
    bus.hub.emit("combat_damage", {"damage": 1, "is_player_damage": True})
    bus.hub.emit("player_death", {"location": "Bonetown"})
    bus.hub.emit("scene_transition", {"from_scene": "Bonetown", "to_scene": "Bone_05"})
    bus.hub.emit("enemy_killed", {"enemy_name": "Mossgrub"})
    await emit_state(bus, "timing_update", {"session_time": 3725.0, "scene_time": 1.0})
    await page.wait_for_function("document.getElementById('stat-time').textContent.startsWith('1:02:0')")
    assert await page.text_content("#stat-dealt") == "17"
    assert await page.text_content("#stat-taken") == "1"
    assert await page.text_content("#stat-deaths") == "1"
    assert await page.text_content("#stat-kills") == "1"
    state_rooms = bus.state.snapshot()["scene"]["rooms_visited"]
    assert await page.text_content("#stat-rooms") == str(state_rooms)
    await page.close()


async def test_alert_renders_message_as_text_with_animation_and_sound(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page, console = await open_overlay(browser, bus, "alerts")
    # An alert lives 0.4 s: record each one as it is added (a lasting trace), never race its removal.
    await page.evaluate(ALERT_RECORDER)
    bus.hub.emit("alert", {"id": "t1", "rule": "test", "message": "Hit <b>x3</b> & more",
                           "sound": "death.wav", "volume": 0.5, "duration": 0.4, "style": "boss",
                           "priority": 1, "count": 3})
    await page.wait_for_function("window.seenAlerts.length === 1", timeout=5000)
    seen = await page.evaluate("window.seenAlerts[0]")
    assert "style-boss" in seen["classes"]
    assert seen["message"] == "Hit <b>x3</b> & more" and seen["count"] == "\u00d73"
    assert seen["bold"] == 0  # text, never HTML
    assert seen["animations"] >= 1  # it pops in
    sound = await page.evaluate("[DXBus.sound.last.dataset.src, DXBus.sound.last.volume]")
    assert sound == ["/static/sounds/death.wav", 0.5]
    # shown for its duration, then gone
    await page.wait_for_function("document.querySelectorAll('.alert').length === 0", timeout=5000)
    assert await page.get_attribute("#alerts", "data-shown") == "1"
    # a sound outside /static is refused, the alert still shows
    bus.hub.emit("alert", {"message": "evil", "sound": "http://evil.example/x.mp3", "duration": 0.3})
    await page.wait_for_function("window.seenAlerts.length === 2", timeout=5000)
    assert await page.evaluate("window.seenAlerts[1].message") == "evil"

    async def warned() -> bool:
        return any("sounds are served from /static/sounds/" in w for w in console.of("warning"))

    await eventually(warned, what="the sound warning")
    await page.close()


# Records every alert element as the page adds it: classes, text, badge, animations started.
ALERT_RECORDER = """() => {
  window.seenAlerts = [];
  new MutationObserver((changes) => changes.forEach((change) => change.addedNodes.forEach((el) => {
    if (!el.classList || !el.classList.contains("alert")) return;
    const count = el.querySelector(".count");
    window.seenAlerts.push({
      classes: el.className, message: el.querySelector(".message").textContent,
      count: count ? count.textContent : null, bold: el.querySelectorAll("b").length,
      animations: el.getAnimations().length,
    });
  }))).observe(document.getElementById("alerts"), { childList: true });
}"""


async def test_background_is_transparent(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    await emit_state(bus, "player_update", player(5, 5, 9, 9))
    page, _ = await open_overlay(browser, bus, "hp", "motion=0", size=(400, 200))
    await emit_state(bus, "player_update", player(2, 5, 9, 9))
    await page.wait_for_function("document.querySelectorAll('.mask.full').length === 2")
    assert await page.evaluate("document.getAnimations().length") == 0  # motion=0: no animation at all
    png = await page.screenshot(omit_background=True)
    alpha = png_alpha(png)
    # corners and the area right of the bars: fully transparent; a mask: opaque
    assert alpha(1, 1) == 0 and alpha(399, 199) == 0 and alpha(390, 20) == 0 and alpha(200, 190) == 0
    box = await page.locator(".mask.full").first.bounding_box()  # (2 of 5 full now)
    assert box is not None
    assert alpha(int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2)) > 200
    await page.close()


@pytest.mark.setting_warnings
async def test_bad_settings_are_clamped_or_defaulted_with_warnings(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    await emit_state(bus, "player_update", {"health_current": 3, "health_max": 5})
    query = "mask_size=99999&mask_color=javascript:alert(1)&show_silk=maybe&theme=neon&bogus=1&scale=2"
    page, console = await open_overlay(browser, bus, "hp", query)
    assert await page.locator(".mask.full").count() == 3  # not a blank page
    settings = await page.evaluate("DXBus.settings")
    assert settings["mask_size"] == 160 and settings["mask_color"] == "#f5f1e8"  # clamped; default
    assert settings["show_silk"] is True and settings["theme"] == "silk" and settings["scale"] == 2
    warnings = "\n".join(console.of("warning"))
    for key in ("mask_size", "mask_color", "show_silk", "theme", "bogus"):
        assert key in warnings, (key, warnings)
    # one implementation: the CSS variables carry the same values as the script
    css = await page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--hp-size')")
    assert css.strip() == "160px"
    assert await page.get_attribute("html", "data-theme") == "silk"
    await page.close()


async def test_gallery_lists_every_overlay_with_preview_form_and_url(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    console = Console()
    page.on("console", console)  # the previews' messages too
    page.on("pageerror", lambda exc: console.messages.append(("pageerror", str(exc))))
    await page.goto(f"{bus.url('http')}/overlays")
    names = await page.eval_on_selector_all("article.card", "els => els.map(e => e.dataset.name)")
    assert {"hp", "damage", "deaths", "boss", "room", "stats", "alerts"} <= set(names)
    url = await page.input_value("#card-hp input.url")
    assert url == f"{bus.url('http')}/overlays/hp"
    # the recommended size follows the settings (overlays/sizing.py: 10 masks, numbers...)
    await page.wait_for_function("document.querySelector('#card-hp').dataset.resolving === ''")
    assert await page.text_content("#card-hp .size") == "Width 536 × Height 164"
    await page.check("#card-hp input[name=show_numbers]")
    await page.select_option("#card-hp select[name=position]", "bottom-right")
    # the URL is the server's answer for the form (GET /api/overlays/hp/resolve)
    await page.wait_for_function("document.querySelector('#card-hp input.url').value"
                                 ".endsWith('/overlays/hp?position=bottom-right&show_numbers=1')")
    frame = page.frame_locator("#card-hp iframe")
    await frame.locator("html[data-position=bottom-right]").wait_for(timeout=5000)
    # the test button publishes the manifest's sample events; the preview shows them
    async with page.expect_response("**/api/overlays/hp/test"):
        await page.click("#card-hp button.test")
    await frame.locator(".mask.full").nth(4).wait_for(timeout=5000)
    await page.click("#unmute")
    await eventually(lambda: _has(frame, "html[data-sound=on]"), what="sound unlocked in the preview")
    assert not console.of("error") and not console.of("pageerror"), console.messages
    await page.close()


async def _has(frame: Any, selector: str) -> bool:
    return await frame.locator(selector).count() > 0


async def drawn(page: Any, expression: str) -> bool:
    """Let one animation frame pass on the page's (installed, paused) clock, then evaluate."""
    await page.clock.run_for(20)
    return bool(await page.evaluate(expression))


async def test_boss_timer_follows_the_page_clock(browser: Any, buses: BusMaker) -> None:
    """The timer is the server's reading plus the page's own time since it: Playwright's clock drives
    the page, the bus's ManualClock the server (no waiting for real seconds)."""
    bus = await buses.make()
    page = await browser.new_page(viewport={"width": 800, "height": 300})
    await page.clock.install()
    await page.goto(f"{bus.url('http')}/overlays/boss?tenths=0")
    await page.wait_for_function("DXBus.client && DXBus.client.stats.snapshots > 0")
    await page.clock.pause_at(1_900_000_000_000)
    bus.hub.emit("boss_encounter", {"boss_name": "Lace", "phase": "start"})
    await eventually(lambda: drawn(page, "document.getElementById('boss').classList.contains('active')"),
                     what="the fight to start")
    # (under 40 s in all: two keep-alive pings in a frozen page would count as a dead socket)
    # (the text is redrawn every 250 ms of the page's clock, in a phase set by real time before the
    # clock paused: after 19.4 s the last redraw was at 19.15 s or later, so it shows 0:19 in any phase)
    await page.clock.run_for(19_400)
    assert await page.text_content("#boss-timer") == "0:19"
    await bus.clock.advance(19.4)  # type: ignore[attr-defined]
    bus.hub.emit("boss_defeated", {"boss_name": "Lace"})  # no time in the event: the bus clock's
    await eventually(lambda: drawn(page, "!document.getElementById('boss').classList.contains('active')"),
                     what="the fight to end")
    assert await page.text_content("#boss-last") == "Defeated Lace in 0:19"
    await page.clock.run_for(10_000)
    assert await page.text_content("#boss-timer") == "0:19"  # stopped
    await page.close()
