"""The charts' series: drawn from every number, downsampled for drawing only (peaks kept).

A health line of a 3-hour session has tens of thousands of changes; the page draws at most
`MAX_POINTS` per series. `downsample` keeps, for each bucket of consecutive points, the lowest and
the highest (in their order), so a one-sample dip to zero masks still shows. The numbers of every
section are computed before this, from all the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .session import SessionLog

MAX_POINTS = 1500
DAMAGE_BUCKET_SECONDS = 60.0


def downsample(points: Sequence[tuple[float, float]], max_points: int = MAX_POINTS) -> list[list[float]]:
    """At most about `max_points` (t, value) points: each bucket's first, min and max and last kept."""
    if len(points) <= max_points:
        return [[round(t, 3), v] for t, v in points]
    buckets = max(1, max_points // 4)
    size = len(points) / buckets
    out: list[tuple[float, float]] = []
    for b in range(buckets):
        chunk = points[int(b * size):int((b + 1) * size)]
        if not chunk:
            continue
        lo = min(range(len(chunk)), key=lambda i: chunk[i][1])
        hi = max(range(len(chunk)), key=lambda i: chunk[i][1])
        keep = sorted({0, lo, hi, len(chunk) - 1})
        out.extend(chunk[i] for i in keep)
    return [[round(t, 3), v] for t, v in out]


def damage_buckets(log: SessionLog, width: float = DAMAGE_BUCKET_SECONDS) -> dict[str, Any]:
    """Damage taken and dealt per `width` seconds of game time (exact sums, every hit)."""
    n = int(log.duration // width) + 1
    taken, dealt = [0.0] * n, [0.0] * n
    for t, amount, was_taken in log.damage:
        i = min(n - 1, max(0, int(t // width)))
        if was_taken:
            taken[i] += amount
        else:
            dealt[i] += amount
    return {"width": width, "taken": [round(x, 2) for x in taken], "dealt": [round(x, 2) for x in dealt]}


def series(log: SessionLog) -> dict[str, Any]:
    """Health and silk over time, damage per minute, and the markers drawn on them."""
    health = [(t, h) for t, h, _ in log.health]
    health_max = next((m for _, _, m in reversed(log.health) if m is not None), None)
    silk_max = next((m for _, _, m in reversed(log.silk) if m is not None), None)
    return {
        "duration": round(log.duration, 3),
        "health": downsample(health),
        "health_max": health_max,
        "silk": downsample([(t, s) for t, s, _ in log.silk]),
        "silk_max": silk_max,
        "damage": damage_buckets(log),
        "deaths": [[round(d.t, 3), d.room, d.cause] for d in log.deaths],
        "benches": [[round(t, 3), room] for t, room in log.benches],
        "fights": [[round(f.start if f.start is not None else (f.end or 0.0), 3),
                    round(f.end if f.end is not None else log.duration, 3), f.boss, f.result]
                   for f in log.fights],
    }
