"""Push mode: a runner's bus sends its events out to the hub (`dxbus serve --race URL --runner NAME
--token T`), the usual case over the internet (nobody can reach a runner behind a router).

The conversation on `GET /api/race/<id>/push?runner=NAME` (WebSocket, header `X-Runner-Token`):

1. the hub checks, through the gate, that the token is that runner's own (constant time), before
   the upgrade: a wrong token is a 401, and a runner can only ever publish as itself;
2. the runner sends `{"type": "hello", "instance": "<its bus's instance_id>"}`;
3. the hub answers `{"type": "resume", "since_seq": N}`: the last Seq it holds from that instance
   (0 for a new instance: from the start of what the runner's bus still holds);
4. the runner sends its events after N as text frames, each a JSON array of wire events, and keeps
   following its bus. On any drop it reconnects with backoff and starts again at 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import orjson
from aiohttp import WSMsgType, web

from ..backoff import Backoff
from ..http_middleware import client_ip
from ..outage import Outage
from ..parts import Part
from ..subscription import SubscriptionClosed
from ..tasks import cancel_and_wait

if TYPE_CHECKING:
    from ..bus import Bus
    from .hub import RaceService

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Runner-Token"
HELLO_TIMEOUT = 10.0
MAX_FRAME = 8 * 1024 * 1024


# -- the hub's end --------------------------------------------------------------------------------
async def serve_push(service: RaceService, request: web.Request) -> web.StreamResponse:
    """The push socket of one runner; refuses (HTTP 401/404) before the upgrade."""
    race_id = request.match_info["race"]
    lane = service.lane(race_id)
    runner = request.query.get("runner", "")
    settings = lane.runner(runner)
    gate = service.bus.gate
    if settings is None or not settings.token:
        # The same answer for an unknown name and a pull-only runner: names are not probed.
        gate.check_runner_token(runner, None, None)
        raise AssertionError("unreachable")
    gate.check_runner_token(runner, settings.token, request.headers.get(TOKEN_HEADER))
    release = gate.lease("stream", client_ip(request))
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_FRAME)
    try:
        await ws.prepare(request)
        service.sockets.add(ws)
        service.connected(race_id, runner, 1)
        await _converse(service, race_id, runner, ws)
    finally:
        service.sockets.discard(ws)
        if ws.prepared:
            service.connected(race_id, runner, -1)
        release()
    return ws


async def _converse(service: RaceService, race_id: str, runner: str, ws: web.WebSocketResponse) -> None:
    instance: str | None = None
    async for msg in ws:
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            continue
        try:
            obj = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            await ws.send_str(orjson.dumps({"type": "error", "error": "frame: not valid JSON"}).decode())
            continue
        if isinstance(obj, dict) and obj.get("type") == "hello":
            raw = obj.get("instance")
            instance = raw if isinstance(raw, str) and raw else None
            since = service.resume_point(race_id, runner, instance)
            await ws.send_str(orjson.dumps({"type": "resume", "since_seq": since}).decode())
            log.info("race %s: runner %s connected (instance %s), resuming after Seq %d",
                     race_id, runner, instance, since)
        elif isinstance(obj, list):
            if instance is None:
                await ws.send_str(orjson.dumps({"type": "error", "error": "send hello first"}).decode())
                continue
            _, problems = await service.ingest(race_id, runner, instance, obj, "frame")
            if problems:
                # Named, never silent; the good events of the frame are kept.
                await ws.send_str(orjson.dumps({"type": "error", "error": "; ".join(problems[:5]),
                                                "rejected": len(problems)}).decode())
        else:
            await ws.send_str(orjson.dumps(
                {"type": "error", "error": "expected a hello object or an array of events"}).decode())


# -- the runner's end -------------------------------------------------------------------------------
def push_url(race_url: str, runner: str) -> str:
    """`http://hub:8080/api/race/weekly` -> `ws://hub:8080/api/race/weekly/push?runner=NAME`."""
    parts = urlsplit(race_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc or "/api/race/" not in parts.path:
        raise ValueError(f"--race {race_url!r}: give the race's URL on the hub, "
                         "e.g. http://hub.example:8080/api/race/weekly")
    path = parts.path if parts.path.endswith("/push") else parts.path + "/push"
    return urlunsplit((scheme, parts.netloc, path, urlencode({"runner": runner}), ""))


class RacePusher:
    """Service on a runner's bus: pushes every event (never test events) to the race hub."""

    name = "race-push"

    def __init__(self, bus: Bus, race_url: str, runner: str, token: str,
                 backoff_initial: float = 0.2, backoff_max: float = 5.0) -> None:
        self.bus = bus
        self.url = push_url(race_url, runner)
        self.runner = runner
        self.token = token
        # Many runners may lose the same hub at once: the waits are spread (docs/reconnect.md).
        self.backoff = Backoff(backoff_initial, backoff_max)
        self.connected = False
        self.connections = 0
        self.sent = 0
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Start pushing (connects in the background; the bus never waits for the hub)."""
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="race-push")

    async def stop(self) -> None:
        """Stop pushing."""
        await cancel_and_wait(self._task)
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.connected = False

    async def _run(self) -> None:
        outage = Outage(log)
        while True:
            try:
                await self._once()
                self.backoff.reset()
                outage.recovered()
                self.last_error = "the hub closed the connection"
            except aiohttp.WSServerHandshakeError as exc:
                self.last_error = f"the hub refused: HTTP {exc.status}"
                log.warning("race: %s (%s)", self.last_error, self.url)
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                self.last_error = str(exc) or type(exc).__name__
                outage.failed(f"race: hub unreachable ({self.last_error}) at {self.url}", level=logging.INFO,
                              detail="retrying with backoff")
            self.connected = False
            await self.backoff.wait(self.bus.clock)

    async def _once(self) -> None:
        assert self._session is not None
        async with self._session.ws_connect(self.url, headers={TOKEN_HEADER: self.token},
                                            heartbeat=20.0, max_msg_size=MAX_FRAME) as ws:
            await ws.send_str(orjson.dumps({"type": "hello", "instance": self.bus.instance_id}).decode())
            since = await self._resume_point(ws)
            self.connected = True
            self.connections += 1
            log.info("race: pushing to %s as %s (after Seq %d)", self.url, self.runner, since)
            sub = self.bus.hub.subscribe(since_seq=since, name="race-push")
            reader = asyncio.create_task(self._read(ws))
            try:
                while not ws.closed:
                    getter = asyncio.ensure_future(sub.get_batch())
                    done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                    if getter not in done:
                        getter.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await getter
                        return
                    try:
                        batch = getter.result()
                    except SubscriptionClosed:
                        return  # fell too far behind: reconnect and resume from the hub's point
                    await ws.send_str((b"[" + b",".join(e.raw for e in batch) + b"]").decode())
                    self.sent += len(batch)
            finally:
                await cancel_and_wait(reader)
                sub.close("race push stopped")

    async def _resume_point(self, ws: aiohttp.ClientWebSocketResponse) -> int:
        msg = await ws.receive(timeout=HELLO_TIMEOUT)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ValueError(f"the hub sent no resume point ({msg.type.name})")
        obj: Any = orjson.loads(msg.data)
        since = obj.get("since_seq") if isinstance(obj, dict) else None
        if not isinstance(since, int):
            raise ValueError(f"the hub sent no resume point ({str(obj)[:80]})")
        return since

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read what the hub says (errors, close) so a closed socket ends the push loop."""
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                log.warning("race hub: %s", msg.data[:200])

    def status(self) -> dict[str, Any]:
        """For `/api/status` of the runner's bus."""
        return {"url": self.url, "runner": self.runner, "connected": self.connected,
                "connections": self.connections, "sent": self.sent, "last_error": self.last_error}


def race_push_part(bus: Bus, race_url: str | None, runner: str | None, token: str | None) -> Part:
    """`dxbus serve --race URL --runner NAME --token T`: the pusher (plug it after the ports)."""
    if not race_url:
        return Part("race_push")
    if not runner or not token:
        raise ValueError("--race needs --runner NAME and --token TOKEN (the organiser gives you both)")
    pusher = RacePusher(bus, race_url, runner, token)
    return Part("race_push", services=[pusher], status={"race_push": pusher.status})


__all__ = ["TOKEN_HEADER", "RacePusher", "push_url", "race_push_part", "serve_push"]
