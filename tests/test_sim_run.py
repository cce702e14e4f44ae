"""The Silksong simulator: reproducible, realistic, at the configured rates (ManualClock only)."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from datetime import datetime
from typing import Any

import orjson
import pytest

from dxbus.clock import ManualClock
from dxbus.events import Event
from dxbus.hub import Hub
from dxbus.sources.simulator import MAX_SAMPLES_PER_SECOND, STEP, Simulation, Simulator
from dxbus.state import session_on_hub
from dxbus.world import load_world


async def run(seed: int, seconds: float, speed: float = 1.0, hz: int = 10) -> tuple[list[Event], Hub]:
    """Run a simulator on a bare hub for `seconds` of clock time; return every event."""
    clock = ManualClock()
    hub = Hub(clock, ring_size=100)
    hub.policy.update_frequency_hz = hz
    events: list[Event] = []
    hub.add_listener(events.append)
    sim = Simulator(hub, clock, hub.policy, load_world(), seed=seed, speed=speed)
    await sim.start()
    await clock.advance(seconds)
    await sim.stop()
    return events, hub


async def test_same_seed_same_events_byte_for_byte() -> None:
    first, _ = await run(seed=42, seconds=90)
    second, _ = await run(seed=42, seconds=90)
    assert [e.raw for e in first] == [e.raw for e in second]
    other, _ = await run(seed=43, seconds=90)
    assert [e.raw for e in other] != [e.raw for e in first]


async def test_rates_follow_the_configured_hz_live() -> None:
    clock = ManualClock()
    hub = Hub(clock, ring_size=100)
    counts: Counter[str] = Counter()
    hub.add_listener(lambda e: counts.update([e.type]))
    sim = Simulator(hub, clock, hub.policy, load_world(), seed=1, speed=1.0)
    await sim.start()
    await clock.advance(60.0)
    assert counts["player_update"] == 1 + 600  # one at start, then 10 Hz
    assert counts["timing_update"] == 1 + 60  # 1 Hz of game time
    assert 11 <= counts["combat_stats"] <= 12  # every 5 s
    hub.policy.update_frequency_hz = 30  # what POST /api/configure does
    await clock.advance(10.0)
    # The tick already scheduled at the old rate goes first; then 30 Hz.
    assert 601 + 297 <= counts["player_update"] <= 601 + 300
    assert counts["timing_update"] == 61 + 10
    await sim.stop()


async def test_speed_compresses_game_time() -> None:
    events, _ = await run(seed=3, seconds=20, speed=4.0)
    timing = [e.data["session_time"] for e in events if e.type == "timing_update"]
    assert timing[-1] == pytest.approx(80.0, abs=0.11)
    # Sampled per game second: 10 Hz of the 80 game seconds (4 samples per 0.1 s tick).
    assert sum(1 for e in events if e.type == "player_update") == 1 + 800


async def test_fast_demo_is_stamped_with_game_time() -> None:
    """At --speed above 1 the export reads like the game session: timestamps in game time,
    player_update at the configured rate per game second (capped per wall second)."""
    events, _ = await run(seed=5, seconds=10, speed=10.0, hz=20)
    start = datetime.fromisoformat(events[0].timestamp.replace("Z", "+00:00")).timestamp()
    assert start == pytest.approx(ManualClock().time(), abs=0.001)
    game = [(datetime.fromisoformat(e.timestamp.replace("Z", "+00:00")).timestamp() - start, e)
            for e in events]
    assert [t for t, _ in game] == sorted(t for t, _ in game)
    updates = [t for t, e in game if e.type == "player_update"]
    assert len(updates) == 1 + 10 * 10 * 20  # 100 game seconds at 20 Hz
    assert updates[-1] == pytest.approx(100.0, abs=0.01)
    gaps = {round(b - a, 3) for a, b in itertools.pairwise(updates)}
    assert gaps <= {0.05, 0.049, 0.051}  # 1/20 s of game time, to the millisecond
    for t, event in game:
        if event.type == "timing_update":
            assert t == pytest.approx(event.data["session_time"], abs=0.002)
    flood, _ = await run(seed=5, seconds=2, speed=1000.0, hz=60)
    assert sum(1 for e in flood if e.type == "player_update") == 1 + 2 * MAX_SAMPLES_PER_SECOND


async def test_half_hour_of_play_is_realistic() -> None:
    # 30 simulated minutes: speed 30 at 10 Hz is 60 s of (manual) clock time.
    events, _ = await run(seed=2026, seconds=60, speed=30.0)
    world = load_world()
    types = Counter(e.type for e in events)
    for needed in ("scene_transition", "player_update", "timing_update", "combat_damage",
                   "combat_stats", "enemy_killed", "player_death", "boss_encounter",
                   "boss_defeated", "checkpoint_reached", "ability_used", "item_collected"):
        assert types[needed] > 0, needed
    assert 2 <= types["player_death"] <= 40

    scene: str | None = None
    hp_max = 0
    for event in events:
        data: dict[str, Any] = event.data
        if event.type == "player_update":
            assert 0 <= data["health_current"] <= data["health_max"] <= world.player.masks_max
            assert 0 <= data["mp_current"] <= data["mp_max"] <= world.player.silk_max
            assert data["health_max"] >= hp_max  # masks only ever grow
            hp_max = data["health_max"]
            assert data["scene"] == scene
        elif event.type == "scene_transition":
            if scene is None:
                assert data["from_scene"] == "Menu_Title" and data["to_scene"] == "Tut_01"
            else:
                assert data["from_scene"] == scene  # continuous: leaves where it was
                if data["transition_type"] == "gate":
                    assert data["to_scene"] in world.scenes[scene].exits
                else:
                    assert data["transition_type"] == "respawn"
                    assert world.scenes[data["to_scene"]].bench or data["to_scene"] == "Tut_01"
            assert data["load_time_ms"] > 0 and data["total_scene_time"] >= 0
            scene = data["to_scene"]
        elif event.type == "combat_damage":
            assert data["damage"] > 0 and isinstance(data["is_player_damage"], bool)
            assert data["player_health_remaining"] >= 0
        elif event.type == "player_death":
            assert data["location"] == scene
        elif event.type == "boss_encounter":
            boss = world.boss_named(data["boss_name"])
            assert boss is not None and scene in {b.scene for b in world.bosses
                                                   if b.name == data["boss_name"]}
            assert data["phase"] in ("start", "phase_change", "defeated")
        elif event.type == "boss_defeated":
            assert data["time"] > 5

    stats = [e.data for e in events if e.type == "combat_stats"]
    for before, after in itertools.pairwise(stats):
        assert after["total_damage_dealt"] >= before["total_damage_dealt"]
        assert after["enemies_killed"] >= before["enemies_killed"]
    dealt = sum(e.data["damage"] for e in events
                if e.type == "combat_damage" and not e.data["is_player_damage"])
    assert stats[-1]["total_damage_dealt"] <= dealt


async def test_state_follows_the_simulation() -> None:
    clock = ManualClock()
    hub = Hub(clock, ring_size=100)
    state, _ = session_on_hub(hub, clock, load_world())
    sim = Simulator(hub, clock, hub.policy, load_world(), seed=5, speed=30.0)
    await sim.start()
    await clock.advance(40.0)
    snap = state.snapshot()
    assert snap["scene"]["current"] == sim.sim.scene
    assert snap["deaths"]["session"] == sim.sim.deaths
    assert snap["player"]["health"] == sim.sim.hp
    assert snap["scene"]["area"] is not None
    assert sum(r["defeats"] for r in snap["bosses"].values()) == len(sim.sim.defeated)
    await sim.stop()
    orjson.dumps(snap)


def test_simulation_steps_do_not_depend_on_tick_size() -> None:
    out: dict[float, list[tuple[str, bytes]]] = {}
    for tick in (0.1, 0.35):
        events: list[tuple[str, bytes]] = []
        sim = Simulation(load_world(), random.Random(9),
                         lambda t, d, out=events: out.append((t, orjson.dumps(d))))
        sim.begin()
        for _ in range(round(210 / tick)):
            sim.advance(tick)
        out[tick] = events
    assert out[0.1] == out[0.35] and STEP == 0.05


async def test_stop_is_prompt_and_final() -> None:
    events, hub = await run(seed=11, seconds=5)
    seq = hub.seq
    await asyncio.sleep(0)
    assert hub.seq == seq and events


def test_bad_speed_is_a_config_error() -> None:
    from dxbus.assemble import RunOptions, build_bus
    from dxbus.config import ConfigError, load_config

    for speed in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="--speed"):
            build_bus(load_config(None), RunOptions(simulate=True, speed=speed))
