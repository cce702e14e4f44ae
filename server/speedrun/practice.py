"""Practice mode: attempts at one room or one boss, with time, damage, deaths, best and average.

The tracker reads the game facts (`dxbus.facts`), so a hit, a kill and a room change mean here
exactly what they mean in the session state:
- Room target: an attempt starts when the runner enters the room and ends when they leave it
  (cleared: the time counts for best and average) or die in it (failed).
- Boss target: an attempt starts at `FightStarted` and ends at the kill's `FightEnded` (cleared; the
  settled `FightResult` gives it the game's fight time when the game sends one), a death (failed), or
  leaving the arena mid-fight (abandoned).
Times come from the bus clock (the game's fight time for a cleared boss), so a test computes them by
hand from scripted events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from .. import facts as f

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


class PracticeTracker:
    """Follows the game facts for the current practice target."""

    def __init__(self) -> None:
        self.target: Target | None = None
        self.attempts: list[Attempt] = []

    def set_target(self, kind: Kind | None, name: str | None) -> None:
        """Practise a room (scene name) or a boss (display name); None stops. Stats start over."""
        self.target = Target(kind, name) if kind and name else None
        self.attempts = []

    def clear(self) -> None:
        """Forget the attempts, keep the target."""
        self.attempts = []

    @property
    def live(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts and self.attempts[-1].result == "running" else None

    def _is_target_boss(self, boss: str) -> bool:
        target = self.target
        return target is not None and target.kind == "boss" and boss.casefold() == target.name.casefold()

    def on_fact(self, fact: f.Fact, now: float) -> None:
        """Fact-listener step (called by the timer service with the bus clock's reading)."""
        target, live = self.target, self.live
        if target is None:
            return
        if isinstance(fact, f.RoomEntered):
            if target.kind == "room":
                if live is not None and fact.room != target.name:
                    self._end(live, "cleared", now)
                if fact.room == target.name and self.live is None:
                    self._begin(now)  # also a respawn in the room after a death: a new attempt
        elif isinstance(fact, f.DamageTaken):
            if live is not None and fact.amount > 0:
                live.damage_taken += float(fact.amount)
        elif isinstance(fact, f.Death):
            if live is not None:
                live.deaths += 1
                self._end(live, "died", now)
        elif isinstance(fact, f.FightStarted):
            if self._is_target_boss(fact.boss):
                if live is not None:
                    self._end(live, "abandoned", now)
                self._begin(now)
        elif isinstance(fact, f.FightEnded):
            if live is not None and self._is_target_boss(fact.boss):
                self._end(live, "cleared" if fact.result == "defeated" else
                          "died" if fact.result == "died" else "abandoned", now)
        elif isinstance(fact, f.FightResult):
            last = self.attempts[-1] if self.attempts else None
            if (last is not None and last.result == "cleared" and fact.result == "defeated"
                    and fact.time is not None and self._is_target_boss(fact.boss)):
                last.time = round(fact.time, 6)  # the game's own fight time, when it sent one

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
