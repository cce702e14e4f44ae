"""The one reconnect policy: every link that reconnects (OBS, LiveSplit, the relay, the timer port
reader, the race pusher, `BusClient`) waits by a `Backoff`.

Policy (docs/reconnect.md): the first retry waits `initial` seconds, each failed attempt doubles the
wait up to `maximum`, a success starts over at `initial`. Each wait is spread by +-`jitter` (a
fraction, 0.1 = +-10%) so many clients that lost the same server do not all come back in the same
instant; the random source is injected (`rng`), and `jitter=0` makes the waits exact. The waits are
slept on the caller's injected clock (`Clock.sleep`), so tests advance a `ManualClock` instead of
waiting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .clock import Clock

DEFAULT_JITTER = 0.1


@dataclass
class Backoff:
    """Doubling reconnect waits from `initial` to `maximum`, spread by +-`jitter`."""

    initial: float
    maximum: float
    jitter: float = DEFAULT_JITTER
    rng: random.Random = field(default_factory=random.Random, repr=False)
    attempts: int = 0  # failed attempts since the last success
    _base: float = field(default=-1.0, repr=False)

    def __post_init__(self) -> None:
        if not self.initial > 0:
            raise ValueError(f"backoff: the initial wait ({self.initial:g} s) must be above 0")
        self.maximum = max(self.maximum, self.initial)  # a cap below the first wait: never double
        if not (0 <= self.jitter < 1):
            raise ValueError(f"backoff: jitter {self.jitter:g} must be in [0, 1)")
        self._base = self.initial

    def next(self) -> float:
        """The wait before the next attempt (and count a failed attempt)."""
        base = self._base
        self._base = min(base * 2, self.maximum)
        self.attempts += 1
        if not self.jitter:
            return base
        return base * self.rng.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        """A success: the next failure waits `initial` again."""
        self._base = self.initial
        self.attempts = 0

    def peek(self) -> float:
        """The un-jittered wait `next()` would return, without counting an attempt."""
        return self._base

    async def wait(self, clock: Clock) -> float:
        """Sleep `next()` seconds on `clock`; returns the wait."""
        delay = self.next()
        await clock.sleep(delay)
        return delay


__all__ = ["DEFAULT_JITTER", "Backoff"]
