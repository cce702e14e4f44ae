"""Each boss's attempts: fight times (best, average, trend) and what the winning attempts did
differently from the lost ones (time, damage taken, heals)."""

from __future__ import annotations

from typing import Any

from .session import FightLog, SessionLog

EXPLAIN: dict[str, str] = {
    "attempts": "Fights with this boss (started, or won with no start seen).",
    "wins": "Attempts that ended with the boss defeated.",
    "best_time": "Shortest winning fight, in seconds (the game's time when it sends one).",
    "average_time": "Mean fight time over all attempts that have a time.",
    "trend": "Change in fight time per attempt, least squares over the attempts (s/attempt).",
    "difference": "Winning attempts compared with the lost ones, on average.",
}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def slope(values: list[float]) -> float | None:
    """Least-squares slope of `values` against 1, 2, 3... (None for fewer than two)."""
    n = len(values)
    if n < 2:
        return None
    mx, my = (n + 1) / 2, sum(values) / n
    sxx = sum((i + 1 - mx) ** 2 for i in range(n))
    return sum((i + 1 - mx) * (v - my) for i, v in enumerate(values)) / sxx


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _attempt(n: int, fight: FightLog) -> dict[str, Any]:
    return {"n": n, "t": _r(fight.start if fight.start is not None else fight.end),
            "result": fight.result or "in progress", "time": _r(fight.time, 3),
            "damage_taken": _r(fight.damage_taken), "damage_dealt": _r(fight.damage_dealt),
            "heals": fight.heals, "phase": fight.phase, "room": fight.room}


def difference(wins: list[FightLog], losses: list[FightLog]) -> list[str]:
    """What the winning attempts did differently, in words (empty without both kinds)."""
    if not wins or not losses:
        return []
    out = []
    taken = (_mean([f.damage_taken for f in losses]) or 0) - (_mean([f.damage_taken for f in wins]) or 0)
    if abs(taken) >= 0.5:
        word = "less" if taken > 0 else "more"
        out.append(f"Winning attempts took {abs(taken):.1f} {word} damage on average")
    heals = (_mean([float(f.heals) for f in wins]) or 0) - (_mean([float(f.heals) for f in losses]) or 0)
    if abs(heals) >= 0.5:
        word = "more" if heals > 0 else "less"
        out.append(f"Winning attempts healed {abs(heals):.1f} times {word} per fight")
    won_t = _mean([f.time for f in wins if f.time is not None])
    lost_t = _mean([f.time for f in losses if f.time is not None])
    if won_t is not None and lost_t is not None and abs(won_t - lost_t) >= 1:
        word = "longer" if won_t > lost_t else "shorter"
        out.append(f"Winning attempts lasted {abs(won_t - lost_t):.1f} s {word}"
                   f" ({won_t:.1f} s against {lost_t:.1f} s)")
    if not out:
        out.append("Winning and lost attempts look alike in time, damage taken and heals")
    return out


def bosses(log: SessionLog) -> list[dict[str, Any]]:
    """Per boss, in order of the first attempt."""
    by_boss: dict[str, list[FightLog]] = {}
    for fight in log.fights:
        by_boss.setdefault(fight.boss, []).append(fight)
    out = []
    for boss, fights in by_boss.items():
        wins = [f for f in fights if f.result == "defeated"]
        losses = [f for f in fights if f.result in ("died", "left")]
        times = [f.time for f in fights if f.time is not None]
        win_times = [f.time for f in wins if f.time is not None]
        record = log.world.boss_named(boss)
        out.append({
            "boss": boss, "area": record.area if record else None,
            "attempts": len(fights), "wins": len(wins), "losses": len(losses),
            "best_time": _r(min(win_times), 3) if win_times else None,
            "average_time": _r(_mean(times)),
            "trend": _r(slope(times)),
            "list": [_attempt(i + 1, f) for i, f in enumerate(fights)],
            "difference": difference(wins, losses),
        })
    return out
