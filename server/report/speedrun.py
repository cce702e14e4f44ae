"""Speedrun segments where a route ran: the bus's own split rules over the session's facts.

The same `SplitEngine` and `SegmentBook` as the live timer (`dxbus.speedrun`), fed the same facts the
report folds, on the events' own clock: splits and rooms of the session's last run against the bests
of its earlier runs (in memory: the report never touches `dxbus-splits.json`). Empty when no run
started (no new save in the session).
"""

from __future__ import annotations

from typing import Any

from ..events import Event
from ..facts import Fact, RoomEntered
from ..speedrun.route import RouteSpec, load_route
from ..speedrun.segments import SegmentBook
from ..speedrun.split_rules import FactFeed, SplitEngine
from ..world import World

HIGH_RATE = frozenset({"player_update", "timing_update"})


class Segments:
    """Follows one session with the default route (Silksong Act 1) or the one given."""

    def __init__(self, world: World, route: RouteSpec | None = None) -> None:
        self.route = route or load_route(None)
        self.engine = SplitEngine(self.route)
        self.feed = FactFeed(self.engine)
        self.book = SegmentBook(self.route, None, world)
        self.now = 0.0

    def on_fact(self, fact: Fact, now: float) -> None:
        """A fact (before its event's `on_event`, as on the bus)."""
        self.now = now
        self.feed.on_fact(fact, now)
        if isinstance(fact, RoomEntered):
            self.book.after_room(self.engine, now)
        self.book.sync(self.engine, now)

    def on_event(self, event: Event, now: float) -> None:
        """An event (after its facts)."""
        if event.type in HIGH_RATE:
            return
        self.now = now
        self.feed.on_event(event, now)
        self.book.sync(self.engine, now)

    def view(self) -> dict[str, Any] | None:
        """The segments view (`GET /api/segments`' shape) of the last run, None if none started."""
        if self.book.bests.runs_started == 0 and self.engine.phase == "idle":
            return None
        return self.book.view(self.engine, self.now)
