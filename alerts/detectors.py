"""Built-in detectors: the moments streamers celebrate, recognised from the raw event stream.

Each detector keeps the little room/fight bookkeeping it needs itself (rather than reading the
session state), so it does not depend on listener order and works on any event source. `feed`
returns `Trigger`s; the alert service renders and queues them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dxbus.clock import Clock
from dxbus.events import Event

from .config import Detectors

# A boss kill is often reported twice (`boss_encounter` phase defeated, then `boss_defeated`).
BOSS_DEDUP_SECONDS = 10.0
# How long a `boss_encounter` defeated waits for the `boss_defeated` that carries the game's own
# fight time, before alerting with the time measured on the bus clock.
BOSS_DEFER_SECONDS = 1.0
ABILITY_EVENTS = ("ability_obtained", "ability_unlocked")


@dataclass
class Trigger:
    """A detector or rule fired: `fields` are its template variables and variation inputs."""

    rule: str
    fields: dict[str, Any]
    event: Event | None = None
    # > 0: not yet; the service calls `DetectorSet.settle_deferred(trigger)` after this many seconds.
    delay: float = 0.0


@dataclass
class _Room:
    scene: str | None = None
    entered: float | None = None
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

    def ability(self, name: Any) -> str | None:
        """The canonical spelling of a known ability name (any case), or None."""
        return self.abilities.get(name.casefold()) if isinstance(name, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class DetectorSet:
    """Runs every enabled detector over the stream."""

    def __init__(self, config: Detectors, clock: Clock, world: WorldView | None = None) -> None:
        self.config = config
        self.clock = clock
        self.world = world or WorldView.load()
        self.room = _Room()
        self.first_scene_seen = False
        self.no_damage_rooms = 0
        self.deaths = 0
        self.death_streak = 0
        self.room_deaths: dict[str, int] = {}
        self.last_health: float | None = None
        self.low_health_armed = True
        self.areas_seen: set[str] = set()
        self.abilities_seen: set[str] = set()
        self.best: dict[str, float] = {}
        self.boss_started: dict[str, float] = {}
        self.last_defeat: dict[str, float] = {}
        self.pending_defeat: dict[str, tuple[float, Event]] = {}

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

    def feed(self, event: Event) -> list[Trigger]:
        """The triggers this event causes (often none)."""
        out: list[Trigger] = []
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event, out)
        elif event.type in ABILITY_EVENTS:
            out.extend(self._ability(event.data.get("ability") or event.data.get("name"), event))
        return [t for t in out if getattr(self.config, t.rule).enabled]

    # -- rooms ---------------------------------------------------------------------------------
    def _on_scene_transition(self, event: Event, out: list[Trigger]) -> None:
        data = event.data
        to_scene = data.get("to_scene") or data.get("scene_name")
        if not isinstance(to_scene, str) or not to_scene or to_scene == self.room.scene:
            return
        now = self.clock.monotonic()
        if self.room.scene is not None and self.room.entered is not None:
            self._leave_room(now, _number(data.get("total_scene_time")), event, out)
        self.room = _Room(scene=to_scene, entered=now)
        area = self.world.area_of(to_scene)
        if area and area not in self.areas_seen:
            self.areas_seen.add(area)
            # The room a session starts in is not a discovery.
            if self.first_scene_seen:
                self.death_streak = 0
                out.append(Trigger("new_area", {"area": area, "room": to_scene,
                                                "room_name": to_scene}, event))
        self.first_scene_seen = True

    def _leave_room(self, now: float, game_time: float | None, event: Event, out: list[Trigger]) -> None:
        room = self.room
        if room.died:
            # Leaving by respawn is not a run through the room.
            self.no_damage_rooms = 0
            return
        entered = room.entered if room.entered is not None else now
        elapsed = game_time if game_time is not None else now - entered
        base = {"room": room.scene, "room_name": room.scene, "area": self.world.area_of(room.scene),
                "room_time": round(elapsed, 3), "kills": room.kills, "boss_name": room.boss}
        cfg = self.config
        if elapsed < cfg.speed_room.seconds:
            out.append(Trigger("speed_room", dict(base), event))
        if not room.damaged and (room.kills >= cfg.perfect_room.min_kills or room.boss):
            out.append(Trigger("perfect_room", dict(base), event))
        if room.damaged:
            self.no_damage_rooms = 0
        else:
            self.no_damage_rooms += 1
            if self.no_damage_rooms % cfg.no_damage_streak.rooms == 0:
                out.append(Trigger("no_damage_streak", {**base, "streak": self.no_damage_rooms}, event))

    def _took_damage(self) -> None:
        self.room.damaged = True
        self.no_damage_rooms = 0

    def _on_combat_damage(self, event: Event, out: list[Trigger]) -> None:
        data = event.data
        if data.get("is_player_damage") is True:
            if (_number(data.get("damage")) or 0) > 0:
                self._took_damage()
            remaining = _number(data.get("player_health_remaining", data.get("health_remaining")))
            if remaining is not None:
                self._health(remaining, None, event, out, from_damage=True)

    def _on_enemy_killed(self, event: Event, out: list[Trigger]) -> None:
        self.room.kills += 1

    def _on_player_update(self, event: Event, out: list[Trigger]) -> None:
        health = _number(event.data.get("health_current"))
        if health is not None:
            self._health(health, _number(event.data.get("health_max")), event, out)

    def _health(self, health: float, maximum: float | None, event: Event, out: list[Trigger],
                from_damage: bool = False) -> None:
        if not from_damage and self.last_health is not None and health < self.last_health:
            self._took_damage()
        self.last_health = health
        masks = self.config.low_health.masks
        if health > masks:
            self.low_health_armed = True
        elif 0 < health <= masks and self.low_health_armed and (maximum is None or maximum > masks):
            self.low_health_armed = False
            out.append(Trigger("low_health", {"health": int(health), "health_max": maximum,
                                              "room": self.room.scene, "room_name": self.room.scene},
                               event))

    # -- deaths and bosses -----------------------------------------------------------------------
    def _on_player_death(self, event: Event, out: list[Trigger]) -> None:
        room = event.data.get("location") or event.data.get("scene") or self.room.scene
        room = room if isinstance(room, str) else None
        self.deaths += 1
        self.death_streak += 1
        self.no_damage_rooms = 0
        self.room.died = True
        self.last_health = None
        self.low_health_armed = True
        if room:
            self.room_deaths[room] = self.room_deaths.get(room, 0) + 1
        out.append(Trigger("death", {
            "room": room, "room_name": room or "?", "area": self.world.area_of(room),
            "cause": event.data.get("cause"), "streak": self.death_streak,
            "room_deaths": self.room_deaths.get(room or "", 0), "session_deaths": self.deaths}, event))

    def _on_boss_encounter(self, event: Event, out: list[Trigger]) -> None:
        name = event.data.get("boss_name")
        if not isinstance(name, str) or not name:
            return
        phase = event.data.get("phase")
        if phase == "start":
            self.boss_started[name] = self.clock.monotonic()
            self.room.boss = name
        elif phase == "defeated" and name not in self.pending_defeat and not self._recent_defeat(name):
            self.pending_defeat[name] = (self.clock.monotonic(), event)
            out.append(Trigger("boss_defeated", {"boss_name": name}, event, delay=BOSS_DEFER_SECONDS))

    def _on_boss_defeated(self, event: Event, out: list[Trigger]) -> None:
        name = event.data.get("boss_name")
        if isinstance(name, str) and name:
            # The game's own fight time wins over a pending `boss_encounter` defeated.
            pending = self.pending_defeat.pop(name, None)
            self._defeat(name, _number(event.data.get("time")), event, out,
                         at=pending[0] if pending else None)

    def settle_deferred(self, trigger: Trigger) -> list[Trigger]:
        """A deferred boss kill whose `boss_defeated` never came: alert with the bus clock's time."""
        name = trigger.fields.get("boss_name")
        pending = self.pending_defeat.pop(name, None) if isinstance(name, str) else None
        if pending is None or name is None:
            return []
        at, event = pending
        out: list[Trigger] = []
        self._defeat(name, None, event, out, at=at)
        return [t for t in out if getattr(self.config, t.rule).enabled]

    def _recent_defeat(self, name: str) -> bool:
        last = self.last_defeat.get(name)
        return last is not None and self.clock.monotonic() - last < BOSS_DEDUP_SECONDS

    def _defeat(self, name: str, fight_time: float | None, event: Event, out: list[Trigger],
                at: float | None = None) -> None:
        now = self.clock.monotonic() if at is None else at
        last = self.last_defeat.get(name)
        if last is not None and now - last < BOSS_DEDUP_SECONDS:
            return
        self.last_defeat[name] = now
        started = self.boss_started.pop(name, None)
        if fight_time is None and started is not None:
            fight_time = now - started
        self.room.boss = self.room.boss or name
        previous = self.best.get(name)
        new_best = fight_time is not None and previous is not None and fight_time < previous
        if fight_time is not None and (previous is None or fight_time < previous):
            self.best[name] = fight_time
        self.death_streak = 0
        out.append(Trigger("boss_defeated", {
            "boss_name": name, "fight_time": round(fight_time, 3) if fight_time is not None else None,
            "new_best": new_best, "first_kill": previous is None, "previous_best": previous,
            "room": self.room.scene, "room_name": self.room.scene}, event))

    # -- progress ----------------------------------------------------------------------------------
    def _on_item_collected(self, event: Event, out: list[Trigger]) -> None:
        known_only = event.data.get("kind") != "ability"
        out.extend(self._ability(event.data.get("item_name"), event, known_only=known_only))

    def _ability(self, name: Any, event: Event, known_only: bool = False) -> list[Trigger]:
        ability = self.world.ability(name) or (None if known_only or not isinstance(name, str) else name)
        if not ability or ability in self.abilities_seen:
            return []
        self.abilities_seen.add(ability)
        self.death_streak = 0
        return [Trigger("ability_obtained", {"ability": ability, "room": self.room.scene,
                                             "room_name": self.room.scene}, event)]


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
