"""Background tasks that services start and stop."""

from __future__ import annotations

import asyncio
import contextlib

# How long one cancellation may take to land before it is sent again.
RECANCEL_SECONDS = 1.0


async def cancel_and_wait(task: asyncio.Task[object] | None) -> None:
    """Cancel a service's background task (if any) and wait until it has really finished.

    The cancellation is sent again until the task ends: Python 3.11's `asyncio.wait_for` can swallow
    a cancellation that arrives just as the awaited operation fails (a refused connection fails at
    once), and a reconnect loop would then go on forever, so the bus would never stop. Seen on a
    loaded machine; `asyncio.timeout` does not have the bug, and the loops use it, but a stop must
    not depend on every task being written right.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_SECONDS)
    with contextlib.suppress(asyncio.CancelledError):
        await task  # its own exception, if it failed, is the caller's to see
