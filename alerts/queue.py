"""The server-side alert queue: one alert on screen at a time, a gap between, highest priority first.

Timing lives here, on the bus's injected clock, never in the overlay page: OBS pauses the JavaScript
of a hidden browser source, so a queue timed by the page would stall and then dump a burst of alerts
when the scene comes back. Here an alert is "on screen" for its duration whether or not any page
is watching, and stale alerts are dropped or merged by their rule's policy.

The operator can hold the queue (`set_paused`), forget what waits (`clear`), end the alert on screen
early (`skip`: `publish_end` tells the pages to take it down) and queue the last shown ones again
(`replay`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from dxbus.clock import Clock, utc_iso
from dxbus.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# What `offer` did with an alert.
QUEUED, MERGED, COOLDOWN, FULL = "queued", "merged", "cooldown", "dropped_full"


@dataclass
class Alert:
    """One alert, waiting or shown. `remerge(count)` re-renders the message for a merged burst."""

    rule: str
    message: str
    sound: str
    volume: float
    duration: float
    style: str
    priority: int
    stale: str
    stale_after: float
    cooldown: float = 0.0
    test: bool = False
    remerge: Callable[[int], str] | None = None
    # The first line, and the URLs of the kind's icon and the rule's picture ("" for none).
    title: str = ""
    icon: str = ""
    image: str = ""
    # Put back in the queue by the operator (`replay`): no cooldown, never merged.
    replay: bool = False
    id: str = ""
    count: int = 1
    created: float = 0.0
    shown_at: float | None = None

    def payload(self) -> dict[str, Any]:
        """The `alert` event's Data (the contract overlays render)."""
        return {"id": self.id, "rule": self.rule, "title": self.title, "message": self.message,
                "icon": self.icon, "image": self.image, "sound": self.sound,
                "volume": round(self.volume, 3), "duration": self.duration, "style": self.style,
                "priority": self.priority, "count": self.count, "test": self.test,
                "replay": self.replay}


class AlertQueue:
    """Orders, paces and publishes alerts; `publish(data)` puts one `alert` event on the bus."""

    def __init__(
        self,
        clock: Clock,
        publish: Callable[[dict[str, Any]], None],
        gap: float = 0.5,
        max_queue: int = 20,
        history_size: int = 50,
        publish_end: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.clock = clock
        self.publish = publish
        # Told when the operator ends the alert on screen early (`skip`): the pages take it down.
        self.publish_end = publish_end
        self.gap = gap
        self.max_queue = max_queue
        self.pending: list[Alert] = []
        self.current: Alert | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=history_size)
        # The alerts shown lately, as they were shown (newest last), for `replay`.
        self.shown: deque[Alert] = deque(maxlen=history_size)
        self._skip = asyncio.Event()
        self._last_trigger: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Held by the operator (BRB, an interview): nothing new is shown, waiting alerts keep aging.
        self.paused = False

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the pacing task (on the running loop)."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="alert-queue")

    async def stop(self) -> None:
        """Stop pacing; waiting alerts are forgotten."""
        await cancel_and_wait(self._task)
        self._task = None

    # -- producing -----------------------------------------------------------------------------
    def offer(self, alert: Alert) -> str:
        """Queue an alert (or merge it, or refuse it by cooldown); returns what happened."""
        now = self.clock.monotonic()
        if not alert.test and not alert.replay and alert.cooldown > 0:
            last = self._last_trigger.get(alert.rule)
            if last is not None and now - last < alert.cooldown:
                self._record(alert, COOLDOWN, now)
                return COOLDOWN
        if not alert.test and not alert.replay:
            self._last_trigger[alert.rule] = now
        if alert.stale == "merge" and not alert.replay:
            twin = next((a for a in self.pending
                         if a.rule == alert.rule and a.test == alert.test and not a.replay), None)
            if twin is not None:
                twin.count += alert.count
                twin.priority = max(twin.priority, alert.priority)
                twin.message = alert.remerge(twin.count) if alert.remerge else alert.message
                twin.sound, twin.volume, twin.style = alert.sound, alert.volume, alert.style
                twin.title, twin.icon, twin.image = alert.title, alert.icon, alert.image
                twin.duration, twin.remerge = alert.duration, alert.remerge
                return MERGED
        alert.id = f"alert-{next(self._ids)}"
        alert.created = now
        self.pending.append(alert)
        if len(self.pending) > self.max_queue:
            # Over capacity: the least important, then oldest, alert gives way.
            victim = min(self.pending, key=lambda a: (a.priority, -a.created))
            self.pending.remove(victim)
            self._record(victim, FULL, now)
            if victim is alert:
                return FULL
        self._wake.set()
        return QUEUED

    # -- operator ------------------------------------------------------------------------------
    def set_paused(self, paused: bool) -> None:
        """Hold the queue (the alert on screen finishes) or let it run again."""
        self.paused = paused
        self._wake.set()

    def skip(self) -> Alert | None:
        """End the alert on screen now (the pages are told); the next one follows after the gap."""
        alert = self.current
        if alert is None:
            return None
        self._skip.set()
        return alert

    def replay(self, count: int = 1) -> list[Alert]:
        """Queue the last `count` shown alerts again (oldest first), as they were shown."""
        chosen = list(self.shown)[-count:] if count > 0 else []
        again = []
        for shown in chosen:
            copy = replace(shown, id="", created=0.0, shown_at=None, replay=True, stale="keep")
            if self.offer(copy) in (QUEUED, MERGED):
                again.append(copy)
        return again

    def clear(self) -> int:
        """Forget every waiting alert; returns how many."""
        now = self.clock.monotonic()
        dropped, self.pending = self.pending, []
        for alert in dropped:
            self._record(alert, "cleared", now)
        return len(dropped)

    # -- pacing --------------------------------------------------------------------------------
    def _next(self, now: float) -> Alert | None:
        for alert in list(self.pending):
            if alert.stale == "drop" and now - alert.created > alert.stale_after:
                self.pending.remove(alert)
                self._record(alert, "dropped_stale", now)
        if not self.pending:
            return None
        best = max(self.pending, key=lambda a: (a.priority, -a.created))
        self.pending.remove(best)
        return best

    async def _run(self) -> None:
        while True:
            alert = None if self.paused else self._next(self.clock.monotonic())
            if alert is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            now = self.clock.monotonic()
            alert.shown_at = now
            self.current = alert
            self._record(alert, "shown", now)
            try:
                self.publish(alert.payload())
            except Exception:
                log.exception("publishing alert %s failed", alert.id)
            self.shown.append(alert)
            if await self._on_screen(alert.duration):
                self._record(alert, "skipped", self.clock.monotonic())
                if self.publish_end is not None:
                    try:
                        self.publish_end({"id": alert.id, "rule": alert.rule, "reason": "skipped",
                                          "test": alert.test})
                    except Exception:
                        log.exception("publishing the end of alert %s failed", alert.id)
            self.current = None
            if self.gap > 0:
                await self.clock.sleep(self.gap)

    async def _on_screen(self, seconds: float) -> bool:
        """Wait out an alert's duration; True if the operator skipped it first."""
        self._skip.clear()
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        skipped = asyncio.ensure_future(self._skip.wait())
        try:
            await asyncio.wait((timer, skipped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            skipped.cancel()
        return skipped.done() and not skipped.cancelled()

    # -- reading -------------------------------------------------------------------------------
    def _record(self, alert: Alert, status: str, now: float) -> None:
        wall = self.clock.time() - (self.clock.monotonic() - now)
        self.history.append({**alert.payload(), "status": status, "at": utc_iso(wall)})

    def snapshot(self) -> dict[str, Any]:
        """The current alert, the waiting ones in show order, and the recent history (newest last)."""
        now = self.clock.monotonic()
        current = None
        if self.current is not None and self.current.shown_at is not None:
            remaining = max(0.0, self.current.shown_at + self.current.duration - now)
            current = {**self.current.payload(), "remaining": round(remaining, 3)}
        order = sorted(self.pending, key=lambda a: (-a.priority, a.created))
        queue = [{**a.payload(), "waiting": round(now - a.created, 3)} for a in order]
        return {"current": current, "queue": queue, "history": list(self.history), "gap_seconds": self.gap,
                "paused": self.paused}
