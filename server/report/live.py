"""`/report` on the running bus: the same report for the current session, growing as it plays.

`LiveReport` folds the bus's own facts (`bus.facts`, derived once for every part) and events into a
`SessionLog` as they happen; `/report` renders the page (which re-fetches itself every few seconds
and redraws), `/report.json` the numbers. Test-origin events never reach the hub's listeners (and
`SessionLog` skips them too); a demo or replay bus reports its own session, labelled with its mode,
and nothing of it is kept. No event for `gap_seconds` starts a new session, as `dxbus report`
splits files. The analysis runs in a worker thread on a snapshot, so a long session's clustering
never stalls the bus; a report is rebuilt only when events arrived since the last one.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..events import TEST, Event
from ..facts import Fact
from ..parts import Part
from .command import INSTALL_HINT, analysis_available
from .load import DEFAULT_GAP_SECONDS, EpochParser
from .session import SessionLog, is_bus_made
from .speedrun import Segments

if TYPE_CHECKING:
    from ..bus import Bus


class LiveReport:
    """The current session's report, kept up to date from the bus's facts and events."""

    def __init__(self, bus: Bus, gap_seconds: float = DEFAULT_GAP_SECONDS) -> None:
        self.bus = bus
        self.gap = gap_seconds
        self.with_routes = analysis_available()
        self._parse = EpochParser()
        self.log = self._new_log()
        self._built: dict[str, Any] | None = None
        self._built_at = -1  # events folded when `_built` was made
        self._lock = asyncio.Lock()

    def _new_log(self) -> SessionLog:
        facts = self.bus.facts
        world = facts.deriver.world if facts is not None else None
        log = SessionLog(world=world) if world is not None else SessionLog()
        log.segments = Segments(log.world)
        log.origin = self.bus.mode
        return log

    def on_fact(self, fact: Fact) -> None:
        """A fact of the bus's one deriver (it comes before its event's `on_event`)."""
        if fact.event is not None and fact.event.origin == TEST:
            return
        at = self._parse(fact.timestamp)
        if self.log.end is not None and at - self.log.end > self.gap:
            self.log = self._new_log()
        self.log.add_fact(fact, at)

    def on_event(self, event: Event) -> None:
        """Every event the hub dispatches (test events never come here)."""
        if event.origin == TEST or is_bus_made(event.type):
            return
        at = self._parse(event.timestamp)
        if self.log.end is not None and at - self.log.end > self.gap:
            self.log = self._new_log()
        self.log.add_event(event, at)

    async def report(self) -> dict[str, Any]:
        """The report as `dxbus report --json` gives it, for the session so far."""
        from .analysis import EXPLAIN, analyze

        async with self._lock:
            if self._built is None or self._built_at != self.log.events:
                events = self.log.events
                sessions = []
                if events:
                    snapshot = self.log.snapshot()
                    sessions = [await asyncio.to_thread(analyze, snapshot, self.with_routes)]
                self._built, self._built_at = {
                    "sessions": sessions, "files": [], "mode": self.bus.mode, "live": True,
                    "problems": {"bad_lines": 0, "examples": [], "duplicates_skipped": 0},
                    "explain": EXPLAIN, "routes_hint": None if self.with_routes else INSTALL_HINT,
                }, events
            return self._built

    def install_routes(self, app: web.Application, bus: Bus) -> None:
        """Route installer: `/report` (the page) and `/report.json`."""

        async def page(request: web.Request) -> web.Response:
            from .render import render_html

            html = render_html(await self.report(), live=True)
            return web.Response(text=html, content_type="text/html", charset="utf-8",
                                headers={"Cache-Control": "no-store"})

        async def numbers(request: web.Request) -> web.Response:
            return web.Response(text=json.dumps(await self.report()), content_type="application/json",
                                headers={"Cache-Control": "no-store"})

        app.router.add_get("/report", page)
        app.router.add_get("/report.json", numbers)


def live_report_part(bus: Bus) -> Part:
    """Fold the bus's facts and events into the live report and serve it at `/report`."""
    live = LiveReport(bus)
    return Part("live_report", listeners=[live.on_event], fact_listeners=[live.on_fact],
                routes=[live.install_routes])
