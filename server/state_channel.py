"""The state channel: the session state pushed to overlays over the WebSocket (`/ws?state=1`).

A page connects to the stream with `state=1` (the gate admits it like any stream connection; the token
comes in `?token=`). It then gets, on one socket:

- `{"type": "state", "rev": N, "seq": S, "server_now": T, "server_time": W, "state": {...}}`: the full
  document
  (`dxbus.state_view.state_document`: `/api/state` plus `segments`, `practice` and `timers`), first on
  connect and again whenever the page asks (`{"type": "resync"}`) or fell too far behind;
- `{"type": "state_patch", "rev": N, "base": B, "server_now": T, "server_time": W, "event_time": E,
  "changes": {...}}`: the top-level keys that changed since revision `B` (`E`: the wall-clock publish
  time of the oldest event folded into the revisions after `B`, null when only the clock changed them).
  A page whose revision is not `B` has missed one and asks for a full state (`resync`);
- the events it asked for with `types=` (damage numbers, alerts, `overlay_reload`), as the plain stream
  sends them (`since_seq=` resumes them after a drop). A page that draws only events adds
  `state_every=slow` and gets a patch at most every `SLOW_STATE` seconds.

The document is computed once per loop iteration in which something was published (not per event,
not per client), and only while someone listens. Each client is written by its own task, which sends
only the newest merged change: a slow reader (socket over its high-water mark) gets nothing until it
drains and then one patch covering everything it missed, so it never holds a backlog of states.

`state=1&include_test=1` (gallery previews, `?preview=1` pages) serves `bus.test_state`, the sandbox
the test events feed, and the test events themselves; every other page gets the real `bus.state`
and never sees a test event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from .events import Event
from .overlay_health import OverlayHealth
from .parts import Part
from .security import presented_token
from .state_model import SessionState
from .state_view import Section, changed_keys, state_document
from .subscription import Subscription
from .ws_frames import negotiates_deflate
from .ws_protocol import StreamRequestError, parse_query  # the stream's own URL rules

if TYPE_CHECKING:
    from .bus import Bus

log = logging.getLogger(__name__)

CLOSE_AUTH_FAILED = 4401
CLOSE_POLICY = 1008
HISTORY = 64  # patches kept per feed: a client further behind gets a full state
# How often the document is looked at when nothing is published (a kill settling on its timer, a
# practice target set over HTTP); bus clock seconds.
IDLE_REFRESH = 0.25
# Patches at most this often (bus clock seconds) to a page that draws events, not state (`state_every=slow`:
# the damage numbers, the alerts). It needs the first full state (which events are replays) and a few
# patches (its draw reports); a patch per hit doubled its messages at 1,000 hits/s. The idle refresh
# wakes it at least this often, so the newest state still arrives.
SLOW_STATE = 0.25


def wants_state(query: Mapping[str, str]) -> bool:
    """Whether a stream connect URL asks for the state channel (`state=1`)."""
    return query.get("state", "").strip().lower() in ("1", "true", "yes")


class StateFeed:
    """One state's document, its revision and its recent patches (the real state, or the sandbox)."""

    def __init__(self, channel: StateChannel, name: str, state: SessionState) -> None:
        self.channel = channel
        self.name = name
        self.state = state
        self.rev = 0
        self.doc: dict[str, Any] = {}
        # (revision, keys it changed, wall time of the first event folded into it or None: the clock's)
        self.patches: deque[tuple[int, list[str], float | None]] = deque(maxlen=HISTORY)
        self.clients: set[StateClient] = set()

    def refresh(self, now: float, since: float | None = None) -> bool:
        """Recompute the document; True (and a new revision) if something other than time changed.

        `since`: the wall time of the oldest event published since the last refresh, if any.
        """
        doc = state_document(self.state, self.channel.sections, now)
        keys = changed_keys(self.doc, doc) if self.rev else list(doc)
        self.doc = doc
        if not keys:
            return False
        self.rev += 1
        self.patches.append((self.rev, keys, since))
        return True

    def keys_since(self, rev: int) -> list[str] | None:
        """Keys changed after revision `rev`, or None when the history no longer reaches back."""
        if rev == self.rev:
            return []
        if not self.patches or self.patches[0][0] > rev + 1:
            return None
        keys: dict[str, None] = {}
        for r, changed, _ in self.patches:
            if r > rev:
                keys.update(dict.fromkeys(changed))
        return list(keys)

    def event_time_since(self, rev: int) -> float | None:
        """Publish time (wall clock) of the oldest event in the revisions after `rev` (None: none)."""
        times = [at for r, _, at in self.patches if r > rev and at is not None]
        return min(times) if times else None


class StateChannel:
    """Keeps the feeds fresh and wakes their clients; a service (its idle refresh runs on the bus clock)."""

    name = "state-channel"

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        # Parts add sections here (`segments`, `practice`): name -> function of the monotonic now.
        self.sections: dict[str, Section] = {}
        self.feeds: dict[str, StateFeed] = {}
        self._scheduled = False
        self._since: float | None = None  # wall time of the first event since the last refresh
        self._idle: asyncio.Task[None] | None = None
        # The current asset version of an overlay by name (the overlays part sets it): a page that
        # says it has another one is stale.
        self.versions: Callable[[str], str | None] | None = None

    def feed(self, test: bool) -> StateFeed | None:
        """The feed a client gets (None while the bus has no such state)."""
        name = "test" if test else "live"
        state = self.bus.test_state if test else self.bus.state
        if state is None:
            return None
        feed = self.feeds.get(name)
        if feed is None or feed.state is not state:
            feed = self.feeds[name] = StateFeed(self, name, state)
            feed.refresh(self.bus.clock.monotonic())
        return feed

    # -- change notification ------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Hub listener (real and test events): refresh once this loop iteration's publishing is done.

        The pages that asked for this event are woken first, so their writers send it before the
        document is recomputed: a damage number does not wait for the state (its patch follows).
        """
        for feed in self.feeds.values():
            for client in feed.clients:
                if client.sub is not None and client.sub.wants(event.type):
                    client.wake.set()
        self.changed()
        if self._scheduled and self._since is None:  # the first event this coming refresh folds in
            clock = self.bus.clock
            self._since = clock.time() - (clock.monotonic() - event.received)  # its publish, wall clock

    def changed(self, *_: Any) -> None:
        """Something may have changed: refresh the feeds with clients, once, soon."""
        if self._scheduled:
            return
        for feed in self.feeds.values():  # a loop, not any(<genexpr>): this runs for every event and fact
            if feed.clients:
                break
        else:
            return
        self._scheduled = True
        try:
            loop = asyncio.get_running_loop()
            # Two hops: the event writers scheduled by this publish (the stream's flush, the pages
            # `on_event` woke) write first, and the document is recomputed after them.
            loop.call_soon(loop.call_soon, self.flush)
        except RuntimeError:  # no loop (a tool publishing synchronously): nobody is listening
            self._scheduled = False

    def flush(self) -> None:
        """Recompute each listened-to document; wake its clients (they also have events to send)."""
        self._scheduled = False
        now = self.bus.clock.monotonic()
        since, self._since = self._since, None
        for feed in self.feeds.values():
            if not feed.clients:
                continue
            feed.refresh(now, since)
            for client in feed.clients:
                client.wake.set()

    async def start(self) -> None:
        self._idle = asyncio.create_task(self._idle_refresh(), name="state-channel idle refresh")

    async def stop(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._idle
            self._idle = None

    async def _idle_refresh(self) -> None:
        while True:
            await self.bus.clock.sleep(IDLE_REFRESH)
            self.changed()

    def overlays(self) -> list[dict[str, object]]:
        """`/api/status` `connected_overlays`: every connected page and what it reported."""
        now = self.bus.clock.monotonic()
        return [{**client.health.report(now, self._current_version(client.health.overlay)), "feed": name}
                for name, feed in self.feeds.items() for client in feed.clients]

    def _current_version(self, overlay: str | None) -> str | None:
        if overlay is None or self.versions is None:
            return None
        try:
            return self.versions(overlay)
        except Exception:  # a status request never fails on a broken user overlay folder
            log.exception("overlay version of %s", overlay)
            return None

    # -- connections --------------------------------------------------------------------------
    async def serve(self, request: web.Request) -> web.StreamResponse:
        """Serve one state-channel connection (the caller, the stream handler, has asked the gate)."""
        # Deflate as the stream does (`[WebSocket] Compression`): not over loopback, where OBS and the
        # overlays usually are; aiohttp's default deflated every hit for the page to inflate again.
        compress = negotiates_deflate(self.bus.config.web_socket.compression, request.remote)
        ws = web.WebSocketResponse(heartbeat=30.0, timeout=5.0, max_msg_size=64 * 1024, compress=compress)
        await ws.prepare(request)
        try:
            query = parse_query(request.query)
        except StreamRequestError as exc:
            await _send(ws, {"type": "error", "error": {"code": "BAD_PARAMETER", "message": str(exc)}})
            await ws.close(code=CLOSE_POLICY, message=str(exc)[:120].encode())
            return ws
        token = self.bus.config.security.auth_token
        if token:
            presented = presented_token(request.headers, request.query)
            if not (isinstance(presented, str) and self.bus.gate.token_ok(presented)):
                why = "wrong token" if presented else "no token: add ?token= to the overlay URL"
                await _send(ws, {"type": "error", "error": {"code": "AUTH_FAILED",
                                                            "message": f"authentication failed: {why}"}})
                await ws.close(code=CLOSE_AUTH_FAILED, message=f"authentication failed: {why}".encode())
                return ws
        feed = self.feed(query.include_test)
        if feed is None:
            await _send(ws, {"type": "error", "error": {"code": "STARTING",
                                                        "message": "the session state is not ready yet"}})
            await ws.close(code=1013, message=b"starting")
            return ws
        client = StateClient(self, feed, ws, request, query.types, query.since_seq, query.include_test)
        if request.query.get("state_every") == "slow":
            client.patch_every = SLOW_STATE
        self.bus.connections["websocket"] += 1
        try:
            await client.run()
        finally:
            self.bus.connections["websocket"] -= 1
        return ws


@dataclass(frozen=True)
class Limits:
    """Flow control of one client: bytes buffered before it counts as behind, and when it drained."""

    high_water: int = 256 * 1024
    low_water: int = 64 * 1024
    poll: float = 0.02
    batch: int = 256


class StateClient:
    """One overlay's connection: state revisions and the events it asked for, newest state only."""

    def __init__(self, channel: StateChannel, feed: StateFeed, ws: web.WebSocketResponse,
                 request: web.Request, types: frozenset[str] | None, since_seq: int | None,
                 include_test: bool, limits: Limits | None = None) -> None:
        self.channel = channel
        self.feed = feed
        self.ws = ws
        self.request = request
        self.limits = limits or Limits()
        self.wake = asyncio.Event()
        self.rev: int | None = None  # revision the page has; None: it needs a full state
        self.sub: Subscription | None = None
        self.types = types
        self.since_seq = since_seq
        self.include_test = include_test
        self.full_sent = 0
        self.patches_sent = 0
        self.patch_every = 0.0  # seconds between patches at most (0: every revision)
        self.patched_at: float | None = None
        self.health = OverlayHealth(remote=request.remote, connected_at=channel.bus.clock.monotonic())

    async def run(self) -> None:
        """Send the first full state, then follow the feed and the events until either side closes."""
        hub = self.channel.bus.hub
        # Only pages that name types get events (an overlay that renders state alone needs none).
        if self.types is not None:
            self.sub = hub.subscribe(types=self.types, since_seq=self.since_seq,
                                     name=f"state {self.request.remote}", include_test=self.include_test)
        self.feed.clients.add(self)
        self.feed.refresh(self.channel.bus.clock.monotonic())
        await self._send_full(seq=hub.seq)
        self.wake.set()  # the since_seq replay, at once
        writer = asyncio.create_task(self._write_loop(), name="state-channel writer")
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_message(msg.data)
        finally:
            self.feed.clients.discard(self)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            if self.sub is not None:
                hub.unsubscribe(self.sub)

    async def _on_message(self, text: str) -> None:
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            msg = None
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "ping":
            await _send(self.ws, {"type": "pong", **({"id": msg["id"]} if "id" in msg else {})})
        elif kind == "resync":
            self.rev = None  # the writer sends a full state next
            self.wake.set()
        elif kind == "hello":
            self.health.hello(msg.get("page"), msg.get("warnings"), msg.get("overlay"), msg.get("version"))
        elif kind == "painted":
            self.health.painted(msg.get("server_now"), self.channel.bus.clock.monotonic())
        elif kind in ("pong", "auth"):
            pass
        else:
            await _send(self.ws, {"type": "error", "error": {
                "code": "UNKNOWN_MESSAGE",
                "message": "the state channel understands ping, resync, hello and painted"}})

    async def _write_loop(self) -> None:
        limits = self.limits
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                sub = self.sub
                if sub is not None:
                    if sub.closed_reason is not None:
                        await self.ws.close(code=CLOSE_POLICY, message=sub.closed_reason[:120].encode())
                        return
                    while batch := sub.get_nowait(limits.batch):
                        for event in batch:
                            await self.ws.send_frame(event.raw, WSMsgType.TEXT)
                await self._send_state()
                if self._buffered() > limits.high_water:
                    # Behind: the events queue coalesces state, and the state waits for the drain,
                    # after which one patch carries everything that changed meanwhile.
                    if sub is not None:
                        sub.paused = True
                    while self._buffered() > limits.low_water:
                        await asyncio.sleep(limits.poll)
                    if sub is not None:
                        sub.paused = False
                    self.wake.set()
        except (ConnectionError, RuntimeError):
            pass  # the peer went away; the reader side cleans up

    def _buffered(self) -> int:
        transport = self.request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("socket closed")
        return transport.get_write_buffer_size()

    async def _send_state(self) -> None:
        feed = self.feed
        if self.rev == feed.rev:
            return
        base = self.rev
        keys = None if base is None else feed.keys_since(base)
        if base is None or keys is None:
            await self._send_full()
            return
        now = self.channel.bus.clock.monotonic()
        if self.patched_at is not None and now - self.patched_at < self.patch_every:
            return  # a later wake (the next event, or the idle refresh) sends it
        self.patched_at = now
        await _send(self.ws, {"type": "state_patch", "rev": feed.rev, "base": base, "server_now": now,
                              "server_time": self.channel.bus.clock.time(),  # wall clock, at the send
                              # publish-to-paint (bench/overlay_latency.py): the oldest event in it
                              "event_time": feed.event_time_since(base),
                              "changes": {k: feed.doc.get(k) for k in keys}})
        self.rev = feed.rev
        self.patches_sent += 1

    async def _send_full(self, seq: int | None = None) -> None:
        feed = self.feed
        message: dict[str, Any] = {"type": "state", "rev": feed.rev, "feed": feed.name,
                                   "server_now": self.channel.bus.clock.monotonic(), "state": feed.doc}
        if seq is not None:
            message["seq"] = seq  # events up to here are in this state (later ones are new)
        message["server_time"] = self.channel.bus.clock.time()  # wall clock: how old a replay is
        await _send(self.ws, message)
        self.rev = feed.rev
        self.full_sent += 1


async def _send(ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_frame(orjson.dumps(message), WSMsgType.TEXT)


def state_channel_part(bus: Bus) -> tuple[Part, StateChannel]:
    """The channel (plugged as `bus.state_channel`), listening to real and test events and to the facts."""
    channel = StateChannel(bus)
    # fact listener: a kill settled by the pairing timer
    part = Part("state_channel", services=[channel], listeners=[channel.on_event],
                test_listeners=[channel.on_event], fact_listeners=[channel.changed],
                status={"connected_overlays": channel.overlays})
    return part, channel


__all__ = ["HISTORY", "Limits", "StateChannel", "StateClient", "StateFeed", "state_channel_part",
           "wants_state"]
