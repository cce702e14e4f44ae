"""The hub: every producer calls `publish`; every consumer is a listener or a subscription."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from .clock import Clock, SystemClock
from .collection import CollectionPolicy
from .events import Draft, Event, EventError, make_event, validate
from .subscription import Subscription

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class Hub:
    """Assigns `Seq`, keeps the ring buffer and the latest event of each type, and fans out."""

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
        self._subscriptions: set[Subscription] = set()
        self._backlog: deque[Event] = deque()
        self._dispatching = False

    # -- producing -------------------------------------------------------------------------
    def publish(self, draft: Draft, thin: bool = True) -> Event | None:
        """Accept a validated event; returns it, or None if collection settings filter it out.

        `thin=False` skips the `player_update` rate thinning (replayed recordings).
        Raises EventError if the serialized event is too large.
        """
        if not self.policy.allows(draft.type, self.clock.monotonic(), thin):
            return None
        event = make_event(draft, self.seq + 1, self.clock.monotonic(), self.clock.time())
        self.seq = event.seq
        self.metrics_collected += 1
        self._append(event)
        self._latest[event.type] = event
        self._backlog.append(event)
        if not self._dispatching:
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

    def publish_obj(self, obj: Any, where: str = "event") -> Event | None:
        """Validate a decoded JSON object and publish it (raises EventError)."""
        return self.publish(validate(obj, where))

    def emit(
        self, event_type: str, data: Mapping[str, Any], timestamp: str | None = None
    ) -> Event | None:
        """Publish from in-process code (simulator, alerts, rules)."""
        return self.publish(Draft(event_type, dict(data), timestamp))

    def _drain(self) -> None:
        # Events published by listeners are dispatched after the current one, in Seq order.
        self._dispatching = True
        try:
            while self._backlog:
                event = self._backlog.popleft()
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
            self._dispatching = False

    # -- consuming -------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event)` synchronously for every event; it must be quick and not block."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def subscribe(
        self,
        types: Iterable[str] | None = None,
        since_seq: int | None = None,
        limit: int | None = None,
        name: str = "",
    ) -> Subscription:
        """A queue of events from now on (or from after `since_seq`, out of the ring buffer)."""
        sub = Subscription(frozenset(types) if types is not None else None,
                           limit or self.queue_limit, name)
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
