"""`[Security]`: tokens compared in constant time, origin checks, rate and connection limits."""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass

from .clock import Clock


def token_matches(expected: str, presented: str | None) -> bool:
    """True if no token is configured, or `presented` equals it (constant time, length included)."""
    if not expected:
        return True
    if presented is None:
        return False
    # Hash both sides first so the comparison time does not depend on the lengths either.
    a = hashlib.sha256(expected.encode()).digest()
    b = hashlib.sha256(presented.encode()).digest()
    return hmac.compare_digest(a, b)


def presented_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token a request carries: `Authorization: Bearer T` or `?token=T` (browser sources)."""
    auth = headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return query.get("token")


def origin_allowed(allowed: frozenset[str], origin: str | None) -> bool:
    """Whether a browser Origin may use the bus.

    No Origin header means a non-browser client (scripts, OBS plugins): always allowed. `*` allows
    every origin, including `null` (pages opened from file://) and OBS's local-file pages.
    """
    if origin is None or "*" in allowed:
        return True
    wanted = origin.rstrip("/").lower()
    return any(wanted == a.rstrip("/").lower() for a in allowed)


class ConnectionLimiter:
    """Open connections per client IP (`MaxConnectionsPerIP`), shared by every port."""

    def __init__(self, max_per_ip: int) -> None:
        self.max_per_ip = max_per_ip
        self._open: dict[str, int] = {}

    def acquire(self, ip: str) -> bool:
        """Count a new connection; False (and not counted) if the IP is at its limit."""
        count = self._open.get(ip, 0)
        if count >= self.max_per_ip:
            return False
        self._open[ip] = count + 1
        return True

    def release(self, ip: str) -> None:
        count = self._open.get(ip, 0) - 1
        if count > 0:
            self._open[ip] = count
        else:
            self._open.pop(ip, None)

    def open_for(self, ip: str) -> int:
        return self._open.get(ip, 0)


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one rate check, with what the `X-Rate-Limit-*` headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        out = {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after)
        return out


class RateLimiter:
    """A token bucket per IP: `per_minute` requests, refilled smoothly (no fixed-window bursts)."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.limit = per_minute
        self.clock = clock
        self._rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, ip: str) -> RateDecision:
        """Take one request's token for `ip` if there is one."""
        now = self.clock.monotonic()
        tokens, last = self._buckets.get(ip, (float(self.limit), now))
        tokens = min(float(self.limit), tokens + (now - last) * self._rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[ip] = (tokens, now)
        if len(self._buckets) > 10_000:
            self._forget_full(now)
        reset = math.ceil((self.limit - tokens) / self._rate)
        retry = 0 if allowed else max(1, math.ceil((1.0 - tokens) / self._rate))
        return RateDecision(allowed, self.limit, int(tokens), reset, retry)

    def _forget_full(self, now: float) -> None:
        for ip, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * self._rate >= self.limit:
                del self._buckets[ip]
