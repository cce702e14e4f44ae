"""The split engine: game facts in, timer commands out. Pure and deterministic.

The engine reads `dxbus.facts` (the bus's one derivation of rooms, kills, deaths, items), turned
into `Cue`s by `cues_of`, plus one `event` cue per discrete event type (for `event = "..."`
conditions). `FactFeed` steps the engine from facts and events in the bus's order; `EventFeed` does
the same from raw events through a deriver of its own (tools, tests). `SplitEngine.step(cues, now,
seq)` returns the timer commands (`start`, `split`, `skip`, `reset`, `pause`, `resume`, `time`);
`now` is the bus clock's monotonic reading, so a test gets the same answer every time.

How it decides (after the Hollow Knight and Silksong autosplitters):
- ordered routes check only the next split; "any" routes check every split not done yet;
- one event makes at most one split, every split fires at most once per run (the split-once guard);
  a boss split fires on the kill's `FightEnded` (its first report: the facts layer makes the two
  reports of one kill one fact, with `[Facts] KillPairingSeconds`);
- `then = "transition"` arms a split that fires on the next room change (a respawn does not count);
- with `skip_passed`, a next split whose boss/item/ability was already done this run is skipped;
- with `game_time`, load time (`scene_transition.load_time_ms`) is left out of the game clock, and
  each load is bracketed by `pause` / `time:<game time>` / `resume` (source "loads").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .. import facts as f
from ..events import Draft, Event, make_event
from ..facts import is_ending, is_menu, is_new_game
from .route import Condition, RouteSpec, SplitSpec, name_matches

Phase = Literal["idle", "running", "ended"]
# Events whose type is not a cue: high-rate state, and the engine's own output.
NOT_CUES = frozenset({"player_update", "timing_update", "timer_command"})


@dataclass(frozen=True, slots=True)
class Cue:
    """A game happening the conditions look at, from one fact (or an event's type)."""

    kind: str  # scene, boss, item, ability, death, bench, event
    name: str | None = None  # room, boss, item, ability, bench room, event type
    from_scene: str | None = None
    load_seconds: float = 0.0
    respawn: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    """A timer command, ready to become a `timer_command` event's Data."""

    command: str  # start, split, skip, reset, pause, resume, time
    value: float | None = None
    source: str = "rules"
    split: str | None = None
    index: int | None = None
    reason: str | None = None

    def to_data(self) -> dict[str, Any]:
        """The `timer_command` Data: the contract's keys plus `split`, `index`, `reason` when known."""
        data: dict[str, Any] = {"command": self.command, "value": self.value, "source": self.source}
        for key in ("split", "index", "reason"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass(slots=True)
class SplitTime:
    """When a split happened in the current run (seconds since the start)."""

    index: int
    name: str
    real: float
    game: float
    skipped: bool = False
    source: str = "rules"


@dataclass(slots=True)
class GameClock:
    """Real time since the start, and game time = real time minus loads and manual pauses."""

    started: float | None = None
    stopped: float | None = None
    loads: float = 0.0
    paused_total: float = 0.0
    paused_since: float | None = None

    def start(self, now: float) -> None:
        self.started, self.stopped = now, None
        self.loads, self.paused_total, self.paused_since = 0.0, 0.0, None

    def stop(self, now: float) -> None:
        """Freeze both times (last split or reset)."""
        if self.started is not None and self.stopped is None:
            self.resume(now)
            self.stopped = now

    def real(self, now: float) -> float:
        """Seconds since the start (0 before)."""
        if self.started is None:
            return 0.0
        return max(0.0, (self.stopped if self.stopped is not None else now) - self.started)

    def game(self, now: float) -> float:
        """Real time minus load time and manual pauses (never below 0)."""
        end = self.stopped if self.stopped is not None else now
        paused = self.paused_total + (end - self.paused_since if self.paused_since is not None else 0.0)
        return round(max(0.0, self.real(now) - self.loads - paused), 6)

    def pause(self, now: float) -> None:
        if self.paused_since is None and self.stopped is None:
            self.paused_since = now

    def resume(self, now: float) -> None:
        if self.paused_since is not None:
            self.paused_total += now - self.paused_since
            self.paused_since = None


@dataclass(slots=True)
class Run:
    """The current (or last) run: its splits so far and what happened in it."""

    number: int = 0
    splits: list[SplitTime] = field(default_factory=list)
    bosses: set[str] = field(default_factory=set)
    items: set[str] = field(default_factory=set)
    abilities: set[str] = field(default_factory=set)


def _scene_cues(fact: f.RoomEntered) -> list[Cue]:
    return [Cue("scene", fact.room, fact.from_room, fact.load_seconds, fact.respawn)]


def _boss_cues(fact: f.FightEnded) -> list[Cue]:
    return [Cue("boss", fact.boss)] if fact.result == "defeated" else []


def _item_cues(fact: f.ItemCollected) -> list[Cue]:
    return [Cue("item", fact.name), Cue("ability", fact.name)]  # abilities are picked up as items


def _ability_cues(fact: f.AbilityGained) -> list[Cue]:
    # An item that is an ability was already cued as one by its ItemCollected.
    from_item = fact.event is not None and fact.event.type == "item_collected"
    return [] if from_item else [Cue("ability", fact.name)]


# By exact type (facts are final dataclasses): one lookup, where an isinstance chain cost every
# damage and health fact six checks for nothing.
_CUES: dict[type, Callable[[Any], list[Cue]]] = {
    f.RoomEntered: _scene_cues, f.FightEnded: _boss_cues, f.ItemCollected: _item_cues,
    f.AbilityGained: _ability_cues,
    f.Death: lambda fact: [Cue("death", fact.room)],
    f.BenchReached: lambda fact: [Cue("bench", fact.room)],
}


def cues_of(fact: f.Fact) -> list[Cue]:
    """What the conditions can see in one fact (empty for facts no condition looks at)."""
    cues = _CUES.get(type(fact))
    return cues(fact) if cues is not None else []


def event_cue(event_type: str) -> Cue | None:
    """The `event` cue of a discrete event (None for high-rate state and timer commands)."""
    return None if event_type in NOT_CUES else Cue("event", event_type)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.casefold() == b.casefold()


class SplitEngine:
    """The run state machine for one route."""

    def __init__(self, route: RouteSpec) -> None:
        self.route = route
        self._event_route: RouteSpec | None = None  # the route `_event_types` was made from
        self._event_types: frozenset[str] = frozenset()
        self.phase: Phase = "idle"
        self.index = 0
        self.clock = GameClock()
        self.run = Run()
        self.scene: str | None = None  # the room of the last scene cue (shown in `state`)
        self._armed: set[int] = set()  # splits waiting for the next room change
        self._done: set[int] = set()
        self._split_now = False
        self._step_seq: int | None = None
        self._last_scene_real = 0.0  # run time of the last room change (a load cannot be longer)
        self._runs = 0
        # step() and manual() calls so far: the only ways the run changes, so a SegmentBook that
        # has seen this count has nothing to follow (most facts, damage and health, step nothing).
        self.moves = 0

    # -- reading --------------------------------------------------------------------------------
    @property
    def current(self) -> SplitSpec | None:
        """The next split to happen (None when not running or after the last)."""
        if self.phase != "running" or self.index >= len(self.route.splits):
            return None
        return self.route.splits[self.index]

    def wants_event(self, event_type: str) -> bool:
        """Whether an `event` cue of this type can change anything: only `event = "..."` conditions
        look at one, so every other event skips the rules (they ran on every event, a few us each)."""
        route = self.route
        if self._event_route is not route:
            self._event_route = route
            conditions = [*route.reset, *route.start, *route.splits]
            self._event_types = frozenset(c.event for c in conditions if c.event is not None)
        return event_type in self._event_types

    def game_time(self, now: float) -> float:
        return self.clock.game(now)

    def real_time(self, now: float) -> float:
        return self.clock.real(now)

    # -- rules ----------------------------------------------------------------------------------
    def step(self, cues: list[Cue], now: float, seq: int | None = None) -> list[Command]:
        """The commands some cues cause; cues of one event share its `seq` (at most one split)."""
        self.moves += 1
        out: list[Command] = []
        if seq is None or seq != self._step_seq:
            self._split_now = False  # one event makes at most one split, whatever cues it carries
        self._step_seq = seq
        for cue in cues:
            out.extend(self._cue(cue, now))
        return _once_per_time(out)

    def _cue(self, fact: Cue, now: float) -> list[Command]:
        out: list[Command] = []
        if self.phase != "idle" and any(self._matches(c, fact) for c in self.route.reset):
            out += self._reset(now, f"reset: {self._why(self.route.reset, fact)}")
        if self.phase != "running" and any(self._matches(c, fact) for c in self.route.start):
            if self.phase == "ended":
                out += self._reset(now, "new run after the last one ended")
            out += self._start(now, f"start: {self._why(self.route.start, fact)}")
        elif self.phase == "running":
            out += self._loads(fact, now)
            self._remember(fact)
            out += self._splits(fact, now)
        if fact.kind == "scene":
            self.scene = fact.name
        return out

    def _remember(self, fact: Cue) -> None:
        if fact.name is None:
            return
        bag = {"boss": self.run.bosses, "item": self.run.items, "ability": self.run.abilities}
        if fact.kind in bag:
            bag[fact.kind].add(fact.name.casefold())

    def _loads(self, fact: Cue, now: float) -> list[Command]:
        if not (self.route.game_time and fact.kind == "scene" and fact.load_seconds > 0):
            return []
        # The load is reported when it is over: take it out of game time and tell the clients,
        # bracketed by pause/resume so a client that keeps its own game clock stays exact. It cannot
        # have lasted longer than the time since the previous room change (a bad or time-compressed
        # report), so game time never runs backwards.
        real = self.clock.real(now)
        self.clock.loads += max(0.0, min(fact.load_seconds, real - self._last_scene_real))
        self._last_scene_real = real
        game = self.clock.game(now)
        reason = f"load {fact.load_seconds:.3f}s into {fact.name}"
        return [Command("pause", game, "loads", reason=reason), Command("time", game, "loads"),
                Command("resume", game, "loads", reason=reason)]

    def _splits(self, fact: Cue, now: float) -> list[Command]:
        if fact.kind == "scene":
            self._last_scene_real = self.clock.real(now)
        if self._split_now:
            return []
        splits = self.route.splits
        candidates = ([self.index] if self.route.order == "ordered"
                      else [i for i in range(len(splits)) if i not in self._done])
        transition = fact.kind == "scene" and fact.name != fact.from_scene and not fact.respawn
        for i in candidates:
            if i >= len(splits):
                break
            split = splits[i]
            if i in self._armed and transition:
                return self._split(i, now, f"{split.describe()}: room change to {fact.name}")
            if self._matches(split, fact):
                if split.then == "transition":
                    self._armed.add(i)
                    continue
                return self._split(i, now, split.describe())
        return []

    def _split(self, i: int, now: float, reason: str) -> list[Command]:
        self._split_now = True
        out: list[Command] = []
        if self.route.game_time:
            out.append(Command("time", self.clock.game(now), "rules"))
        out.append(self._record(i, now, "split", reason))
        out += self._advance(now)
        return out

    def _record(self, i: int, now: float, command: str, reason: str, source: str = "rules") -> Command:
        split = self.route.splits[i] if i < len(self.route.splits) else None
        name = split.name if split else f"split {i + 1}"
        self.run.splits.append(SplitTime(i, name, round(self.clock.real(now), 6),
                                         self.clock.game(now), command == "skip", source))
        self._done.add(i)
        self._armed.discard(i)
        if self.route.order == "ordered" or i == self.index:
            self.index = i + 1
        while self.index in self._done:
            self.index += 1
        return Command(command, None, source, name, i, reason)

    def _advance(self, now: float) -> list[Command]:
        """After a split: skip splits already passed, and end the run after the last."""
        out: list[Command] = []
        if self.route.skip_passed and self.route.order == "ordered":
            while self.current is not None and self._already(self.current):
                out.append(self._record(self.index, now, "skip",
                                        f"{self.current.describe()}: already done this run"))
        if self.index >= len(self.route.splits) and self.route.splits:
            self.phase = "ended"
            self.clock.stop(now)
        return out

    def _already(self, split: SplitSpec) -> bool:
        for kind, bag in (("boss", self.run.bosses), ("item", self.run.items),
                          ("ability", self.run.abilities)):
            value = getattr(split, kind)
            if value is not None and split.then is None and value.casefold() in bag:
                return True
        return False

    def _matches(self, cond: Condition, fact: Cue) -> bool:
        kind = cond.kind
        if kind == "boss":
            return fact.kind == "boss" and _same(cond.boss, fact.name)
        if kind in ("item", "ability"):
            return fact.kind == kind and _same(getattr(cond, kind), fact.name)
        if kind == "enter":
            return (fact.kind == "scene" and fact.name != fact.from_scene
                    and name_matches(cond.enter, fact.name) and name_matches(cond.from_, fact.from_scene))
        if kind == "event":
            return fact.kind == "event" and fact.name == cond.event
        if kind == "bench":
            return fact.kind == "bench" and (cond.bench is True or fact.name == cond.bench)
        if kind == "death":
            return fact.kind == "death"
        if kind == "menu":
            return fact.kind == "scene" and is_menu(fact.name) and not is_menu(fact.from_scene)
        if kind == "new_game":
            return fact.kind == "scene" and is_new_game(fact.from_scene, fact.name)
        if kind == "ending":
            return fact.kind == "scene" and is_ending(fact.name)
        return False  # manual

    def _why(self, conds: list[Condition], fact: Cue) -> str:
        return next((c.describe() for c in conds if self._matches(c, fact)), "")

    # -- run lifecycle (also driven by manual commands) -------------------------------------------
    def _start(self, now: float, reason: str, source: str = "rules") -> list[Command]:
        self._runs += 1
        self.phase, self.index = "running", 0
        self.run = Run(number=self._runs)
        self._armed.clear()
        self._done.clear()
        self._last_scene_real = 0.0
        self.clock.start(now)
        return [Command("start", 0.0 if self.route.game_time else None, source, reason=reason)]

    def _reset(self, now: float, reason: str, source: str = "rules") -> list[Command]:
        self.phase, self.index = "idle", 0
        self._armed.clear()
        self._done.clear()
        self.clock.stop(now)
        return [Command("reset", None, source, reason=reason)]

    def manual(self, command: str, now: float, source: str = "manual") -> None:
        """Follow a command that did not come from the rules (HTTP, a script), so state stays in step."""
        self.moves += 1
        if command == "start" and self.phase != "running":
            self._start(now, "manual start", source)
        elif command == "reset" and self.phase != "idle":
            self._reset(now, "manual reset", source)
        elif command in ("split", "skip") and self.phase == "running":
            self._record(self.index, now, command, f"manual {command}", source)
            if self.index >= len(self.route.splits):
                self.phase = "ended"
                self.clock.stop(now)
        elif command == "pause" and self.phase == "running":
            self.clock.pause(now)
        elif command == "resume" and self.phase == "running":
            self.clock.resume(now)

    def state(self, now: float) -> dict[str, Any]:
        """Where the run stands, as JSON."""
        current = self.current
        return {
            "phase": self.phase,
            "run": self.run.number,
            "index": self.index,
            "current_split": current.name if current else None,
            "real": round(self.clock.real(now), 3),
            "game": round(self.clock.game(now), 3),
            "scene": self.scene,
        }


class FactFeed:
    """Steps a `SplitEngine` from a fact stream and the hub's events, in the bus's order.

    An event's `event` cue comes before the cues of its facts (the fact stream hands facts over
    before later hub listeners see the event), and each event steps once.
    """

    def __init__(self, engine: SplitEngine) -> None:
        self.engine = engine
        self._last_seq = 0

    def on_fact(self, fact: f.Fact, now: float) -> list[Command]:
        """Fact listener step: the event's own cue first (once), then the fact's cues."""
        out: list[Command] = []
        event = fact.event
        if event is not None and event.seq == fact.seq and fact.seq > self._last_seq:
            out += self._event(event, now)
        cues = cues_of(fact)
        if cues:
            out += self.engine.step(cues, now, fact.seq)
        return _once_per_time(out)

    def on_event(self, event: Event, now: float) -> list[Command]:
        """Hub listener step: the `event` cue of an event that had no facts."""
        return self._event(event, now) if event.seq > self._last_seq else []

    def _event(self, event: Event, now: float) -> list[Command]:
        self._last_seq = event.seq
        if not self.engine.wants_event(event.type):
            return []
        cue = event_cue(event.type)
        return self.engine.step([cue], now, event.seq) if cue is not None else []


class EventFeed:
    """Feeds raw events at given times through a fact deriver to a `SplitEngine` (tools, tests).

    `book` (a `SegmentBook`) follows room changes as on the bus. The bus itself feeds `bus.facts`.
    """

    def __init__(self, engine: SplitEngine, book: Any = None,
                 kill_pairing_seconds: float = f.DEFAULT_KILL_PAIRING_SECONDS) -> None:
        self.engine = engine
        self.book = book
        self._clock = f.StepClock()
        self.deriver = f.FactDeriver(self._clock, kill_pairing_seconds)
        self._feed = FactFeed(engine)
        self._seq = itertools.count(1)

    def feed(self, event_type: str, data: dict[str, Any], now: float) -> list[Command]:
        """The commands one event causes at `now` (most events cause none)."""
        self._clock.now = now
        event = make_event(Draft(event_type, dict(data)), next(self._seq), now, now)
        out: list[Command] = []
        for fact in self.deriver.apply(event):
            out += self._feed.on_fact(fact, now)
            if isinstance(fact, f.RoomEntered) and self.book is not None:
                self.book.after_room(self.engine, now)
        out += self._feed.on_event(event, now)
        if self.book is not None:
            self.book.sync(self.engine, now)
        return _once_per_time(out)


def _once_per_time(commands: list[Command]) -> list[Command]:
    """A load correction and a split stamp in one step carry the same game time: send it once."""
    times: set[float | None] = set()
    out: list[Command] = []
    for command in commands:
        if command.command == "time":
            if command.value in times:
                continue
            times.add(command.value)
        out.append(command)
    return out
