"""The split engine over simulated Silksong runs (dxbus.sources.simulator): splits land exactly on
the first matching event after the previous split, in order, once; rooms add up to the run time."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dxbus.assemble import RunOptions
from dxbus.clock import ManualClock
from dxbus.sources.simulator import Simulation
from dxbus.speedrun.route import builtin_route, parse_route
from dxbus.speedrun.segments import SegmentBook
from dxbus.speedrun.split_rules import EventFeed, SplitEngine
from dxbus.world import load_world

Event = tuple[float, str, dict[str, Any]]


def simulate(seed: int, seconds: float) -> list[Event]:
    events: list[Event] = []
    sim: Simulation | None = None

    def emit(event_type: str, data: dict[str, Any]) -> None:
        assert sim is not None
        events.append((round(sim.t, 6), event_type, data))

    sim = Simulation(load_world(), random.Random(seed), emit)
    sim.begin()
    sim.advance(seconds)
    return events


def is_defeat(event_type: str, data: dict[str, Any], boss: str) -> bool:
    return data.get("boss_name") == boss and (
        event_type == "boss_defeated" or (event_type == "boss_encounter" and data.get("phase") == "defeated"))


def route_from(events: list[Event], bosses: int) -> list[dict[str, Any]]:
    """Splits for this run: each of the first bosses beaten, then the room entered after it."""
    splits: list[dict[str, Any]] = []
    for i, (_, event_type, data) in enumerate(events):
        boss = data.get("boss_name")
        if event_type == "boss_defeated" and not any(s.get("boss") == boss for s in splits):
            splits.append({"name": boss, "boss": boss})
            after = next(d["to_scene"] for _, t, d in events[i:] if t == "scene_transition")
            splits.append({"name": f"Enter {after}", "enter": after})
            if len(splits) == 2 * bosses:
                break
    return splits


def oracle(events: list[Event], splits: list[dict[str, Any]]) -> list[tuple[float, str]]:
    """Where each split must land: the first matching event after the one that made the last split."""
    out: list[tuple[float, str]] = []
    position = 0
    for split in splits:
        for j in range(position + 1, len(events)):
            t, event_type, data = events[j]
            if ("boss" in split and is_defeat(event_type, data, split["boss"])) or (
                    "enter" in split and event_type == "scene_transition"
                    and data["to_scene"] == split["enter"] and data.get("from_scene") != split["enter"]):
                out.append((t, split["name"]))
                position = j
                break
    return out


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_simulated_runs_split_right_in_order_once(seed: int) -> None:
    events = simulate(seed, 1500)
    splits = route_from(events, 3)
    assert len(splits) == 6, "the simulator beats at least three bosses in 25 minutes"
    route = parse_route({"name": "sim", "splits": splits}, "test")
    engine = SplitEngine(route)
    book = SegmentBook(route)
    feed = EventFeed(engine, book)  # raw events -> facts -> the engine and the book, as on the bus
    got: list[tuple[float, str]] = []
    starts = 0
    for t, event_type, data in events:
        for command in feed.feed(event_type, data, t):
            starts += command.command == "start"
            assert command.command in ("start", "split"), command
            if command.command == "split":
                got.append((t, command.split or ""))
    assert starts == 1 and events[0][1] == "scene_transition"  # the save loads: Menu_Title -> Tut_01
    assert got == oracle(events, splits)
    assert [s.index for s in engine.run.splits] == list(range(6))  # in order, none twice
    assert engine.phase == "ended"
    end = engine.run.splits[-1].real
    # Every second of the run is in exactly one room visit.
    assert sum(v.left - v.entered for v in book.visits) == pytest.approx(end, abs=1e-6)
    assert book.visits[0].scene == "Tut_01" and book.bests.pb_time == pytest.approx(end)


async def test_demo_bus_runs_the_default_route(bus_factory) -> None:
    """The simulator on a real bus (ManualClock) drives the built-in route's first splits."""
    clock = ManualClock()
    # At speed 10 the demo samples per game second: a ring big enough to hold the whole run.
    bus = await bus_factory(overrides={"DataCollection": {"RingBufferSize": 1_000_000}},
                            options=RunOptions(simulate=True, seed=7, speed=10.0), clock=clock)
    for _ in range(40):
        await clock.advance(5)  # 400 s of clock = 4000 s of game at speed 10
    commands = [e.data for e in bus.hub.recent(1000, frozenset({"timer_command"}))]
    assert commands[0]["command"] == "start" and commands[0]["source"] == "rules"
    names = [s.name for s in builtin_route().splits]
    done = [(c["index"], c["split"]) for c in commands if c["command"] in ("split", "skip")]
    assert done and done[0] == (0, "Moss Mother")
    assert [i for i, _ in done] == list(range(len(done)))  # in order, none twice
    assert all(names[i] == name for i, name in done)
    assert sum(c["command"] == "start" for c in commands) == 1
