"""Built-in detectors: the moments streamers celebrate, recognised from the game facts.

Detectors read `dxbus.facts` (rooms, fights, deaths, damage, health, abilities) and the current
room from the bus's one `FactDeriver`, so a kill reported twice is one kill here exactly as it is in
the session state. What they keep is their own: per-room run stats (damage, kills, a boss, a death),
streaks, and the best times they compare a kill with (seeded from the session state). `on_fact`
returns `Trigger`s; the alert service renders and queues them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dxbus.events import Event
from dxbus.facts import (
    AbilityGained,
    DamageTaken,
    Death,
    EnemyKilled,
    Fact,
    FactDeriver,
    FightResult,
    FightStarted,
    HealthChanged,
    RoomEntered,
)

from .config import Detectors


@dataclass
class Trigger:
    """A detector or rule fired: `fields` are its template variables and variation inputs."""

    rule: str
    fields: dict[str, Any]
    event: Event | None = None


@dataclass
class _RoomRun:
    """What happened in the current room since it was entered (for perfect/speed rooms)."""

    damaged: bool = False
    kills: int = 0
    boss: str | None = None
    died: bool = False


@dataclass
class WorldView:
    """The bits of world data detectors use: scene -> area, ability names."""

    areas: dict[str, str] = field(default_factory=dict)
    abilities: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> WorldView:
        """From `dxbus.world` (real Silksong scenes and abilities)."""
        from dxbus.world import load_world

        world = load_world()
        areas = {name: scene.area for name, scene in world.scenes.items() if scene.area}
        names = set(world.abilities)
        for group in world.abilities_by_kind.values():
            names.update(group)
        return cls(areas, {n.casefold(): n for n in names})

    def area_of(self, scene: str | None) -> str | None:
        """The titled area of a scene, or None."""
        return self.areas.get(scene or "")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class DetectorSet:
    """Runs every enabled detector over the facts of one `FactDeriver`."""

    def __init__(self, config: Detectors, facts: FactDeriver, world: WorldView | None = None) -> None:
        self.config = config
        self.facts = facts
        self.world = world or WorldView.load()
        self.run = _RoomRun()
        self.first_scene_seen = False
        self.no_damage_rooms = 0
        self.deaths = 0
        self.death_streak = 0
        self.room_deaths: dict[str, int] = {}
        self.low_health_armed = True
        self.areas_seen: set[str] = set()
        self.abilities_seen: set[str] = set()
        self.best: dict[str, float] = {}
        self._handlers = {
            RoomEntered: self._room_entered, DamageTaken: self._damage_taken,
            HealthChanged: self._health, EnemyKilled: self._enemy_killed, Death: self._death,
            FightStarted: self._fight_started, FightResult: self._fight_result,
            AbilityGained: self._ability,
        }

    @property
    def room(self) -> str | None:
        """The current room (from the facts layer)."""
        return self.facts.room

    def seed(self, state: dict[str, Any] | None) -> None:
        """Carry over what the session state already knows (bests, areas seen, abilities)."""
        if not state:
            return
        for name, record in (state.get("bosses") or {}).items():
            best = _number((record or {}).get("best"))
            if best is not None:
                self.best[name] = best
        for scene in (state.get("scene") or {}).get("visited") or ():
            area = self.world.area_of(scene)
            if area:
                self.areas_seen.add(area)
                self.first_scene_seen = True
        self.abilities_seen.update(a for a in state.get("abilities") or () if isinstance(a, str))

    def on_fact(self, fact: Fact) -> list[Trigger]:
        """The triggers this fact causes (often none)."""
        handler = self._handlers.get(type(fact))
        if handler is None:
            return []
        out: list[Trigger] = []
        handler(fact, out)
        return [t for t in out if getattr(self.config, t.rule).enabled]

    # -- rooms ---------------------------------------------------------------------------------
    def _room_entered(self, fact: Any, out: list[Trigger]) -> None:
        if fact.same_room:
            return
        if fact.room_seconds is not None:
            self._leave_room(fact, out)
        self.run = _RoomRun()
        area = fact.area
        if area and area not in self.areas_seen:
            self.areas_seen.add(area)
            # The room a session starts in is not a discovery.
            if self.first_scene_seen:
                self.death_streak = 0
                out.append(Trigger("new_area", {"area": area, "room": fact.room,
                                                "room_name": fact.room}, fact.event))
        self.first_scene_seen = True

    def _leave_room(self, fact: Any, out: list[Trigger]) -> None:
        run, left = self.run, fact.from_room
        if run.died:
            # Leaving by respawn is not a run through the room.
            self.no_damage_rooms = 0
            return
        # The game's own scene time wins over the bus clock.
        elapsed = fact.game_room_seconds if fact.game_room_seconds is not None else fact.room_seconds
        base = {"room": left, "room_name": left, "area": self.world.area_of(left),
                "room_time": round(elapsed, 3), "kills": run.kills, "boss_name": run.boss}
        cfg = self.config
        if elapsed < cfg.speed_room.seconds:
            out.append(Trigger("speed_room", dict(base), fact.event))
        if not run.damaged and (run.kills >= cfg.perfect_room.min_kills or run.boss):
            out.append(Trigger("perfect_room", dict(base), fact.event))
        if run.damaged:
            self.no_damage_rooms = 0
        else:
            self.no_damage_rooms += 1
            if self.no_damage_rooms % cfg.no_damage_streak.rooms == 0:
                out.append(Trigger("no_damage_streak", {**base, "streak": self.no_damage_rooms},
                                   fact.event))

    def _took_damage(self) -> None:
        self.run.damaged = True
        self.no_damage_rooms = 0

    def _damage_taken(self, fact: Any, out: list[Trigger]) -> None:
        if fact.amount > 0:
            self._took_damage()

    def _enemy_killed(self, fact: Any, out: list[Trigger]) -> None:
        self.run.kills += 1

    def _health(self, fact: Any, out: list[Trigger]) -> None:
        if fact.cause == "death":
            self.low_health_armed = True
            return
        health, maximum = fact.health, fact.health_max
        if fact.cause == "update" and fact.previous is not None and health < fact.previous:
            self._took_damage()  # a hit the game only shows in its HP
        masks = self.config.low_health.masks
        if health > masks:
            self.low_health_armed = True
        elif 0 < health <= masks and self.low_health_armed and (maximum is None or maximum > masks):
            self.low_health_armed = False
            out.append(Trigger("low_health", {"health": int(health), "health_max": maximum,
                                              "room": self.room, "room_name": self.room},
                               fact.event))

    # -- deaths and bosses -----------------------------------------------------------------------
    def _death(self, fact: Any, out: list[Trigger]) -> None:
        room = fact.room
        self.deaths += 1
        self.death_streak += 1
        self.no_damage_rooms = 0
        self.run.died = True
        if room:
            self.room_deaths[room] = self.room_deaths.get(room, 0) + 1
        out.append(Trigger("death", {
            "room": room, "room_name": room or "?", "area": self.world.area_of(room),
            "cause": fact.cause, "streak": self.death_streak,
            "room_deaths": self.room_deaths.get(room or "", 0), "session_deaths": self.deaths},
            fact.event))

    def _fight_started(self, fact: Any, out: list[Trigger]) -> None:
        self.run.boss = fact.boss

    def _fight_result(self, fact: Any, out: list[Trigger]) -> None:
        # One settled result per kill (the facts layer pairs a kill reported twice).
        if fact.result != "defeated":
            return
        name, fight_time = fact.boss, fact.time
        self.run.boss = self.run.boss or name
        previous = self.best.get(name)
        new_best = fight_time is not None and previous is not None and fight_time < previous
        if fight_time is not None and (previous is None or fight_time < previous):
            self.best[name] = fight_time
        self.death_streak = 0
        room = fact.room or self.room
        out.append(Trigger("boss_defeated", {
            "boss_name": name, "fight_time": fight_time, "new_best": new_best,
            "first_kill": previous is None, "previous_best": previous,
            "room": room, "room_name": room}, fact.event))

    # -- progress ----------------------------------------------------------------------------------
    def _ability(self, fact: Any, out: list[Trigger]) -> None:
        if fact.name in self.abilities_seen:
            return
        self.abilities_seen.add(fact.name)
        self.death_streak = 0
        out.append(Trigger("ability_obtained", {"ability": fact.name, "room": self.room,
                                                "room_name": self.room}, fact.event))


# Template variables for `POST /api/alerts/test` (a believable alert without playing the game).
SAMPLES: dict[str, dict[str, Any]] = {
    "boss_defeated": {"boss_name": "Lace", "fight_time": 83.4, "new_best": True, "first_kill": False,
                      "previous_best": 95.2, "room": "Bone_East_12", "room_name": "Bone_East_12"},
    "perfect_room": {"room": "Bone_05", "room_name": "Bone_05", "area": "The Marrow", "room_time": 24.8,
                     "kills": 4, "boss_name": None},
    "speed_room": {"room": "Bone_05", "room_name": "Bone_05", "area": "The Marrow", "room_time": 2.9,
                   "kills": 0, "boss_name": None},
    "death": {"room": "Bone_East_12", "room_name": "Bone_East_12", "area": "Deep Docks",
              "cause": "Lace", "streak": 3, "room_deaths": 3, "session_deaths": 12},
    "low_health": {"health": 1, "health_max": 5, "room": "Bone_05", "room_name": "Bone_05"},
    "new_area": {"area": "Deep Docks", "room": "Dock_01", "room_name": "Dock_01"},
    "ability_obtained": {"ability": "Swift Step", "room": "Shellwood_10", "room_name": "Shellwood_10"},
    "no_damage_streak": {"streak": 5, "room": "Bone_05", "room_name": "Bone_05", "area": "The Marrow",
                         "room_time": 12.0, "kills": 2, "boss_name": None},
}
