"""Segments: time per split and per room for the current run, against the best so far.

The book follows the split engine (which reads the game facts): every split adds a segment
(compared with the best segment, "gold", and the personal best's split time), every room change
inside a run closes a room visit (keyed by scene and visit number, so the second pass through a room
compares with the second pass of earlier runs). A finished run that beats the personal best becomes
the new one. Bests are kept per route name in `[Timer] BestsFile`, written off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..atomic import atomic_write
from ..world import World, load_world
from .route import RouteSpec
from .split_rules import SplitEngine

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RoomVisit:
    """One stay in a room during a run (times in seconds since the run started)."""

    scene: str
    occurrence: int
    entered: float
    left: float | None = None

    @property
    def key(self) -> str:
        return f"{self.scene}#{self.occurrence}"


@dataclass(slots=True)
class Bests:
    """What the runner has done best on one route."""

    best_segments: dict[int, float] = field(default_factory=dict)
    pb_splits: list[float | None] = field(default_factory=list)
    pb_time: float | None = None
    rooms: dict[str, float] = field(default_factory=dict)
    runs_started: int = 0
    runs_completed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"best_segments": {str(k): v for k, v in sorted(self.best_segments.items())},
                "pb_splits": self.pb_splits, "pb_time": self.pb_time, "rooms": self.rooms,
                "runs_started": self.runs_started, "runs_completed": self.runs_completed}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Bests:
        return cls({int(k): float(v) for k, v in raw.get("best_segments", {}).items()},
                   [None if v is None else float(v) for v in raw.get("pb_splits", [])],
                   raw.get("pb_time"), {str(k): float(v) for k, v in raw.get("rooms", {}).items()},
                   int(raw.get("runs_started", 0)), int(raw.get("runs_completed", 0)))


class SegmentBook:
    """Current-run segments and rooms, and the bests they are compared with."""

    def __init__(self, route: RouteSpec, path: Path | None = None, world: World | None = None) -> None:
        self.route = route
        self.path = path
        self.world = world or load_world()
        self.timing = "game" if route.game_time else "real"
        self.bests = Bests()
        self._others: dict[str, Any] = {}  # other routes' bests in the same file, kept as they are
        self._load()
        self.run_no = 0
        self.visits: list[RoomVisit] = []
        self.segments: dict[int, float | None] = {}
        self.golds: set[int] = set()
        self._seen = 0
        self._finished = True
        self._followed: tuple[int, int] = (0, -1)  # (id, moves) of the engine as last followed
        self._save_task: asyncio.Future[Any] | None = None
        self._write_lock = threading.RLock()
        self._latest = b""

    # -- following the engine ---------------------------------------------------------------------
    def _time(self, engine: SplitEngine, now: float) -> float:
        return round(engine.game_time(now) if self.timing == "game" else engine.real_time(now), 6)

    def after_room(self, engine: SplitEngine, now: float) -> None:
        """After the engine saw a `RoomEntered` fact: inside a run it closes one visit, opens the next."""
        fresh = self.sync(engine, now)
        if engine.phase != "running" or fresh:
            return
        scene = engine.scene
        if scene is None or (self.visits and self.visits[-1].scene == scene and self.visits[-1].left is None):
            return
        t = self._time(engine, now)
        if self.visits and self.visits[-1].left is None:
            self._close(self.visits[-1], t)
        self._open(scene, t)

    def sync(self, engine: SplitEngine, now: float) -> bool:
        """Pick up new runs, splits, and the end of a run; True if a run started just now."""
        followed = (id(engine), engine.moves)
        if followed == self._followed:
            return False  # the engine has not moved since: called after every fact and event
        self._followed = followed
        fresh = False
        if engine.run.number != self.run_no and engine.phase != "idle":
            self._begin(engine, now)
            fresh = True
        if engine.run.number == self.run_no:
            splits = engine.run.splits
            while self._seen < len(splits):
                self._on_split(self._seen, splits)
                self._seen += 1
            if engine.phase != "running" and not self._finished:
                self._finish(engine, now, completed=engine.phase == "ended")
        return fresh

    def _begin(self, engine: SplitEngine, now: float) -> None:
        if not self._finished:  # reset and restarted by one event: the old run just ends
            if self.visits and self.visits[-1].left is None:
                self.visits.pop()
            self.save()
        self.run_no = engine.run.number
        self.visits, self.segments, self.golds = [], {}, set()
        self._seen, self._finished = 0, False
        self.bests.runs_started += 1
        if engine.scene is not None:
            self._open(engine.scene, 0.0)

    def _open(self, scene: str, t: float) -> None:
        occurrence = 1 + sum(1 for v in self.visits if v.scene == scene)
        self.visits.append(RoomVisit(scene, occurrence, t))

    def _close(self, visit: RoomVisit, t: float) -> None:
        visit.left = t
        took = round(t - visit.entered, 6)
        best = self.bests.rooms.get(visit.key)
        if best is None or took < best:
            self.bests.rooms[visit.key] = took

    def _on_split(self, i: int, splits: list[Any]) -> None:
        split = splits[i]
        t = split.game if self.timing == "game" else split.real
        if split.skipped:
            self.segments[split.index] = None
            return
        previous = splits[i - 1] if i > 0 else None
        if previous is not None and previous.skipped:
            self.segments[split.index] = None  # spans a skipped split: not comparable
            return
        start = 0.0 if previous is None else (previous.game if self.timing == "game" else previous.real)
        segment = round(t - start, 6)
        self.segments[split.index] = segment
        best = self.bests.best_segments.get(split.index)
        if best is None or segment < best:
            self.bests.best_segments[split.index] = segment
            self.golds.add(split.index)

    def _finish(self, engine: SplitEngine, now: float, completed: bool) -> None:
        self._finished = True
        if self.visits and self.visits[-1].left is None:
            if completed:
                self._close(self.visits[-1], self._time(engine, now))
            else:
                self.visits.pop()  # a reset mid-room: that visit has no time
        if completed:
            self.bests.runs_completed += 1
            final = self._time(engine, now)
            if self.bests.pb_time is None or final < self.bests.pb_time:
                self.bests.pb_time = final
                self.bests.pb_splits = self._cumulative(engine)
        self.save()

    def _cumulative(self, engine: SplitEngine) -> list[float | None]:
        out: list[float | None] = [None] * len(self.route.splits)
        for split in engine.run.splits:
            if not split.skipped and split.index < len(out):
                out[split.index] = split.game if self.timing == "game" else split.real
        return out

    # -- reading ------------------------------------------------------------------------------------
    def view(self, engine: SplitEngine, now: float) -> dict[str, Any]:
        """`GET /api/segments`: the route's splits and the run's rooms against the bests."""
        done = {s.index: s for s in engine.run.splits} if engine.run.number == self.run_no else {}
        pb = self.bests.pb_splits
        splits = []
        for i, spec in enumerate(self.route.splits):
            mine = done.get(i)
            t = None if mine is None or mine.skipped else (mine.game if self.timing == "game" else mine.real)
            pb_t = pb[i] if i < len(pb) else None
            status = ("skipped" if mine.skipped else "done") if mine else (
                "current" if engine.phase == "running" and i == engine.index else "pending")
            splits.append({
                "index": i, "name": spec.name, "condition": spec.describe(), "status": status,
                "time": _r(t), "segment": _r(self.segments.get(i)),
                "best_segment": _r(self.bests.best_segments.get(i)), "gold": i in self.golds,
                "pb": _r(pb_t), "delta": _r(t - pb_t) if t is not None and pb_t is not None else None,
            })
        rooms = []
        current_t = self._time(engine, now) if engine.run.number == self.run_no else 0.0
        for visit in self.visits:
            end = visit.left if visit.left is not None else current_t
            took = end - visit.entered
            best = self.bests.rooms.get(visit.key)
            rooms.append({
                "scene": visit.scene, "area": self.world.area_of(visit.scene),
                "occurrence": visit.occurrence, "entered": _r(visit.entered), "time": _r(took),
                "best": _r(best), "delta": _r(took - best) if best is not None and visit.left is not None
                else None, "current": visit.left is None,
            })
        best_segments = [self.bests.best_segments.get(i) for i in range(len(self.route.splits))]
        sum_of_best = (sum(b for b in best_segments if b is not None)
                       if best_segments and all(b is not None for b in best_segments) else None)
        return {
            "route": {"name": self.route.name, "game": self.route.game, "order": self.route.order,
                      "game_time": self.route.game_time, "splits": len(self.route.splits)},
            "timing": self.timing,
            "run": {**engine.state(now), "time": _r(current_t)},
            "splits": splits,
            "rooms": rooms,
            "bests": {"pb": _r(self.bests.pb_time), "sum_of_best": _r(sum_of_best),
                      "runs_started": self.bests.runs_started,
                      "runs_completed": self.bests.runs_completed},
        }

    # -- persistence --------------------------------------------------------------------------------
    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            doc = orjson.loads(self.path.read_bytes())
            routes = doc.get("routes", {})
            self._others = {k: v for k, v in routes.items() if k != self.route.name}
            if self.route.name in routes:
                self.bests = Bests.from_json(routes[self.route.name])
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("%s: cannot read the bests file (%s); starting with no bests", self.path, exc)

    def _document(self) -> bytes:
        routes = {**self._others, self.route.name: self.bests.to_json()}
        return orjson.dumps({"version": 1, "routes": routes}, option=orjson.OPT_INDENT_2)

    def save(self) -> None:
        """Write the bests file (off the loop when one is running)."""
        if self.path is None:
            return
        body = self._document()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write(body)
            return
        self._latest = body
        self._save_task = loop.run_in_executor(None, self._write_latest)

    def _write_latest(self) -> None:
        # Executor threads may run out of order; each writes the newest document there is.
        with self._write_lock:
            self._write(self._latest)

    def flush(self) -> None:
        """Write now (at shutdown)."""
        if self.path is not None and self.run_no:
            self._write(self._document())

    def _write(self, body: bytes) -> None:
        assert self.path is not None
        try:
            with self._write_lock:  # one writer at a time
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(self.path, body, durable=True)  # a run's bests cannot be recreated
        except OSError as exc:
            log.warning("%s: cannot write the bests file: %s", self.path, exc)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
