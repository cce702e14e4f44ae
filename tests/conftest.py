"""Shared fixtures: a real bus on ephemeral ports, and one on the default ports for the usage guide."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from dxbus.assemble import RunOptions, build_bus
from dxbus.bus import Bus
from dxbus.clock import Clock
from dxbus.config import load_config

# Fixtures shared by the browser tests (one Chromium per module, buses with overlays).
pytest_plugins = ["overlay_support"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

BusFactory = Callable[..., Awaitable[Bus]]


def merge(base: dict[str, dict[str, Any]], extra: dict[str, dict[str, Any]] | None) -> dict:
    """Merge `{Section: {Key: value}}` overrides."""
    out = {section: dict(values) for section, values in base.items()}
    for section, values in (extra or {}).items():
        out.setdefault(section, {}).update(values)
    return out


def bus_overrides(tmp_path: Path, overrides: dict | None = None, ephemeral: bool = True) -> dict:
    """Config overrides for a test bus: files under tmp_path, ephemeral ports unless told not to."""
    base: dict[str, dict[str, Any]] = {
        "FileExport": {"Directory": str(tmp_path / "DataExport")},
        "State": {"File": str(tmp_path / "dxbus-state.json")},
    }
    if ephemeral:
        base |= {"HTTP": {"Port": 0}, "WebSocket": {"Port": 0}, "TCP": {"Port": 0}}
    return merge(base, overrides)


@pytest.fixture
async def bus_factory(tmp_path: Path) -> AsyncIterator[BusFactory]:
    """Start real buses on ephemeral ports; all are stopped at the end of the test."""
    started: list[Bus] = []

    async def make(
        overrides: dict | None = None,
        options: RunOptions | None = None,
        clock: Clock | None = None,
        ephemeral: bool = True,
    ) -> Bus:
        config = load_config(None, bus_overrides(tmp_path, overrides, ephemeral))
        bus = build_bus(config, options, clock=clock, base_dir=tmp_path)
        await bus.start()
        started.append(bus)
        return bus

    yield make
    for bus in reversed(started):
        await bus.stop()


@pytest.fixture
async def bus(bus_factory: BusFactory) -> Bus:
    """A plain running bus (no sources) on ephemeral ports."""
    return await bus_factory()


@pytest.fixture
def default_ports_lock() -> Any:
    """Serialize tests that need the default ports 8080/9090/9091 (the usage guide hard-codes them)."""
    with open("/tmp/dxbus-default-ports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
        fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def chromium_path() -> str:
    """Debian's Chromium; browser downloads are impossible here."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def _descendants(root: int) -> dict[int, str]:
    """Live (not zombie) descendants of `root`: {pid: command line}, from /proc."""
    parents: dict[int, int] = {}
    states: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        states[int(entry)], parents[int(entry)] = fields[0], int(fields[1])
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                frontier.append(pid)
                if states[pid] != "Z":
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                            found[pid] = cmd.read().replace(b"\0", b" ").decode(errors="replace").strip()
                    except OSError:
                        continue
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Any:
    """At the end of the session (per xdist worker), no process a test started may still run.

    Torn down after every module fixture (browsers, OBS); what is left gets a few seconds to exit,
    then is killed and reported as an error, so a leak never passes silently.
    """
    yield
    deadline = time.monotonic() + 5
    while (left := _descendants(os.getpid())) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if left:
        pytest.fail("processes left running by the tests (killed now):\n"
                    + "\n".join(f"  {pid}: {cmd}" for pid, cmd in left.items()), pytrace=False)

