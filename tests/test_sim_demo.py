"""`dxbus demo`: prints where everything is, serves simulated play, exports it, stops cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from pathlib import Path

from conftest import BusFactory
from dxbus_process import dxbus_process

from dxbus.assemble import RunOptions
from dxbus.clock import ManualClock
from dxbus.sources.simulator import Simulator


def test_demo_prints_urls_serves_and_exports(tmp_path: Path) -> None:
    # Stopped by SIGTERM (what service managers send; SIGINT may be ignored by a background runner),
    # and killed by the context manager whatever happens: the demo never outlives the test.
    args = ["demo", "--http-port", "0", "--ws-port", "0", "--tcp-port", "0", "--seed", "7", "--speed", "20"]
    with dxbus_process(args, tmp_path) as proc:
        lines = proc.wait_for_line("Press Ctrl+C")
        text = "\n".join(lines)
        assert "fed by the Silksong simulator (seed 7, speed 20x)" in text
        rows = {line.split()[0]: line.split()[-1] for line in lines if line.startswith("  ")}
        assert rows["Dashboard"].startswith("http://127.0.0.1:") and rows["Dashboard"].endswith("/")
        assert rows["Overlays"].endswith("/overlays")
        assert rows["Event"].startswith("ws://127.0.0.1:")
        assert rows["Timer"].startswith("127.0.0.1:")
        # The demo keeps apart from real play: its own export folder and state files, said up front.
        assert rows["Export"] == str(tmp_path / "DataExport" / "demo")
        state_row = next(line for line in lines if line.lstrip().startswith("State "))
        assert str(tmp_path / "dxbus-demo-state.json") in state_row and "demo" in state_row

        state: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # simulated play reaches the state (a real process: poll)
            with urllib.request.urlopen(rows["Dashboard"] + "api/state", timeout=5) as reply:
                state = json.loads(reply.read())
            if state["scene"]["rooms_visited"] >= 2:
                break
            time.sleep(0.2)
        assert state["scene"]["rooms_visited"] >= 2 and state["scene"]["area"]
        rc, _ = proc.finish(signal.SIGTERM)
    assert rc == 0
    files = list((tmp_path / "DataExport" / "demo").glob("metrics_*.ndjson"))
    events = [json.loads(line) for f in files for line in f.read_text("utf-8").splitlines()]
    types = {e["EventType"] for e in events}
    assert {"scene_transition", "player_update", "timing_update"} <= types
    assert {e.get("Origin") for e in events} == {"demo"}  # every line says where it came from
    assert not (tmp_path / "dxbus-state.json").exists()  # real play's history never written
    assert not (tmp_path / "dxbus.lock").exists()  # the folder is free again


async def test_simulator_starts_after_the_ports(bus_factory: BusFactory) -> None:
    clock = ManualClock()
    bus = await bus_factory(options=RunOptions(simulate=True, seed=3, speed=1.0), clock=clock)
    names = [s.name for s in bus.services]
    sim_index = next(i for i, s in enumerate(bus.services) if isinstance(s, Simulator))
    for port in ("http", "websocket", "tcp"):
        port_index = next((i for i, n in enumerate(names) if port in n.lower()), None)
        if port_index is not None:
            assert port_index < sim_index
    first = bus.hub.since(0)[0]
    assert first.type == "scene_transition" and first.data["to_scene"] == "Tut_01"
    await clock.advance(3.0)
    await asyncio.sleep(0)
    assert bus.state.snapshot()["scene"]["current"] is not None
    assert bus.status_providers["simulator"]()["seed"] == 3
