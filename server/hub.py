"""The hub: every producer calls `publish`; every consumer is a listener or a subscription."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from .clock import Clock, SystemClock, utc_iso
from .collection import CollectionPolicy, Thinner, sample_time
from .events import LIVE, ORIGINS, TEST, Draft, Event, EventError, make_event, validate
from .subscription import Subscription

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class Hub:
    """Assigns `Seq`, keeps the ring buffer and the latest event of each type, and fans out.

    Test-origin events (the gallery's buttons, `POST /api/alerts/test`) are not part of the bus's
    history: no `Seq`, no ring, no listeners (state, export, alerts, rules, text files, OBS, timer).
    They go to subscriptions opened with `include_test=True` (overlay previews) and to the
    `add_test_listener` listeners (the preview sandbox state, `bus.test_state`).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        ring_size: int = 10_000,
        policy: CollectionPolicy | None = None,
        queue_limit: int = 4096,
        ring_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.policy = policy or CollectionPolicy()
        self.queue_limit = queue_limit
        self.seq = 0
        self.metrics_collected = 0
        self._ring: deque[Event] = deque(maxlen=ring_size)
        # The ring is bounded in bytes too (`[Security] MaxRingBufferMb`): 10,000 events of 60 KB are 600 MB.
        self.ring_bytes_limit = ring_bytes
        self.ring_bytes = 0
        self._latest: dict[str, Event] = {}
        self._listeners: list[Listener] = []
        self._test_listeners: list[Listener] = []
        self._subscriptions: set[Subscription] = set()
        self._backlog: deque[Event] = deque()
        self._dispatching: Event | None = None
        self._trailing: dict[str, asyncio.Task[None]] = {}

    # -- producing -------------------------------------------------------------------------
    def publish(self, draft: Draft, thin: bool = True) -> Event | None:
        """Accept a validated event; returns it, or None if collection settings filter it out.

        A `player_update` arriving within its `UpdateFrequencyHz` interval is held (None) and
        published when the interval ends, unless a newer one replaces it. `thin=False` skips the
        thinning (replayed recordings). Raises EventError if the serialized event is too large.
        """
        if draft.origin == TEST:
            return self._publish_test(draft)
        if not self.policy.allows(draft.type):
            return None
        thinner = self.policy.thinner(draft.type) if thin else None
        if thinner is None:
            return self._accept(draft)
        return self._thin(thinner, draft)

    def _thin(self, thinner: Thinner, draft: Draft) -> Event | None:
        arrival = self.clock.time()
        at = sample_time(draft, arrival)
        ready = thinner.offer(draft, at, self.policy.interval, self.clock.monotonic())
        if thinner.held is draft:
            if draft.timestamp is None:  # held: keep the time it was taken, not the time it goes out
                thinner.held = dataclasses.replace(draft, timestamp=utc_iso(arrival))
            self._schedule_trailing(draft.type, thinner)
        published = None
        for item in ready:
            published = self._accept(item)
        return published if ready and ready[-1] is draft else None

    def _schedule_trailing(self, event_type: str, thinner: Thinner) -> None:
        if event_type in self._trailing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): the next sample releases it
            return
        task = loop.create_task(self._release_when_due(event_type, thinner), name=f"thin {event_type}")
        self._trailing[event_type] = task

    async def _release_when_due(self, event_type: str, thinner: Thinner) -> None:
        """The trailing edge: publish the held sample when its interval ends (the bus clock's sleep)."""
        try:
            while thinner.held is not None:
                wait = thinner.due - self.clock.monotonic()
                if wait > 0:
                    await self.clock.sleep(wait)
                    continue
                draft = thinner.release(self.policy.interval)
                if self.policy.allows(draft.type):
                    try:
                        self._accept(draft)
                    except EventError:
                        log.exception("held %s could not be published", event_type)
        finally:
            self._trailing.pop(event_type, None)

    def close(self) -> None:
        """Cancel the trailing-edge timers (the bus is stopping)."""
        for task in tuple(self._trailing.values()):
            task.cancel()
        self._trailing.clear()

    def _accept(self, draft: Draft) -> Event:
        event = make_event(draft, self.seq + 1, self.clock.monotonic(), self.clock.time())
        self.seq = event.seq
        self.metrics_collected += 1
        self._append(event)
        self._latest[event.type] = event
        self._backlog.append(event)
        if self._dispatching is None:
            self._drain()
        return event

    def _append(self, event: Event) -> None:
        ring = self._ring
        if len(ring) == ring.maxlen:
            self.ring_bytes -= len(ring[0].raw)  # about to fall out of the deque
        ring.append(event)
        self.ring_bytes += len(event.raw)
        while self.ring_bytes > self.ring_bytes_limit and len(ring) > 1:
            self.ring_bytes -= len(ring.popleft().raw)

    def _publish_test(self, draft: Draft) -> Event:
        """A test event: to the test listeners and the subscriptions that asked, nowhere else."""
        event = make_event(draft, 0, self.clock.monotonic(), self.clock.time())
        for listener in self._test_listeners:
            try:
                listener(event)
            except Exception:
                log.exception("test listener %r failed on %s", listener, event.type)
        for sub in tuple(self._subscriptions):
            if sub.include_test:
                sub.offer(event)
                if sub.closed_reason is not None:
                    self._subscriptions.discard(sub)
        return event

    def publish_obj(self, obj: Any, where: str = "event") -> Event | None:
        """Validate a decoded JSON object and publish it (raises EventError)."""
        return self.publish(validate(obj, where))

    def emit(
        self, event_type: str, data: Mapping[str, Any], timestamp: str | None = None,
        origin: str | None = None,
    ) -> Event | None:
        """Publish from in-process code (simulator, alerts, rules).

        Without an `origin`, an event a listener emits takes the origin of the event it derives from
        (a demo kill's alert is a demo alert); otherwise it is live.
        """
        if origin is None:
            origin = self._dispatching.origin if self._dispatching is not None else LIVE
        elif origin not in ORIGINS:
            raise ValueError(f"origin {origin!r} is not one of {sorted(ORIGINS)}")
        return self.publish(Draft(event_type, dict(data), timestamp, origin))

    def _drain(self) -> None:
        # Events published by listeners are dispatched after the current one, in Seq order.
        try:
            while self._backlog:
                event = self._backlog.popleft()
                self._dispatching = event
                for listener in self._listeners:
                    try:
                        listener(event)
                    except Exception:
                        log.exception("listener %r failed on %s #%d", listener, event.type, event.seq)
                for sub in tuple(self._subscriptions):
                    sub.offer(event)
                    if sub.closed_reason is not None:
                        self._subscriptions.discard(sub)
        finally:
            self._dispatching = None

    # -- consuming -------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event)` synchronously for every event; it must be quick and not block."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_test_listener(self, listener: Listener) -> None:
        """Call `listener(event)` for every test-origin event (and only those)."""
        self._test_listeners.append(listener)

    def subscribe(
        self,
        types: Iterable[str] | None = None,
        since_seq: int | None = None,
        limit: int | None = None,
        name: str = "",
        include_test: bool = False,
    ) -> Subscription:
        """A queue of events from now on (or from after `since_seq`, out of the ring buffer).

        `include_test=True` (overlay previews) also delivers test-origin events, which have no Seq.
        """
        sub = Subscription(frozenset(types) if types is not None else None,
                           limit or self.queue_limit, name, include_test)
        if since_seq is not None:
            sub.prefill(self.since(since_seq))
        sub.last_seq = since_seq if since_seq is not None else self.seq
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    @property
    def subscriptions(self) -> frozenset[Subscription]:
        return frozenset(self._subscriptions)

    # -- reading -----------------------------------------------------------------------------
    @property
    def oldest_seq(self) -> int:
        """The Seq of the oldest event still in the ring buffer (seq+1 when it is empty)."""
        return self._ring[0].seq if self._ring else self.seq + 1

    def since(self, seq: int) -> list[Event]:
        """Events with Seq greater than `seq` still in the ring buffer, oldest first."""
        if not self._ring or seq >= self.seq:
            return []
        start = max(0, seq + 1 - self._ring[0].seq)
        return list(islice(self._ring, start, None))

    def latest(self, event_type: str) -> Event | None:
        return self._latest.get(event_type)

    def latest_by_type(self) -> dict[str, Event]:
        return dict(self._latest)

    def recent(
        self,
        count: int,
        types: frozenset[str] | None = None,
        since_timestamp: str | None = None,
    ) -> list[Event]:
        """The last `count` events matching the filter, oldest first."""
        out: list[Event] = []
        for event in reversed(self._ring):
            if since_timestamp is not None and event.timestamp <= since_timestamp:
                break
            if types is None or event.type in types:
                out.append(event)
                if len(out) >= count:
                    break
        out.reverse()
        return out

    def metrics(
        self, limit: int, types: frozenset[str] | None = None, newest_state_only: bool = False
    ) -> list[Event]:
        """The last `limit` matching events plus the newest event of every matching type, in Seq order.

        With `newest_state_only`, each state type (player_update, timing_update) counts once, as its
        newest sample, so `limit` is filled with discrete events instead of stale state samples.
        """
        if newest_state_only:
            picked: list[Event] = []
            seen: set[str] = set()
            for event in reversed(self._ring):
                if len(picked) >= limit:
                    break
                if types is not None and event.type not in types:
                    continue
                if event.is_state:
                    if event.type in seen:
                        continue
                    seen.add(event.type)
                picked.append(event)
        else:
            picked = self.recent(limit, types)
        chosen = {e.seq: e for e in picked}
        for event_type, event in self._latest.items():
            if (types is None or event_type in types) and not (
                    newest_state_only and event.is_state and event_type in seen):
                chosen.setdefault(event.seq, event)
        return [chosen[s] for s in sorted(chosen)]


__all__ = ["EventError", "Hub"]
