"""The WebSocket event stream (PROTOCOL.md section 4): port 9091 (any path) and `/ws` on the 8080 app.

One handler serves both. Each connection has its own hub `Subscription` (bounded, state coalesced), so
a client that stops reading only ever fills its own queue; the hub closes that queue when it overflows
and the socket is then closed with the reason (code 1008) so the client can resume with `since_seq`.

Writing: after each loop iteration's publishes, one flush (`WebSocketStream.on_event` -> `_flush`)
writes every client's pending events with one socket write each, with no task switch per client; a
client whose socket buffer is full is paused until it drains. Publishing never waits for a socket.
Each event's frame is built once and shared (`ws_frames.FrameCache`), deflated ones too: the stream
negotiates permessage-deflate only where `[WebSocket] Compression` says it pays, and then always with
`server_no_context_takeover`, so one compressed copy serves every client. The wire protocol's parsing
and frame layout live in `ws_protocol.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from .bus import Bus
from .clock import utc_iso
from .events import Event
from .http_errors import ApiError, json_errors
from .listen import serve_app
from .parts import Part
from .security import presented_token
from .state_channel import wants_state
from .subscription import Subscription, SubscriptionClosed
from .ws_frames import FrameCache, SharedDeflateResponse, negotiates_deflate
from .ws_protocol import (
    CLOSE_AUTH_FAILED,
    CLOSE_GOING_AWAY,
    CLOSE_POLICY,
    StreamQuery,
    StreamRequestError,
    close_reason,
    error_frame,
    parse_query,
    parse_types,
    text_frame,
)

log = logging.getLogger(__name__)

WS_PATH = "/ws"
# aiohttp awaits the socket's drain once this much was written; we do our own flow control instead
# (high/low water, see `_wait_writable`), so aiohttp's is switched off.
_NO_AIOHTTP_DRAIN = 1 << 62


@dataclass(frozen=True)
class StreamOptions:
    """Timings and bounds of the stream; the defaults suit a live show, tests shrink them."""

    auth_timeout: float = 5.0  # seconds to send the auth message when a token is set (bus clock)
    heartbeat: float = 30.0  # protocol ping interval; no pong within half of it drops a dead peer
    close_timeout: float = 5.0  # how long a closing handshake may take
    batch: int = 256  # events taken from the queue per write round
    high_water: int = 256 * 1024  # socket bytes buffered before the writer pauses
    low_water: int = 64 * 1024  # ...and resumes
    poll_interval: float = 0.02  # while paused: how often to look at the socket and the queue
    max_message: int = 64 * 1024  # largest client message
    abort_after: float = 30.0  # a closed socket whose peer still reads nothing is cut after this


def _json_error(status: int, code: str, message: str) -> web.Response:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return web.Response(status=status, body=body, content_type="application/json", charset="utf-8")


class WebSocketStream:
    """The handler for every stream path; keeps the list of connected clients."""

    def __init__(self, bus: Bus, options: StreamOptions | None = None) -> None:
        self.bus = bus
        self.options = options or StreamOptions()
        self.clients: set[StreamClient] = set()
        # Streaming clients (past auth), written by one flush per loop iteration (see `on_event`).
        self.direct: set[StreamClient] = set()
        self.frames = FrameCache()  # each event's frames, built once for every client
        self._flush_scheduled = False

    def on_event(self, event: Event) -> None:
        """Hub listener: after this publish has reached every queue, flush the clients once.

        Listeners run before the queues are offered the event, so the flush is deferred to the loop;
        a burst of events published in one go is then written as one batch per client.
        """
        if self.direct and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        for client in tuple(self.direct):
            client.pump()

    @property
    def enabled(self) -> bool:
        return self.bus.config.web_socket.enable_web_socket_server

    def install(self, app: web.Application, bus: Bus) -> None:
        """Route installer for the 8080 app: the same stream at `/ws`."""
        if self.enabled:
            app.router.add_get(WS_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Upgrade, check origin, connection limit and token, then stream until either side closes."""
        opts = self.options
        compress = negotiates_deflate(self.bus.config.web_socket.compression, request.remote)
        ws = SharedDeflateResponse(
            compress=compress, heartbeat=opts.heartbeat, timeout=opts.close_timeout,
            max_msg_size=opts.max_message, writer_limit=_NO_AIOHTTP_DRAIN,
        )
        if not ws.can_prepare(request).ok:
            return _json_error(400, "WEBSOCKET_REQUIRED",
                               "this is the event stream: connect with a WebSocket client")
        if self.bus.stopping:
            return _json_error(503, "SHUTTING_DOWN", "the bus is stopping")
        try:
            release, _ = self.bus.gate.admit_stream(request.headers, request.remote or "unknown")
        except ApiError as err:  # Host, Origin, rate, the stream budget: the one gate's verdict
            return _json_error(err.status, err.code, err.message)
        try:
            channel = self.bus.state_channel
            if channel is not None and wants_state(request.query):
                return await channel.serve(request)  # `state=1`: the overlays' state channel
            await ws.prepare(request)
            client = StreamClient(self, request, ws)
            self.clients.add(client)
            self.bus.connections["websocket"] += 1
            try:
                await client.run()
            finally:
                self.clients.discard(client)
                self.bus.connections["websocket"] -= 1
        finally:
            release()
        return ws

    async def close_all(self, reason: str = "server shutting down") -> None:
        """Close every client (going away), e.g. on shutdown."""
        await asyncio.gather(*(c.close(CLOSE_GOING_AWAY, reason) for c in tuple(self.clients)),
                             return_exceptions=True)

    def status(self) -> dict[str, Any]:
        """Connected clients, for `/api/status` and the dashboard."""
        return {
            "enabled": self.enabled,
            "port": self.bus.ports.get("websocket"),
            "clients": [c.describe() for c in tuple(self.clients)],
        }


class StreamClient:
    """One connection: the reader (client messages, here) and the event writing (`pump`)."""

    def __init__(self, stream: WebSocketStream, request: web.Request, ws: web.WebSocketResponse):
        self.stream = stream
        self.bus = stream.bus
        self.options = stream.options
        self.ws = ws
        self.request = request
        self.transport = request.transport
        peer = self.transport.get_extra_info("peername") if self.transport else None
        address = f"{peer[0]}:{peer[1]}" if peer else (request.remote or "unknown")
        self.name = f"{address} {request.path}"
        self.connected_at = self.bus.clock.monotonic()
        self.authenticated = not self.bus.config.security.auth_token
        self.sub: Subscription | None = None
        self._query: StreamQuery | None = None
        # The negotiated deflate window (0: frames go uncompressed); set once the socket is prepared.
        self.wbits = int(ws.compress)
        self._deadline: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[Any] | None = None  # the task closing the socket, once one is
        self._paused = False  # waiting for its socket to drain
        self._tasks: set[asyncio.Task[None]] = set()  # the drain watch or a close

    # -- life cycle -------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve the connection until it closes."""
        try:
            self._query = parse_query(self.request.query)
        except StreamRequestError as exc:
            await self._send(error_frame("BAD_PARAMETER", str(exc)))
            await self.close(CLOSE_POLICY, str(exc))
            return
        try:
            if not self.authenticated:
                presented = presented_token(self.request.headers, self.request.query)
                if presented is not None:
                    if not self._check_token(presented):
                        await self._fail_auth("wrong token")
                        return
                else:
                    self._deadline = asyncio.create_task(self._auth_deadline())
            if self.authenticated:
                self._start_stream()
            await self._read_loop()
        finally:
            await self._finish()

    async def _read_loop(self) -> None:
        async for msg in self.ws:
            if msg.type == WSMsgType.TEXT:
                await self._on_message(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await self._send(error_frame("BAD_MESSAGE", "send JSON text frames, not binary"))
            # ERROR and CLOSE end the iteration by themselves.

    async def _finish(self) -> None:
        closer = self._closer
        if closer is not None and closer is not asyncio.current_task() and not closer.done():
            # Another task is closing the socket with a reason: let that handshake finish.
            await asyncio.wait({closer}, timeout=self.options.close_timeout + 1)
        self.stream.direct.discard(self)
        for task in (self._deadline, *self._tasks):
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.sub is not None:
            self.bus.hub.unsubscribe(self.sub)
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()
        if transport is not None and transport.get_write_buffer_size():
            # A peer that reads nothing would keep the socket (and its buffer) forever.
            asyncio.get_running_loop().call_later(self.options.abort_after, transport.abort)

    async def close(self, code: int, reason: str) -> None:
        """Close with a code and a reason the client can read (at most 123 bytes)."""
        if self._closer is not None or self.ws.closed:
            return
        self._closer = asyncio.current_task()
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=close_reason(reason), drain=False)

    # -- auth -------------------------------------------------------------------------------
    def _check_token(self, presented: Any) -> bool:
        if isinstance(presented, str) and self.bus.gate.token_ok(presented):
            self.authenticated = True
        return self.authenticated

    async def _fail_auth(self, why: str) -> None:
        log.info("websocket %s: authentication failed (%s)", self.name, why)
        await self._send(error_frame("AUTH_FAILED", f"authentication failed: {why}"))
        await self.close(CLOSE_AUTH_FAILED, f"authentication failed: {why}")

    async def _auth_deadline(self) -> None:
        await self.bus.clock.sleep(self.options.auth_timeout)
        if not self.authenticated:
            await self._fail_auth(
                f"no token: add ?token= to the URL or send {{\"type\":\"auth\",\"token\":...}} "
                f"within {self.options.auth_timeout:g} s"
            )

    # -- events out -------------------------------------------------------------------------
    def _start_stream(self) -> None:
        """Snapshot and subscribe in one step (no await between), so nothing is missed or doubled."""
        query = self._query
        assert query is not None and self.transport is not None
        first = self._snapshot(query.types) if query.snapshot else None
        self.sub = self.bus.hub.subscribe(types=query.types, since_seq=query.since_seq, name=self.name,
                                          include_test=query.include_test)
        if first is not None:
            self.transport.write(self.stream.frames.build(first, self.wbits))
        self.stream.direct.add(self)
        self.pump()  # the since_seq replay, at once

    def pump(self) -> None:
        """Write what this client's queue holds, one socket write per batch, without waiting.

        Called by the stream's flush after events were published. When the socket buffer passes
        the high-water mark the client is paused until it drains (`_resume_when_writable`); the hub
        keeps queueing meanwhile and gives up on the client if it falls too far behind.
        """
        sub = self.sub
        transport = self.transport
        if self._paused or self._closer is not None or sub is None or transport is None:
            return
        if sub.closed_reason is not None:
            self._paused = True
            self._background(self._close_behind(sub.closed_reason))
            return
        if transport.is_closing():
            return
        high_water = self.options.high_water
        frame = self.stream.frames.frame
        wbits = self.wbits
        while batch := sub.get_nowait(self.options.batch):
            transport.write(b"".join([frame(event, wbits) for event in batch]))
            if transport.get_write_buffer_size() > high_water:
                self._paused = sub.paused = True  # a paused reader is behind: its state is coalesced
                self._background(self._resume_when_writable())
                return

    async def _resume_when_writable(self) -> None:
        try:
            await self._wait_writable()
        except SubscriptionClosed as exc:
            await self._close_behind(exc.reason)
            return
        except ConnectionError:
            return
        self._paused = False
        if self.sub is not None:
            self.sub.paused = False
        self.pump()

    async def _close_behind(self, reason: str) -> None:
        log.info("websocket %s closed: %s", self.name, reason)
        await self.close(CLOSE_POLICY, reason)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=f"ws {self.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _snapshot(self, types: frozenset[str] | None) -> bytes:
        hub = self.bus.hub
        state: Any = {}
        session = getattr(self.bus, "state", None)
        if session is not None:
            try:
                state = session.snapshot()
            except Exception:  # the stream must not depend on another part being healthy
                log.exception("session state snapshot failed; sending an empty state")
        latest = {t: orjson.Fragment(e.raw) for t, e in hub.latest_by_type().items()
                  if types is None or t in types}
        return orjson.dumps({
            "Timestamp": utc_iso(self.bus.clock.time()),
            "EventType": "bus_snapshot",
            "Data": {"state": state, "latest": latest},
            "Seq": hub.seq,
        })

    def _buffered(self) -> int:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("socket closed")
        return transport.get_write_buffer_size()

    async def _wait_writable(self) -> None:
        """Wait for the socket buffer to drain, while watching the hub give up on this reader.

        Only a client that is not keeping up gets here; the hub keeps queueing for it (coalescing
        state) and closes the subscription once it is too far behind, which this notices.
        """
        sub = self.sub
        assert sub is not None
        while self._buffered() > self.options.low_water:
            if sub.closed_reason is not None:
                raise SubscriptionClosed(sub.closed_reason)
            await asyncio.sleep(self.options.poll_interval)

    # -- messages in ------------------------------------------------------------------------
    async def _on_message(self, text: str) -> None:
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            await self._send(error_frame("BAD_JSON", f"message is not JSON: {exc}"))
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        if not isinstance(kind, str):
            await self._send(error_frame("BAD_MESSAGE", 'a message is a JSON object with a string "type"'))
            return
        kind = kind.lower()
        if kind in ("auth", "authenticate"):
            await self._on_auth(msg)
        elif not self.authenticated:
            await self._fail_auth(f'the first message must be {{"type":"auth"}}, got {kind[:40]!r}')
        elif kind == "ping":
            reply: dict[str, Any] = {"type": "pong"}
            if "id" in msg:
                reply["id"] = msg["id"]
            await self._send(orjson.dumps(reply))
        elif kind == "pong":
            pass  # answers to a ping the client thinks we sent (the original mod did)
        elif kind in ("subscribe", "unsubscribe"):
            await self._on_subscribe(kind, msg)
        else:
            await self._send(error_frame(
                "UNKNOWN_MESSAGE",
                f"unknown message type {kind[:40]!r}; known: auth, subscribe, unsubscribe, ping",
            ))

    async def _on_auth(self, msg: dict[str, Any]) -> None:
        if self.authenticated:
            await self._send(b'{"type":"authenticated","success":true}')
            return
        if not self._check_token(msg.get("token", msg.get("authentication"))):
            await self._fail_auth("wrong token")
            return
        if self._deadline is not None:
            self._deadline.cancel()
        await self._send(b'{"type":"authenticated","success":true}')
        self._start_stream()

    async def _on_subscribe(self, kind: str, msg: dict[str, Any]) -> None:
        sub = self.sub
        assert sub is not None
        raw = msg.get("types", msg.get("events"))
        try:
            if not isinstance(raw, list | str):
                raise StreamRequestError("types", "required: a list of event types")
            wanted = parse_types(raw, "types")
        except StreamRequestError as exc:
            await self._send(error_frame("BAD_MESSAGE", f"{kind}: {exc}"))
            return
        current = sub.types
        if kind == "subscribe":
            # An unfiltered stream narrows to what is asked for; a filtered one widens.
            new = None if wanted is None else wanted if current is None else current | wanted
        elif wanted is None:
            new = frozenset()
        elif current is None:
            await self._send(error_frame(
                "BAD_MESSAGE",
                "unsubscribe: this stream has no type filter; subscribe to the types you want instead",
            ))
            return
        else:
            new = current - wanted
        sub.set_types(new)
        reply = {"type": f"{kind}d", "types": None if new is None else sorted(new)}
        await self._send(orjson.dumps(reply))

    async def _send(self, frame: bytes) -> None:
        """A direct reply (not an event); a client that reads none of them is dropped.

        Written uncompressed even to a deflate client (allowed: RFC 7692 section 6), so no client
        ever needs a compressor of its own.
        """
        if self.ws.closed or self._closer is not None:
            return
        try:
            if self._buffered() > 2 * self.options.high_water:
                await self.close(CLOSE_POLICY, "not reading: replies are piling up")
                return
            assert self.transport is not None
            self.transport.write(text_frame(frame))
        except (ConnectionError, RuntimeError):
            pass

    def describe(self) -> dict[str, Any]:
        """What the dashboard shows about this client."""
        sub = self.sub
        return {
            "name": self.name,
            "path": self.request.path,
            "authenticated": self.authenticated,
            "compressed": bool(self.ws.compress),
            "types": None if sub is None or sub.types is None else sorted(sub.types),
            "delivered": sub.delivered if sub else 0,
            "coalesced": sub.coalesced if sub else 0,
            "backlog": sub.backlog if sub else 0,
            "connected_seconds": round(self.bus.clock.monotonic() - self.connected_at, 3),
        }


class WebSocketService:
    """The stream's own port (`[WebSocket] Port`, 9091), answering on every path."""

    name = "websocket"

    def __init__(self, bus: Bus, stream: WebSocketStream) -> None:
        self.bus = bus
        self.stream = stream
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind the port (0 picks a free one; the real one goes to `bus.ports["websocket"]`)."""
        if not self.stream.enabled:
            return
        app = web.Application(middlewares=[json_errors])
        app.router.add_route("GET", "/{tail:.*}", self.stream.handle)
        host = self.bus.config.http.bind_address or "127.0.0.1"
        self._runner, self.bus.ports["websocket"] = await serve_app(
            app, host, self.bus.config.web_socket.port, "[WebSocket] Port or use --ws-port",
            gate=self.bus.gate, name="websocket")
        log.info("WebSocket stream on %s", self.bus.url("websocket"))

    async def stop(self) -> None:
        """Tell every client (here and at /ws) the server is going away, then release the port."""
        await self.stream.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def websocket_part(bus: Bus, options: StreamOptions | None = None) -> Part:
    """The stream: its port, its hub listener, the `/ws` route, and its status."""
    stream = WebSocketStream(bus, options)
    # Test events (gallery previews) need a flush too.
    return Part("websocket", services=[WebSocketService(bus, stream)], listeners=[stream.on_event],
                test_listeners=[stream.on_event], routes=[stream.install],
                status={"websocket": stream.status})
