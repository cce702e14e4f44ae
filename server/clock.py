"""Clocks: the real one, and a manual one that tests and replays advance by hand.

Everything that waits (simulator, replay, alert queue, rules, throttled writers) takes a
`Clock`, so a test moves time forward instead of sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from datetime import UTC, datetime
from typing import Any, Protocol


class Clock(Protocol):
    """What a time-dependent component needs: a monotonic reading, wall time, and a sleep."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    # The C functions themselves, not methods wrapping them: read several times for every event.
    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when `advance` is called; sleepers wake in deadline order."""

    def __init__(self, start_wall: float = 1_767_225_600.0) -> None:
        self._mono = 0.0
        self._wall_offset = start_wall
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self._mono

    def time(self) -> float:
        return self._wall_offset + self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._order), fut))
        await fut

    @property
    def pending(self) -> int:
        """How many sleepers are waiting."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its deadline and letting it run."""
        target = self._mono + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._mono = max(self._mono, deadline)
            if not fut.done():
                fut.set_result(None)
                await settle()
        self._mono = target
        await settle()


async def settle(rounds: int = 20) -> None:
    """Let ready tasks run until they block again (a few loop iterations)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


# utc_iso's last whole second and its text: every published event is stamped, many per second,
# and strftime was the largest single cost of stamping one.
_iso_second: list[Any] = [None, ""]


def utc_iso(epoch: float) -> str:
    """Format epoch seconds as the wire's ISO 8601 UTC timestamp with milliseconds and `Z`."""
    whole = math.floor(epoch)
    micro = round((epoch - whole) * 1_000_000)  # as datetime.fromtimestamp rounds
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    cached = _iso_second
    if cached[0] != whole:
        cached[1] = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        cached[0] = whole
    return f"{cached[1]}{micro // 1000:03d}Z"
