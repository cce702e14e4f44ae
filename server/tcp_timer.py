"""The speedrun-timer line protocol on `[TCP] Port` (9090), PROTOCOL.md section 6.

Every `timer_command` event on the bus becomes one `\\n`-terminated line for each connected client:
`start`, `split`, `reset`, `pause`, `resume` or `time:123.45`. With `[Security] AuthToken` set, a client's
first line must be `AUTH:TOKEN`. The gate (`dxbus.gate`) counts the port's sockets and each IP's timer
connections and rate; a line that is an HTTP request (a web page fetching this port) ends the
connection. Writing never waits: each client's socket buffer is bounded and a
client that stops reading is dropped, so it cannot hold up the bus or the other clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from .bus import Bus
from .events import Event
from .http_errors import ApiError
from .parts import Part

log = logging.getLogger(__name__)

TIMER_COMMAND = "timer_command"
PLAIN_COMMANDS = frozenset({"start", "split", "reset", "pause", "resume"})
MAX_LINE = 1024  # bytes a client line may have
AUTH_REQUIRED = b"ERROR:AUTH_REQUIRED\n"
COMMAND_INVALID = b"ERROR:COMMAND_INVALID\n"
NOT_HTTP = b"ERROR:NOT_HTTP this is the timer line port, not HTTP\n"
HTTP_REQUEST_LINE = re.compile(r"[A-Z]{3,10} \S+ HTTP/\d(\.\d)?")


def format_seconds(value: float) -> str:
    """Seconds for a `time:` line: up to milliseconds, no trailing zeros (12.5, 123.45, 60.0)."""
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def command_line(data: Mapping[str, Any]) -> bytes | None:
    """The line for a `timer_command` event's Data, or None if it is not one we can send."""
    command = data.get("command")
    if command in PLAIN_COMMANDS:
        return f"{command}\n".encode()
    if command == "time":
        value = data.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
                and value >= 0:
            return f"time:{format_seconds(float(value))}\n".encode()
    return None


class _TimerClient:
    """One connected socket; `send` never waits."""

    def __init__(self, writer: asyncio.StreamWriter, name: str, max_buffer: int) -> None:
        self.writer = writer
        self.name = name
        self.max_buffer = max_buffer
        self.lines_sent = 0

    def send(self, line: bytes) -> bool:
        """Queue a line on the socket; False (and the client is cut) if it stopped reading."""
        transport = self.writer.transport
        if transport.is_closing():
            return False
        transport.write(line)
        self.lines_sent += 1
        if transport.get_write_buffer_size() > self.max_buffer:
            log.warning("tcp timer client %s is not reading; dropping it", self.name)
            transport.abort()
            return False
        return True


class TcpTimerService:
    """The 9090 port: an asyncio server fed by a hub listener on `timer_command` events."""

    name = "tcp"

    def __init__(self, bus: Bus, auth_timeout: float = 10.0, max_buffer: int = 64 * 1024) -> None:
        self.bus = bus
        self.auth_timeout = auth_timeout
        self.max_buffer = max_buffer
        self._server: asyncio.Server | None = None
        self._clients: set[_TimerClient] = set()  # authenticated: they get the lines
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()  # every open socket, authenticated or not

    @property
    def enabled(self) -> bool:
        return self.bus.config.tcp.enable_tcp_server

    async def start(self) -> None:
        """Bind the port and start forwarding timer commands."""
        if not self.enabled:
            return
        host = self.bus.config.http.bind_address or "127.0.0.1"
        port = self.bus.config.tcp.port
        try:
            self._server = await asyncio.start_server(self._handle, host, port, limit=MAX_LINE)
        except OSError as exc:
            raise OSError(exc.errno, f"[TCP] Port {port} on {host}: {exc.strerror}") from exc
        self.bus.ports["tcp"] = self._server.sockets[0].getsockname()[1]
        log.info("TCP timer port on %s", self.bus.url("tcp"))

    async def stop(self) -> None:
        """Stop listening and close every client."""
        if self._server is None:
            return
        self._server.close()
        # Closing a socket ends its handler (its readline sees EOF); cancelling the handler task
        # instead would make asyncio log the cancellation as an error (Python 3.11).
        for writer in tuple(self._writers):
            writer.transport.abort()
        if self._handlers:
            await asyncio.wait(tuple(self._handlers), timeout=2.0)
        await self._server.wait_closed()
        self._server = None

    def on_event(self, event: Event) -> None:
        """Hub listener: send each timer command to every connected timer client."""
        if event.type != TIMER_COMMAND:
            return
        line = command_line(event.data)
        if line is None:
            log.warning("timer_command #%d has no line form: %r", event.seq, event.data)
            return
        for client in tuple(self._clients):
            if not client.send(line):
                self._clients.discard(client)

    def status(self) -> dict[str, Any]:
        """Connected timer clients, for `/api/status`."""
        return {"enabled": self.enabled, "port": self.bus.ports.get("tcp"),
                "clients": [{"name": c.name, "lines_sent": c.lines_sent} for c in tuple(self._clients)]}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        peer = writer.get_extra_info("peername")
        ip = peer[0] if peer else "unknown"
        name = f"{peer[0]}:{peer[1]}" if peer else "unknown"
        port_budget = self.bus.gate.port_budget("tcp")
        if not port_budget.admit():
            writer.transport.abort()  # over MaxConnectionsPerPort: the descriptor back at once
            self._handlers.discard(task)
            return
        try:
            self.bus.gate.check_rate("tcp", ip)
            release = self.bus.gate.lease("tcp", ip)
        except ApiError as err:
            writer.write(f"ERROR:{err.code}\n".encode())
            writer.close()
            port_budget.release()
            self._handlers.discard(task)
            return
        self.bus.connections["tcp"] += 1
        self._writers.add(writer)
        client = _TimerClient(writer, name, self.max_buffer)
        try:
            if await self._authenticate(reader, writer):
                self._clients.add(client)
                await self._read_commands(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._clients.discard(client)
            self._writers.discard(writer)
            self.bus.connections["tcp"] -= 1
            release()
            port_budget.release()
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _authenticate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """With a token set, the first line must be `AUTH:TOKEN` (within `auth_timeout`, bus clock)."""
        token = self.bus.config.security.auth_token
        if not token:
            return True
        line = await self._first_line(reader)
        text = line.decode("utf-8", "replace").strip() if line else ""
        if text[:5].upper() == "AUTH:" and self.bus.gate.token_ok(text[5:].strip()):
            writer.write(b"AUTH:OK\n")
            return True
        log.info("tcp timer client %s: authentication failed", writer.get_extra_info("peername"))
        writer.write(AUTH_REQUIRED)
        return False

    async def _first_line(self, reader: asyncio.StreamReader) -> bytes | None:
        read = asyncio.ensure_future(reader.readline())
        deadline = asyncio.ensure_future(self.bus.clock.sleep(self.auth_timeout))
        try:
            done, _ = await asyncio.wait({read, deadline}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (read, deadline):
                pending.cancel()
        if read in done and not read.cancelled() and read.exception() is None:
            return read.result()
        return None

    async def _read_commands(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Client lines: `PING` -> `PONG`; blank lines and repeated AUTH are fine; others are invalid."""
        while True:
            try:
                line = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                writer.write(COMMAND_INVALID)  # a line longer than MAX_LINE: give up on this client
                return
            if not line:
                return
            text = line.decode("utf-8", "replace").strip()
            upper = text.upper()
            if not text:
                continue
            if HTTP_REQUEST_LINE.fullmatch(text):
                writer.write(NOT_HTTP)  # a browser's fetch() to this port: never a timer client
                return
            if upper == "PING":
                writer.write(b"PONG\n")
            elif upper.startswith("AUTH:"):
                ok = self.bus.gate.token_ok(text[5:].strip())
                writer.write(b"AUTH:OK\n" if ok else AUTH_REQUIRED)
            else:
                writer.write(COMMAND_INVALID)


def tcp_timer_part(bus: Bus) -> Part:
    """The 9090 port: timer_command events as lines (its listener only when the port is on)."""
    service = TcpTimerService(bus)
    return Part("tcp", services=[service], listeners=[service.on_event] if service.enabled else [],
                status={"tcp": service.status})
