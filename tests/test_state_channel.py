"""State channels keep the latest value: UpdateFrequencyHz thinning with a trailing edge, thinning by
the samples' own Timestamp, and coalescing only for a reader that is behind (real bus, real sockets)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson
from conftest import BusFactory
from waiting import wait_until

from dxbus.clock import ManualClock


def hp(value: int) -> dict:
    return {"EventType": "player_update", "Data": {"health_current": value, "health_max": 7}}


async def post(session: aiohttp.ClientSession, url: str, body: object) -> dict:
    async with session.post(url + "/api/events", data=orjson.dumps(body)) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def get(session: aiohttp.ClientSession, url: str) -> object:
    async with session.get(url) as resp:
        assert resp.status == 200
        return await resp.json()


async def test_burst_of_hp_updates_ends_at_the_last_value_everywhere(
    bus_factory: BusFactory, tmp_path: Path,
) -> None:
    clock = ManualClock()
    bus = await bus_factory(clock=clock)  # UpdateFrequencyHz = 10
    url = bus.url()
    health = tmp_path / "obs-text" / "health.txt"
    async with aiohttp.ClientSession() as session:
        for value in (5, 4, 3):  # within 100 ms, then the game goes quiet (a menu, a pause)
            await post(session, url, hp(value))
            await clock.advance(0.03)
        await clock.advance(0.05)  # the interval ends: the held sample is published
        await clock.advance(0.5)  # the text files' write interval
        state = await get(session, url + "/api/state")
        assert state["player"]["health"] == 3
        metrics = await get(session, url + "/api/metrics?type=player_update")
        assert [m["Data"]["health_current"] for m in metrics][-1] == 3
        await wait_until(lambda: health.read_text(encoding="utf-8") == "3/7", what="health.txt = 3/7")


async def test_five_timestamped_samples_in_one_post_are_all_exported(
    bus_factory: BusFactory, tmp_path: Path,
) -> None:
    clock = ManualClock()
    bus = await bus_factory(clock=clock)  # 10 Hz: samples 100 ms apart by Timestamp all fit
    batch = [{**hp(value), "Timestamp": f"2026-01-01T00:00:00.{value}00Z"} for value in range(5)]
    async with aiohttp.ClientSession() as session:
        result = await post(session, bus.url(), batch)
    assert result["accepted"] == 5
    await bus.stop()  # flushes the export
    lines = [orjson.loads(line) for path in sorted((tmp_path / "DataExport").glob("*.ndjson"))
             for line in path.read_bytes().splitlines()]
    exported = [(e["Timestamp"], e["Data"]["health_current"]) for e in lines
                if e["EventType"] == "player_update"]
    assert exported == [(f"2026-01-01T00:00:00.{v}00Z", v) for v in range(5)]


async def test_prompt_websocket_reader_gets_every_timing_update(bus_factory: BusFactory) -> None:
    bus = await bus_factory()
    async with aiohttp.ClientSession() as session:
        before = bus.connections["websocket"]
        ws = await session.ws_connect(bus.url("websocket") + "/?types=timing_update")
        await wait_until(lambda: bus.connections["websocket"] > before)
        batch = [{"EventType": "timing_update", "Data": {"fps": 60 - i, "session_time": i}}
                 for i in range(5)]
        await post(session, bus.url(), batch)
        got = [orjson.loads((await ws.receive(timeout=5)).data) for _ in range(5)]
        assert [g["Data"]["fps"] for g in got] == [60, 59, 58, 57, 56]
        [client] = bus.status_providers["websocket"]()["clients"]
        assert client["coalesced"] == 0
        await ws.close()
