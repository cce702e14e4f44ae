"""Overlays in Chromium across bus restarts, dropped sockets and edits: recover, never double, reload."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from overlay_support import BusMaker, emit_state, eventually, open_overlay, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

USER_TEMPLATE = """{% extends "_base.html.j2" %}
{% block style %}#msg { color: red; }{% endblock %}
{% block body %}<p id="msg">VERSION</p><p id="deaths">?</p>{% endblock %}
{% block script %}
DXBus.connect({
  snapshot: function (snap) {
    DXBus.setText(document.getElementById("deaths"), (snap.state.deaths || {}).session);
  },
});
{% endblock %}
"""


# In-page expressions for the damage overlay: numbers created so far, and the texts on screen.
SHOWN = "document.getElementById('damage').dataset.shown"
NUMBERS = "Array.from(document.querySelectorAll('.dmg'), e => e.firstChild.textContent)"


async def test_bus_restart_recovers_values_without_duplicate_damage_numbers(
        browser: Any, buses: BusMaker) -> None:
    first = await buses.make()
    ports = dict(first.ports)
    first.hub.emit("player_death", {"location": "Bone_05"})
    await emit_state(first, "player_update", {"health_current": 4, "health_max": 5})
    hp, _ = await open_overlay(browser, first, "hp")
    # The longest float the manifest allows; the checks below never depend on a number still floating
    # (it fades on its own clock): `data-shown` counts the numbers created, and lasts.
    damage, console = await open_overlay(browser, first, "damage", "duration=10000&merge_ms=0")
    deaths, _ = await open_overlay(browser, first, "deaths")
    first.hub.emit("combat_damage", {"damage": 13, "is_player_damage": False})
    await damage.wait_for_function(f"{SHOWN} === '1' && {NUMBERS}.includes('13')")

    assert await hp.locator(".mask.full").count() == 4
    await buses.stop(first)
    for page in (hp, damage, deaths):
        await page.wait_for_function("document.documentElement.dataset.bus !== 'live'")
    # while the bus is down the last values stay on screen, and nothing new pops up
    assert await hp.locator(".mask.full").count() == 4
    assert await damage.evaluate(SHOWN) == "1"

    second = await buses.make(ports=ports)
    for page in (hp, damage, deaths):
        await wait_live(page, snapshots=2)
    assert await damage.evaluate(SHOWN) == "1"  # reconnecting did not show the 13 again
    await emit_state(second, "player_update", {"health_current": 2, "health_max": 5})
    await hp.wait_for_function("document.querySelectorAll('.mask.full').length === 2")
    second.hub.emit("combat_damage", {"damage": 7, "is_player_damage": False})
    # One check in the page, so nothing can fade between its parts: the 7 is new, the 13 not doubled.
    await damage.wait_for_function(
        f"{SHOWN} === '2' && {NUMBERS}.includes('7') && {NUMBERS}.filter(t => t === '13').length <= 1")
    # the all-time death count came back from the restarted bus's state
    total = second.state.snapshot()["deaths"]["total"]
    assert await deaths.text_content("#total") == str(total)
    # only the browser's own "connection refused" lines while the bus was down
    assert all("WebSocket connection" in e for e in console.of("error")), console.of("error")
    assert not console.of("pageerror")
    for page in (hp, damage, deaths):
        await page.close()


async def test_dropped_socket_resumes_with_since_seq_and_never_repeats(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page, _ = await open_overlay(browser, bus, "damage", "duration=10000&merge_ms=0")
    hp, _ = await open_overlay(browser, bus, "hp")
    bus.hub.emit("combat_damage", {"damage": 1, "is_player_damage": False})
    await page.wait_for_function(f"{SHOWN} === '1'")
    urls: list[str] = []
    page.on("websocket", lambda ws: urls.append(ws.url))
    await page.evaluate("DXBus.client.ws.close()")
    await hp.evaluate("DXBus.client.ws.close()")
    # published while the overlays are away: state comes back from the snapshot, the missed hit is
    # delivered as a replay (already past), so it does not pop up late
    await emit_state(bus, "player_update", {"health_current": 1, "health_max": 5})
    missed = bus.hub.emit("combat_damage", {"damage": 2, "is_player_damage": False})
    assert missed is not None
    await wait_live(page, snapshots=2)
    await wait_live(hp, snapshots=2)
    await hp.wait_for_function("document.querySelectorAll('.mask.full').length === 1")
    await page.wait_for_function(f"DXBus.client.lastSeq === {missed.seq}")  # the replay arrived
    assert any("since_seq=" in u for u in urls), urls
    assert await page.evaluate(SHOWN) == "1"  # the missed hit did not pop up late
    bus.hub.emit("combat_damage", {"damage": 3, "is_player_damage": False})
    await page.wait_for_function(f"{SHOWN} === '2' && {NUMBERS}.includes('3') && !{NUMBERS}.includes('2')")
    # a frame the client has already seen is dropped, whatever the server sends
    await page.evaluate(
        "DXBus.client.receive(JSON.stringify({EventType: 'combat_damage', Data: {damage: 99}, Seq: "
        f"{missed.seq}}}))")
    assert await page.evaluate("DXBus.client.stats.duplicates") == 1
    assert await page.evaluate("document.getElementById('damage').dataset.shown") == "2"
    await page.close()
    await hp.close()


async def test_editing_a_template_reloads_the_open_page_keeping_state(
        browser: Any, buses: BusMaker, tmp_path: Path) -> None:
    user = tmp_path / "my-overlays"
    (user / "static").mkdir(parents=True)
    template = user / "mine.html.j2"
    template.write_text(USER_TEMPLATE.replace("VERSION", "version one"))
    (user / "mine.toml").write_text('title = "Mine"\nwidth = 400\nheight = 100\ntypes = ["player_death"]\n')
    bus = await buses.make(overlays_dir=user)
    await eventually(lambda: _watching(bus), what="the hot-reload watcher")
    bus.hub.emit("player_death", {"location": "Bone_05"})
    page, console = await open_overlay(browser, bus, "mine")
    assert await page.text_content("#msg") == "version one"
    assert await page.text_content("#deaths") == "1"
    await page.evaluate("window.__before_reload = true")

    started = time.monotonic()
    template.write_text(USER_TEMPLATE.replace("VERSION", "version two"))
    # The page is reloading: #msg may not be parsed yet when this is evaluated.
    await page.wait_for_function("(document.getElementById('msg') || {}).textContent === 'version two'",
                                 timeout=30_000)
    elapsed = time.monotonic() - started
    assert await page.evaluate("window.__before_reload") is None  # a real reload
    await wait_live(page)
    assert await page.text_content("#deaths") == "1"  # state came back from the snapshot
    # Printed, not asserted: a wall-clock bound fails on a loaded machine (2.1 s was seen), and how fast
    # a reload is belongs to a benchmark; this test is about the page reloading and keeping its state.
    print(f"template edit -> page reloaded with the new text: {elapsed * 1000:.0f} ms")
    # a CSS change in the user's static folder reloads too
    reloads = bus.hub.seq
    (user / "static" / "mine.css").write_text("p { margin: 0 }")
    await eventually(lambda: _reloaded_after(bus, reloads), what="overlay_reload for the CSS file")
    assert bus.hub.latest("overlay_reload").data["path"] == "static/mine.css"
    assert not console.of("pageerror")
    await page.close()


async def test_user_overlay_replaces_a_builtin_and_user_assets_are_served(
        browser: Any, buses: BusMaker, tmp_path: Path) -> None:
    user = tmp_path / "pack"
    (user / "static" / "img").mkdir(parents=True)
    (user / "deaths.html.j2").write_text(USER_TEMPLATE.replace("VERSION", "my own death counter"))
    (user / "static" / "img" / "skull.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    bus = await buses.make(overlays_dir=user)
    page, _ = await open_overlay(browser, bus, "deaths")
    assert await page.text_content("#msg") == "my own death counter"
    assert await page.evaluate("DXBus.client.types") == []  # no manifest: every event
    svg = await page.request.get(f"{bus.url('http')}/static/img/skull.svg")
    assert svg.status == 200 and "svg" in svg.headers["content-type"]
    gallery = await browser.new_page()
    await gallery.goto(f"{bus.url('http')}/overlays")
    assert "yours" in (await gallery.text_content("#card-deaths h2") or "")
    assert await gallery.locator("#card-hp").count() == 1  # the other built-ins are still there
    await page.close()
    await gallery.close()


async def _watching(bus: Any) -> bool:
    return bool(bus.status_providers["overlays"]()["hot_reload"])


async def _reloaded_after(bus: Any, seq: int) -> bool:
    event = bus.hub.latest("overlay_reload")
    return event is not None and event.seq > seq


async def test_a_broken_user_template_shows_its_error_not_a_blank_page(
        browser: Any, buses: BusMaker, tmp_path: Path) -> None:
    user = tmp_path / "broken"
    user.mkdir()
    broken = '{% extends "_base.html.j2" %}{% block body %}{{ nope( }}{% endblock %}'
    (user / "oops.html.j2").write_text(broken)
    (user / "bad.html.j2").write_text("<p>x</p>")
    (user / "bad.toml").write_text("width = 5\n")
    bus = await buses.make(overlays_dir=user)
    page = await browser.new_page()
    response = await page.goto(f"{bus.url('http')}/overlays/oops")
    assert response is not None and response.status == 500
    assert "template error" in (await page.text_content("body") or "").lower()  # the stream-readable page
    response = await page.goto(f"{bus.url('http')}/overlays/bad")
    assert response is not None and response.status == 500
    assert "width = 5" in (await page.text_content("body") or "")
    await page.close()


async def test_alerts_missed_while_away_show_only_if_still_current(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page, _ = await open_overlay(browser, bus, "alerts", "sound=0")
    # Away until the test says so (no reconnect racing the two alerts below).
    await page.evaluate("DXBus.client.close()")
    bus.hub.emit("alert", {"id": "old", "message": "long gone", "duration": 4, "count": 1})
    await bus.clock.advance(4)
    # Still current when the page is back 6 s later, and on screen for as long as the test may need on
    # a loaded machine (the page's clock is real: a 4 s alert could be gone before it is read).
    bus.hub.emit("alert", {"id": "new", "message": "x5 deaths", "duration": 600, "count": 5})
    await bus.clock.advance(6)  # bus time: the first alert ended 6 s before the page is back
    await page.evaluate("DXBus.client.closed = false; DXBus.client.open()")
    await wait_live(page, snapshots=2)
    await page.wait_for_function("document.querySelector('.alert') !== null")
    assert await page.eval_on_selector(".alert", "e => e.dataset.id") == "new"
    # the merge message already says the count: no second "x5" badge
    assert await page.eval_on_selector_all(".alert .count", "els => els.length") == 0
    assert await page.evaluate("document.getElementById('alerts').dataset.shown") == "1"
    await page.close()
