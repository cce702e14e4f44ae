"""Shared fixtures: a real bus on ephemeral ports, and one on the default ports for the usage guide."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from dxbus.app import Bus
from dxbus.assemble import RunOptions, build_bus
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
