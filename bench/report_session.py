"""A long Silksong session as the game would export it: the simulator at 60 Hz, stamped in game time.

`python3 bench/report_session.py OUT.ndjson [--hours 3] [--hz 60] [--seed 7]` writes one NDJSON
export (our wire form, live origin): `player_update` at `hz` per game second plus everything the
simulated play does (rooms, fights, deaths, benches, damage). Used by `report_bench.py`, and handy
for looking at a report of a long session.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from dxbus.clock import utc_iso
from dxbus.sources.simulator import Simulation
from dxbus.world import load_world

START = datetime(2026, 3, 1, 18, 0, 0, tzinfo=UTC).timestamp()


def generate(path: Path, hours: float = 3.0, hz: int = 60, seed: int = 7) -> int:
    """Write the session; returns the number of events."""
    count = 0
    with path.open("wb") as out:
        sim: Simulation

        def emit(event_type: str, data: dict[str, Any]) -> None:
            nonlocal count
            count += 1
            out.write(orjson.dumps({"Timestamp": utc_iso(START + sim.t), "EventType": event_type,
                                    "Data": data, "Seq": count}) + b"\n")

        sim = Simulation(load_world(), random.Random(seed), emit)
        sim.begin()
        for _ in range(int(hours * 3600 * hz)):
            sim.advance(1 / hz)
            emit("player_update", sim.player_update())
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--hz", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"{generate(args.out, args.hours, args.hz, args.seed)} events -> {args.out}")


if __name__ == "__main__":
    main()
