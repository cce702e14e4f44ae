"""The naive baselines: a bare aiohttp server fed the way the bus is, with no bus behind it.

`python bench/bare_server.py --mode send_str|raw --http-port N --tcp-port M`

- `POST /api/events`: the body is one event object, a JSON array or NDJSON lines (as the bus reads
  them); each is given a Seq, serialized once and sent to every WebSocket client; the answer is
  `{"accepted": n}`. No validation, export, state or security: the least a server can do.
- `GET /` (any path): a WebSocket stream. Mode `send_str`: aiohttp's defaults (it accepts
  permessage-deflate when offered, as a naive aiohttp server does) and `await ws.send_str(text)` per
  client. Mode `raw`: no deflate, and the frame written straight to each client's transport.
- The TCP port: NDJSON lines, each decoded and broadcast; `{"control":"sync"}` answers `synced`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc

import orjson
from aiohttp import web


def frame(payload: bytes) -> bytes:
    """An unmasked final text frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Bare:
    """The clients and the broadcast, in one of the two modes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sockets: set[web.WebSocketResponse] = set()
        self.transports: set[asyncio.Transport] = set()
        self.seq = 0

    def items(self, body: bytes) -> list[object]:
        text = body.strip()
        if text[:1] == b"[":
            return list(orjson.loads(text))
        try:
            return [orjson.loads(text)]
        except orjson.JSONDecodeError:
            return [orjson.loads(line) for line in text.split(b"\n") if line.strip()]

    def serialize(self, obj: object) -> bytes:
        self.seq += 1
        if isinstance(obj, dict):
            obj["Seq"] = self.seq
        return orjson.dumps(obj)

    async def broadcast(self, objs: list[object]) -> None:
        if self.mode == "raw":
            for obj in objs:
                data = frame(self.serialize(obj))
                for transport in tuple(self.transports):
                    transport.write(data)
            return
        for obj in objs:
            text = self.serialize(obj).decode()
            for ws in tuple(self.sockets):
                if ws.closed:  # a client that left during the loop
                    continue
                try:
                    await ws.send_str(text)
                except ConnectionResetError:  # its transport closed while we were at the others
                    self.sockets.discard(ws)

    async def post(self, request: web.Request) -> web.Response:
        objs = self.items(await request.read())
        await self.broadcast(objs)
        return web.json_response({"accepted": len(objs)})

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=self.mode != "raw")
        await ws.prepare(request)
        transport = request.transport
        if self.mode == "raw" and transport is not None:
            self.transports.add(transport)
        else:
            self.sockets.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            self.sockets.discard(ws)
            if transport is not None:
                self.transports.discard(transport)
        return ws

    async def tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count = 0
        while line := await reader.readline():
            obj = orjson.loads(line)
            if isinstance(obj, dict) and obj.get("control") == "sync":
                writer.write(orjson.dumps({"control": "synced", "accepted": count}) + b"\n")
                continue
            count += 1
            await self.broadcast([obj])
        writer.close()


async def main(mode: str, http_port: int, tcp_port: int) -> None:
    bare = Bare(mode)
    app = web.Application()
    app.router.add_post("/api/events", bare.post)
    app.router.add_get("/api/status", lambda _: web.json_response({"ok": True}))
    app.router.add_get("/{tail:.*}", bare.stream)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    await asyncio.start_server(bare.tcp, "127.0.0.1", tcp_port)
    gc.collect()
    gc.freeze()  # the same start-up hygiene as `dxbus serve` (dxbus.gc_freeze)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["send_str", "raw"], required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--tcp-port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.mode, args.http_port, args.tcp_port))
