"""Practice mode: attempts at one room or one boss, with time, damage, deaths, best and average.

- Room target: an attempt starts when the runner enters the room and ends when they leave it
  (cleared: the time counts for best and average) or die in it (failed).
- Boss target: an attempt starts at `boss_encounter` phase start and ends at the defeat (cleared)
  or a death (failed); leaving the arena mid-fight abandons it (failed).
Times come from the bus clock, so a test computes them by hand from scripted events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..events import Event

Kind = Literal["room", "boss"]
HISTORY = 20  # attempts listed in the view


@dataclass(slots=True)
class Attempt:
    """One try at the target."""

    number: int
    started: float
    time: float | None = None
    result: Literal["running", "cleared", "died", "abandoned"] = "running"
    damage_taken: float = 0.0
    deaths: int = 0


@dataclass(slots=True)
class Target:
    kind: Kind
    name: str


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


class PracticeTracker:
    """Follows the event stream for the current practice target."""

    def __init__(self) -> None:
        self.target: Target | None = None
        self.attempts: list[Attempt] = []
        self.scene: str | None = None
        self._boss_scene: str | None = None

    def set_target(self, kind: Kind | None, name: str | None) -> None:
        """Practise a room (scene name) or a boss (display name); None stops. Stats start over."""
        self.target = Target(kind, name) if kind and name else None
        self.attempts = []
        self._boss_scene = None

    def clear(self) -> None:
        """Forget the attempts, keep the target."""
        self.attempts = []

    @property
    def live(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts and self.attempts[-1].result == "running" else None

    def observe(self, event: Event, now: float) -> None:
        """Hub-listener step (called by the timer service with the bus clock's reading)."""
        data = event.data
        if event.type == "scene_transition":
            to_scene = _text(data.get("to_scene")) or _text(data.get("scene_name"))
            if to_scene is not None:
                self._scene(to_scene, now)
                self.scene = to_scene
            return
        target, live = self.target, self.live
        if target is None:
            return
        if event.type == "combat_damage" and live is not None and data.get("is_player_damage") is True:
            damage = data.get("damage")
            if isinstance(damage, int | float) and not isinstance(damage, bool) and damage > 0:
                live.damage_taken += float(damage)
        elif event.type == "player_death" and live is not None:
            live.deaths += 1
            self._end(live, "died", now)
        elif event.type == "boss_encounter" and target.kind == "boss":
            boss = _text(data.get("boss_name"))
            if boss is None or boss.casefold() != target.name.casefold():
                return
            if data.get("phase") == "start":
                if live is not None:
                    self._end(live, "abandoned", now)
                self._begin(now)
                self._boss_scene = self.scene
            elif data.get("phase") in ("defeated", "defeat") and live is not None:
                self._end(live, "cleared", now)
        elif event.type == "boss_defeated" and target.kind == "boss" and live is not None:
            boss = _text(data.get("boss_name"))
            if boss is not None and boss.casefold() == target.name.casefold():
                self._end(live, "cleared", now)

    def _scene(self, to_scene: str, now: float) -> None:
        target, live = self.target, self.live
        if target is None:
            return
        if target.kind == "room":
            if live is not None and to_scene != target.name:
                self._end(live, "cleared", now)
            if to_scene == target.name and self.live is None:
                self._begin(now)  # also a respawn in the room after a death: a new attempt
        elif live is not None and self._boss_scene is not None and to_scene != self._boss_scene:
            self._end(live, "abandoned", now)

    def _begin(self, now: float) -> None:
        self.attempts.append(Attempt(len(self.attempts) + 1, now))

    def _end(self, attempt: Attempt, result: Literal["cleared", "died", "abandoned"], now: float) -> None:
        attempt.time = round(now - attempt.started, 6)
        attempt.result = result

    def view(self, now: float) -> dict[str, Any]:
        """`GET /api/practice`: the target and its numbers."""
        done = [a for a in self.attempts if a.result != "running"]
        cleared = [a.time for a in done if a.result == "cleared" and a.time is not None]
        live = self.live
        return {
            "target": None if self.target is None else {"kind": self.target.kind, "name": self.target.name},
            "attempts": len(self.attempts),
            "cleared": len(cleared),
            "deaths": sum(a.deaths for a in self.attempts),
            "damage_taken": _r(sum(a.damage_taken for a in self.attempts)),
            "damage_per_attempt": _r(sum(a.damage_taken for a in done) / len(done)) if done else None,
            "best": _r(min(cleared)) if cleared else None,
            "average": _r(sum(cleared) / len(cleared)) if cleared else None,
            "last": _attempt(done[-1]) if done else None,
            "current": None if live is None else {**_attempt(live), "time": _r(now - live.started)},
            "history": [_attempt(a) for a in done[-HISTORY:]],
        }


def _attempt(attempt: Attempt) -> dict[str, Any]:
    out = asdict(attempt)
    out["time"] = _r(attempt.time)
    out["damage_taken"] = _r(attempt.damage_taken)
    del out["started"]
    return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
