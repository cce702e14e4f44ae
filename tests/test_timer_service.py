"""The timer service on a real bus: rules -> timer_command events -> TCP 9090 lines; segments and
practice numbers over HTTP checked against times computed by hand from scripted events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from timer_route import ROUTE
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.clock import ManualClock


def scene(bus: Bus, frm: str, to: str, load_ms: float = 0.0) -> None:
    bus.hub.emit("scene_transition", {"from_scene": frm, "to_scene": to, "load_time_ms": load_ms})


def commands(bus: Bus) -> list[dict[str, Any]]:
    return [e.data for e in bus.hub.recent(1000, frozenset({"timer_command"}))]


async def get(bus: Bus, path: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(bus.url() + path) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def post(bus: Bus, path: str, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(bus.url() + path, json=body) as resp:
        return resp.status, await resp.json()


async def make_bus(bus_factory, tmp_path: Path, clock: ManualClock, **timer: Any) -> Bus:
    (tmp_path / "route.toml").write_text(ROUTE)
    return await bus_factory(overrides={"Timer": {"Route": "route.toml", **timer}}, clock=clock)


async def test_rules_reach_the_tcp_port_and_segments_match_hand_times(bus_factory, tmp_path) -> None:
    clock = ManualClock()
    bus = await make_bus(bus_factory, tmp_path, clock)
    host, port = bus.url("tcp").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    await wait_until(lambda: bus.connections["tcp"] == 1)

    scene(bus, "Opening_Sequence", "Tut_01", 900)      # t=0: start (the load is before the start)
    await clock.advance(12)
    scene(bus, "Tut_01", "Tut_03", 1000)               # t=12: room Tut_01 took 12 - 1 = 11 game s
    await clock.advance(30)
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "defeated"})  # t=42
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother", "time": 28.0})  # same defeat
    await clock.advance(8)
    scene(bus, "Tut_03", "Bonetown", 2000)             # t=50: split 2 at 50 - 3 = 47
    await clock.advance(20)
    bus.hub.emit("boss_defeated", {"boss_name": "Bell Beast"})  # t=70, no room change: still Bonetown

    expected = [b"start", b"pause", b"time:11.0", b"resume", b"time:41.0", b"split", b"pause",
                b"time:47.0", b"resume", b"split", b"time:67.0", b"split"]
    got = [(await asyncio.wait_for(reader.readline(), 5)).strip() for _ in expected]
    assert got == expected
    writer.close()
    sources = [(c["command"], c["source"]) for c in commands(bus)]
    assert ("pause", "loads") in sources and ("split", "rules") in sources

    seg = await get(bus, "/api/segments")
    assert seg["timing"] == "game" and seg["run"]["phase"] == "ended"
    assert [(s["name"], s["time"], s["segment"], s["best_segment"], s["gold"]) for s in seg["splits"]] == [
        ("Moss Mother", 41.0, 41.0, 41.0, True), ("Bone Bottom", 47.0, 6.0, 6.0, True),
        ("Bell Beast", 67.0, 20.0, 20.0, True)]
    # rooms in game seconds: Tut_01 0 -> 11, Tut_03 11 -> 47 (the load into Bonetown left out),
    # Bonetown 47 -> 67 (closed by the last split)
    assert [(r["scene"], r["area"], r["time"], r["best"]) for r in seg["rooms"]] == [
        ("Tut_01", "Moss Grotto", 11.0, 11.0), ("Tut_03", "Moss Grotto", 36.0, 36.0),
        ("Bonetown", "Bone Bottom", 20.0, 20.0)]
    assert seg["bests"] == {"pb": 67.0, "sum_of_best": 67.0, "runs_started": 1, "runs_completed": 1}

    # A second, slower run with a faster Bone Bottom segment: golds and deltas against the PB.
    await clock.advance(100)
    scene(bus, "Opening_Sequence", "Tut_01")           # t=170: run 2 starts (reset first: ended)
    await clock.advance(15)
    scene(bus, "Tut_01", "Tut_03")                     # t=185
    await clock.advance(35)
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother"})  # t=220: 50 s (PB 41)
    await clock.advance(4)
    scene(bus, "Tut_03", "Bonetown")                   # t=224: 54 s, segment 4 (best 6 -> gold)
    seg = await get(bus, "/api/segments")
    assert seg["run"]["phase"] == "running" and seg["run"]["current_split"] == "Bell Beast"
    assert [(s["status"], s["time"], s["segment"], s["best_segment"], s["gold"], s["delta"])
            for s in seg["splits"]] == [
        ("done", 50.0, 50.0, 41.0, False, 9.0), ("done", 54.0, 4.0, 4.0, True, 7.0),
        ("current", None, None, 20.0, False, None)]
    assert [(r["scene"], r["time"], r["best"], r["delta"], r["current"]) for r in seg["rooms"]] == [
        ("Tut_01", 15.0, 11.0, 4.0, False), ("Tut_03", 39.0, 36.0, 3.0, False),
        ("Bonetown", 0.0, 20.0, None, True)]
    assert seg["bests"]["sum_of_best"] == 65.0 and seg["bests"]["pb"] == 67.0

    # Back to the menu resets; the bests file keeps the golds and the PB.
    scene(bus, "Bonetown", "Menu_Title")
    await wait_until(lambda: commands(bus)[-1]["command"] == "reset")
    status = await get(bus, "/api/status")
    assert status["timer"]["phase"] == "idle" and status["timer"]["route"] == "Test route"
    await bus.stop()
    saved = json.loads((tmp_path / "dxbus-splits.json").read_text())["routes"]["Test route"]
    assert saved["pb_time"] == 67.0 and saved["best_segments"] == {"0": 41.0, "1": 4.0, "2": 20.0}
    assert saved["runs_started"] == 2 and saved["runs_completed"] == 1


async def test_manual_http_splits_count_as_segments(bus_factory, tmp_path) -> None:
    clock = ManualClock()
    bus = await make_bus(bus_factory, tmp_path, clock, GameTime=False)
    assert (await post(bus, "/api/livesplit/start", {}))[0] == 200
    await clock.advance(10)
    await post(bus, "/api/livesplit/split", {})
    await clock.advance(5.5)
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother"})  # already split by hand: nothing
    scene(bus, "Tut_03", "Bonetown")                             # the rules take split 2
    seg = await get(bus, "/api/segments")
    assert seg["timing"] == "real"
    assert [(s["status"], s["time"], s["segment"]) for s in seg["splits"]] == [
        ("done", 10.0, 10.0), ("done", 15.5, 5.5), ("current", None, None)]
    assert [c["source"] for c in commands(bus)] == ["manual", "manual", "rules"]


async def test_practice_a_boss_and_a_room_by_hand(bus_factory, tmp_path) -> None:
    clock = ManualClock()
    bus = await make_bus(bus_factory, tmp_path, clock)
    status, body = await post(bus, "/api/practice", {"boss": "MossMother"})
    assert status == 200 and body["target"] == {"kind": "boss", "name": "Moss Mother"}

    def hit(damage: float) -> None:
        bus.hub.emit("combat_damage", {"damage": damage, "is_player_damage": True})

    scene(bus, "Tut_01", "Tut_03")
    # attempt 1: 20 s, 2 + 1 damage, death
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    await clock.advance(10)
    hit(2)
    bus.hub.emit("combat_damage", {"damage": 5, "is_player_damage": False})  # dealt, not taken
    await clock.advance(10)
    hit(1)
    bus.hub.emit("player_death", {"location": "Tut_03"})
    await clock.advance(30)
    # attempt 2: 25 s, 1 damage, cleared
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    await clock.advance(25)
    hit(1)
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "defeated"})
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother"})
    # attempt 3: 35 s, cleared
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    await clock.advance(35)
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother"})
    # attempt 4: live, 4 s in
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    await clock.advance(4)
    p = await get(bus, "/api/practice")
    assert (p["attempts"], p["cleared"], p["deaths"], p["damage_taken"]) == (4, 2, 1, 4.0)
    assert (p["best"], p["average"]) == (25.0, 30.0)
    assert p["damage_per_attempt"] == round(4 / 3, 3)
    assert [(a["number"], a["result"], a["time"], a["damage_taken"]) for a in p["history"]] == [
        (1, "died", 20.0, 3.0), (2, "cleared", 25.0, 1.0), (3, "cleared", 35.0, 0.0)]
    assert p["current"]["time"] == 4.0 and p["current"]["number"] == 4

    # A room: entering starts an attempt, leaving clears it, dying fails it.
    status, body = await post(bus, "/api/practice", {"room": "Bone_05"})
    assert status == 200 and body["attempts"] == 0 and body["warnings"] == []
    scene(bus, "Bonetown", "Bone_05")
    await clock.advance(18.5)
    hit(2)
    scene(bus, "Bone_05", "Mosstown_01")         # cleared in 18.5
    scene(bus, "Mosstown_01", "Bone_05")
    await clock.advance(7)
    bus.hub.emit("player_death", {"location": "Bone_05"})  # died after 7
    scene(bus, "Bone_05", "Bonetown")            # respawn elsewhere
    scene(bus, "Bonetown", "Bone_05")
    await clock.advance(12.25)
    scene(bus, "Bone_05", "Bone_04")             # cleared in 12.25
    p = await get(bus, "/api/practice")
    assert (p["attempts"], p["cleared"], p["deaths"], p["damage_taken"]) == (3, 2, 1, 2.0)
    assert (p["best"], p["average"]) == (12.25, 15.375)
    assert [(a["result"], a["time"]) for a in p["history"]] == [
        ("cleared", 18.5), ("died", 7.0), ("cleared", 12.25)]


async def test_bad_practice_requests_name_the_field(bus_factory, tmp_path) -> None:
    bus = await make_bus(bus_factory, tmp_path, ManualClock())
    status, body = await post(bus, "/api/practice", {"boss": "The Radiance"})
    assert status == 400 and "boss" in body["error"]["message"]
    status, body = await post(bus, "/api/practice", {"room": "Tut_03", "boss": "Widow"})
    assert status == 400 and "exactly one" in body["error"]["message"]
    status, body = await post(bus, "/api/practice", {"rooms": "Tut_03"})
    assert status == 400 and body["error"]["message"].startswith("rooms: unknown field")
    status, body = await post(bus, "/api/practice", {"room": "Modded_Room_9"})
    assert status == 200 and "not in the world data" in body["warnings"][0]
    status, body = await post(bus, "/api/practice", {"stop": True})
    assert status == 200 and body["target"] is None


async def test_a_bad_route_file_stops_start_up_naming_the_split(bus_factory, tmp_path) -> None:
    from dxbus.config import ConfigError

    (tmp_path / "bad.toml").write_text('[[splits]]\nname = "x"\nboss = "Radiance"\n')
    try:
        await bus_factory(overrides={"Timer": {"Route": "bad.toml"}})
    except ConfigError as exc:
        assert "bad.toml: splits[0] boss = 'Radiance'" in str(exc)
    else:
        raise AssertionError("a bad route must stop start-up")


async def test_replayed_rule_commands_are_not_followed_twice(bus_factory, tmp_path) -> None:
    """A recording holds the game events and the splits the rules made from them: replaying both
    must not advance the run twice (the engine derives its own)."""
    clock = ManualClock()
    bus = await make_bus(bus_factory, tmp_path, clock, GameTime=False)
    scene(bus, "Opening_Sequence", "Tut_01")
    bus.hub.emit("timer_command", {"command": "start", "value": None, "source": "rules"})
    await clock.advance(5)
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother"})
    bus.hub.emit("timer_command", {"command": "split", "value": None, "source": "rules"})
    seg = await get(bus, "/api/segments")
    assert seg["run"]["index"] == 1 and [s["status"] for s in seg["splits"]] == ["done", "current", "pending"]


async def test_periodic_game_time_while_running(bus_factory, tmp_path) -> None:
    clock = ManualClock()
    bus = await make_bus(bus_factory, tmp_path, clock, TimeInterval=2.0)
    await clock.advance(5)  # no run: no time lines
    assert commands(bus) == []
    scene(bus, "Opening_Sequence", "Tut_01")
    await clock.advance(3)
    scene(bus, "Tut_01", "Tut_03", 500)
    await clock.advance(3.5)
    got = [(c["command"], c["value"]) for c in commands(bus)]
    assert got == [("start", 0.0), ("time", 2.0), ("pause", 2.5), ("time", 2.5), ("resume", 2.5),
                   ("time", 3.5), ("time", 5.5)]


async def test_bests_survive_a_restart(bus_factory, tmp_path) -> None:
    clock = ManualClock()
    bus = await make_bus(bus_factory, tmp_path, clock, GameTime=False)
    scene(bus, "Opening_Sequence", "Tut_01")
    for t, boss_or_room in ((30, "Moss Mother"), (10, "Bonetown"), (20, "Bell Beast")):
        await clock.advance(t)
        if boss_or_room == "Bonetown":
            scene(bus, "Tut_03", "Bonetown")
        else:
            bus.hub.emit("boss_defeated", {"boss_name": boss_or_room})
    assert (await get(bus, "/api/segments"))["bests"]["pb"] == 60.0
    await bus.stop()
    again = await make_bus(bus_factory, tmp_path, ManualClock(), GameTime=False)
    seg = await get(again, "/api/segments")
    assert seg["bests"] == {"pb": 60.0, "sum_of_best": 60.0, "runs_started": 1, "runs_completed": 1}
    assert [s["pb"] for s in seg["splits"]] == [30.0, 40.0, 60.0]
