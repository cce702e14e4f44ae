"""Demo and replay keep their state apart from real play, and one bus per folder (dxbus.lock)."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import BusFactory
from waiting import wait_until

from dxbus.assemble import RunOptions, apart
from dxbus.clock import ManualClock
from dxbus.folder_lock import LOCK_NAME, FolderInUse, pid_alive


async def play_demo_until_a_death(bus_factory: BusFactory) -> None:
    clock = ManualClock()
    demo = await bus_factory(options=RunOptions(simulate=True, seed=7, speed=20), clock=clock)
    assert demo.mode == "demo"
    for _ in range(600):
        await clock.advance(1.0)
        if demo.state.deaths_total > 0:
            break
    assert demo.state.deaths_total > 0, "the simulator died at least once"
    await demo.stop()


async def test_demo_then_serve_in_one_folder_starts_with_zero_deaths(
    bus_factory: BusFactory, tmp_path: Path,
) -> None:
    await play_demo_until_a_death(bus_factory)
    demo_state = orjson.loads((tmp_path / "dxbus-demo-state.json").read_bytes())
    assert demo_state["deaths_total"] > 0  # the demo keeps its own history...
    assert not (tmp_path / "dxbus-state.json").exists()  # ...and never writes the real one
    live = await bus_factory()  # `dxbus serve` in the same folder
    assert live.mode == "live"
    snapshot = live.state.snapshot()
    assert snapshot["deaths"] == {"session": 0, "total": 0} and snapshot["bosses"] == {}


async def test_demo_leaves_an_existing_real_history_byte_for_byte(
    bus_factory: BusFactory, tmp_path: Path,
) -> None:
    real = tmp_path / "dxbus-state.json"
    live = await bus_factory()
    live.hub.emit("player_death", {"location": "Tut_01", "cause": "fall"})
    await live.stop()  # saves the real history
    saved = real.read_bytes()
    assert orjson.loads(saved)["deaths_total"] == 1
    await play_demo_until_a_death(bus_factory)
    assert real.read_bytes() == saved
    again = await bus_factory()
    assert again.state.snapshot()["deaths"]["total"] == 1


async def test_replay_state_lives_in_memory_only(bus_factory: BusFactory, tmp_path: Path) -> None:
    recording = tmp_path / "session.ndjson"
    lines = [{"Timestamp": "2026-01-01T00:00:00.000Z", "EventType": "player_death",
              "Data": {"location": "Tut_01", "cause": "fall"}, "Seq": 1}]
    recording.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    clock = ManualClock()
    replay = await bus_factory(options=RunOptions(replay=[recording]), clock=clock)
    assert replay.mode == "replay"
    await clock.advance(1.0)
    await wait_until(lambda: replay.state.deaths_total == 1, what="the replayed death")
    [death] = [e for e in replay.hub.recent(10) if e.type == "player_death"]
    assert death.origin == "replay" and orjson.loads(death.raw)["Origin"] == "replay"
    assert replay.status_providers["state"]() == {"file": None, "in_memory": True}
    await replay.stop()
    assert not (tmp_path / "dxbus-state.json").exists()


def test_apart_names_the_demo_files() -> None:
    assert apart("dxbus-state.json", "demo") == "dxbus-demo-state.json"
    assert apart("dxbus-splits.json", "demo") == "dxbus-demo-splits.json"
    assert Path(apart("/data/mine.json", "demo")) == Path("/data/demo-mine.json")


# -- one bus per folder --------------------------------------------------------------------------

async def test_second_bus_in_one_folder_refuses_naming_the_first(
    bus_factory: BusFactory, tmp_path: Path,
) -> None:
    first = await bus_factory()
    lock = json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))
    assert lock["pid"] == os.getpid() and lock["url"] == first.url()
    with pytest.raises(FolderInUse) as refused:
        await bus_factory()
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message and first.url() in message and str(tmp_path) in message
    assert first.hub.emit("player_death", {"location": "Tut_01"}) is not None  # the first runs on
    assert (tmp_path / LOCK_NAME).exists()  # and keeps its lock
    await first.stop()
    assert not (tmp_path / LOCK_NAME).exists()
    await bus_factory()  # the folder is free again


async def test_a_stale_lock_from_a_dead_process_is_taken_over(
    bus_factory: BusFactory, tmp_path: Path,
) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(gone.stdout)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": dead_pid, "url": "http://127.0.0.1:1"}))
    bus = await bus_factory()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["url"] == bus.url()


def test_two_dxbus_processes_in_one_folder(tmp_path: Path) -> None:
    """The real commands: `dxbus demo` runs; `dxbus serve` in the same folder exits naming it."""
    ports = ["--http-port", "0", "--ws-port", "0", "--tcp-port", "0"]
    demo = subprocess.Popen([sys.executable, "-m", "dxbus.cli", "demo", *ports, "--seed", "3"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line or line.startswith("Press Ctrl+C"):
                break
            lines.append(line)
        dashboard = next(line.split()[-1] for line in lines if line.strip().startswith("Dashboard"))
        serve = subprocess.run([sys.executable, "-m", "dxbus.cli", "serve", *ports], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60)
        assert serve.returncode == 1
        assert f"pid {demo.pid}" in serve.stderr and dashboard.rstrip("/") in serve.stderr
        assert "dxbus demo" in serve.stderr
    finally:
        demo.terminate()
        demo.wait(timeout=30)


class FakeKernel32:
    """The three kernel32 calls `pid_alive` makes on Windows."""

    def __init__(self, processes: dict[int, int]) -> None:
        self.processes = processes  # pid -> exit code (259: still active)
        self.closed: list[int] = []

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int:
        return pid if pid in self.processes else 0

    def GetExitCodeProcess(self, handle: int, code: ctypes._CArgObject) -> int:
        code._obj.value = self.processes[handle]  # type: ignore[attr-defined]
        return 1

    def CloseHandle(self, handle: int) -> int:
        self.closed.append(handle)
        return 1


def test_pid_alive_windows_branch_never_signals() -> None:
    kernel = FakeKernel32({100: 259, 200: 0})
    assert pid_alive(100, windows=True, kernel32=kernel) is True
    assert pid_alive(200, windows=True, kernel32=kernel) is False  # exited, handle still around
    assert pid_alive(300, windows=True, kernel32=kernel) is False  # no such process
    assert kernel.closed == [100, 200]
    assert pid_alive(os.getpid(), windows=False) is True
