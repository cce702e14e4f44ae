"""Stopping the bus on a termination signal, on POSIX and on Windows.

POSIX: `loop.add_signal_handler(SIGTERM)` (`systemctl stop`, `kill`, a process manager).
Windows: the Proactor event loop has no `add_signal_handler` (NotImplementedError), so a plain
`signal.signal` handler hands the stop to the loop's thread with `call_soon_threadsafe`; it also
listens to SIGBREAK (Ctrl+Break, or the console window being closed). Ctrl+C is KeyboardInterrupt
on both, which `asyncio.run` turns into a cancellation that stops every service.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from types import FrameType


def stop_on_signals(stop: Callable[[], None], loop: asyncio.AbstractEventLoop | None = None,
                    platform: str | None = None) -> Callable[[], None]:
    """Call `stop()` on the loop's thread when the process is asked to terminate; returns the undo."""
    loop = loop or asyncio.get_running_loop()
    if (platform or sys.platform) != "win32":
        try:
            loop.add_signal_handler(signal.SIGTERM, stop)
        except (NotImplementedError, RuntimeError):
            pass  # a loop without signal support: the portable way below
        else:
            def remove() -> None:
                loop.remove_signal_handler(signal.SIGTERM)

            return remove

    def handler(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(stop)

    kinds = [signal.SIGTERM]
    if hasattr(signal, "SIGBREAK"):  # Windows only
        kinds.append(signal.SIGBREAK)
    previous = {}
    for kind in kinds:
        with contextlib.suppress(ValueError, OSError):  # not the main thread: no signal handling here
            previous[kind] = signal.signal(kind, handler)

    def undo() -> None:
        for kind, old in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(kind, old)

    return undo


__all__ = ["stop_on_signals"]
