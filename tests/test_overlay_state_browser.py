"""Overlays render server state, in Debian's Chromium: one fight time everywhere, before and after a
page refresh; a frozen, marked-stale timer while the bus is down; the last HP of a burst.

Both clocks are injected: the bus runs on a ManualClock, the pages on Playwright's clock (installed and
paused, so animation frames and redraws happen only when the test moves it). Nothing sleeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from overlay_support import BusMaker, emit_state, eventually

from dxbus.bus import Bus
from dxbus.clock import ManualClock

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WINDOW = 30.0
ROUTE = """
name = "One boss"
[start]
new_game = true
[[splits]]
name = "Lace"
boss = "Lace"
"""
PAGE_EPOCH = 1_900_000_000_000  # the pages' paused wall clock (ms)


async def open_paused(browser: Any, bus: Bus, name: str, query: str = "") -> Any:
    """Open an overlay with Playwright's clock installed and paused; returns once it drew its state."""
    page = await browser.new_page(viewport={"width": 900, "height": 400})
    page.on("pageerror", lambda exc: pytest.fail(f"{name}: page error {exc}"))
    await page.clock.install(time=PAGE_EPOCH)
    await page.clock.pause_at(PAGE_EPOCH + 1000)
    await page.goto(f"{bus.url('http')}/overlays/{name}" + (f"?{query}" if query else ""))
    await until(page, "DXBus.client && DXBus.client.stats.snapshots > 0 "
                      "&& document.documentElement.dataset.bus === 'live'")
    return page


async def until(page: Any, expression: str, what: str = "", step: int = 20) -> None:
    """Let `step` ms pass on the page's paused clock (a frame, a redraw tick) until `expression` holds."""
    async def check() -> bool:
        await page.clock.run_for(step)
        return bool(await page.evaluate(expression))
    await eventually(check, timeout=10, what=what or expression)


async def text(page: Any, selector: str) -> str:
    return str(await page.text_content(selector))


async def api_state(bus: Bus) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(bus.url() + "/api/state") as resp:
        assert resp.status == 200
        return dict(await resp.json())


async def post(bus: Bus, *events: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http, http.post(bus.url() + "/api/events", json=list(events)) as r:
        body = await r.json()
        assert r.status == 200 and body["rejected"] == 0, body


def send(event_type: str, **data: Any) -> dict[str, Any]:
    return {"EventType": event_type, "Data": data}


async def reload(page: Any) -> None:
    await page.reload()
    await until(page, "DXBus.client && DXBus.client.stats.snapshots > 0 "
                      "&& document.documentElement.dataset.bus === 'live'")


@pytest.mark.parametrize("spacing", [0.0, 12.0])
async def test_every_overlay_shows_the_fight_time_of_the_alert_and_the_state(
        browser: Any, buses: BusMaker, tmp_path: Path, spacing: float) -> None:
    (tmp_path / "route.toml").write_text(ROUTE)
    bus = await buses.make(overrides={"Timer": {"Route": "route.toml", "PracticeBoss": "Lace"},
                                      "Facts": {"KillPairingSeconds": WINDOW}})
    clock = bus.clock
    assert isinstance(clock, ManualClock)
    await post(bus, send("scene_transition", from_scene="Opening_Sequence", to_scene="Tut_01"),
               send("scene_transition", from_scene="Tut_01", to_scene="Bone_East_12"))
    boss = await open_paused(browser, bus, "boss")
    practice = await open_paused(browser, bus, "practice")
    alerts = await open_paused(browser, bus, "alerts", "sound=0")

    # A fight in progress: 20.35 s on the bus clock is 0:20.3 on every overlay (truncated, like the text
    # files; redrawn every 50 ms, so the page may show a reading up to 50 ms old) and in /api/state.
    await post(bus, send("boss_encounter", boss_name="Lace", phase="start"))
    await clock.advance(20.35)
    await until(boss, "document.getElementById('boss').classList.contains('active')")
    await until(practice, "document.getElementById('practice').classList.contains('live')")
    assert (await api_state(bus))["boss"]["fight_time"] == 20.35
    # Both pages drew the last state message (sent at bus 20.3 or before) plus their own time since.
    for page, clock_id in ((boss, "#boss-timer"), (practice, "#practice-clock")):
        await page.evaluate("DXBus.client.send({type: 'resync'})")  # a fresh reading at bus 20.35
        await until(page, "DXBus.client.stats.snapshots >= 2")  # drawn
        assert await text(page, clock_id) == "0:20.3", clock_id
        await reload(page)
        assert await text(page, clock_id) == "0:20.3", f"{clock_id} after a refresh"

    # The kill, reported twice (the original mod) `spacing` s apart; the game's time is 44.7.
    await clock.advance(45 - 20.35)
    await post(bus, send("boss_encounter", boss_name="Lace", phase="defeated"))
    await clock.advance(spacing)
    await post(bus, send("boss_defeated", boss_name="Lace", time=44.7))
    await clock.advance(WINDOW + 1)  # the window ends: the kill settles on the game's time
    state = await api_state(bus)
    assert state["boss"]["fight_time"] == 44.7 and state["boss"]["active"] is False
    # (earlier alerts, "Speedy! Tut_01", are shown first, one at a time, on the page's clock)
    await until(alerts, "Array.from(document.querySelectorAll('.alert .message'))"
                        ".some(e => e.textContent.startsWith('Lace'))", "the kill's alert", step=500)
    assert await text(alerts, ".alert .message") == "Lace defeated in 0:44.7"
    for _ in range(2):  # before and after a page refresh
        await until(boss, "document.getElementById('boss-last').textContent.includes('0:44.7')")
        assert await text(boss, "#boss-timer") == "0:44.7"
        assert await text(boss, "#boss-last") == "Defeated Lace in 0:44.7"
        assert await text(boss, "#boss-best") == "0:44.7"
        assert await text(boss, "#boss-attempts") == "1"
        await until(practice, "!document.getElementById('practice').classList.contains('live')")
        assert await text(practice, "#practice-clock") == "0:44.7"
        assert await text(practice, "#practice-best") == "0:44.7"
        assert await text(practice, "#practice-cleared") == "1"
        await reload(boss)
        await reload(practice)
    await clock.advance(1)
    assert (tmp_path / "obs-text" / "last-boss.txt").read_text("utf-8") == "Lace: defeated in 0:44.7"
    for page in (boss, practice, alerts):
        await page.close()


async def test_a_timer_freezes_and_is_marked_stale_while_the_bus_is_down(
        browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    ports = dict(bus.ports)
    clock = bus.clock
    assert isinstance(clock, ManualClock)
    # A page shows its last redraw: up to 50 ms old (boss) or 250 ms (room), in a phase that depends on
    # how many 20 ms steps the first state took to arrive. So each reading sits where any redraw in that
    # window shows the same text: the fight at 12.05 to 12.07 s (12.00 to 12.07: "0:12.0"), the room
    # entered 0.5 s before the fight (12.30 to 12.57: "0:12").
    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bonetown"})
    await clock.advance(0.5)
    bus.hub.emit("boss_encounter", {"boss_name": "Lace", "phase": "start"})
    await clock.advance(10.05)  # +2 s on the page, and up to one 20 ms step after the state arrived
    boss = await open_paused(browser, bus, "boss")
    room = await open_paused(browser, bus, "room")
    await boss.clock.run_for(2000)
    await room.clock.run_for(2000)
    assert await text(boss, "#boss-timer") == "0:12.0"
    assert await text(room, "#room-time") == "0:12"
    assert not await boss.evaluate("document.documentElement.classList.contains('dx-stale')")

    await buses.stop(bus)
    for page in (boss, room):
        await until(page, "document.documentElement.dataset.bus === 'down' "
                          "&& document.documentElement.classList.contains('dx-stale')")
        # Marked stale at once, but the frozen time is drawn at the next frame or redraw: until then
        # the page shows its last live redraw (up to 250 ms older). Read what it shows once frozen.
        await page.clock.run_for(300)
    frozen_boss, frozen_room = await text(boss, "#boss-timer"), await text(room, "#room-time")
    await boss.clock.run_for(15_000)  # the page's time goes on; its timers do not
    await room.clock.run_for(15_000)
    assert await text(boss, "#boss-timer") == frozen_boss
    assert await text(room, "#room-time") == frozen_room
    assert await boss.evaluate("document.documentElement.classList.contains('dx-stale')")

    # The bus is back (a new process: no fight): a fresh full state, no longer stale.
    second = await buses.make(ports=ports)
    second.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bone_05"})
    for page in (boss, room):
        # (the reconnect backoff runs on the page's clock)
        await until(page, "DXBus.client.stats.snapshots >= 2 && document.documentElement.dataset.bus === "
                          "'live' && !document.documentElement.classList.contains('dx-stale')",
                    "reconnected, drawn", step=250)
    await until(room, "document.getElementById('room-name').textContent === 'Bone_05'")
    assert await text(room, "#room-time") == "0:00"
    assert not await boss.evaluate("document.getElementById('boss').classList.contains('active')")
    for page in (boss, room):
        await page.close()


async def test_a_change_is_on_the_page_before_the_next_animation_frame(browser: Any, buses: BusMaker) -> None:
    # The page's clock stays paused, so no animation frame runs: the hit is drawn when its patch arrives.
    bus = await buses.make()
    await emit_state(bus, "player_update", {"health_current": 7, "health_max": 7})
    page = await open_paused(browser, bus, "hp")
    await page.clock.run_for(50)  # the frames after the first draw
    await emit_state(bus, "player_update", {"health_current": 4, "health_max": 7})

    async def drawn() -> bool:
        return bool(await page.evaluate("document.getElementById('hp-num').textContent === '4/7'"))
    await eventually(drawn, timeout=10, what="4/7 drawn with no frame passing")
    assert await page.locator(".mask.full").count() == 4
    await page.close()


async def test_the_hp_overlay_shows_the_last_value_of_a_burst(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make(overrides={"DataCollection": {"UpdateFrequencyHz": 10}})
    clock = bus.clock
    assert isinstance(clock, ManualClock)
    await emit_state(bus, "player_update", {"health_current": 7, "health_max": 7})
    await clock.advance(0.2)
    page = await open_paused(browser, bus, "hp")
    assert await page.locator(".mask.full").count() == 7
    for value in (5, 4, 3):  # within 100 ms, then the game goes quiet
        bus.hub.emit("player_update", {"health_current": value, "health_max": 7})
        await clock.advance(0.03)
    await clock.advance(0.1)  # the interval ends: the held sample (3) is published
    assert (await api_state(bus))["player"]["health"] == 3
    await until(page, "document.querySelectorAll('.mask.full').length === 3", "3 masks")
    assert await text(page, "#hp-num") == "3/7"
    # One draw per animation frame: the burst's patches were drawn together, not one by one.
    stats = await page.evaluate("DXBus.client.stats")
    assert stats["renders"] <= stats["states"] + stats["patches"]
    await page.close()
