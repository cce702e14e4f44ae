"""A stand-in for the original C# mod's WebSocket server (WebSocketServer.cs), for relay tests.

Written from `shared/background/original-bus.md` section 2:
- any path; only a `Host` of `localhost[:port]` is routed (Mono's HttpListener answers 400
  "Invalid host" otherwise); a request that is not an upgrade gets 400 with an empty body;
- first frame `{"type":"hello","version":"1.0.0","authentication":false}`;
- every metric goes out as TWO text frames in no guaranteed order: the envelope
  `{"type":"metric","timestamp","eventType","data"}` and the raw GameMetric
  `{"Timestamp","EventType","Data"}` followed by `"\\n"` inside the frame;
- JSON keepalive: every `ping_interval` a client with an unanswered ping (no `{"type":"pong"}`
  within `pong_timeout`) is dropped, otherwise it gets `{"type":"ping","timestamp":...}`;
- `ping` -> `pong`, `subscribe` -> `subscribed` (never filters), unknown types ignored;
- with a token: the upgrade needs `Authorization: Bearer <token>` (401 otherwise), and the client
  gets broadcasts only after `{"type":"auth","token":...}` (-> `authenticated`).
Timestamps are Newtonsoft's default: 0-7 fraction digits, trailing zeros trimmed, `Z`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import WSMsgType, web


def newtonsoft_timestamp(epoch: float | None = None) -> str:
    """`2025-09-20T14:30:45.12345Z`: 7 digits with trailing zeros removed (none if whole)."""
    dt = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    ticks = f"{dt.microsecond:06d}0".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ticks}" if ticks else "") + "Z"


@dataclass
class FakeClient:
    ws: web.WebSocketResponse
    pending_ping: bool = False
    last_pong: float = field(default_factory=time.monotonic)
    authenticated: bool = True
    received: list[dict[str, Any]] = field(default_factory=list)


class FakeOriginalMod:
    """Start with `await mod.start()`, feed with `await mod.broadcast(type, data)`, kill with `stop()`."""

    def __init__(
        self, ping_interval: float = 30.0, pong_timeout: float = 10.0, seed: int = 1, token: str = ""
    ) -> None:
        self.token = token
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.port = 0
        self.clients: list[FakeClient] = []
        self.dropped_for_no_pong = 0
        self.rejected_hosts: list[str] = []
        self.connections = 0
        self._random = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self._pinger: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def start(self, port: int | None = None) -> None:
        """Listen on 127.0.0.1 (the same port again after a `stop`, to play a game restart)."""
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port if port is None else port,
                           reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._pinger = asyncio.get_running_loop().create_task(self._ping_loop())

    async def stop(self) -> None:
        """The game closes: sockets are cut without a closing handshake, the port is released."""
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinger
        for client in list(self.clients):
            transport = client.ws._req.transport if client.ws._req is not None else None
            if transport is not None:
                transport.abort()
        self.clients.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def broadcast(self, event_type: str, data: dict[str, Any], timestamp: str | None = None) -> None:
        """Send one metric to every client as the envelope frame and the raw frame, in random order."""
        timestamp = timestamp or newtonsoft_timestamp()
        envelope = orjson.dumps({"type": "metric", "timestamp": timestamp, "eventType": event_type,
                                 "data": data}).decode()
        raw = orjson.dumps({"Timestamp": timestamp, "EventType": event_type, "Data": data}).decode() + "\n"
        for client in [c for c in self.clients if c.authenticated]:
            frames = [envelope, raw]
            self._random.shuffle(frames)
            for frame in frames:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await client.ws.send_str(frame)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host
        if hostname.lower() != "localhost":
            self.rejected_hosts.append(host)
            return web.Response(status=400, text="Bad Request (Invalid host)")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(status=400)
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client = FakeClient(ws, authenticated=not self.token)
        self.clients.append(client)
        self.connections += 1
        await ws.send_str(orjson.dumps({"type": "hello", "version": "1.0.0",
                                        "authentication": bool(self.token)}).decode())
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    body = orjson.loads(msg.data)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(body, dict):
                    continue
                client.received.append(body)
                kind = str(body.get("type", body.get("op", ""))).lower()
                if kind in ("auth", "authenticate"):
                    client.authenticated = body.get("token", body.get("authentication")) == self.token
                    await ws.send_str(orjson.dumps({"type": "authenticated",
                                                    "success": client.authenticated}).decode())
                elif kind == "pong":
                    client.pending_ping = False
                    client.last_pong = time.monotonic()
                elif kind == "ping":
                    await ws.send_str(orjson.dumps({"type": "pong",
                                                    "timestamp": newtonsoft_timestamp()}).decode())
                elif kind == "subscribe":
                    await ws.send_str(orjson.dumps({"type": "subscribed",
                                                    "events": body.get("events", [])}).decode())
        finally:
            if client in self.clients:
                self.clients.remove(client)
        return ws

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            now = time.monotonic()
            for client in list(self.clients):
                if client.pending_ping and now - client.last_pong > self.pong_timeout:
                    self.clients.remove(client)
                    self.dropped_for_no_pong += 1
                    with contextlib.suppress(Exception):
                        await client.ws.close()
                    continue
                client.pending_ping = True
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await client.ws.send_str(orjson.dumps({"type": "ping",
                                                           "timestamp": newtonsoft_timestamp()}).decode())
