"""`/report` on the running bus: the session so far, from the bus's own facts, growing as it plays;
test events never in it; a demo reports its own session."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import BusFactory
from dxbus_process import dxbus_process
from overlay_support import browser  # noqa: F401  (the module's Chromium)
from report_sessions import BOSS_ROOM, ROUTE_ROOM, TRUTH, planted_session


async def post_lines(http: aiohttp.ClientSession, url: str, lines: list[bytes]) -> None:
    async with http.post(url + "/api/events", data=b"".join(lines),
                         headers={"Content-Type": "application/x-ndjson"}) as reply:
        assert reply.status == 200, await reply.text()


async def live_json(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url + "/report.json") as reply:
        assert reply.status == 200
        return await reply.json()


async def test_live_report_grows_with_the_session_and_skips_test_events(bus_factory: BusFactory) -> None:
    bus = await bus_factory()
    play = planted_session()
    # The session up to the end of the route passes, then the rest (the boss fights).
    split = next(i for i, line in enumerate(play.lines) if b'"boss_encounter"' in line)
    async with aiohttp.ClientSession() as http:
        assert (await live_json(http, bus.url()))["sessions"] == []
        async with http.get(bus.url() + "/report") as reply:
            assert reply.status == 200 and "No events yet." in await reply.text()
        await post_lines(http, bus.url(), play.lines[:split])
        first = (await live_json(http, bus.url()))["sessions"][0]
        assert first["session"]["origin"] == "live"
        assert first["summary"]["deaths"] == 1 and first["summary"]["boss_attempts"] == 0
        assert {d["room"]: d["deaths"] for d in first["deaths"]["by_room"]} == {ROUTE_ROOM: 1}
        # The gallery's test buttons: test events, never part of the report.
        for overlay in ("deaths", "boss", "damage", "hp"):
            async with http.post(f"{bus.url()}/api/overlays/{overlay}/test") as reply:
                assert reply.status == 200 and (await reply.json())["published"] > 0
        again = (await live_json(http, bus.url()))["sessions"][0]
        assert again["summary"] == first["summary"] and again["session"] == first["session"]

        await post_lines(http, bus.url(), play.lines[split:])
        (now,) = (await live_json(http, bus.url()))["sessions"]
        s = now["summary"]
        assert s["deaths"] == 3 and s["bosses_beaten"] == ["Bell Beast"] and s["boss_attempts"] == 3
        assert s["total_damage_dealt"] == 330 and s["total_damage_taken"] == 25
        # The hub thins player_update to its rate: the newest sample may still be held (<= 0.1 s).
        assert s["play_seconds"] == pytest.approx(play.t, abs=0.11)
        assert {d["room"]: d["deaths"] for d in now["deaths"]["by_room"]} == TRUTH["deaths_by_room"]
        (boss,) = now["bosses"]
        assert [a["result"] for a in boss["list"]] == TRUTH["boss_results"]
        assert boss["best_time"] == 62.5  # the game's own time, as the facts say
        assert {r["room"] for r in now["routes"]} >= {ROUTE_ROOM, BOSS_ROOM}
        async with http.get(bus.url() + "/") as reply:
            assert 'href="/report"' in await reply.text()  # linked from the dashboard


@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="module")
async def test_report_on_a_live_demo_shows_the_session_so_far_and_grows(
        browser: Any, tmp_path: Path) -> None:  # noqa: F811
    args = ["demo", "--http-port", "0", "--ws-port", "0", "--tcp-port", "0", "--seed", "11", "--speed", "20"]
    with dxbus_process(args, tmp_path) as proc:
        lines = proc.wait_for_line("Press Ctrl+C")
        dashboard = next(line.split()[-1] for line in lines if line.strip().startswith("Dashboard"))
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []

        def console(m: Any) -> None:
            if m.type in ("error", "warning") and "/favicon.ico" not in m.location.get("url", ""):
                errors.append(f"{m.location.get('url')}: {m.text}")

        page.on("console", console)
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(dashboard)
        await page.get_by_role("link", name="Report").click()
        await page.wait_for_url("**/report")
        card = page.locator('.card[data-key="play_seconds"] b')
        await card.wait_for(timeout=60_000)
        assert await page.locator("h2 .tag").inner_text() == "demo"
        first = await card.inner_text()
        # The page fetches itself again every few seconds: the play time moves on (game time, 20x).
        await page.wait_for_function(
            "seen => { const b = document.querySelector('.card[data-key=\"play_seconds\"] b');"
            " return b && b.textContent !== seen; }", arg=first, timeout=60_000)
        points = await page.eval_on_selector('figure[data-chart="health"]', "f => Number(f.dataset.points)")
        assert points > 0
        async with aiohttp.ClientSession() as http:
            numbers = await live_json(http, dashboard.rstrip("/"))
        session = numbers["sessions"][0]
        assert numbers["mode"] == "demo" and session["session"]["origin"] == "demo"
        assert session["summary"]["play_seconds"] > 20  # game time: well ahead of the wall clock
        assert errors == []
        await page.close()
        rc, _ = proc.finish(signal.SIGTERM)
    assert rc == 0
    assert not (tmp_path / "dxbus-state.json").exists()
    assert json.dumps(numbers)  # plain JSON numbers all the way down
