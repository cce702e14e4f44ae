"""The split engine: game events in, timer commands out. Pure and deterministic.

`SplitEngine.feed(event_type, data, now)` turns one bus event into the timer commands it causes
(`start`, `split`, `skip`, `reset`, `pause`, `resume`, `time`); `now` is the bus clock's monotonic
reading, so a test drives it with a `ManualClock` and gets the same answer every time.

How it decides (after the Hollow Knight and Silksong autosplitters):
- ordered routes check only the next split; "any" routes check every split not done yet;
- one event makes at most one split, every split fires at most once per run (the split-once guard),
  and the two reports of one boss defeat (`boss_encounter` defeated + `boss_defeated`) count once;
- `then = "transition"` arms a split that fires on the next room change (a respawn does not count);
- with `skip_passed`, a next split whose boss/item/ability was already done this run is skipped;
- with `game_time`, load time (`scene_transition.load_time_ms`) is left out of the game clock, and
  each load is bracketed by `pause` / `time:<game time>` / `resume` (source "loads").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .route import Condition, RouteSpec, SplitSpec, is_ending, is_menu, is_new_game, name_matches

Phase = Literal["idle", "running", "ended"]

# Two reports of the same defeat arrive within this many seconds of each other.
DEFEAT_PAIRING_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Fact:
    """A game happening the conditions look at, normalized from one event."""

    kind: str  # scene, boss, item, ability, death, bench, event
    name: str | None = None  # to_scene, boss, item, ability, bench scene, event type
    from_scene: str | None = None
    load_seconds: float = 0.0


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


def facts_of(event_type: str, data: dict[str, Any]) -> list[Fact]:
    """What the conditions can see in one event (empty for high-rate state)."""
    if event_type in ("player_update", "timing_update", "timer_command"):
        return []
    facts = [Fact("event", event_type)]
    if event_type == "scene_transition":
        to_scene = _text(data.get("to_scene")) or _text(data.get("scene_name"))
        if to_scene is not None:
            load_ms = data.get("load_time_ms")
            load = float(load_ms) / 1000.0 if isinstance(load_ms, int | float) and load_ms > 0 else 0.0
            facts.append(Fact("scene", to_scene, _text(data.get("from_scene")), load))
    elif event_type == "boss_defeated" or (
        event_type == "boss_encounter" and data.get("phase") in ("defeated", "defeat")
    ):
        boss = _text(data.get("boss_name"))
        if boss:
            facts.append(Fact("boss", boss))
    elif event_type == "item_collected":
        item = _text(data.get("item_name"))
        if item:
            facts.append(Fact("item", item))
            facts.append(Fact("ability", item))  # abilities are picked up as items too
    elif event_type in ("ability_unlocked", "ability_obtained"):
        ability = _text(data.get("ability")) or _text(data.get("ability_name"))
        if ability:
            facts.append(Fact("ability", ability))
    elif event_type == "player_death":
        facts.append(Fact("death", _text(data.get("location"))))
    elif event_type == "checkpoint_reached":
        facts.append(Fact("bench", _text(data.get("scene"))))
    return facts


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.casefold() == b.casefold()


class SplitEngine:
    """The run state machine for one route."""

    def __init__(self, route: RouteSpec) -> None:
        self.route = route
        self.phase: Phase = "idle"
        self.index = 0
        self.clock = GameClock()
        self.run = Run()
        self.scene: str | None = None
        self._armed: set[int] = set()  # splits waiting for the next room change
        self._done: set[int] = set()
        self._dead = False
        self._split_now = False
        self._last_scene_real = 0.0  # run time of the last room change (a load cannot be longer)
        self._last_defeat: tuple[str, float] | None = None
        self._runs = 0

    # -- reading --------------------------------------------------------------------------------
    @property
    def current(self) -> SplitSpec | None:
        """The next split to happen (None when not running or after the last)."""
        if self.phase != "running" or self.index >= len(self.route.splits):
            return None
        return self.route.splits[self.index]

    def game_time(self, now: float) -> float:
        return self.clock.game(now)

    def real_time(self, now: float) -> float:
        return self.clock.real(now)

    # -- rules ----------------------------------------------------------------------------------
    def feed(self, event_type: str, data: dict[str, Any], now: float) -> list[Command]:
        """The commands one event causes (most events cause none)."""
        out: list[Command] = []
        self._split_now = False  # one event makes at most one split, whatever facts it carries
        for fact in facts_of(event_type, data):
            out.extend(self._fact(fact, now))
        # A load correction and a split stamp in one step carry the same game time: send it once.
        times: set[float | None] = set()
        deduped: list[Command] = []
        for command in out:
            if command.command == "time":
                if command.value in times:
                    continue
                times.add(command.value)
            deduped.append(command)
        return deduped

    def _fact(self, fact: Fact, now: float) -> list[Command]:
        if fact.kind == "boss":
            if self._is_repeat_defeat(fact.name, now):
                return []
            self._last_defeat = (fact.name or "", now)
        if fact.kind == "scene" and fact.from_scene is None:
            fact = Fact(fact.kind, fact.name, self.scene, fact.load_seconds)
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

    def _is_repeat_defeat(self, boss: str | None, now: float) -> bool:
        last = self._last_defeat
        return last is not None and _same(last[0], boss) and now - last[1] <= DEFEAT_PAIRING_SECONDS

    def _remember(self, fact: Fact) -> None:
        if fact.name is None:
            return
        bag = {"boss": self.run.bosses, "item": self.run.items, "ability": self.run.abilities}
        if fact.kind in bag:
            bag[fact.kind].add(fact.name.casefold())

    def _loads(self, fact: Fact, now: float) -> list[Command]:
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

    def _splits(self, fact: Fact, now: float) -> list[Command]:
        if fact.kind == "scene":
            self._last_scene_real = self.clock.real(now)
        if self._split_now:
            return []
        splits = self.route.splits
        candidates = ([self.index] if self.route.order == "ordered"
                      else [i for i in range(len(splits)) if i not in self._done])
        transition = fact.kind == "scene" and fact.name != fact.from_scene and not self._dead
        if fact.kind == "death":
            self._dead = True
        elif fact.kind == "scene":
            self._dead = False
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

    def _matches(self, cond: Condition, fact: Fact) -> bool:
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

    def _why(self, conds: list[Condition], fact: Fact) -> str:
        return next((c.describe() for c in conds if self._matches(c, fact)), "")

    # -- run lifecycle (also driven by manual commands) -------------------------------------------
    def _start(self, now: float, reason: str, source: str = "rules") -> list[Command]:
        self._runs += 1
        self.phase, self.index = "running", 0
        self.run = Run(number=self._runs)
        self._armed.clear()
        self._done.clear()
        self._dead = False
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
