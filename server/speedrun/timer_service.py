"""The timer service: split rules on the game facts, `timer_command` events out.

A fact listener on `bus.facts` and a hub listener step the `SplitEngine` (`FactFeed`: each event's
`event` cue, then its facts' cues); the commands it returns are published as
`timer_command` events (source "rules", or "loads" for the load-time pause/resume), which the TCP
port (9090) and the LiveSplit bridge turn into lines. Commands from elsewhere (the manual HTTP
routes, a script posting to /api/events) are followed so the run state stays in step. While a run is
going and the route asks for it, `time:<game time>` is also sent every `time_interval` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Any

from ..bus import Bus
from ..events import Event
from ..facts import Fact, RoomEntered
from .practice import PracticeTracker
from .route import RouteSpec
from .segments import SegmentBook
from .split_rules import Command, FactFeed, SplitEngine

log = logging.getLogger(__name__)

TIMER_COMMAND = "timer_command"
HIGH_RATE = frozenset({"player_update", "timing_update"})
# Sources of commands the rules make; such a command arriving from outside (a replayed recording) is
# not followed, because the engine makes its own from the same game events.
DERIVED = frozenset({"rules", "loads"})


class TimerService:
    """Runs the split engine, the segment book and the practice tracker off one hub listener."""

    name = "timer"

    def __init__(self, bus: Bus, route: RouteSpec, book: SegmentBook, practice: PracticeTracker) -> None:
        self.bus = bus
        self.route = route
        self.engine = SplitEngine(route)
        self.feed = FactFeed(self.engine)
        self.book = book
        self.practice = practice
        self._own: set[int] = set()  # Seqs of the commands we published, not to be followed back
        self._publishing = False  # a command published outside a dispatch comes straight back
        self._ticker: asyncio.Task[None] | None = None
        self.commands_sent = 0

    async def start(self) -> None:
        if self.route.time_interval > 0:
            self._ticker = asyncio.create_task(self._tick(), name="timer-ticks")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self.book.flush()

    def on_fact(self, fact: Fact) -> None:
        """Fact listener: the split rules turn facts into timer commands; segments follow rooms."""
        now = self.bus.clock.monotonic()
        for command in self.feed.on_fact(fact, now):
            self._publish(command)
        if isinstance(fact, RoomEntered):
            self.book.after_room(self.engine, now)
        self.book.sync(self.engine, now)
        self.practice.on_fact(fact, now)

    def on_event(self, event: Event) -> None:
        """Hub listener: the split rules that read raw events (not facts), and manual commands."""
        if event.type in HIGH_RATE:
            return  # nothing in a route looks at per-tick state
        now = self.bus.clock.monotonic()
        if event.type == TIMER_COMMAND:
            source = str(event.data.get("source") or "manual")
            if event.seq in self._own or self._publishing:
                self._own.discard(event.seq)
            elif source not in DERIVED:
                command = event.data.get("command")
                if isinstance(command, str):
                    self.engine.manual(command, now, source)
            # else: rules output from elsewhere (a replayed recording): the engine derives its own
        else:
            for command in self.feed.on_event(event, now):
                self._publish(command)
        self.book.sync(self.engine, now)

    def _publish(self, command: Command) -> None:
        self._publishing = True
        try:
            published = self.bus.hub.emit(TIMER_COMMAND, command.to_data())
        finally:
            self._publishing = False
        if published is not None:
            self._own.add(published.seq)
            self.commands_sent += 1
            # Load pauses come with every room change: worth a line only when debugging.
            level = logging.DEBUG if command.source == "loads" else logging.INFO
            log.log(level, "timer %s%s (%s)", command.command,
                     f" {command.split!r}" if command.split else "", command.reason or command.source)

    async def _tick(self) -> None:
        """`time:` at whole multiples of the interval of run time (2 s, 4 s, ... after the start)."""
        interval = self.route.time_interval
        clock, engine = self.bus.clock, self.engine
        while True:
            target: tuple[int, float] | None = None
            delay = interval
            if engine.phase == "running":
                real = engine.real_time(clock.monotonic())
                due = (math.floor(real / interval + 1e-9) + 1) * interval
                target, delay = (engine.run.number, due), due - real
            await clock.sleep(delay)
            if target is not None and engine.phase == "running" and engine.run.number == target[0]:
                now = clock.monotonic()
                if abs(engine.real_time(now) - target[1]) < 1e-6 + 0.5 * interval:
                    self._publish(Command("time", engine.game_time(now), "rules"))

    def status(self) -> dict[str, Any]:
        """For /api/status: the route and where the run stands."""
        now = self.bus.clock.monotonic()
        return {"route": self.route.name, "splits": len(self.route.splits),
                "commands_sent": self.commands_sent, **self.engine.state(now)}
