"""The Windows branches on the run path, forced here (the suite runs on Linux): signals, and a
bus's whole run ended by SIGTERM the way Windows delivers it. (Replacing a held-open file:
tests/test_one_of_each.py; a lock holder's liveness: tests/test_origins.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from conftest import bus_overrides

from dxbus.assemble import build_bus
from dxbus.clock import settle
from dxbus.config import load_config
from dxbus.signals import stop_on_signals


async def test_on_windows_sigterm_reaches_the_loop_through_a_plain_handler() -> None:
    before = signal.getsignal(signal.SIGTERM)
    stopped = asyncio.Event()
    undo = stop_on_signals(stopped.set, platform="win32")
    try:
        assert signal.getsignal(signal.SIGTERM) is not before  # signal.signal, not add_signal_handler
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stopped.wait(), 5)
    finally:
        undo()
    assert signal.getsignal(signal.SIGTERM) == before  # put back as it was


async def test_a_loop_without_add_signal_handler_falls_back(monkeypatch: Any) -> None:
    """Windows' Proactor loop raises NotImplementedError from add_signal_handler."""
    loop = asyncio.get_running_loop()

    def not_here(*args: Any) -> None:
        raise NotImplementedError

    monkeypatch.setattr(loop, "add_signal_handler", not_here)
    before = signal.getsignal(signal.SIGTERM)
    stopped = asyncio.Event()
    undo = stop_on_signals(stopped.set)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stopped.wait(), 5)
    finally:
        undo()
    assert signal.getsignal(signal.SIGTERM) == before


async def test_on_posix_the_loop_handles_sigterm_and_lets_go_after() -> None:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    undo = stop_on_signals(stopped.set, platform="linux")
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(stopped.wait(), 5)
    undo()
    assert loop.remove_signal_handler(signal.SIGTERM) is False  # already removed


async def test_a_running_bus_stops_and_saves_on_a_windows_style_sigterm(bus_factory: Any, monkeypatch: Any,
                                                                      tmp_path: Any) -> None:
    import dxbus.signals

    real = dxbus.signals.stop_on_signals
    monkeypatch.setattr("dxbus.bus.stop_on_signals", lambda stop: real(stop, platform="win32"))


    bus = build_bus(load_config(None, bus_overrides(tmp_path)), base_dir=tmp_path)
    run = asyncio.ensure_future(bus.run_forever())
    while "http" not in bus.ports:
        await asyncio.sleep(0.01)
    bus.hub.emit("player_death", {"location": "Bone_05"})
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(run, 30)
    await settle()
    assert bus.stopping and (tmp_path / "dxbus-state.json").exists()
    assert '"deaths_total": 1' in (tmp_path / "dxbus-state.json").read_text()
