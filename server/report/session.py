"""One session folded into what a report needs: room visits, fights, deaths, damage, series.

`SessionLog` takes each event (`add_event`) and each of its facts (`add_fact`) in any order per
event: the command runs its own `FactDeriver` over a file's events (`fold`); the running bus hands
over the facts its `FactStream` already derived (`dxbus.report.live`). Rooms, fights, deaths and
damage come from the facts only; the raw `player_update` gives what no fact holds (position and
speed for the route analysis, silk). Times are the events' own timestamps, as seconds from the
session's first event, i.e. game time for the game, a recording or the simulator.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..events import TEST, Event
from ..facts import (
    DEFAULT_KILL_PAIRING_SECONDS,
    FACT_TYPES,
    AbilityGained,
    AbilityUsed,
    BenchReached,
    DamageDealt,
    DamageTaken,
    Death,
    Fact,
    FactDeriver,
    FightEnded,
    FightPhase,
    FightResult,
    FightStarted,
    Healed,
    HealthChanged,
    RoomEntered,
    StepClock,
    is_menu,
)
from ..world import World, load_world
from .load import EpochParser
from .speedrun import Segments

# Events the bus makes itself (alerts, timer commands, overlay reloads, race updates) carry the bus's
# wall-clock time, not the game's: they are not play, and at --speed above 1 their times would
# stretch the session. The report counts only what the game (or a recording of it) said.
BUS_MADE = frozenset({"alert", "timer_command", "overlay_reload"})


def is_bus_made(event_type: str) -> bool:
    """An event the bus emitted itself (see `BUS_MADE`), not one of the game's."""
    return event_type in BUS_MADE or event_type.startswith("race_")


@dataclass
class Visit:
    """One stay in a room, from entering it to entering the next. Sums over the stay's facts."""

    room: str
    area: str | None
    start: float
    end: float
    respawn: bool = False
    damage_taken: float = 0.0
    damage_dealt: float = 0.0
    hits_taken: int = 0
    abilities: int = 0
    deaths: int = 0
    path_length: float = 0.0
    speed_sum: float = 0.0
    samples: int = 0
    last_x: float | None = None
    last_y: float | None = None

    @property
    def seconds(self) -> float:
        """How long the stay lasted."""
        return max(0.0, self.end - self.start)

    @property
    def avg_speed(self) -> float:
        """Mean of |velocity| over the stay's `player_update` samples (0 without any)."""
        return self.speed_sum / self.samples if self.samples else 0.0


@dataclass
class FightLog:
    """One boss fight: from its start (or its kill, when no start was seen) to its settled result."""

    boss: str
    room: str | None
    start: float | None
    end: float | None = None
    result: str | None = None
    time: float | None = None
    time_source: str | None = None
    damage_taken: float = 0.0
    damage_dealt: float = 0.0
    heals: int = 0
    phase: int = 1


@dataclass
class DeathLog:
    """A death: when, where, of what, in which fight."""

    t: float
    room: str | None
    area: str | None
    cause: str | None
    boss: str | None


@dataclass
class SessionLog:
    """Everything a report is computed from, gathered one event and one fact at a time."""

    world: World = field(default_factory=load_world)
    origin: str = "live"
    start: float | None = None  # epoch seconds of the first event
    end: float | None = None
    events: int = 0
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    visits: list[Visit] = field(default_factory=list)
    fights: list[FightLog] = field(default_factory=list)
    deaths: list[DeathLog] = field(default_factory=list)
    health: list[tuple[float, float, float | None]] = field(default_factory=list)  # t, masks, max
    silk: list[tuple[float, float, float | None]] = field(default_factory=list)  # t, silk, max
    damage: list[tuple[float, float, bool]] = field(default_factory=list)  # t, amount, taken
    benches: list[tuple[float, str | None]] = field(default_factory=list)
    heals: list[tuple[float, float]] = field(default_factory=list)
    abilities_gained: list[tuple[float, str]] = field(default_factory=list)
    ability_uses: dict[str, int] = field(default_factory=dict)
    segments: Segments | None = None  # the speedrun split rules, when the caller wants segments
    segments_view: dict[str, Any] | None = None  # set on a snapshot (the view at that moment)
    _open_fight: FightLog | None = None
    _ending: list[FightLog] = field(default_factory=list)  # ended, waiting for their FightResult
    _parse: EpochParser = field(default_factory=EpochParser)

    # -- time -------------------------------------------------------------------------------------
    @property
    def duration(self) -> float:
        """Seconds from the first event to the last."""
        return (self.end - self.start) if self.start is not None and self.end is not None else 0.0

    def _touch(self, stamp: str, at: float) -> float:
        if self.start is None:
            self.start, self.first_timestamp = at, stamp
        if self.end is None or at >= self.end:
            self.end, self.last_timestamp = at, stamp
        return at - self.start

    def snapshot(self) -> SessionLog:
        """A copy to analyze while this one keeps growing: the lists copied, and the stays and
        fights that may still change (the last visit, open and ending fights) copied too."""
        copy = dataclasses.replace(self)
        for name in ("visits", "fights", "deaths", "health", "silk", "damage", "benches", "heals",
                     "abilities_gained"):
            setattr(copy, name, list(getattr(self, name)))
        copy.ability_uses = dict(self.ability_uses)
        if copy.visits:
            copy.visits[-1] = dataclasses.replace(copy.visits[-1])
        changing = {id(f) for f in self._ending} | ({id(self._open_fight)} if self._open_fight else set())
        copy.fights = [dataclasses.replace(f) if id(f) in changing else f for f in copy.fights]
        copy._open_fight, copy._ending = None, []
        copy.segments, copy.segments_view = None, self.segment_view()
        return copy

    def segment_view(self) -> dict[str, Any] | None:
        """Speedrun segments of the session's last run (None when no run started)."""
        if self.segments is None:
            return self.segments_view
        return self.segments.view()

    # -- events -----------------------------------------------------------------------------------
    def at(self, stamp: str) -> float:
        """Epoch seconds of a timestamp (for callers that have no parsed time)."""
        return self._parse(stamp)

    def add_event(self, event: Event, at: float | None = None) -> None:
        """Count an event (`at`: its time in epoch seconds, parsed from its timestamp when None);
        a `player_update` adds to the current visit's path and to the silk series."""
        if event.origin == TEST or is_bus_made(event.type):
            return
        self.events += 1
        at = self._parse(event.timestamp) if at is None else at
        t = self._touch(event.timestamp, at)
        if self.segments is not None:
            self.segments.on_event(event, at)
        visit = self.visits[-1] if self.visits else None
        if visit is not None and t > visit.end:
            visit.end = t
        if event.type != "player_update":
            return
        data = event.data
        try:  # numbers, as the protocol says; a sample with anything else adds nothing
            x, y = float(data["position_x"]), float(data["position_y"])
            speed = math.hypot(float(data.get("velocity_x", 0)), float(data.get("velocity_y", 0)))
        except (KeyError, TypeError, ValueError):
            x = y = speed = math.nan
        if visit is not None and x == x and y == y:  # not NaN
            if visit.last_x is not None and visit.last_y is not None:
                visit.path_length += math.hypot(x - visit.last_x, y - visit.last_y)
            visit.last_x, visit.last_y = x, y
            if speed == speed:
                visit.speed_sum += speed
                visit.samples += 1
        silk = data.get("mp_current")
        if silk is not None and (not self.silk or self.silk[-1][1] != silk) and \
                isinstance(silk, int | float) and not isinstance(silk, bool):
            top = data.get("mp_max")
            self.silk.append((t, silk, top if isinstance(top, int | float) else None))

    # -- facts ------------------------------------------------------------------------------------
    def add_fact(self, fact: Fact, at: float | None = None) -> None:
        """Fold one fact in (`at` as for `add_event`); facts of test events are skipped."""
        if fact.event is not None and fact.event.origin == TEST:
            return
        at = self._parse(fact.timestamp) if at is None else at
        t = self._touch(fact.timestamp, at)
        if self.segments is not None:
            self.segments.on_fact(fact, at)
        handler = _FACT_HANDLERS.get(type(fact))
        if handler is not None:
            handler(self, fact, t)

    def _on_room_entered(self, fact: RoomEntered, t: float) -> None:
        if self.visits:
            self.visits[-1].end = t
        if is_menu(fact.room):
            return
        self.visits.append(Visit(fact.room, fact.area, t, t, respawn=fact.respawn))

    def _on_menu_entered(self, fact: Fact, t: float) -> None:
        if self.visits:
            self.visits[-1].end = t

    def _on_fight_started(self, fact: FightStarted, t: float) -> None:
        self._open_fight = FightLog(fact.boss, fact.room, t)
        self.fights.append(self._open_fight)

    def _on_fight_phase(self, fact: FightPhase, t: float) -> None:
        if self._open_fight is not None:
            self._open_fight.phase = max(self._open_fight.phase, fact.phase)

    def _on_fight_ended(self, fact: FightEnded, t: float) -> None:
        fight = self._open_fight
        if fight is None or fight.boss != fact.boss:
            fight = FightLog(fact.boss, fact.room, None)  # a kill with no start seen
            self.fights.append(fight)
        self._open_fight = None
        fight.end, fight.result, fight.time, fight.time_source = t, fact.result, fact.time, fact.time_source
        self._ending.append(fight)

    def _on_fight_result(self, fact: FightResult, t: float) -> None:
        for fight in self._ending:
            if fight.boss == fact.boss:
                fight.result, fight.time, fight.time_source = fact.result, fact.time, fact.time_source
                self._ending.remove(fight)
                return

    def _on_death(self, fact: Death, t: float) -> None:
        self.deaths.append(DeathLog(t, fact.room, self.world.area_of(fact.room), fact.cause, fact.boss))
        if self.visits:
            self.visits[-1].deaths += 1

    def _on_damage_taken(self, fact: DamageTaken, t: float) -> None:
        self.damage.append((t, fact.amount, True))
        if self.visits:
            self.visits[-1].damage_taken += fact.amount
            self.visits[-1].hits_taken += 1
        if self._open_fight is not None:
            self._open_fight.damage_taken += fact.amount

    def _on_damage_dealt(self, fact: DamageDealt, t: float) -> None:
        self.damage.append((t, fact.amount, False))
        if self.visits:
            self.visits[-1].damage_dealt += fact.amount
        if self._open_fight is not None:
            self._open_fight.damage_dealt += fact.amount

    def _on_health_changed(self, fact: HealthChanged, t: float) -> None:
        self.health.append((t, fact.health, fact.health_max))

    def _on_healed(self, fact: Healed, t: float) -> None:
        self.heals.append((t, fact.amount))
        if self._open_fight is not None:
            self._open_fight.heals += 1

    def _on_bench_reached(self, fact: BenchReached, t: float) -> None:
        self.benches.append((t, fact.room))

    def _on_ability_gained(self, fact: AbilityGained, t: float) -> None:
        self.abilities_gained.append((t, fact.name))

    def _on_ability_used(self, fact: AbilityUsed, t: float) -> None:
        self.ability_uses[fact.name] = self.ability_uses.get(fact.name, 0) + 1
        if self.visits:
            self.visits[-1].abilities += 1


# `SessionLog._on_<kind>` by fact type, looked up once per fact (a fact per hit at combat rates).
_FACT_HANDLERS: dict[type, Callable[[SessionLog, Any, float], None]] = {
    kind: getattr(SessionLog, "_on_" + kind.kind) for kind in FACT_TYPES
    if hasattr(SessionLog, "_on_" + kind.kind)
}


def fold(events: Iterable[Event], world: World | None = None,
         kill_pairing_seconds: float = DEFAULT_KILL_PAIRING_SECONDS) -> SessionLog:
    """Run a `FactDeriver` over one session's events (its clock reads each event's own time) and
    fold events and facts into a `SessionLog`."""
    world = world or load_world()
    clock = StepClock()
    deriver = FactDeriver(clock, kill_pairing_seconds, world)
    log = SessionLog(world=world, segments=Segments(world))
    apply, add_event, add_fact = deriver.apply, log.add_event, log.add_fact
    for event in events:
        if log.start is None:
            log.origin = event.origin
        clock.now = at = event.received
        for fact in apply(event):
            add_fact(fact, at)
        add_event(event, at)
    if log.end is not None:  # kills still waiting for the game's time settle as the window ends
        for fact in deriver.expire(clock.now + kill_pairing_seconds + 1):
            add_fact(fact)
    return log
