"""The session model (PROTOCOL.md section 5): what `GET /api/state` and `bus_snapshot` show.

`SessionState` folds game facts (`dxbus.facts`) into counters and records, and reads the room and
the fight in progress straight from the `FactDeriver`, so it keeps no room or fight bookkeeping of
its own. High-rate state the facts do not cover (silk, position, the game's session time and combat
totals) comes from the raw `player_update`, `timing_update` and `combat_stats` events.
`snapshot()` computes times at snapshot time from the injected clock. Persistence: `state_store.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .events import Event
from .facts import (
    AbilityGained,
    AbilityUsed,
    BenchReached,
    DamageDealt,
    DamageTaken,
    Death,
    EnemyKilled,
    Fact,
    FactDeriver,
    FactStream,
    FightEnded,
    FightResult,
    FightStarted,
    HealthChanged,
    RoomEntered,
    number,
)
from .world import World, load_world

if TYPE_CHECKING:
    from .hub import Hub

STATE_FILE_VERSION = 1
# How far session time may run ahead of the last `timing_update` (it arrives at 1 Hz); beyond this the
# game has gone quiet and the clock should stop rather than keep counting.
MAX_SESSION_EXTRAPOLATION = 2.0


@dataclass
class BossRecord:
    """Persistent per-boss counters."""

    attempts: int = 0
    defeats: int = 0
    best: float | None = None
    last: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "defeats": self.defeats, "best": self.best,
                "last": self.last}


class SessionState:
    """The session model: `on_fact` and `on_event` feed it (see `follow`), `snapshot()` reads it."""

    def __init__(self, clock: Clock, world: World | None = None,
                 facts: FactDeriver | None = None) -> None:
        self.clock = clock
        self.world = world or load_world()
        # Where the room and the fight in progress are read from (the bus's one deriver).
        self.facts = facts or FactDeriver(clock, world=self.world)
        # Bumped on every change to a persisted counter; the store saves when it moves.
        self.revision = 0
        self._fact_handlers = {
            RoomEntered: self._room_entered,
            BenchReached: self._bench,
            FightStarted: self._fight_started,
            FightEnded: self._fight_ended,
            FightResult: self._fight_result,
            Death: self._death,
            DamageTaken: self._damage_taken,
            DamageDealt: self._damage_dealt,
            HealthChanged: self._health,
            EnemyKilled: self._enemy_killed,
            AbilityGained: self._ability,
            AbilityUsed: self._ability,
        }
        # Persistent counters.
        self.deaths_total = 0
        self.bosses: dict[str, BossRecord] = {}
        self.death_locations: dict[str, int] = {}
        self.reset_session()

    def reset_session(self) -> None:
        """Forget the session (fast state and session counters); persistent counters stay."""
        self.health: float | None = None
        self.health_max: float | None = None
        self.mp: float | None = None
        self.mp_max: float | None = None
        self.position: tuple[float | None, float | None] = (None, None)
        self.deaths_session = 0
        self.session_death_locations: dict[str, int] = {}
        self.damage_dealt: float = 0
        self.damage_taken: float = 0
        self.enemies_killed = 0
        self.previous_scene: str | None = None
        self.visited: dict[str, None] = {}  # insertion-ordered set
        self.first_event: float | None = None
        self.started: str | None = None
        self.game_session_time: tuple[float, float] | None = None  # (session_time, received at)
        # The game's own time in the current room (`timing_update` scene_time), when it sends one.
        self.game_scene_time: tuple[float, float] | None = None  # (scene_time, received at)
        self.last_boss: str | None = None
        self.last_result: dict[str, Any] | None = None
        self.abilities: dict[str, None] = {}
        self.last_seq = 0

    def follow(self, hub: Hub, stream: FactStream) -> None:
        """Read `stream`'s facts and `hub`'s raw high-rate events (the stream must use `self.facts`)."""
        if stream.deriver is not self.facts:
            raise ValueError("the state must read the room and fight from the stream's own deriver")
        stream.add_listener(self.on_fact)
        hub.add_listener(self.on_event)

    # -- raw events: high-rate state -------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Hub listener for what facts do not cover (quick, never raises on odd data)."""
        self._first(event.timestamp)
        self.last_seq = event.seq
        data = event.data
        if event.type == "player_update":
            self._player_update(data)
        elif event.type == "timing_update":
            session_time = number(data.get("session_time"))
            if session_time is not None:
                self.game_session_time = (session_time, self.clock.monotonic())
            scene_time = number(data.get("scene_time"))
            if scene_time is not None and scene_time >= 0:
                self.game_scene_time = (scene_time, self.clock.monotonic())
        elif event.type == "combat_stats":
            self._combat_stats(data)

    def _first(self, timestamp: str) -> None:
        if self.first_event is None:
            self.first_event = self.clock.monotonic()
            self.started = timestamp

    def _player_update(self, data: dict[str, Any]) -> None:
        # Only fields present are updated: a partial update keeps the rest. Health comes from facts.
        get = data.get
        if "health_current" in data and number(get("health_current")) is None:
            self.health = None
        if "health_max" in data:
            self.health_max = number(get("health_max"))
        if "mp_current" in data:
            self.mp = number(get("mp_current"))
        if "mp_max" in data:
            self.mp_max = number(get("mp_max"))
        if "position_x" in data or "position_y" in data:
            x, y = self.position
            self.position = (number(get("position_x", x)), number(get("position_y", y)))

    def _combat_stats(self, data: dict[str, Any]) -> None:
        # The game's own totals are authoritative; later damage facts add on top.
        dealt = number(data.get("total_damage_dealt"))
        taken = number(data.get("total_damage_taken"))
        killed = number(data.get("enemies_killed"))
        if dealt is not None:
            self.damage_dealt = dealt
        if taken is not None:
            self.damage_taken = taken
        if killed is not None:
            self.enemies_killed = int(killed)

    # -- facts -----------------------------------------------------------------------------------
    def on_fact(self, fact: Fact) -> None:
        """Fact listener: fold one fact into the counters."""
        self._first(fact.timestamp)
        handler = self._fact_handlers.get(type(fact))
        if handler is not None:
            handler(fact)

    def _room_entered(self, fact: Any) -> None:
        self.previous_scene = fact.from_room
        self.game_scene_time = None  # the new room's time starts at the bus's clock until the game says
        self.visited[fact.room] = None

    def _bench(self, fact: Any) -> None:
        if fact.room is not None and fact.room == self.facts.room:
            self.visited.setdefault(fact.room, None)

    def _health(self, fact: Any) -> None:
        self.health = fact.health

    def _damage_taken(self, fact: Any) -> None:
        self.damage_taken += fact.amount

    def _damage_dealt(self, fact: Any) -> None:
        self.damage_dealt += fact.amount

    def _enemy_killed(self, fact: Any) -> None:
        self.enemies_killed += 1

    def _ability(self, fact: Any) -> None:
        self.abilities[fact.name] = None

    def _death(self, fact: Any) -> None:
        self.deaths_session += 1
        self.deaths_total += 1
        if fact.room:
            self.death_locations[fact.room] = self.death_locations.get(fact.room, 0) + 1
            self.session_death_locations[fact.room] = self.session_death_locations.get(fact.room, 0) + 1
        self.revision += 1

    def _record(self, boss: str) -> BossRecord:
        record = self.bosses.get(boss)
        if record is None:
            record = self.bosses[boss] = BossRecord()
        return record

    def _fight_started(self, fact: Any) -> None:
        self._record(fact.boss).attempts += 1
        self.last_boss = fact.boss
        self.revision += 1

    def _fight_ended(self, fact: Any) -> None:
        record = self._record(fact.boss)
        if not fact.started_seen:
            record.attempts += 1  # a kill with no start seen (a source that only reports kills)
        if fact.result == "defeated":
            record.defeats += 1
        if fact.time is not None:
            record.last = fact.time
        self.last_boss = fact.boss
        self.last_result = {"boss": fact.boss, "result": fact.result, "time": fact.time}
        self.revision += 1

    def _fight_result(self, fact: Any) -> None:
        # The settled time (the game's, when it sent one) replaces the provisional one.
        record = self._record(fact.boss)
        if fact.time is not None:
            record.last = fact.time
            if fact.result == "defeated":
                record.best = fact.time if record.best is None else min(record.best, fact.time)
        last = self.last_result
        if last is not None and last["boss"] == fact.boss and last["result"] == fact.result:
            self.last_result = {**last, "time": fact.time}
        self.revision += 1

    # -- reading ---------------------------------------------------------------------------------
    def session_time(self) -> float:
        """Seconds of session: the game's `session_time` when it sends one, else since the first event."""
        now = self.clock.monotonic()
        if self.game_session_time is not None:
            base, at = self.game_session_time
            return base + min(max(0.0, now - at), MAX_SESSION_EXTRAPOLATION)
        if self.first_event is None:
            return 0.0
        return now - self.first_event

    def scene_time(self) -> float:
        """Seconds in the current room: the game's `scene_time` when it sends one, else since entering."""
        now = self.clock.monotonic()
        if self.game_scene_time is not None:
            base, at = self.game_scene_time
            return base + min(max(0.0, now - at), MAX_SESSION_EXTRAPOLATION)
        entered = self.facts.room_entered
        return now - entered if entered is not None else 0.0

    @property
    def scene(self) -> str | None:
        """The current room (from the facts layer)."""
        return self.facts.room

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-ready dict (`GET /api/state`, `bus_snapshot`)."""
        now = self.clock.monotonic()
        fight = self.facts.fight
        boss_name = fight.boss if fight else self.last_boss
        record = self.bosses.get(boss_name) if boss_name else None
        if fight is not None:
            fight_time: float | None = round(now - fight.started, 3)
        else:
            fight_time = self.last_result["time"] if self.last_result else None
        scene, entered = self.facts.room, self.facts.room_entered
        x, y = self.position
        return {
            "player": {"health": self.health, "health_max": self.health_max, "mp": self.mp,
                       "mp_max": self.mp_max, "position_x": x, "position_y": y},
            "deaths": {"session": self.deaths_session, "total": self.deaths_total},
            "damage": {"dealt": self.damage_dealt, "taken": self.damage_taken},
            "enemies_killed": self.enemies_killed,
            "scene": {
                "current": scene,
                "area": self.world.area_of(scene),
                "region": self.world.region_of(scene),
                "previous": self.previous_scene,
                "time_in_scene": round(self.scene_time(), 3) if entered is not None else 0.0,
                "visited": list(self.visited),
                "rooms_visited": len(self.visited),
            },
            "session": {"time": round(self.session_time(), 3), "started": self.started},
            "boss": {
                "current": boss_name,
                "active": fight is not None,
                "phase": fight.phase if fight else None,
                "fight_time": fight_time,
                "attempts": record.attempts if record else 0,
                "best": record.best if record else None,
                "last_time": record.last if record else None,
                "last_result": dict(self.last_result) if self.last_result else None,
            },
            "bosses": {name: rec.as_dict() for name, rec in self.bosses.items()},
            "death_locations": dict(self.death_locations),
            "session_death_locations": dict(self.session_death_locations),
            "abilities": list(self.abilities),
            "last_seq": self.last_seq,
        }

    # -- persistence -----------------------------------------------------------------------------
    def persistent(self) -> dict[str, Any]:
        """The counters that survive a restart, as written to the state file."""
        return {
            "version": STATE_FILE_VERSION,
            "deaths_total": self.deaths_total,
            "bosses": {name: rec.as_dict() for name, rec in self.bosses.items()},
            "death_locations": dict(self.death_locations),
        }

    def restore(self, doc: dict[str, Any]) -> None:
        """Load persisted counters (raises ValueError/TypeError on a malformed document)."""
        if not isinstance(doc, dict):
            raise ValueError("the state file must hold a JSON object")
        deaths = doc.get("deaths_total", 0)
        if isinstance(deaths, bool) or not isinstance(deaths, int) or deaths < 0:
            raise ValueError("deaths_total must be a non-negative integer")
        bosses: dict[str, BossRecord] = {}
        for name, raw in (doc.get("bosses") or {}).items():
            if not isinstance(raw, dict):
                raise ValueError(f"bosses.{name} must be an object")
            bosses[str(name)] = BossRecord(
                attempts=int(raw.get("attempts", 0)), defeats=int(raw.get("defeats", 0)),
                best=number(raw.get("best")), last=number(raw.get("last")))
        locations = {str(k): int(v) for k, v in (doc.get("death_locations") or {}).items()}
        self.deaths_total, self.bosses, self.death_locations = deaths, bosses, locations


def session_on_hub(hub: Hub, clock: Clock, world: World | None = None,
                   kill_pairing_seconds: float | None = None) -> tuple[SessionState, FactStream]:
    """A fact stream on `hub` and a session state following it (tests, tools; the bus makes
    its own in `Bus.__init__`). Start the stream (`await stream.start()`) for kills to settle on time."""
    deriver = (FactDeriver(clock, world=world) if kill_pairing_seconds is None
               else FactDeriver(clock, kill_pairing_seconds, world))
    stream = FactStream(hub, deriver)
    state = SessionState(clock, world, deriver)
    state.follow(hub, stream)
    return state, stream


__all__ = ["STATE_FILE_VERSION", "BossRecord", "SessionState", "session_on_hub"]
