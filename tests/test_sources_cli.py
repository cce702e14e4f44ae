"""Sources wired into a real bus from the run options (`serve --tail/--relay/--record`, `replay`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
from fakes.original_mod import FakeOriginalMod
from waiting import wait_until

from dxbus.assemble import RunOptions
from dxbus.cli import make_parser, options_from_args
from dxbus.client import BusClient


def test_command_line_options() -> None:
    parser = make_parser()
    opts = options_from_args(parser.parse_args(
        ["replay", "a.ndjson", "b.ndjson", "--speed", "10", "--loop", "--from", "Bone_05", "--pause"]))
    assert opts.replay == [Path("a.ndjson"), Path("b.ndjson")] and opts.speed == 10
    assert opts.replay_loop and opts.replay_paused and opts.replay_from == "Bone_05"
    opts = options_from_args(parser.parse_args(
        ["serve", "--record", "s.ndjson", "--tail", "DataExport", "--relay", "ws://localhost:9091"]))
    assert (opts.record, opts.tail, opts.relay) == (Path("s.ndjson"), Path("DataExport"),
                                                     "ws://localhost:9091")
    assert options_from_args(parser.parse_args(["demo", "--record", "d.ndjson"])).record == Path("d.ndjson")


async def test_serve_with_relay_tail_and_record(tmp_path: Path, bus_factory) -> None:
    mod = FakeOriginalMod(ping_interval=0.2, pong_timeout=0.1)
    await mod.start()
    export = tmp_path / "GameExport"
    record = tmp_path / "session.ndjson"
    try:
        bus = await bus_factory(options=RunOptions(relay=mod.url, tail=export, record=record))
        await wait_until(lambda: len(mod.clients) == 1)
        await mod.broadcast("player_damaged", {"damage": 2, "health_remaining": 3})
        export.mkdir()
        (export / "metrics_20250920_143045.ndjson").write_bytes(
            b"\xef\xbb\xbf" + orjson.dumps({"timestamp": "2025-09-20T14:30:45.1234567Z",
                                            "event_type": "enemy_damaged",
                                            "data": {"damage": 5, "enemy_name": "Craw (2)"}}) + b"\r\n")
        await wait_until(lambda: bus.hub.seq >= 2, timeout=10)
        async with aiohttp.ClientSession() as http, http.get(f"{bus.url('http')}/api/status") as resp:
            status = await resp.json()
        assert status["relay"]["connected"] is True and status["relay"]["events_relayed"] == 1
        assert status["tail"]["state"] == "following" and status["tail"]["events"] == 1
        damage = [e for e in bus.hub.recent(10) if e.type == "combat_damage"]
        assert sorted(e.data["is_player_damage"] for e in damage) == [False, True]
        assert bus.state.snapshot()["damage"] == {"dealt": 5.0, "taken": 2.0}
    finally:
        await mod.stop()
        await bus.stop()
    lines = [orjson.loads(line) for line in record.read_bytes().splitlines()]
    assert [x["EventType"] for x in lines if x["EventType"] == "combat_damage"] == ["combat_damage"] * 2


async def test_client_livesplit_bridge(bus) -> None:
    client = BusClient(bus.url("http"), bus.url("websocket"), "127.0.0.1", bus.ports["tcp"])
    lines: list[str] = []
    bridge = asyncio.get_running_loop().create_task(client.livesplit_bridge(lines.append))
    await wait_until(lambda: bus.connections.get("tcp", 0) >= 1)
    commands = (("start", None), ("split", None), ("time", 12.5))
    await client.publish([{"EventType": "timer_command",
                           "Data": {"command": c, "value": v, "source": "manual"}} for c, v in commands])
    await wait_until(lambda: len(lines) == 3)
    assert lines == ["start", "split", "time:12.5"]
    await client.close()
    bridge.cancel()


def test_replay_keeps_away_from_the_live_files() -> None:
    from dxbus.cli import config_from_args

    parser = make_parser()
    from dxbus.assemble import keep_apart

    config = config_from_args(parser.parse_args(["replay", "x.ndjson", "--config", "/dev/null"]))
    # The replay's state and split bests live in memory only (build_bus), never in the real files.
    apart = keep_apart(config, "replay")
    assert apart.state.file == "" and apart.timer.bests_file == ""
    assert Path(config.file_export.directory) == Path("DataExport/replay")
    config = config_from_args(parser.parse_args(["replay", "x.ndjson", "--export-dir", "Mine"]))
    assert config.file_export.directory == "Mine"
    assert config_from_args(parser.parse_args(["serve"])).state.file == "dxbus-state.json"
