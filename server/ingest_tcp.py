"""The persistent ingest: NDJSON events over one long-lived TCP connection (`[Ingest]`, docs/ingest.md).

For the game and mods that publish at combat rates: one event object per line, exactly what
`POST /api/events` takes, validated the same way (`ingest.publish_one`), with no HTTP request per
event. Nothing is answered for a good line; a bad one gets `{"line": N, "error": "..."}` back
(N counts this connection's lines from 1). Control lines are objects with a `"control"` key:
`{"control":"auth","token":...}` (first, when `[Security] AuthToken` is set) and
`{"control":"sync","id":...}`, answered with the connection's counts once every line before it is
published (so a sender knows where it stands without an answer per event).

The one gate (`dxbus.gate`) decides as on every port: the port's socket budget, the per-IP budget and
rate of kind `ingest`, the token in constant time. Host and Origin do not apply to a raw TCP port;
a web page can only reach it with an HTTP request, so a connection whose first line is not JSON
(`POST / HTTP/1.1`) is closed before anything is read as an event.

Reading is bulk: each read is split into lines at once and decoded line by line; a large read is
published in slices of `SLICE` lines, one slice per loop iteration, with the socket paused
meanwhile, so a flood never holds up the stream or the HTTP port for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson

from .bus import Bus
from .events import MAX_EVENT_BYTES, EventError, validate
from .http_errors import ApiError
from .parts import Part

log = logging.getLogger(__name__)

SLICE = 2000  # lines published per loop iteration
MAX_LINE = MAX_EVENT_BYTES  # bytes; a longer line is reported and skipped
MAX_REPORTED = 10_000  # error lines per connection; later failures are only counted


def _line_error(number: int, message: str) -> bytes:
    return orjson.dumps({"line": number, "error": message}) + b"\n"


def _error(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}}) + b"\n"


class IngestConnection(asyncio.Protocol):
    """One sender: lines in, published in order; errors and sync answers out."""

    def __init__(self, service: IngestService) -> None:
        self.service = service
        self.bus = service.bus
        self.transport: asyncio.Transport | None = None
        self.ip = "unknown"
        self.name = "unknown"
        self.authenticated = not self.bus.config.security.auth_token
        self.first = True  # no line seen yet: it must be JSON (not an HTTP request)
        self.buf = bytearray()
        self.skipping = False  # inside an overlong line, dropping bytes until its newline
        self.pending: list[bytes] = []  # lines read but not yet published
        self.at = 0  # the next pending line to publish
        self.line = 0  # lines seen on this connection
        self.accepted = self.rejected = self.filtered = self.reported = 0
        self.last_seq: int | None = None
        self._admitted = False
        self._closing = False
        self._paused_reading = False
        self._writing_paused = False
        self._deadline: asyncio.Task[None] | None = None

    # -- life cycle -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.ip, self.name = peer[0], f"{peer[0]}:{peer[1]}"
        gate = self.bus.gate
        if not gate.port_budget("ingest").admit():
            transport.abort()  # over MaxConnectionsPerPort: the descriptor back at once
            return
        try:
            gate.check_rate("ingest", self.ip)
            gate.acquire("ingest", self.ip)
        except ApiError as err:
            gate.port_budget("ingest").release()
            transport.write(_error(err.code, err.message))
            transport.close()
            return
        self._admitted = True
        self.bus.connections["ingest"] = self.bus.connections.get("ingest", 0) + 1
        self.service.connections.add(self)
        if not self.authenticated:
            self._deadline = asyncio.ensure_future(self._auth_deadline())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        if not self._admitted:
            return
        self._admitted = False
        self.service.connections.discard(self)
        self.service.totals(self)
        self.bus.connections["ingest"] -= 1
        self.bus.gate.release("ingest", self.ip)
        self.bus.gate.port_budget("ingest").release()

    async def _auth_deadline(self) -> None:
        await self.bus.clock.sleep(self.service.auth_timeout)
        if not self.authenticated:
            self._refuse("AUTH_REQUIRED", f"send {{\"control\":\"auth\",\"token\":...}} first, within "
                         f"{self.service.auth_timeout:g} s")

    def _refuse(self, code: str, message: str) -> None:
        """Answer with an error line and close; nothing after it is read."""
        self._closing = True
        self.pending, self.at = [], 0
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_error(code, message))
            self.transport.close()

    # -- flow control -----------------------------------------------------------------------
    def pause_writing(self) -> None:
        # The sender is not reading its answers: stop reading from it until it does.
        self._writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if not self.pending:
            self._resume_reading()

    def _pause_reading(self) -> None:
        if not self._paused_reading and self.transport is not None and not self.transport.is_closing():
            self._paused_reading = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._paused_reading and self.transport is not None and not self.transport.is_closing():
            self._paused_reading = False
            self.transport.resume_reading()

    # -- lines in ---------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        buf = self.buf
        if self.skipping:
            cut = data.find(b"\n")
            if cut < 0:
                return
            self.skipping = False
            data = data[cut + 1:]
        buf += data
        end = buf.rfind(b"\n")
        if end < 0:
            if len(buf) > MAX_LINE:
                self._overlong()
            return
        lines = bytes(buf[:end]).split(b"\n")
        del buf[:end + 1]
        if len(buf) > MAX_LINE:
            self._overlong()
        if self.pending:
            self.pending = self.pending[self.at:] + lines
        else:
            self.pending = lines
        self.at = 0
        self._publish_slice()

    def eof_received(self) -> bool | None:
        if self.buf.strip() and not self._closing:  # a last line without its newline
            self.pending = [*self.pending[self.at:], bytes(self.buf)]
            self.at = 0
            self.buf.clear()
            self._publish_slice()
        return None  # close our side too

    def _overlong(self) -> None:
        self.buf.clear()
        self.skipping = True
        self.line += 1
        self.rejected += 1
        self._report(self.line, f"line is longer than {MAX_LINE} bytes")

    def _publish_slice(self) -> None:
        """Publish up to SLICE pending lines; if more remain, pause the socket and go on next iteration."""
        lines, at = self.pending, self.at
        stop = min(len(lines), at + SLICE)
        hub = self.bus.hub
        publish = hub.publish
        loads = orjson.loads
        number = self.line
        for i in range(at, stop):
            raw = lines[i]
            number += 1
            if not raw or raw.isspace():
                continue
            try:
                obj = loads(raw)
            except orjson.JSONDecodeError as exc:
                if self.first:
                    self.line = number
                    self._refuse("NOT_NDJSON", "this is the NDJSON ingest port: send one JSON event "
                                 "per line (docs/ingest.md), not HTTP")
                    return
                self.rejected += 1
                self._report(number, f"not valid JSON: {str(exc).replace('line 1 column', 'column')}")
                continue
            self.first = False
            if type(obj) is dict and "control" in obj:
                self.line = number
                self._control(obj)
                if self._closing:
                    return
                continue
            if not self.authenticated:
                self.line = number
                self._refuse("AUTH_REQUIRED", 'this bus needs a token: the first line must be '
                             '{"control":"auth","token":"..."}')
                return
            try:
                event = publish(validate(obj, "event"))
            except EventError as exc:
                self.rejected += 1
                self._report(number, f"{exc.where.removeprefix('event.')}: {exc.message}")
                continue
            if event is None:
                self.filtered += 1
            else:
                self.accepted += 1
                self.last_seq = event.seq
        self.line = number
        if stop < len(lines):
            self.at = stop
            self._pause_reading()
            asyncio.get_running_loop().call_soon(self._continue)
        else:
            self.pending, self.at = [], 0
            if not self._writing_paused:
                self._resume_reading()

    def _continue(self) -> None:
        if self.pending and not self._closing:
            self._publish_slice()

    def _report(self, number: int, message: str) -> None:
        if self.reported >= MAX_REPORTED or self.transport is None:
            return
        self.reported += 1
        self.transport.write(_line_error(number, message))

    def _control(self, msg: dict[str, Any]) -> None:
        kind = msg.get("control")
        transport = self.transport
        assert transport is not None
        if kind == "auth":
            if self.authenticated:
                transport.write(b'{"control":"authenticated"}\n')
            elif self.bus.gate.token_ok(msg.get("token")):
                self.authenticated = True
                if self._deadline is not None:
                    self._deadline.cancel()
                transport.write(b'{"control":"authenticated"}\n')
            else:
                log.info("ingest %s: authentication failed", self.name)
                self._refuse("AUTH_FAILED", "the token is not valid")
        elif not self.authenticated:
            self._refuse("AUTH_REQUIRED", 'this bus needs a token: the first line must be '
                         '{"control":"auth","token":"..."}')
        elif kind == "sync":
            transport.write(orjson.dumps({
                "control": "synced", "id": msg.get("id"), "line": self.line, "accepted": self.accepted,
                "rejected": self.rejected, "filtered": self.filtered, "last_seq": self.last_seq,
            }) + b"\n")
        else:
            self.rejected += 1
            self._report(self.line, f"control: unknown {str(kind)[:40]!r}; known: auth, sync")

    def describe(self) -> dict[str, Any]:
        """For `/api/status`."""
        return {"name": self.name, "authenticated": self.authenticated, "lines": self.line,
                "accepted": self.accepted, "rejected": self.rejected, "filtered": self.filtered}


class IngestService:
    """The `[Ingest]` port (off unless `EnableTcpIngest`)."""

    name = "ingest"

    def __init__(self, bus: Bus, auth_timeout: float = 10.0) -> None:
        self.bus = bus
        self.auth_timeout = auth_timeout
        self.connections: set[IngestConnection] = set()
        self.closed_totals = {"accepted": 0, "rejected": 0, "filtered": 0}
        self._server: asyncio.Server | None = None

    @property
    def enabled(self) -> bool:
        return self.bus.config.ingest.enable_tcp_ingest

    async def start(self) -> None:
        """Bind the port (0 picks a free one; the real one goes to `bus.ports["ingest"]`)."""
        if not self.enabled:
            return
        host = self.bus.config.http.bind_address or "127.0.0.1"
        port = self.bus.config.ingest.port
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: IngestConnection(self), host, port)
        except OSError as exc:
            raise OSError(exc.errno, f"[Ingest] Port {port} on {host}: {exc.strerror}") from exc
        self.bus.ports["ingest"] = self._server.sockets[0].getsockname()[1]
        self.bus.connections.setdefault("ingest", 0)
        log.info("NDJSON ingest on tcp://%s:%d", host, self.bus.ports["ingest"])

    async def stop(self) -> None:
        """Stop listening and close every sender (what was read is published already)."""
        if self._server is None:
            return
        self._server.close()
        for conn in tuple(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self._server = None

    def totals(self, conn: IngestConnection) -> None:
        """Fold a closed connection's counts into the port's totals."""
        self.closed_totals["accepted"] += conn.accepted
        self.closed_totals["rejected"] += conn.rejected
        self.closed_totals["filtered"] += conn.filtered

    def status(self) -> dict[str, Any]:
        """For `/api/status`: the port, its senders and the counts of closed ones."""
        return {"enabled": self.enabled, "port": self.bus.ports.get("ingest"),
                "connections": [c.describe() for c in tuple(self.connections)],
                "closed": dict(self.closed_totals)}


def ingest_port_part(bus: Bus) -> Part:
    """The `[Ingest]` port."""
    service = IngestService(bus)
    return Part("ingest", services=[service], status={"ingest": service.status})
