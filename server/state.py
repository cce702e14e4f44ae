"""Session state derived from the stream (PROTOCOL.md section 5), and its persistence.

`SessionState.apply` is a hub listener: it folds every event into a small model (player, deaths,
damage, scene, boss fight, per-boss records). `snapshot()` is the JSON of `GET /api/state` and of the
`bus_snapshot` frame; times in it are computed at snapshot time from the injected clock.

Counters that matter across streams (total deaths, per-boss attempts/defeats/best, death locations)
are persisted by `StateStore` in a small JSON file, written when they change (throttled) and on stop.
Fast state (HP, position) is never written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .clock import Clock
from .events import Event
from .tasks import cancel_and_wait
from .world import World, load_world

if TYPE_CHECKING:
    from .app import Bus

log = logging.getLogger(__name__)

STATE_FILE_VERSION = 1
# How far session time may run ahead of the last `timing_update` (it arrives at 1 Hz); beyond this the
# game has gone quiet and the clock should stop rather than keep counting.
MAX_SESSION_EXTRAPOLATION = 2.0
# A `boss_defeated` this soon after the fight ended (by `boss_encounter` defeated) belongs to that fight.
DEFEAT_PAIRING_WINDOW = 30.0


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


@dataclass
class Fight:
    """The boss fight in progress."""

    boss: str
    scene: str | None
    started: float  # clock.monotonic() at the start
    phase: int = 1


def _num(value: Any) -> float | None:
    """A JSON number as it came (an int stays an int, so `5` is not shown as `5.0`), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class SessionState:
    """The session model; feed it with `apply(event)` (a hub listener), read it with `snapshot()`."""

    def __init__(self, clock: Clock, world: World | None = None) -> None:
        self.clock = clock
        self.world = world or load_world()
        # Bumped on every change to a persisted counter; the store saves when it moves.
        self.revision = 0
        self._handlers = {
            "player_update": self._player_update,
            "timing_update": self._timing_update,
            "combat_damage": self._combat_damage,
            "combat_stats": self._combat_stats,
            "enemy_killed": self._enemy_killed,
            "player_death": self._player_death,
            "scene_transition": self._scene_transition,
            "boss_encounter": self._boss_encounter,
            "boss_defeated": self._boss_defeated,
            "checkpoint_reached": self._checkpoint,
            "ability_used": self._ability,
            "ability_unlocked": self._ability,
            "item_collected": self._item_collected,
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
        self.scene: str | None = None
        self.previous_scene: str | None = None
        self.scene_entered: float | None = None
        self.visited: dict[str, None] = {}  # insertion-ordered set
        self.first_event: float | None = None
        self.started: str | None = None
        self.game_session_time: tuple[float, float] | None = None  # (session_time, received at)
        self.fight: Fight | None = None
        self.last_boss: str | None = None
        self.last_result: dict[str, Any] | None = None
        self._last_result_at: float | None = None
        self._last_result_timed = False
        self._best_before: float | None = None
        self.abilities: dict[str, None] = {}
        self.last_seq = 0

    # -- the listener --------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one event into the state (hub listener: quick, never raises on odd data)."""
        now = self.clock.monotonic()
        if self.first_event is None:
            self.first_event = now
            self.started = event.timestamp
        self.last_seq = event.seq
        handler = self._handlers.get(event.type)
        if handler is not None:
            handler(event.data, now)

    def _player_update(self, data: dict[str, Any], now: float) -> None:
        # Only fields present are updated: a partial update keeps the rest.
        get = data.get
        if "health_current" in data:
            self.health = _num(get("health_current"))
        if "health_max" in data:
            self.health_max = _num(get("health_max"))
        if "mp_current" in data:
            self.mp = _num(get("mp_current"))
        if "mp_max" in data:
            self.mp_max = _num(get("mp_max"))
        if "position_x" in data or "position_y" in data:
            x, y = self.position
            self.position = (_num(get("position_x", x)), _num(get("position_y", y)))

    def _timing_update(self, data: dict[str, Any], now: float) -> None:
        session_time = _num(data.get("session_time"))
        if session_time is not None:
            self.game_session_time = (session_time, now)

    def _combat_damage(self, data: dict[str, Any], now: float) -> None:
        damage = _num(data.get("damage")) or 0
        if data.get("is_player_damage") is True:
            self.damage_taken += damage
            remaining = _num(data.get("player_health_remaining"))
            if remaining is not None:
                self.health = remaining
        else:
            self.damage_dealt += damage

    def _combat_stats(self, data: dict[str, Any], now: float) -> None:
        # The game's own totals are authoritative; later combat_damage events add on top.
        dealt = _num(data.get("total_damage_dealt"))
        taken = _num(data.get("total_damage_taken"))
        killed = _num(data.get("enemies_killed"))
        if dealt is not None:
            self.damage_dealt = dealt
        if taken is not None:
            self.damage_taken = taken
        if killed is not None:
            self.enemies_killed = int(killed)

    def _enemy_killed(self, data: dict[str, Any], now: float) -> None:
        self.enemies_killed += 1

    def _player_death(self, data: dict[str, Any], now: float) -> None:
        self.deaths_session += 1
        self.deaths_total += 1
        self.health = 0
        location = _text(data.get("location")) or _text(data.get("scene")) or self.scene
        if location:
            self.death_locations[location] = self.death_locations.get(location, 0) + 1
            self.session_death_locations[location] = self.session_death_locations.get(location, 0) + 1
        if self.fight is not None:
            self._finish_fight("died", now - self.fight.started, now)
        self.revision += 1

    def _scene_transition(self, data: dict[str, Any], now: float) -> None:
        to_scene = _text(data.get("to_scene")) or _text(data.get("scene_name"))
        if to_scene is None:
            return
        from_scene = _text(data.get("from_scene")) or self.scene
        if self.fight is not None and self.fight.scene and self.fight.scene != to_scene:
            # Left the arena mid-fight: the attempt is abandoned (neither a defeat nor a death).
            self.last_boss = self.fight.boss
            self.fight = None
        self.previous_scene = from_scene
        self.scene = to_scene
        self.scene_entered = now
        self.visited[to_scene] = None

    def _checkpoint(self, data: dict[str, Any], now: float) -> None:
        scene = _text(data.get("scene"))
        if scene and self.scene is None:
            self.scene, self.scene_entered = scene, now
            self.visited[scene] = None

    def _ability(self, data: dict[str, Any], now: float) -> None:
        ability = _text(data.get("ability")) or _text(data.get("ability_name"))
        if ability:
            self.abilities[ability] = None

    def _item_collected(self, data: dict[str, Any], now: float) -> None:
        item = _text(data.get("item_name"))
        if item and (data.get("kind") == "ability" or item in self.world.abilities):
            self.abilities[item] = None

    # -- boss fights ---------------------------------------------------------------------------
    def _record(self, boss: str) -> BossRecord:
        record = self.bosses.get(boss)
        if record is None:
            record = self.bosses[boss] = BossRecord()
        return record

    def _boss_encounter(self, data: dict[str, Any], now: float) -> None:
        boss = _text(data.get("boss_name")) or (self.fight.boss if self.fight else None)
        phase = data.get("phase")
        if boss is None:
            return
        if phase == "start":
            if self.fight is not None and self.fight.boss != boss:
                self.fight = None  # a new fight replaces a stale one without a result
            self.fight = Fight(boss, self.scene, now)
            self._record(boss).attempts += 1
            self.last_boss = boss
            self.revision += 1
        elif phase == "phase_change":
            if self.fight is not None and self.fight.boss == boss:
                number = _num(data.get("phase_number", data.get("new_phase")))
                self.fight.phase = int(number) if number else self.fight.phase + 1
        elif phase in ("defeated", "defeat"):
            self._defeated(boss, None, now)

    def _boss_defeated(self, data: dict[str, Any], now: float) -> None:
        boss = _text(data.get("boss_name")) or (self.fight.boss if self.fight else None)
        if boss is not None:
            self._defeated(boss, _num(data.get("time")), now)

    def _defeated(self, boss: str, reported: float | None, now: float) -> None:
        if self.fight is not None and self.fight.boss == boss:
            elapsed = now - self.fight.started
            self._finish_fight("defeated", reported if reported is not None else elapsed, now)
            self._last_result_timed = reported is not None
            return
        paired = (self.last_result is not None and self.last_result["boss"] == boss
                  and self.last_result["result"] == "defeated" and self._last_result_at is not None
                  and now - self._last_result_at <= DEFEAT_PAIRING_WINDOW)
        if paired:
            # The second report of the same defeat (boss_encounter defeated + boss_defeated): only
            # let the game's own fight time replace our measurement.
            if reported is not None and not self._last_result_timed:
                self._set_time(boss, reported)
                self._last_result_timed = True
            return
        # A defeat with no start seen (a source that only sends boss_defeated): count the attempt too.
        record = self._record(boss)
        record.attempts += 1
        self.fight = Fight(boss, self.scene, now)
        self._finish_fight("defeated", reported if reported is not None else 0.0, now)
        self._last_result_timed = reported is not None

    def _finish_fight(self, result: str, fight_time: float, now: float) -> None:
        assert self.fight is not None
        boss = self.fight.boss
        fight_time = round(max(0.0, fight_time), 3)
        record = self._record(boss)
        self._best_before = record.best
        if result == "defeated":
            record.defeats += 1
            record.best = fight_time if record.best is None else min(record.best, fight_time)
        record.last = fight_time
        self.last_boss = boss
        self.last_result = {"boss": boss, "result": result, "time": fight_time}
        self._last_result_at = now
        self._last_result_timed = False
        self.fight = None
        self.revision += 1

    def _set_time(self, boss: str, fight_time: float) -> None:
        """Replace the last defeat's measured time by the game's reported one."""
        fight_time = round(max(0.0, fight_time), 3)
        record = self._record(boss)
        record.last = fight_time
        before = self._best_before
        record.best = fight_time if before is None else min(before, fight_time)
        if self.last_result is not None:
            self.last_result = {**self.last_result, "time": fight_time}
        self.revision += 1

    # -- reading -------------------------------------------------------------------------------
    def session_time(self) -> float:
        """Seconds of session: the game's `session_time` when it sends one, else since the first event."""
        now = self.clock.monotonic()
        if self.game_session_time is not None:
            base, at = self.game_session_time
            return base + min(max(0.0, now - at), MAX_SESSION_EXTRAPOLATION)
        if self.first_event is None:
            return 0.0
        return now - self.first_event

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-ready dict (`GET /api/state`, `bus_snapshot`)."""
        now = self.clock.monotonic()
        fight = self.fight
        boss_name = fight.boss if fight else self.last_boss
        record = self.bosses.get(boss_name) if boss_name else None
        if fight is not None:
            fight_time: float | None = round(now - fight.started, 3)
        else:
            fight_time = self.last_result["time"] if self.last_result else None
        x, y = self.position
        return {
            "player": {"health": self.health, "health_max": self.health_max, "mp": self.mp,
                       "mp_max": self.mp_max, "position_x": x, "position_y": y},
            "deaths": {"session": self.deaths_session, "total": self.deaths_total},
            "damage": {"dealt": self.damage_dealt, "taken": self.damage_taken},
            "enemies_killed": self.enemies_killed,
            "scene": {
                "current": self.scene,
                "area": self.world.area_of(self.scene),
                "region": self.world.region_of(self.scene),
                "previous": self.previous_scene,
                "time_in_scene": round(now - self.scene_entered, 3)
                if self.scene_entered is not None else 0.0,
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

    # -- persistence ---------------------------------------------------------------------------
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
                best=_num(raw.get("best")), last=_num(raw.get("last")))
        locations = {str(k): int(v) for k, v in (doc.get("death_locations") or {}).items()}
        self.deaths_total, self.bosses, self.death_locations = deaths, bosses, locations


def describe_os_error(exc: OSError) -> str:
    """`Permission denied: /path` style text for a log line."""
    text = exc.strerror or str(exc)
    return f"{text}: {exc.filename}" if exc.filename else text


class StateStore:
    """Service: loads the state file at start, saves it on change (throttled) and at stop."""

    name = "state"

    def __init__(self, state: SessionState, path: Path, interval: float, clock: Clock) -> None:
        self.state = state
        self.path = path
        self.interval = interval
        self.clock = clock
        self.saved_revision = 0
        self.saves = 0
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        # A save running in a worker thread and the final save at stop must not share the temp file.
        self._lock = threading.Lock()

    async def start(self) -> None:
        """Load the persisted counters, then start the throttled writer."""
        self.load()
        self.saved_revision = self.state.revision
        self._started = self.clock.monotonic()
        self._task = asyncio.create_task(self._run(), name="state-store")

    async def stop(self) -> None:
        """Stop the writer and save whatever changed."""
        await cancel_and_wait(self._task)
        self._task = None
        if self.state.revision != self.saved_revision:
            self.save()

    def load(self) -> None:
        """Read the state file; a missing file is a first run, a bad one is kept as `.bad`."""
        try:
            raw = self.path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return  # first run (a bad folder shows up, once, when saving)
        except OSError as exc:
            log.error("state file %s cannot be read (%s); starting counters from zero",
                      self.path, describe_os_error(exc))
            return
        try:
            self.state.restore(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
            bad = self.path.with_name(self.path.name + ".bad")
            try:
                shutil.copyfile(self.path, bad)
                kept = f"kept a copy as {bad}"
            except OSError as copy_exc:
                kept = f"could not keep a copy ({copy_exc})"
            log.error("state file %s is corrupt (%s); starting counters from zero, %s",
                      self.path, exc, kept)

    def save(self) -> bool:
        """Write the counters now (on the loop thread); False (logged once) on failure."""
        return self._write(self.state.revision, self._body())

    def _body(self) -> bytes:
        # Serialized on the loop thread: the listener mutates these dicts there.
        return orjson.dumps(self.state.persistent(), option=orjson.OPT_INDENT_2)

    def _write(self, revision: int, body: bytes) -> bool:
        """Atomic write: temp file, fsync, rename (safe to run in a worker thread)."""
        with self._lock:
            tmp = self.path.with_name(self.path.name + ".tmp")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "wb") as f:
                    f.write(body)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except OSError as exc:
                message = describe_os_error(exc)
                if message != self.last_error:
                    log.error("state file %s cannot be written (%s); will retry",
                              self.path, message)
                self.last_error = message
                return False
            if self.last_error is not None:
                log.info("state file %s written again", self.path)
            self.last_error = None
            self.saved_revision = max(self.saved_revision, revision)
            self.saves += 1
            return True

    async def _run(self) -> None:
        # Throttle: at most one write per interval, and only when a counter changed. Deadlines are
        # counted from start(), so a task that first runs late does not shift the schedule.
        due = self._started + self.interval
        while True:
            await self.clock.sleep(due - self.clock.monotonic())
            due = max(due + self.interval, self.clock.monotonic())
            if self.state.revision != self.saved_revision:
                # The file is tiny, but a slow disk must never stall the event loop.
                await asyncio.to_thread(self._write, self.state.revision, self._body())

    def status(self) -> dict[str, Any]:
        """For `/api/status`."""
        return {"file": str(self.path), "saves": self.saves, "error": self.last_error,
                "pending": self.state.revision != self.saved_revision}


def install_state(bus: Bus) -> SessionState:
    """Create `bus.state`, attach it to the hub and register its store (first in start order)."""
    state = SessionState(bus.clock, load_world())
    bus.state = state
    bus.hub.add_listener(state.apply)
    section = bus.config.state
    store = StateStore(state, bus.path(section.file), section.save_interval_seconds, bus.clock)
    bus.add(store)
    bus.status_providers["state"] = store.status
    return state


__all__ = ["BossRecord", "SessionState", "StateStore", "install_state"]
