"""A subscriber's bounded queue: every event for a reader that keeps up; for one that is behind, state
events coalesced to the latest value, discrete events kept or the reader closed."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from .events import Event

# A reader with this many events unread is behind: from here on its state events are coalesced.
COALESCE_MARK = 64


class SubscriptionClosed(Exception):
    """Raised by `get` once the subscription is closed; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Slot:
    """A queued event; a coalesced state event is switched off in place, keeping Seq order."""

    __slots__ = ("alive", "event")

    def __init__(self, event: Event) -> None:
        self.event = event
        self.alive = True


class Subscription:
    """Events for one reader, in Seq order, filtered by type.

    The writer sets `paused = True` while the reader's socket cannot take more (and back to False when
    it drains); a paused reader, or one with `coalesce_mark` events unread, is behind, and only then is
    a state event allowed to replace the unread one of its type. `include_test` readers (overlay
    previews) are also offered test-origin events, which never count against `last_seq`.
    """

    def __init__(self, types: frozenset[str] | None, limit: int, name: str = "",
                 include_test: bool = False, coalesce_mark: int = COALESCE_MARK) -> None:
        self.types = types
        self.limit = limit
        self.name = name
        self.include_test = include_test
        self.coalesce_mark = coalesce_mark
        self.paused = False
        self.last_seq = 0
        self.delivered = 0
        self.coalesced = 0
        self.closed_reason: str | None = None
        self._queue: deque[_Slot] = deque()
        # The newest unread slot of each state type (test samples apart from real ones).
        self._pending_state: dict[tuple[str, str], _Slot] = {}
        self._discrete = 0
        self._state = 0  # live state slots in the queue
        self._waiter: asyncio.Future[None] | None = None

    def wants(self, event_type: str) -> bool:
        return self.types is None or event_type in self.types

    def set_types(self, types: frozenset[str] | None) -> None:
        """Change the filter (subscribe/unsubscribe); events already queued stay."""
        self.types = types

    @property
    def backlog(self) -> int:
        """Events waiting to be read."""
        return self._discrete + self._state

    @property
    def behind(self) -> bool:
        """Not keeping up: the socket is paused or the queue is over its mark."""
        return self.paused or self.backlog >= self.coalesce_mark

    def offer(self, event: Event, bounded: bool = True) -> None:
        """Queue an event (the hub calls this); closes the reader if discrete events overflow."""
        if self.closed_reason is not None or not self.wants(event.type):
            return
        slot = _Slot(event)
        if event.is_state:
            key = (event.type, event.origin)
            previous = self._pending_state.get(key)
            if previous is not None and self.behind:
                previous.alive = False
                self.coalesced += 1
                self._state -= 1
            self._pending_state[key] = slot
            self._state += 1
        else:
            if bounded and self._discrete >= self.limit:
                self.close(
                    f"too far behind: {self._discrete} events unread; "
                    f"reconnect with since_seq={self.last_seq} to resume"
                )
                return
            self._discrete += 1
        self._queue.append(slot)
        self._wake()

    def prefill(self, events: Iterable[Event]) -> None:
        """Queue events from the ring buffer (resume or backfill) before live ones.

        The backlog is already in memory, so it does not count against the live limit.
        """
        before = self._discrete
        for event in events:
            self.offer(event, bounded=False)
        self.limit += self._discrete - before

    def get_nowait(self, max_events: int = 256) -> list[Event]:
        """Take up to `max_events` queued events without waiting."""
        out: list[Event] = []
        queue = self._queue
        while queue and len(out) < max_events:
            slot = queue.popleft()
            if not slot.alive:
                continue
            event = slot.event
            if event.is_state:
                self._state -= 1
                key = (event.type, event.origin)
                if self._pending_state.get(key) is slot:
                    del self._pending_state[key]
            else:
                self._discrete -= 1
            out.append(event)
        if out:
            # Test events carry no Seq (0): the resume point is the last real one.
            last = out[-1].seq or max(e.seq for e in out)
            self.last_seq = max(self.last_seq, last)
            self.delivered += len(out)
        return out

    async def get_batch(self, max_events: int = 256) -> list[Event]:
        """Wait for at least one event; raise SubscriptionClosed once closed and drained."""
        while True:
            batch = self.get_nowait(max_events)
            if batch:
                return batch
            await self._wait_for_more()

    async def get(self) -> Event:
        """Wait for the next event."""
        while True:
            batch = self.get_nowait(1)
            if batch:
                return batch[0]
            await self._wait_for_more()

    async def _wait_for_more(self) -> None:
        if self.closed_reason is not None:
            raise SubscriptionClosed(self.closed_reason)
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def close(self, reason: str) -> None:
        """Stop accepting events; queued ones are dropped and the reader is told why."""
        if self.closed_reason is None:
            self.closed_reason = reason
            self._queue.clear()
            self._pending_state.clear()
            self._discrete = 0
            self._state = 0
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
