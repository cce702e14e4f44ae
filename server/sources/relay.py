"""`--relay ws://localhost:9091`: take the events of the original C# mod's WebSocket into this bus.

The original's stream needs care (background: original-bus.md section 2):
- its listener only routes `Host: localhost[:port]`, so that Host is sent whatever the URL says;
- it sends every metric twice, an envelope `{"type":"metric",...}` and the raw object, in no fixed
  order: the first copy is published, the second dropped (a bounded memory of recent metrics);
- it drops clients that do not answer its JSON `{"type":"ping"}` with `{"type":"pong"}`;
- `hello` and other control frames are not events.
When the game closes, the relay reconnects with exponential backoff on the bus clock, logs each
loss and recovery, and reports itself in `/api/status` under `relay`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
import orjson

from ..backoff import Backoff
from ..clock import utc_iso
from ..events import EventError, validate
from ..outage import Outage
from ..tasks import cancel_and_wait
from .original_format import OriginalNormalizer

if TYPE_CHECKING:
    from ..bus import Bus

log = logging.getLogger(__name__)

# How many recent metrics are remembered to recognise the second copy of each.
DEDUP_WINDOW = 1024


def host_header(url: str) -> str:
    """`localhost` with the URL's port: the only Host the original's listener routes."""
    port = urlsplit(url).port
    return f"localhost:{port}" if port else "localhost"


def split_token(url: str) -> tuple[str, str | None]:
    """`ws://localhost:9091/?token=T` -> (`ws://localhost:9091/`, `T`)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    token = query.pop("token", [None])[0]
    rest = urlencode(query, doseq=True)
    return urlunsplit(parts._replace(query=rest)), token


class RelaySource:
    """A service relaying the original mod's WebSocket into the hub."""

    name = "relay"

    def __init__(
        self,
        bus: Bus,
        url: str,
        token: str | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        jitter: float = 0.0,
        connect_timeout: float = 5.0,
        silence_timeout: float = 90.0,
    ) -> None:
        self.bus = bus
        # `?token=` on the URL is the command line's way to give the game's AuthToken; the original
        # wants it as a header and again in an auth message, never in the URL it ignores anyway.
        self.url, url_token = split_token(url)
        self.token = token or url_token
        # One game on this machine, one relay: no crowd to spread, so exact waits (docs/reconnect.md).
        self.backoff = Backoff(backoff_initial, backoff_max, jitter)
        self.connect_timeout = connect_timeout
        # The mod pings every 30 s even while the game is paused: this long without a frame means
        # the game hangs (or the network does) and the connection is dead.
        self.silence_timeout = silence_timeout
        self.connected = False
        self.connections = 0
        self.failed_attempts = 0
        self.last_error: str | None = None
        self.events_relayed = 0
        self.duplicates_dropped = 0
        self.bad_frames = 0
        self.pings_answered = 0
        self.next_retry_in: float | None = None
        self.connected_at: str | None = None
        self.delays: list[float] = []  # every backoff wait, for the log and for tests
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._normalizer = OriginalNormalizer()
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def reconnects(self) -> int:
        """Connections made after the first one."""
        return max(0, self.connections - 1)

    # -- service ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start connecting in the background (a game that is not running yet is not an error)."""
        self._refuse_own_port()
        self._session = aiohttp.ClientSession()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="relay")

    async def stop(self) -> None:
        """Disconnect and stop retrying."""
        await cancel_and_wait(self._task)
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    def _refuse_own_port(self) -> None:
        # The original mod and this bus both default to 9091: relaying from ourselves would echo
        # every event. Sources start after the ports, so the bound ports are known here.
        parts = urlsplit(self.url)
        own = {self.bus.ports.get("websocket"), self.bus.ports.get("http")} - {None}
        if parts.hostname in ("localhost", "127.0.0.1", "::1") and parts.port in own:
            raise OSError(
                f"relay: {self.url} is this bus's own port; run the bus on other ports "
                f"(e.g. --ws-port 9191 --http-port 8181 --tcp-port 9190) while the game's mod uses 9091")

    def status(self) -> dict[str, Any]:
        """What `/api/status` reports under `relay`."""
        return {
            "url": self.url,
            "connected": self.connected,
            "connected_at": self.connected_at,
            "last_error": self.last_error,
            "reconnects": self.reconnects,
            "failed_attempts": self.failed_attempts,
            "next_retry_in": self.next_retry_in,
            "events_relayed": self.events_relayed,
            "duplicates_dropped": self.duplicates_dropped,
            "bad_frames": self.bad_frames,
        }

    # -- connection loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        outage = Outage(log)
        while True:
            try:
                await self._session_once()
                # It was up and the game closed it: start the backoff over.
                self.backoff.reset()
                self.last_error = "connection closed by the game"
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.last_error = _describe(exc)
                if self.connected:
                    self.backoff.reset()
                else:
                    self.failed_attempts += 1
            finally:
                was_connected, self.connected = self.connected, False
                self._ws = None
            delay = self.backoff.next()
            if was_connected:
                outage.recovered()  # a new outage starts: its first line is a warning again
                outage.failed(f"relay: lost {self.url} ({self.last_error})", detail="reconnecting")
            else:
                outage.failed(f"relay: cannot reach {self.url} ({self.last_error})",
                              detail=f"retrying with backoff up to {self.backoff.maximum:g} s")
            self.delays.append(delay)
            self.next_retry_in = delay
            await self.bus.clock.sleep(delay)
            self.next_retry_in = None

    async def _session_once(self) -> None:
        assert self._session is not None
        headers = {"Host": host_header(self.url)}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        # A game that is still loading may accept the connection and never answer: time it out.
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a stop's cancellation (tasks.py).
        async with asyncio.timeout(self.connect_timeout):
            ws = await self._session.ws_connect(
                self.url, headers=headers, autoping=True,
                timeout=aiohttp.ClientWSTimeout(ws_receive=self.silence_timeout, ws_close=2.0))
        self._ws = ws
        self.connected = True
        self.connections += 1
        self.connected_at = utc_iso(self.bus.clock.time())
        self._normalizer.reset()
        log.info("relay: connected to %s%s", self.url,
                 f" (reconnect #{self.reconnects})" if self.reconnects else "")
        if self.token:
            await ws.send_str(orjson.dumps({"type": "auth", "token": self.token}).decode())
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await self._on_text(ws, msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    raise ConnectionError(f"WebSocket error: {ws.exception()}")
        except TimeoutError:
            await ws.close()
            raise ConnectionError(f"no frame from the game for {self.silence_timeout:g} s") from None
        if ws.close_code not in (None, 1000, 1001):
            raise ConnectionError(f"closed by the game with code {ws.close_code}")

    # -- frames ----------------------------------------------------------------------------------
    async def _on_text(self, ws: aiohttp.ClientWebSocketResponse, text: str) -> None:
        try:
            body = orjson.loads(text.strip())
        except orjson.JSONDecodeError:
            self.bad_frames += 1
            log.debug("relay: not JSON: %.80s", text)
            return
        if not isinstance(body, dict):
            self.bad_frames += 1
            return
        kind = body.get("type")
        if kind == "metric":
            self._relay(body.get("eventType"), body.get("timestamp"), body.get("data"), body)
        elif "EventType" in body or "event_type" in body:
            self._relay(body.get("EventType", body.get("event_type")),
                        body.get("Timestamp", body.get("timestamp")),
                        body.get("Data", body.get("data")), body)
        elif kind == "ping":
            # The original drops a client that leaves its JSON pings unanswered for ~60 s.
            await ws.send_str(orjson.dumps({"type": "pong", "timestamp": utc_iso(self.bus.clock.time())})
                              .decode())
            self.pings_answered += 1
        elif kind == "hello":
            log.info("relay: the game's bus says hello (version %s)", body.get("version"))
        elif kind == "error":
            log.warning("relay: the game's bus reports an error: %s", body.get("message"))
        else:
            log.debug("relay: ignored %s frame", kind or body.get("op"))

    def _relay(self, event_type: Any, timestamp: Any, data: Any, body: dict[str, Any]) -> None:
        key = orjson.dumps([event_type, timestamp, data], option=orjson.OPT_SORT_KEYS)
        if key in self._seen:
            # The second copy (envelope or raw) of a metric already relayed.
            del self._seen[key]
            self.duplicates_dropped += 1
            return
        self._seen[key] = None
        if len(self._seen) > DEDUP_WINDOW:
            self._seen.popitem(last=False)
        wire = self._normalizer.normalize({"Timestamp": timestamp, "EventType": event_type, "Data": data}
                                          if timestamp is not None
                                          else {"EventType": event_type, "Data": data})
        try:
            if self.bus.hub.publish(validate(wire, "relayed")) is not None:
                self.events_relayed += 1
        except EventError as exc:
            self.bad_frames += 1
            log.warning("relay: skipped a frame from the game: %s", exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"handshake refused: HTTP {exc.status} {exc.message}"
    if isinstance(exc, TimeoutError):
        return "connect timed out"
    if type(exc) is ConnectionError:  # ours, already worded for the log
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
