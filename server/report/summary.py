"""The session's numbers: play time, deaths, rooms, bosses, damage and the guide's combat statistics.

Everything here is computed from a `SessionLog` (facts, not raw events) over every event; the
charts' series are downsampled later, for drawing only (`dxbus.report.series`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from .session import SessionLog

# One line per number, shown beside it in the report (and in `--json` under "explain").
EXPLAIN: dict[str, str] = {
    "play_seconds": "Time from the session's first event to its last, in game time.",
    "deaths": "Player deaths (player_death events).",
    "rooms_visited": "Different rooms entered (menus not counted).",
    "room_entries": "Room entries, including respawns and going back.",
    "bosses_beaten": "Bosses defeated at least once in this session.",
    "boss_attempts": "Boss fights started or won.",
    "total_damage_dealt": "Damage Hornet dealt (combat_damage not hitting the player).",
    "total_damage_taken": "Masks lost to hits (combat_damage hitting the player).",
    "avg_damage_dealt": "Average damage of one hit Hornet dealt.",
    "avg_damage_taken": "Average masks lost per hit taken.",
    "combat_encounters": "Hits exchanged: every combat_damage event, either way.",
    "damage_ratio": "Damage dealt per mask lost (higher is better).",
    "heals": "Times health went up outside a respawn (binding silk, mostly).",
    "benches": "Benches rested at (checkpoint_reached).",
}


def _r(value: float, digits: int = 2) -> float:
    return round(float(value), digits)


def combat(log: SessionLog) -> dict[str, Any]:
    """The usage guide's `analyze_combat_performance`, from the damage facts (plain JSON numbers)."""
    dealt = [amount for _, amount, taken in log.damage if not taken]
    taken = [amount for _, amount, was_taken in log.damage if was_taken]
    return {
        "total_damage_dealt": _r(sum(dealt)),
        "total_damage_taken": _r(sum(taken)),
        "avg_damage_dealt": _r(sum(dealt) / len(dealt)) if dealt else 0.0,
        "avg_damage_taken": _r(sum(taken) / len(taken)) if taken else 0.0,
        "combat_encounters": len(dealt) + len(taken),
        "damage_ratio": _r(sum(dealt) / (sum(taken) or 1)),
    }


def rooms(log: SessionLog) -> list[dict[str, Any]]:
    """Time per room (the guide's "scene difficulty heatmap"), longest first, with its area."""
    by_room: dict[str, dict[str, Any]] = {}
    for visit in log.visits:
        row = by_room.setdefault(visit.room, {"room": visit.room, "area": visit.area, "visits": 0,
                                              "seconds": 0.0, "deaths": 0, "damage_taken": 0.0})
        row["visits"] += 1
        row["seconds"] += visit.seconds
        row["deaths"] += visit.deaths
        row["damage_taken"] += visit.damage_taken
    out = sorted(by_room.values(), key=lambda r: (-r["seconds"], r["room"]))
    for row in out:
        row["avg_seconds"] = _r(row["seconds"] / row["visits"])
        row["seconds"] = _r(row["seconds"])
        row["damage_taken"] = _r(row["damage_taken"])
    return out


def areas(log: SessionLog) -> list[dict[str, Any]]:
    """Time, rooms and deaths per titled area, longest first."""
    seconds: dict[str, float] = defaultdict(float)
    names: dict[str, set[str]] = defaultdict(set)
    for visit in log.visits:
        area = visit.area or "Unknown area"
        seconds[area] += visit.seconds
        names[area].add(visit.room)
    deaths = Counter(d.area or "Unknown area" for d in log.deaths)
    return [{"area": a, "seconds": _r(s), "rooms": len(names[a]), "deaths": deaths.get(a, 0)}
            for a, s in sorted(seconds.items(), key=lambda kv: (-kv[1], kv[0]))]


def deaths(log: SessionLog) -> dict[str, Any]:
    """Deaths by room and by cause (most first), and each death."""
    by_room = Counter((d.room or "unknown", d.area) for d in log.deaths)
    by_cause = Counter(d.cause or "unknown" for d in log.deaths)
    return {
        "by_room": [{"room": room, "area": area, "deaths": n}
                    for (room, area), n in sorted(by_room.items(), key=lambda kv: (-kv[1], kv[0][0]))],
        "by_cause": [{"cause": c, "deaths": n}
                     for c, n in sorted(by_cause.items(), key=lambda kv: (-kv[1], kv[0]))],
        "list": [{"t": _r(d.t), "room": d.room, "area": d.area, "cause": d.cause, "boss": d.boss}
                 for d in log.deaths],
    }


def path(log: SessionLog) -> list[dict[str, Any]]:
    """The way through the world: each room stay in order (start, seconds, area)."""
    return [{"room": v.room, "area": v.area, "t": _r(v.start), "seconds": _r(v.seconds),
             "respawn": v.respawn, "deaths": v.deaths} for v in log.visits]


def summary(log: SessionLog) -> dict[str, Any]:
    """The headline numbers."""
    beaten = sorted({f.boss for f in log.fights if f.result == "defeated"})
    return {
        "play_seconds": _r(log.duration, 3),
        "deaths": len(log.deaths),
        "rooms_visited": len({v.room for v in log.visits}),
        "room_entries": len(log.visits),
        "bosses_beaten": beaten,
        "boss_attempts": len(log.fights),
        **combat(log),
        "heals": len(log.heals),
        "benches": len(log.benches),
    }


def session_info(log: SessionLog) -> dict[str, Any]:
    """Which session this is: origin, first and last timestamp, event count."""
    return {"origin": log.origin, "start": log.first_timestamp, "end": log.last_timestamp,
            "events": log.events}
