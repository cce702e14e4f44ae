"""Game facts: what the raw events mean, derived once for every part of the bus.

Raw events are what the game (or a mod) says; facts are what they mean: a room entered, a fight
started and ended with its result and time, a death, damage taken or dealt. Session state, alerts,
OBS scene rules, split rules, practice, segments and text files all read these facts, so they agree.

- `FactDeriver` is the pure core: `apply(event) -> list[Fact]`, `expire(now) -> list[Fact]` (a kill
  whose pairing window ran out), `due()` (when to call `expire`), and read access to the current
  `room` and `fight`. It reads only the injected `Clock` (`dxbus.clock`).
- `FactStream` hooks a deriver into a `Hub`: it is the first hub listener, derives the facts of each
  event exactly once and calls its own listeners (`add_listener(fn)`, `fn(fact)`) in fact order, and
  runs a clock-driven timer for `expire`. The bus makes its one stream, `bus.facts`.

The rules for the source's ambiguities (docs/state.md lists every fact):
- **Damage**: `is_player_damage` means the player was hit only when it is JSON `true` or the string
  `"true"` (any case, surrounding spaces ignored); anything else (`false`, `"false"`, `1`, missing) is
  damage dealt. See `is_player_damage`.
- **A kill reported twice**: the original mod reports one kill as `boss_encounter` phase `defeated`
  and, some seconds later, `boss_defeated` with the game's own fight `time`. The first report ends the
  fight at once (`FightEnded`). Every later report of the same boss within `[Facts]
  KillPairingSeconds` of the first is the same kill: it makes no new fact, except that a game `time`
  it carries becomes the kill's time. The kill's settled result (`FightResult`, exactly one per
  `FightEnded`) comes as soon as the game's time is known, or when the window ends (then the bus
  clock's measurement stands). A report after the window is a new kill with no start seen.
- **Fight time**: the game's reported `time` wins; the bus clock (start report to end report) only
  when the game sends none; None when neither is known (a kill with no start seen and no time).
- **Respawn**: the first room entered after a death is a respawn (`RoomEntered.respawn`).
- **Leaving the arena** (entering another room) mid-fight ends the fight with result `left`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .clock import Clock
from .events import Event
from .quick_init import quick_init
from .sources.original_format import player_damage_flag
from .tasks import cancel_and_wait
from .world import World, load_world

if TYPE_CHECKING:
    from .hub import Hub

log = logging.getLogger(__name__)

DEFAULT_KILL_PAIRING_SECONDS = 30.0

# Scene names from the game (and the Silksong autosplitter): menus, the opening cutscenes of a new
# save, and the endings.
MENU_SCENES = frozenset({"Menu_Title", "Quit_To_Menu", "Pre_Menu_Intro"})
OPENING_SCENES = frozenset({"Opening_Sequence", "Intro_Cutscene"})
FIRST_ROOM = "Tut_01"
ENDING_PREFIXES = ("Cinematic_Ending", "End_Credits", "End_Game_Completion")

KILL_REPORT_PHASES = frozenset({"defeated", "defeat"})

Result = Literal["defeated", "died", "left"]
TimeSource = Literal["game", "bus"]


def is_menu(scene: str | None) -> bool:
    """The title menu (where quitting a save lands)."""
    return scene in MENU_SCENES


def is_ending(scene: str | None) -> bool:
    """Credits or an ending cinematic."""
    return bool(scene) and scene.startswith(ENDING_PREFIXES)  # type: ignore[union-attr]


def is_new_game(from_scene: str | None, to_scene: str | None) -> bool:
    """A new save: the opening cutscene (or the menu, with the cutscene skipped) hands over to play."""
    if to_scene is None or is_menu(to_scene) or to_scene in OPENING_SCENES:
        return False
    if from_scene in OPENING_SCENES:
        return True
    return is_menu(from_scene) and to_scene == FIRST_ROOM


def is_player_damage(value: Any) -> bool:
    """The one reading of `is_player_damage`: JSON `true`, or the string "true" in any case.

    `events.validate` already turns a non-boolean into this reading's boolean at the edge; in-process
    publishers (`Hub.emit`) skip validation, so the facts read it the same way again.
    """
    return player_damage_flag(value)


def number(value: Any) -> float | None:
    """A JSON number as it came (an int stays an int), else None; booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def text(value: Any) -> str | None:
    """A non-blank string, stripped, else None."""
    return value.strip() or None if isinstance(value, str) else None


# -- the facts ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Fact:
    """What every fact carries: the `seq` and `timestamp` of the event that made it, and `at`, the
    bus clock's monotonic reading when it was derived (a settled kill: when its window ended)."""

    kind: ClassVar[str] = "fact"
    seq: int
    timestamp: str
    at: float
    # The event itself (its `data` for templates); left out of `as_dict`, equality and repr.
    event: Event | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields (not `event`) plus `kind`."""
        out = {"kind": self.kind}
        out.update((f.name, getattr(self, f.name)) for f in fields(self) if f.name != "event")
        return out


def _stamp(event: Event, now: float) -> dict[str, Any]:
    """The base fields of a fact made from `event` at `now`."""
    return {"seq": event.seq, "timestamp": event.timestamp, "at": now, "event": event}


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomEntered(Fact):
    """A `scene_transition` with a target room. `first`: the first room of the stream (no from);
    `respawn`: the first room after a death; `room_seconds`: bus time spent in `from_room`;
    `game_room_seconds`: the game's `total_scene_time` for it, when sent."""

    kind: ClassVar[str] = "room_entered"
    room: str
    from_room: str | None
    area: str | None
    region: str | None
    load_seconds: float = 0.0
    respawn: bool = False
    first: bool = False
    room_seconds: float | None = None
    game_room_seconds: float | None = None

    @property
    def same_room(self) -> bool:
        """A transition into the room the player was already in (a respawn or a reload)."""
        return self.room == self.from_room


@dataclass(frozen=True, slots=True, kw_only=True)
class MenuEntered(Fact):
    """The player went to the title menu (from a room that is not a menu)."""

    kind: ClassVar[str] = "menu_entered"
    room: str
    from_room: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSave(Fact):
    """A new save started (the opening cutscene, or the menu straight into the first room)."""

    kind: ClassVar[str] = "new_save"
    room: str
    from_room: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveLoaded(Fact):
    """A save was loaded: from the menu into a room, not a new save."""

    kind: ClassVar[str] = "save_loaded"
    room: str
    from_room: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FightStarted(Fact):
    """`boss_encounter` phase start. `replaced`: a fight with another boss that was still on."""

    kind: ClassVar[str] = "fight_started"
    boss: str
    room: str | None
    replaced: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FightPhase(Fact):
    """`boss_encounter` phase_change of the fight in progress."""

    kind: ClassVar[str] = "fight_phase"
    boss: str
    phase: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FightEnded(Fact):
    """A fight is over, now. `time` is final when `final`; otherwise (a kill without the game's time
    yet) it is the bus clock's and the `FightResult` that follows may carry the game's."""

    kind: ClassVar[str] = "fight_ended"
    boss: str
    room: str | None
    result: Result
    time: float | None
    time_source: TimeSource | None
    started_seen: bool
    final: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class FightResult(Fact):
    """The settled result of the fight: exactly one per `FightEnded`, at once or, for a kill still
    waiting for the game's time, when that time arrives or the kill's pairing window ends."""

    kind: ClassVar[str] = "fight_result"
    boss: str
    room: str | None
    result: Result
    time: float | None
    time_source: TimeSource | None
    started_seen: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Death(Fact):
    """`player_death`. `room`: its `location` (or `scene`), else the current room."""

    kind: ClassVar[str] = "death"
    room: str | None
    cause: str | None
    in_fight: bool
    boss: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DamageTaken(Fact):
    """`combat_damage` that hit the player (see `is_player_damage`)."""

    kind: ClassVar[str] = "damage_taken"
    amount: float
    health_remaining: float | None
    source: str | None
    in_fight: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DamageDealt(Fact):
    """`combat_damage` that did not hit the player."""

    kind: ClassVar[str] = "damage_dealt"
    amount: float
    enemy: str | None
    in_fight: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthChanged(Fact):
    """The player's masks changed: `cause` update (player_update), damage or death."""

    kind: ClassVar[str] = "health_changed"
    health: float
    health_max: float | None
    previous: float | None
    cause: Literal["update", "damage", "death"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Healed(Fact):
    """Health went up in a `player_update` (not the refill after a death or the first reading)."""

    kind: ClassVar[str] = "healed"
    amount: float
    health: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EnemyKilled(Fact):
    """`enemy_killed`."""

    kind: ClassVar[str] = "enemy_killed"
    enemy: str | None
    room: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AbilityGained(Fact):
    """An ability unlocked (`ability_unlocked`/`ability_obtained`, or an item that is an ability:
    `kind = "ability"` or a known Silksong ability). `name` is the world's spelling when known."""

    kind: ClassVar[str] = "ability_gained"
    name: str
    known: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AbilityUsed(Fact):
    """`ability_used`."""

    kind: ClassVar[str] = "ability_used"
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemCollected(Fact):
    """`item_collected`."""

    kind: ClassVar[str] = "item_collected"
    name: str
    item_kind: str | None
    quantity: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchReached(Fact):
    """`checkpoint_reached`: `room` is its `scene`, else the current room."""

    kind: ClassVar[str] = "bench_reached"
    room: str | None


FACT_TYPES: tuple[type[Fact], ...] = (
    RoomEntered, MenuEntered, NewSave, SaveLoaded, FightStarted, FightPhase, FightEnded, FightResult,
    Death, DamageTaken, DamageDealt, HealthChanged, Healed, EnemyKilled, AbilityGained, AbilityUsed,
    ItemCollected, BenchReached)
for _fact_type in FACT_TYPES:
    quick_init(_fact_type)  # a fact or two for every hit at combat rates


# -- the deriver -------------------------------------------------------------------------------
@dataclass(slots=True)
class Fight:
    """The boss fight in progress (read access: `FactDeriver.fight`)."""

    boss: str
    room: str | None
    started: float  # clock.monotonic() at the start report
    phase: int = 1


@dataclass(slots=True)
class _Kill:
    """A kill in its pairing window."""

    boss: str
    room: str | None
    first_at: float
    time: float | None
    time_source: TimeSource | None
    started_seen: bool
    event: Event
    settled: bool


@dataclass(slots=True)
class _Room:
    name: str | None = None
    entered: float | None = None


class FactDeriver:
    """Turns events into facts. Pure: no I/O; time only from the injected clock."""

    def __init__(self, clock: Clock, kill_pairing_seconds: float = DEFAULT_KILL_PAIRING_SECONDS,
                 world: World | None = None) -> None:
        self.clock = clock
        self.window = kill_pairing_seconds
        self.world = world or load_world()
        self._abilities = {name.casefold(): name for name in self._ability_names()}
        self._room = _Room()
        self.fight: Fight | None = None
        self.health: float | None = None
        self.health_max: float | None = None
        self._dead = False  # a death since the last room change: the next room is a respawn
        self._kills: dict[str, _Kill] = {}  # by boss name folded
        self._handlers: dict[str, Callable[[Event, float, list[Fact]], None]] = {
            "scene_transition": self._scene_transition,
            "boss_encounter": self._boss_encounter,
            "boss_defeated": self._boss_defeated,
            "player_death": self._player_death,
            "combat_damage": self._combat_damage,
            "player_update": self._player_update,
            "enemy_killed": self._enemy_killed,
            "ability_unlocked": self._ability_unlocked,
            "ability_obtained": self._ability_unlocked,
            "ability_used": self._ability_used,
            "item_collected": self._item_collected,
            "checkpoint_reached": self._checkpoint,
        }

    def _ability_names(self) -> set[str]:
        names = set(self.world.abilities)
        for group in self.world.abilities_by_kind.values():
            names.update(group)
        return names

    # -- reading --------------------------------------------------------------------------------
    @property
    def room(self) -> str | None:
        """The room the player is in (None before the first transition or bench)."""
        return self._room.name

    @property
    def room_entered(self) -> float | None:
        """When (clock.monotonic()) the current room was entered."""
        return self._room.entered

    def fight_time(self, now: float | None = None) -> float | None:
        """Seconds of the fight in progress on the bus clock, or None."""
        if self.fight is None:
            return None
        now = self.clock.monotonic() if now is None else now
        return max(0.0, now - self.fight.started)

    def due(self) -> float | None:
        """When (clock.monotonic()) the next pairing window ends, if a kill waits for one."""
        if not self._kills:
            return None  # the usual case, asked after every event
        pending = [k.first_at + self.window for k in self._kills.values() if not k.settled]
        return min(pending, default=None)

    # -- deriving -------------------------------------------------------------------------------
    def apply(self, event: Event) -> list[Fact]:
        """The facts of one event (often none), after any kill whose window has ended."""
        now = self.clock.monotonic()
        out = self.expire(now)
        handler = self._handlers.get(event.type)
        if handler is not None:
            handler(event, now, out)
        return out

    def expire(self, now: float | None = None) -> list[Fact]:
        """Settle kills whose pairing window has ended (their time stays the bus clock's)."""
        now = self.clock.monotonic() if now is None else now
        out: list[Fact] = []
        if not self._kills:
            return out
        for key, kill in list(self._kills.items()):
            end = kill.first_at + self.window
            if end <= now:
                if not kill.settled:
                    out.append(self._result(kill, at=end))
                del self._kills[key]
        return out

    # -- rooms ------------------------------------------------------------------------------------
    def _scene_transition(self, event: Event, now: float, out: list[Fact]) -> None:
        data = event.data
        to_room = text(data.get("to_scene")) or text(data.get("scene_name"))
        if to_room is None:
            return
        before = self._room
        from_room = text(data.get("from_scene")) or before.name
        fight = self.fight
        if fight is not None and fight.room is not None and fight.room != to_room:
            self._end_fight(event, now, "left", out)
        load_ms = number(data.get("load_time_ms"))
        respawn, self._dead = self._dead, False
        stayed = now - before.entered if before.entered is not None else None
        out.append(RoomEntered(
            **_stamp(event, now), room=to_room, from_room=from_room,
            area=self.world.area_of(to_room), region=self.world.region_of(to_room),
            load_seconds=float(load_ms) / 1000.0 if load_ms is not None and load_ms > 0 else 0.0,
            respawn=respawn, first=before.name is None and from_room is None,
            room_seconds=round(stayed, 6) if stayed is not None else None,
            game_room_seconds=number(data.get("total_scene_time"))))
        self._room = _Room(to_room, now)
        common = {**_stamp(event, now), "room": to_room,
                  "from_room": from_room}
        if is_menu(to_room) and not is_menu(from_room):
            out.append(MenuEntered(**common))
        if is_new_game(from_room, to_room):
            out.append(NewSave(**common))
        elif is_menu(from_room) and not is_menu(to_room) and to_room not in OPENING_SCENES:
            out.append(SaveLoaded(**common))

    def _checkpoint(self, event: Event, now: float, out: list[Fact]) -> None:
        room = text(event.data.get("scene"))
        if room is not None and self._room.name is None:
            self._room = _Room(room, now)  # a stream that starts at a bench learns its room here
        out.append(BenchReached(**_stamp(event, now),
                                room=room or self._room.name))

    # -- fights -----------------------------------------------------------------------------------
    def _boss_name(self, data: dict[str, Any]) -> str | None:
        return text(data.get("boss_name")) or (self.fight.boss if self.fight else None)

    def _boss_encounter(self, event: Event, now: float, out: list[Fact]) -> None:
        data = event.data
        boss = self._boss_name(data)
        if boss is None:
            return
        phase = data.get("phase")
        if phase == "start":
            self._start_fight(event, now, boss, text(data.get("scene")), out)
        elif phase == "phase_change":
            fight = self.fight
            if fight is not None and fight.boss == boss:
                given = number(data.get("phase_number", data.get("new_phase")))
                fight.phase = int(given) if given else fight.phase + 1
                out.append(FightPhase(**_stamp(event, now), boss=boss,
                                      phase=fight.phase))
        elif phase in KILL_REPORT_PHASES:
            self._kill_report(event, now, boss, number(data.get("time")), out)

    def _boss_defeated(self, event: Event, now: float, out: list[Fact]) -> None:
        boss = self._boss_name(event.data)
        if boss is not None:
            self._kill_report(event, now, boss, number(event.data.get("time")), out)

    def _start_fight(self, event: Event, now: float, boss: str, arena: str | None,
                     out: list[Fact]) -> None:
        pending = self._kills.pop(boss.casefold(), None)
        if pending is not None and not pending.settled:
            out.append(self._result(pending, at=now))  # a rematch: the last kill's time stands
        replaced = None
        if self.fight is not None:
            replaced = self.fight.boss  # a new start replaces a stale fight, without a result
        room = arena or self._room.name
        self.fight = Fight(boss, room, now)
        out.append(FightStarted(**_stamp(event, now), boss=boss,
                                room=room, replaced=replaced))

    def _kill_report(self, event: Event, now: float, boss: str, reported: float | None,
                     out: list[Fact]) -> None:
        key = boss.casefold()
        kill = self._kills.get(key)
        fight = self.fight
        fighting = fight is not None and fight.boss.casefold() == key
        # `apply` expired the kills whose window has ended, so a kill still here is within it.
        if kill is not None and not fighting:
            # The second report of the same kill: only the game's own time may still change it.
            if reported is not None and not kill.settled and kill.time_source != "game":
                kill.time, kill.time_source = round(max(0.0, reported), 3), "game"
                out.append(self._result(kill, at=now))
            return
        if kill is not None and not kill.settled:
            out.append(self._result(kill, at=now))
        if fighting:
            assert fight is not None
            boss, room, started_seen = fight.boss, fight.room, True
            measured: float | None = now - fight.started
            self.fight = None
        else:
            room, started_seen, measured = self._room.name, False, None
        time: float | None = None
        source: TimeSource | None = None
        if reported is not None:
            time, source = round(max(0.0, reported), 3), "game"
        elif measured is not None:
            time, source = round(max(0.0, measured), 3), "bus"
        final = source == "game"
        new = _Kill(boss, room, now, time, source, started_seen, event, final)
        self._kills[key] = new
        out.append(FightEnded(**_stamp(event, now), boss=boss, room=room,
                              result="defeated", time=time, time_source=source,
                              started_seen=started_seen, final=final))
        if final:
            out.append(self._result(new, at=now))

    def _end_fight(self, event: Event, now: float, result: Result, out: list[Fact]) -> None:
        """End the fight in progress by a death or by leaving the arena (results final at once)."""
        fight = self.fight
        assert fight is not None
        self.fight = None
        time = round(max(0.0, now - fight.started), 3)
        common = {**_stamp(event, now), "boss": fight.boss,
                  "room": fight.room, "result": result, "time": time, "time_source": "bus",
                  "started_seen": True}
        out.append(FightEnded(**common, final=True))
        out.append(FightResult(**common))

    def _result(self, kill: _Kill, at: float) -> FightResult:
        kill.settled = True
        return FightResult(**_stamp(kill.event, at), boss=kill.boss,
                           room=kill.room, result="defeated", time=kill.time,
                           time_source=kill.time_source, started_seen=kill.started_seen)

    # -- the player -------------------------------------------------------------------------------
    def _player_death(self, event: Event, now: float, out: list[Fact]) -> None:
        data = event.data
        room = text(data.get("location")) or text(data.get("scene")) or self._room.name
        fight = self.fight
        out.append(Death(**_stamp(event, now), room=room,
                         cause=text(data.get("cause")), in_fight=fight is not None,
                         boss=fight.boss if fight else None))
        if fight is not None:
            self._end_fight(event, now, "died", out)
        self._dead = True
        self._set_health(event, now, 0, None, "death", out)

    def _combat_damage(self, event: Event, now: float, out: list[Fact]) -> None:
        data = event.data
        amount = number(data.get("damage")) or 0
        in_fight = self.fight is not None
        # The stamp's fields spelled out, not `**_stamp(...)`: damage comes at combat rates.
        if is_player_damage(data.get("is_player_damage")):
            remaining = number(data.get("player_health_remaining", data.get("health_remaining")))
            out.append(DamageTaken(seq=event.seq, timestamp=event.timestamp, at=now, event=event,
                                   in_fight=in_fight, amount=amount, health_remaining=remaining,
                                   source=text(data.get("source")) or text(data.get("enemy_type"))))
            if remaining is not None:
                self._set_health(event, now, remaining, None, "damage", out)
        else:
            enemy = text(data.get("enemy_type")) or text(data.get("enemy_name"))
            out.append(DamageDealt(seq=event.seq, timestamp=event.timestamp, at=now, event=event,
                                   in_fight=in_fight, amount=amount, enemy=enemy))

    def _player_update(self, event: Event, now: float, out: list[Fact]) -> None:
        data = event.data
        if "health_max" in data:
            self.health_max = number(data.get("health_max"))
        health = number(data.get("health_current"))
        if health is None:
            return
        previous = self.health
        if health != previous and previous is not None and health > previous and previous > 0:
            out.append(Healed(**_stamp(event, now),
                              amount=health - previous, health=health))
        self._set_health(event, now, health, self.health_max, "update", out)

    def _set_health(self, event: Event, now: float, health: float, maximum: float | None,
                    cause: Literal["update", "damage", "death"], out: list[Fact]) -> None:
        previous = self.health
        self.health = health
        if health != previous:
            out.append(HealthChanged(seq=event.seq, timestamp=event.timestamp, at=now, event=event,
                                     health=health,
                                     health_max=maximum if maximum is not None else self.health_max,
                                     previous=previous, cause=cause))

    def _enemy_killed(self, event: Event, now: float, out: list[Fact]) -> None:
        data = event.data
        out.append(EnemyKilled(**_stamp(event, now),
                               enemy=text(data.get("enemy_type")) or text(data.get("enemy_name")),
                               room=self._room.name))

    # -- progress ---------------------------------------------------------------------------------
    def ability(self, name: Any) -> str | None:
        """The world's spelling of a known ability name (any case), or None."""
        return self._abilities.get(name.casefold()) if isinstance(name, str) else None

    def _ability_unlocked(self, event: Event, now: float, out: list[Fact]) -> None:
        data = event.data
        name = text(data.get("ability")) or text(data.get("ability_name")) or text(data.get("name"))
        if name is not None:
            known = self.ability(name)
            out.append(AbilityGained(**_stamp(event, now),
                                     name=known or name, known=known is not None))

    def _ability_used(self, event: Event, now: float, out: list[Fact]) -> None:
        name = text(event.data.get("ability")) or text(event.data.get("ability_name"))
        if name is not None:
            out.append(AbilityUsed(**_stamp(event, now), name=name))

    def _item_collected(self, event: Event, now: float, out: list[Fact]) -> None:
        data = event.data
        name = text(data.get("item_name"))
        if name is None:
            return
        item_kind = text(data.get("kind"))
        out.append(ItemCollected(**_stamp(event, now), name=name,
                                 item_kind=item_kind, quantity=number(data.get("quantity"))))
        known = self.ability(name)
        if item_kind == "ability" or known is not None:
            out.append(AbilityGained(**_stamp(event, now),
                                     name=known or name, known=known is not None))


class StepClock:
    """A clock that reads `now`, set by hand: for a pure engine fed times as numbers (never sleeps)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        raise RuntimeError("a StepClock does not sleep")


# -- the hub hookup ------------------------------------------------------------------------------
FactListener = Callable[[Fact], None]


@dataclass
class FactStream:
    """Derives each hub event's facts once and hands them to listeners, in fact order.

    Construct it before any other hub listener is added (it registers itself), so every part that
    reads facts sees them before it sees the event's later listeners. As a bus service it runs the
    timer that settles a kill when its pairing window ends.
    """

    hub: Hub
    deriver: FactDeriver
    name: str = "facts"
    _listeners: list[FactListener] = field(default_factory=list)
    _calling: tuple[FactListener, ...] = ()
    _changed: asyncio.Event | None = None
    _task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.hub.add_listener(self.on_event)

    @property
    def clock(self) -> Clock:
        return self.deriver.clock

    def add_listener(self, listener: FactListener) -> None:
        """Call `listener(fact)` for every fact, synchronously, in order; it must be quick."""
        self._listeners.append(listener)
        self._calling = tuple(self._listeners)

    def remove_listener(self, listener: FactListener) -> None:
        """Stop calling `listener`."""
        if listener in self._listeners:
            self._listeners.remove(listener)
            self._calling = tuple(self._listeners)

    def on_event(self, event: Event) -> None:
        """Hub listener: derive and dispatch."""
        self.dispatch(self.deriver.apply(event))
        if self._changed is not None and self.deriver.due() is not None:
            self._changed.set()

    def dispatch(self, facts: list[Fact]) -> None:
        """Hand facts to every listener (one failing listener does not stop the others)."""
        for fact in facts:
            for listener in self._calling:  # a tuple made when the list changes, not per fact
                try:
                    listener(fact)
                except Exception:
                    log.exception("fact listener %r failed on %s #%d", listener, fact.kind, fact.seq)

    async def start(self) -> None:
        """Start the timer that settles kills whose pairing window ends."""
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="facts-expiry")

    async def stop(self) -> None:
        """Stop the timer."""
        await cancel_and_wait(self._task)
        self._task = None
        self._changed = None

    async def _run(self) -> None:
        assert self._changed is not None
        while True:
            due = self.deriver.due()
            if due is None:
                self._changed.clear()
                await self._changed.wait()
                continue
            # Deadlines only move later (each is a report's time plus one fixed window), so
            # sleeping until the earliest one never misses a newer one.
            await self.clock.sleep(due - self.clock.monotonic())
            self.dispatch(self.deriver.expire(self.clock.monotonic()))


__all__ = [
    "FACT_TYPES", "AbilityGained", "AbilityUsed", "BenchReached", "DamageDealt", "DamageTaken", "Death",
    "EnemyKilled", "Fact", "FactDeriver", "FactListener", "FactStream", "Fight", "FightEnded",
    "FightPhase", "FightResult", "FightStarted", "Healed", "HealthChanged", "ItemCollected",
    "MenuEntered", "NewSave", "RoomEntered", "SaveLoaded", "StepClock", "is_ending",
    "is_menu", "is_new_game", "is_player_damage",
]
