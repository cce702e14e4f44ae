"""The race model: runners' events in, standings, deltas and race events out. Pure.

Each runner's events go through the facts layer (`dxbus.facts.FactDeriver`) and the speedrun split
rules (`dxbus.speedrun.split_rules`) with the race's route, so position comes from the route's splits,
derived the same way as the runner's own timer. The split engine's clock is the runner's own event
`Timestamp`: a runner's game time is measured on its own PC from its own run start, so clock
differences between PCs do not matter. The hub's clock (`now`, monotonic) only decides staleness.

Position: finished runners first (by final game time), then by splits done, then by rooms entered
since the last split (further into the segment), then by the game time at the last split; forfeited
runners last. Delta at a split: the runner's game time there minus the best game time of anyone there.

Events are deduplicated by the runner bus's `(instance, Seq)`: a resend after a reconnect is dropped,
so no split is counted twice; a new instance (the runner's bus restarted) numbers from 1 again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import facts as f
from ..events import Draft, make_event
from ..speedrun.route import RouteSpec
from ..speedrun.split_rules import FactFeed, SplitEngine

RACE_SPLIT = "race_split"
RACE_LEAD_CHANGE = "race_lead_change"
RACE_FINISH = "race_finish"
RACE_FORFEIT = "race_forfeit"
RACE_STATE = "race_state"
RACE_EVENT_TYPES = (RACE_SPLIT, RACE_LEAD_CHANGE, RACE_FINISH, RACE_FORFEIT)


def epoch_of(timestamp: Any) -> float | None:
    """Epoch seconds of a wire `Timestamp` (`2026-01-01T00:00:00.000Z`), None if not one."""
    if not isinstance(timestamp, str):
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def format_delta(seconds: float) -> str:
    """`+12.3 s`, `-0.4 s`, `±0.0 s`."""
    if abs(seconds) < 0.05:
        return "±0.0 s"
    return f"{seconds:+.1f} s"


@dataclass(slots=True)
class SplitMark:
    """One split a runner reached: the route's index and name, and the runner's game time there."""

    index: int
    name: str
    game: float
    delta: float = 0.0  # to the best time anyone had at this split (0 for the first there)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the delta as text (`+12.3 s`)."""
        return {"index": self.index, "name": self.name, "game": round(self.game, 3),
                "delta": round(self.delta, 3), "delta_text": format_delta(self.delta)}


@dataclass(slots=True)
class RaceOutput:
    """A race event to publish on the hub's bus: its type and Data."""

    type: str
    data: dict[str, Any]


class RunnerTrack:
    """One runner in one race: their facts and split engine, and what the board shows of them."""

    def __init__(self, name: str, route: RouteSpec) -> None:
        self.name = name
        self.engine = SplitEngine(route)
        self.feed = FactFeed(self.engine)
        self._clock = f.StepClock()
        self.deriver = f.FactDeriver(self._clock)
        self.instance: str | None = None
        self.last_seq = 0
        self.events = 0
        self.duplicates = 0
        self.splits: list[SplitMark] = []
        self.rooms_since_split = 0
        self.rooms = 0
        self.deaths = 0
        self.hp: float | None = None
        self.hp_max: float | None = None
        self.room: str | None = None
        self.area: str | None = None
        self.last_seen: float | None = None  # hub clock (monotonic) of the last event
        self.connected = False
        self.finished: float | None = None  # final game time
        self.forfeited = False
        self._origin_epoch: float | None = None

    def accepts(self, instance: str | None, seq: int | None) -> bool:
        """Whether an event is new (not one already counted before a reconnect)."""
        if seq is None:
            return True
        if instance != self.instance:
            return True
        return seq > self.last_seq

    def mark(self, instance: str | None, seq: int | None) -> None:
        """Remember the resume point `(instance, seq)`."""
        if instance != self.instance:
            self.instance, self.last_seq = instance, 0
        if seq is not None:
            self.last_seq = max(self.last_seq, seq)

    def clock_of(self, timestamp: Any, fallback: float) -> float:
        """The runner's own clock for the split engine: seconds of its `Timestamp` since its first."""
        epoch = epoch_of(timestamp)
        if epoch is None:
            return fallback
        if self._origin_epoch is None:
            self._origin_epoch = epoch
        return epoch - self._origin_epoch

    @property
    def running(self) -> bool:
        """Started the route and neither finished nor forfeited."""
        return self.engine.phase == "running" and self.finished is None and not self.forfeited

    def last_game(self) -> float:
        """The game time at the last split (0 before the first)."""
        return self.splits[-1].game if self.splits else 0.0


class Race:
    """One race: its route, its runners, and the standings derived from their splits."""

    def __init__(self, race_id: str, route: RouteSpec, runners: list[str] | None = None,
                 name: str | None = None, stale_after: float = 10.0) -> None:
        self.id = race_id
        self.name = name or race_id
        self.route = route
        self.stale_after = stale_after
        self.runners: dict[str, RunnerTrack] = {}
        self.best: dict[int, float] = {}  # best game time anyone had at each split index
        self.arrivals: list[str] = []  # who finished, in the order the hub learnt it
        self.leader: str | None = None
        self.version = 0  # bumped on every change the board shows
        for runner in runners or []:
            self.track(runner)

    # -- input ----------------------------------------------------------------------------------
    def track(self, name: str) -> RunnerTrack:
        """The runner's track (made on first use)."""
        track = self.runners.get(name)
        if track is None:
            track = self.runners[name] = RunnerTrack(name, self.route)
            self.version += 1
        return track

    def apply(self, runner: str, instance: str | None, wire: dict[str, Any], now: float) -> list[RaceOutput]:
        """One event of a runner's bus (its wire object); returns the race events it causes."""
        track = self.track(runner)
        event_type = wire.get("EventType")
        data = wire.get("Data")
        seq = wire.get("Seq")
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        if not isinstance(event_type, str) or not isinstance(data, dict) or wire.get("Origin") == "test":
            return []
        was_stale = self.is_stale(track, now)
        track.last_seen = now
        if not track.accepts(instance, seq):
            track.duplicates += 1
            return []
        track.mark(instance, seq)
        track.events += 1
        if track.forfeited or track.finished is not None:
            return []
        at = track.clock_of(wire.get("Timestamp"), now)
        track._clock.now = at
        event = make_event(Draft(event_type, data, wire.get("Timestamp")), seq or 0, at, at)
        out: list[RaceOutput] = []
        changed = was_stale
        for fact in track.deriver.apply(event):
            changed |= self._follow(track, fact)
            for command in track.feed.on_fact(fact, at):
                out += self._command(track, command.command, event.timestamp)
        for command in track.feed.on_event(event, at):
            out += self._command(track, command.command, event.timestamp)
        if out or changed:
            self.version += 1
        return out

    def forfeit(self, runner: str) -> list[RaceOutput]:
        """The runner gives up: shown last, marked forfeit."""
        track = self.track(runner)
        if track.forfeited or track.finished is not None:
            return []
        track.forfeited = True
        self.version += 1
        out = [RaceOutput(RACE_FORFEIT, {"race": self.id, "runner": runner})]
        return out + self._lead()

    def _follow(self, track: RunnerTrack, fact: f.Fact) -> bool:
        """Keep what the runner box shows (HP, room, deaths); True if it changed."""
        if isinstance(fact, f.RoomEntered):
            track.room, track.area = fact.room, fact.area
            if not fact.same_room and not fact.respawn:
                track.rooms += 1
                track.rooms_since_split += 1
            return True
        if isinstance(fact, f.Death):
            track.deaths += 1
            return True
        if isinstance(fact, f.HealthChanged):
            track.hp, track.hp_max = fact.health, fact.health_max
            return True
        return False

    def _command(self, track: RunnerTrack, command: str, timestamp: str = "") -> list[RaceOutput]:
        """A timer command the route's rules made for this runner."""
        engine = track.engine
        if command == "start":
            # A new run of the route: the race counts from here.
            track.splits.clear()
            track.rooms_since_split = 0
            return []
        if command not in ("split", "skip") or not engine.run.splits:
            return []
        done = engine.run.splits[-1]
        best = self.best.get(done.index)
        delta = 0.0 if best is None else done.game - best
        if best is None or done.game < best:
            self.best[done.index] = done.game
        mark = SplitMark(done.index, done.name, done.game, delta)
        track.splits.append(mark)
        track.rooms_since_split = 0
        out = [RaceOutput(RACE_SPLIT, {
            "race": self.id, "runner": track.name, "split": mark.name, "index": mark.index,
            "game": round(mark.game, 3), "delta": round(mark.delta, 3),
            "text": f"{track.name} {format_delta(mark.delta)} at {mark.name}",
            "skipped": done.skipped, "timestamp": timestamp})]  # the runner's clock at the split
        if engine.phase == "ended":
            track.finished = done.game
            self.arrivals.append(track.name)
            # The place by game time: a runner whose finish arrives late (a reconnect) may still win.
            place = self.finish_order.index(track.name) + 1
            out.append(RaceOutput(RACE_FINISH, {
                "race": self.id, "runner": track.name, "place": place,
                "game": round(done.game, 3), "text": f"{track.name} finishes "
                f"#{place} in {clock_text(done.game)}"}))
        return out + self._lead()

    def _lead(self) -> list[RaceOutput]:
        standings = self.order()
        leader = standings[0].name if standings and standings[0].splits else None
        if leader is None or leader == self.leader:
            return []
        previous, self.leader = self.leader, leader
        return [RaceOutput(RACE_LEAD_CHANGE, {"race": self.id, "runner": leader, "previous": previous,
                                              "text": f"{leader} takes the lead"})]

    # -- reading --------------------------------------------------------------------------------
    @property
    def finish_order(self) -> list[str]:
        """Finished runners by final game time (their own clocks), the race's result."""
        return sorted(self.arrivals, key=lambda name: (self.runners[name].finished or 0.0, name))

    def is_stale(self, track: RunnerTrack, now: float) -> bool:
        """Nothing heard from the runner for `stale_after` seconds (finished runners never are)."""
        if track.finished is not None or track.forfeited or track.last_seen is None:
            return False
        return now - track.last_seen >= self.stale_after

    def order(self) -> list[RunnerTrack]:
        """The runners in race position (see the module docstring)."""
        finished = [self.runners[name] for name in self.finish_order]
        rest = [t for t in self.runners.values() if t.finished is None]
        rest.sort(key=lambda t: (t.forfeited, -len(t.splits), -t.rooms_since_split, t.last_game(), t.name))
        return finished + rest

    def state(self, now: float) -> dict[str, Any]:
        """The board as JSON (`/api/race`, the `race_state` event, the overlays)."""
        order = self.order()
        leader = order[0] if order and order[0].splits else None
        rows = []
        for track in order:  # deltas against the best time at each split as it stands now
            for mark in track.splits:
                mark.delta = mark.game - self.best.get(mark.index, mark.game)
        for place, track in enumerate(order, 1):
            last = track.splits[-1] if track.splits else None
            behind = None
            if leader is not None and last is not None and track is not leader:
                behind = last.delta
            stale = self.is_stale(track, now)
            status = ("finished" if track.finished is not None else "forfeit" if track.forfeited
                      else "stale" if stale else "running" if track.engine.phase == "running"
                      else "waiting")
            rows.append({
                "place": place, "runner": track.name, "status": status, "stale": stale,
                "stale_for": (round(now - track.last_seen, 1)
                              if stale and track.last_seen is not None else None),
                "splits_done": len(track.splits), "rooms_since_split": track.rooms_since_split,
                "last_split": last.as_dict() if last else None,
                "delta": round(behind, 3) if behind is not None else None,
                "delta_text": format_delta(behind) if behind is not None else None,
                "finish": round(track.finished, 3) if track.finished is not None else None,
                "finish_text": clock_text(track.finished) if track.finished is not None else None,
                "hp": track.hp, "hp_max": track.hp_max, "room": track.room, "area": track.area,
                "deaths": track.deaths, "splits": [s.as_dict() for s in track.splits],
                "seq": track.last_seq, "instance": track.instance,
            })
        return {"race": self.id, "name": self.name, "route": self.route.name,
                "splits": [s.name for s in self.route.splits], "leader": leader.name if leader else None,
                "finish_order": list(self.finish_order), "stale_after": self.stale_after,
                "version": self.version, "runners": rows}


def clock_text(seconds: float) -> str:
    """`1:04.6`, `1:02:03.4`."""
    minutes, secs = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes}:{secs:04.1f}"


__all__ = ["RACE_EVENT_TYPES", "Race", "RaceOutput", "RunnerTrack", "SplitMark", "clock_text",
           "epoch_of", "format_delta"]
