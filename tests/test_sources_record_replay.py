"""A recording of a live (simulated) run replays to the same session state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from dxbus.assemble import RunOptions
from dxbus.clock import ManualClock
from dxbus.sources.simulator import Simulator

SECONDS = 90.0
TICK = 0.1


def comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The state without what depends on the bus process rather than on the events (its Seq)."""
    out = orjson.loads(orjson.dumps(snapshot))
    out.pop("last_seq", None)
    return out


async def run(clock: ManualClock) -> None:
    for _ in range(round(SECONDS / TICK)):
        await clock.advance(TICK)


async def test_recording_replays_to_the_same_state(tmp_path: Path, bus_factory) -> None:
    record = tmp_path / "live.ndjson"
    live_clock = ManualClock()
    live = await bus_factory(overrides={"State": {"File": str(tmp_path / "live-state.json")}},
                             options=RunOptions(record=record), clock=live_clock)
    # Arrival-time stamps, as a live game's recording has (a demo's game time would replay at 8x).
    simulator = Simulator(live.hub, live_clock, live.policy, seed=7, speed=8.0, game_time=False)
    await simulator.start()
    await run(live_clock)
    await simulator.stop()
    live_state = comparable(live.state.snapshot())
    live_types = [e.type for e in live.hub.recent(100_000)]
    await live.stop()  # flushes the recording
    # The export files hold the same lines, so they replay the same way ("or the export files").
    exported = b"".join(p.read_bytes() for p in sorted((tmp_path / "DataExport").glob("metrics_*.ndjson")))
    assert exported == record.read_bytes()

    replay_clock = ManualClock()
    replayed = await bus_factory(overrides={"State": {"File": str(tmp_path / "replay-state.json")}},
                                 options=RunOptions(replay=[record]), clock=replay_clock)
    await run(replay_clock)
    replay_state = comparable(replayed.state.snapshot())
    replay_types = [e.type for e in replayed.hub.recent(100_000)]

    # The run is rich enough to matter: rooms, damage, deaths, boss fights.
    assert live_state["scene"]["rooms_visited"] >= 3 and live_state["damage"]["taken"] > 0
    assert live_state["deaths"]["session"] >= 1 and live_state["bosses"]
    assert replay_state == live_state
    assert replay_types == live_types  # derived events (alerts, splits) are made again, in place
