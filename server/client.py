"""`dxbus.client`: the Python client for the bus (async, aiohttp).

Everything the usage guide's "Complete Python Client" offers, with the same names, plus what it
lacks: reconnect with backoff, resume from the last `Seq` (no event lost or doubled while the bus
keeps it in its ring buffer), `publish`, typed events, and a clean shutdown.

    async with BusClient() as bus:
        @bus.on_event("combat_damage")
        def hit(event: BusEvent) -> None:
            print(event.data["damage"], event["Data"]["damage"])   # typed, or as the guide indexes it
        await bus.stream()

Resume: the client remembers the last `Seq` it handed out and reconnects with `since_seq`. A bus
that restarted numbers from 1 again, so on every (re)connect the client reads `/api/status` and
compares the bus's `instance_id`: same bus -> resume after the last Seq; new bus -> start at the
new bus's first event it still holds (everything published since the restart, once).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from .backoff import DEFAULT_JITTER, Backoff
from .clock import Clock, SystemClock
from .outage import Outage

log = logging.getLogger(__name__)

_WIRE = {"EventType": "type", "Data": "data", "Timestamp": "timestamp", "Seq": "seq"}

Handler = Callable[["BusEvent"], Any]


@dataclass(frozen=True, slots=True)
class BusEvent(Mapping[str, Any]):
    """One event. Typed attributes, and also a read-only mapping with the wire keys
    (`event["EventType"]`, `event["Data"]["damage"]`), so the usage guide's handlers work unchanged."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: str | None = None
    seq: int | None = None

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> BusEvent:
        """Build from a wire object `{"Timestamp", "EventType", "Data", "Seq"}`."""
        event_type = obj.get("EventType")
        if not isinstance(event_type, str):
            raise ValueError("an event needs a string EventType")
        data = obj.get("Data", {})
        seq = obj.get("Seq")
        return cls(event_type, data if isinstance(data, dict) else {}, obj.get("Timestamp"),
                   seq if isinstance(seq, int) and not isinstance(seq, bool) else None)

    def to_wire(self) -> dict[str, Any]:
        """The wire object (without `Timestamp`/`Seq` when they are unset, e.g. before publishing)."""
        out: dict[str, Any] = {"EventType": self.type, "Data": self.data}
        if self.timestamp is not None:
            out["Timestamp"] = self.timestamp
        if self.seq is not None:
            out["Seq"] = self.seq
        return out

    def __getitem__(self, key: str) -> Any:
        attr = _WIRE.get(key)
        if attr is None:
            raise KeyError(key)
        value = getattr(self, attr)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(k for k, a in _WIRE.items() if getattr(self, a) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class BusError(Exception):
    """The bus answered with an error (`status`, `code`, `message` from its JSON error body)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class BusClient:
    """Talks to one bus: HTTP API, WebSocket stream (reconnecting, exactly once), TCP timer lines."""

    def __init__(
        self,
        http_url: str = "http://localhost:8080",
        ws_url: str = "ws://localhost:9091",
        tcp_host: str = "localhost",
        tcp_port: int = 9090,
        *,
        token: str | None = None,
        types: Iterable[str] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        clock: Clock | None = None,
        jitter: float = DEFAULT_JITTER,
    ) -> None:
        self.http_url = http_url.rstrip("/")
        self.ws_url = ws_url
        self.tcp_host = tcp_host
        self.tcp_port = tcp_port
        self.token = token
        self.types = frozenset(types) if types is not None else None
        # Many clients may lose the same bus at once: the waits are spread (docs/reconnect.md).
        self.backoff = Backoff(backoff_initial, backoff_max, jitter)
        self.clock: Clock = clock or SystemClock()
        self.handlers: dict[str, list[Handler]] = {}
        self.logger = log
        # Resume cursor: the bus instance and the last Seq handed out from it.
        self.instance_id: str | None = None
        self.last_seq: int | None = None
        self.connected = False
        self.connections = 0
        self.restarts_seen = 0
        self.failed_attempts = 0
        self.missed = 0  # events the bus no longer held when we came back (ring buffer overrun)
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closing = False
        self._closed = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> BusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop streaming (a running `stream()`/`events()` returns) and release the connections."""
        self._closing = True
        self._closed.set()
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
            self._session = aiohttp.ClientSession(headers=headers)
        return self._session

    # -- HTTP ------------------------------------------------------------------------------------
    async def _request(self, method: str, path: str, **kw: Any) -> Any:
        async with self._http().request(method, f"{self.http_url}{path}", **kw) as resp:
            body = await resp.read()
            try:
                decoded = orjson.loads(body) if body else None
            except orjson.JSONDecodeError:
                decoded = None
            if resp.status >= 400:
                err = decoded.get("error", {}) if isinstance(decoded, dict) else {}
                raise BusError(resp.status, str(err.get("code", resp.reason)),
                               str(err.get("message", body[:200].decode(errors="replace"))))
            return decoded

    async def get_status(self) -> dict[str, Any]:
        """`GET /api/status`."""
        return await self._request("GET", "/api/status")

    async def get_metrics(self, event_type: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """`GET /api/metrics`: the `limit` latest events (of `event_type`) plus the newest of each type."""
        params: dict[str, Any] = {"limit": limit}
        if event_type:
            params["type"] = event_type
        return await self._request("GET", "/api/metrics", params=params)

    async def get_recent(self, count: int = 10, event_type: str | None = None) -> list[BusEvent]:
        """`GET /api/recent` as typed events, oldest first."""
        params: dict[str, Any] = {"count": count}
        if event_type:
            params["type"] = event_type
        return [BusEvent.from_wire(e) for e in await self._request("GET", "/api/recent", params=params)]

    async def get_state(self) -> dict[str, Any]:
        """`GET /api/state`: the session state the bus derives."""
        return await self._request("GET", "/api/state")

    async def configure(self, **settings: Any) -> dict[str, Any]:
        """`POST /api/configure` (update_frequency_hz, export_player_data, ...)."""
        return await self._request("POST", "/api/configure", json=settings)

    async def publish(
        self, event: BusEvent | Mapping[str, Any] | Iterable[BusEvent | Mapping[str, Any]]
    ) -> dict[str, Any]:
        """`POST /api/events`: one event or several; returns the bus's ingest report
        (`accepted`, `rejected`, `seqs`, `errors`). Raises BusError if nothing could be accepted."""
        items = [event] if isinstance(event, BusEvent | Mapping) else list(event)
        wire = [e.to_wire() if isinstance(e, BusEvent) else dict(e) for e in items]
        return await self._request("POST", "/api/events", data=orjson.dumps(wire),
                                   headers={"Content-Type": "application/json"})

    async def emit(self, event_type: str, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Publish one event by type and data."""
        return await self.publish(BusEvent(event_type, dict(data or {})))

    # -- handlers --------------------------------------------------------------------------------
    def on_event(self, event_type: str) -> Callable[[Handler], Handler]:
        """Decorator: call the function for each event of `event_type` (`'*'`: every event).
        Sync and async functions both work."""

        def decorator(func: Handler) -> Handler:
            """Register `func` and return it unchanged."""
            self.handlers.setdefault(event_type, []).append(func)
            return func

        return decorator

    async def _dispatch(self, event: BusEvent) -> None:
        for handler in (*self.handlers.get(event.type, ()), *self.handlers.get("*", ())):
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                # One bad handler must not end the stream for the others.
                self.logger.exception("handler %r failed on %s #%s", handler, event.type, event.seq)

    # -- streaming -------------------------------------------------------------------------------
    async def stream(self) -> None:
        """Run the handlers on every event until `close()`; reconnects and resumes by itself."""
        async for event in self.events():
            await self._dispatch(event)

    async def events(self) -> AsyncIterator[BusEvent]:
        """Every event from now on, in Seq order, exactly once, across reconnects, until `close()`."""
        self._closing = False
        self._closed.clear()
        self.backoff.reset()
        outage = Outage(self.logger)
        while not self._closing:
            try:
                async for event in self._connect_once():
                    self.backoff.reset()
                    outage.recovered("bus reachable again")
                    yield event
                if self._closing:
                    return
                self.logger.warning("stream closed by the bus; reconnecting")
            except (aiohttp.ClientError, OSError, TimeoutError, BusError) as exc:
                if self._closing:
                    return
                self.failed_attempts += 1
                outage.failed(f"bus unreachable ({exc})", detail="retrying with backoff")
            await self._pause(self.backoff.next())

    async def _pause(self, delay: float) -> None:
        """The backoff wait, cut short by `close()` so shutdown is prompt."""
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        closer = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({sleeper, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, closer):
                task.cancel()

    async def _sync_cursor(self) -> dict[str, Any]:
        """Read the bus's identity and decide where to resume (see the module docstring)."""
        status = await self.get_status()
        instance = status.get("instance_id")
        if self.instance_id is not None and instance != self.instance_id:
            self.restarts_seen += 1
            self.logger.info("the bus restarted (new instance %s): reading it from its start", instance)
            self.last_seq = 0
        self.instance_id = instance
        if self.last_seq is None:
            self.last_seq = int(status.get("seq", 0))  # first connection: from now on
        oldest = status.get("oldest_seq")
        if isinstance(oldest, int) and oldest > self.last_seq + 1 and self.last_seq > 0:
            self.missed += oldest - self.last_seq - 1
            self.logger.warning("the bus no longer holds Seq %d..%d; they are lost to this client",
                                self.last_seq + 1, oldest - 1)
        return status

    async def _connect_once(self) -> AsyncIterator[BusEvent]:
        await self._sync_cursor()
        query: dict[str, Any] = {"since_seq": self.last_seq}
        if self.types is not None:
            query["types"] = ",".join(sorted(self.types))
        sep = "&" if "?" in self.ws_url else "?"
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        ws = await self._http().ws_connect(f"{self.ws_url}{sep}{urlencode(query)}", headers=headers,
                                           heartbeat=15.0, max_msg_size=0)
        self._ws = ws
        try:
            # The bus could have restarted between the status read and the connect: check again.
            expected = self.instance_id
            if (await self.get_status()).get("instance_id") != expected:
                return
            self.connected = True
            self.connections += 1
            self.logger.info("streaming from %s (after Seq %s)", self.ws_url, self.last_seq)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                event = self._decode(msg.data)
                if event is None:
                    continue
                if event.seq is not None:
                    if self.last_seq is not None and event.seq <= self.last_seq:
                        continue  # already handed out before a reconnect
                    self.last_seq = event.seq
                yield event
        finally:
            self.connected = False
            self._ws = None
            with contextlib.suppress(Exception):
                await ws.close()

    def _decode(self, text: str) -> BusEvent | None:
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.logger.error("invalid JSON from the bus: %.80s", text)
            return None
        if not isinstance(obj, dict):
            return None
        if "EventType" not in obj:
            if obj.get("type") == "error":
                self.logger.warning("the bus reports: %s", obj.get("error"))
            return None
        try:
            return BusEvent.from_wire(obj)
        except ValueError:
            return None

    # -- TCP timer lines -------------------------------------------------------------------------
    async def livesplit_bridge(self, callback: Callable[[str], Any] | None = None) -> None:
        """Read the timer port's lines (`start`, `split`, `reset`, `pause`, `resume`, `time:X`) and
        pass each to `callback` (sync or async) until the bus closes the connection or `close()`."""
        reader, writer = await asyncio.open_connection(self.tcp_host, self.tcp_port)
        self.logger.info("connected to the timer port %s:%d", self.tcp_host, self.tcp_port)
        try:
            if self.token:
                writer.write(f"AUTH:{self.token}\n".encode())
                await writer.drain()
            while not self._closing:
                data = await reader.readline()
                if not data:
                    break
                command = data.decode(errors="replace").strip()
                if callback is not None:
                    result = callback(command)
                    if inspect.isawaitable(result):
                        await result
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


# The usage guide's name for the same client.
DataExportBusClient = BusClient

__all__ = ["BusClient", "BusError", "BusEvent", "DataExportBusClient"]
