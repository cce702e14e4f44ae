"""Benchmark: WebSocket fan-out of the bus against a bare aiohttp broadcast loop, in the same run.

Two figures, each for our bus (`dxbus serve` as built by build_bus: hub, session state, file export,
alerts, the WebSocket port) and for a minimal aiohttp server that `send_str`s each message to every
client:

1. throughput: events/s delivered to 50 WebSocket clients (every client receives every event);
2. latency: p50/p99 publish-to-receive at 1,000 events/s with 50 clients.

The 50 clients live in a separate process (a minimal frame reader), loopback only. Times are
CLOCK_MONOTONIC, shared by both processes on Linux.
Run: `python3 bench/ws_broadcast.py` (about 30-50 s; `--quick` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import TEXT, take_frames  # the bench folder is not a package

CLIENTS = 50
RATE = 1000  # events/s for the latency run


# -- the clients (separate process) ------------------------------------------------------------
class BenchClient(asyncio.Protocol):
    """A minimal WebSocket reader: handshake, then unmasked server frames parsed from the byte stream.

    Far cheaper per frame than a full client library, so the 50 clients stay lighter than the servers
    they measure (they share the machine). Frames in one read arrive at the same instant, so one
    timestamp per read is exact.
    """

    def __init__(self, host: str, port: int, expected: int, latency: bool) -> None:
        self.request = (f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        self.expected = expected
        self.latency = latency
        self.buf = bytearray()
        self.upgraded = False
        self.got = 0
        self.last = 0.0
        self.latencies: list[float] = []
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in (self.ready, self.done):
            if not fut.done():
                fut.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            assert b" 101 " in buf[:end], bytes(buf[:end])
            del buf[:end + 4]
            self.upgraded = True
            self.ready.set_result(None)
        for first, payload in take_frames(buf):
            if first & 0x0F == TEXT and b'"bench"' in payload:
                self.got += 1
                self.last = now
                if self.latency:
                    k = payload.find(b'"t":') + 4
                    stop = min(i for i in (payload.find(b",", k), payload.find(b"}", k)) if i > 0)
                    self.latencies.append(now - float(payload[k:stop]))
        if self.got >= self.expected and not self.done.done():
            self.done.set_result(None)


def client_process(url: str, clients: int, expected: int, latency: bool, conn: Any) -> None:
    """Open `clients` sockets, say ready, read `expected` events on each, send back what was seen."""
    asyncio.run(_clients(url, clients, expected, latency, conn))


async def _clients(url: str, clients: int, expected: int, latency: bool, conn: Any) -> None:
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    loop = asyncio.get_running_loop()
    readers: list[BenchClient] = []
    for _ in range(clients):
        _, proto = await loop.create_connection(
            lambda: BenchClient(host, int(port), expected, latency), host, int(port))
        readers.append(proto)
    await asyncio.gather(*(r.ready for r in readers))
    conn.send("ready")
    with contextlib.suppress(TimeoutError):  # a stalled run reports its counts as incomplete
        await asyncio.wait_for(asyncio.gather(*(r.done for r in readers)), 60)
    conn.send({"latencies": [x for r in readers for x in r.latencies],
               "last": max(r.last for r in readers), "counts": [r.got for r in readers]})


# -- the two servers --------------------------------------------------------------------------
@dataclass
class Server:
    """A running server: where clients connect, how to publish one event, how many are connected."""

    url: str
    publish: Callable[[int, float], Awaitable[None] | None]
    connected: Callable[[], int]
    stop: Callable[[], Awaitable[None]]


async def start_bare() -> Server:
    """The baseline: a set of sockets and a loop that `send_str`s each message to every one."""
    clients: set[web.WebSocketResponse] = set()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        clients.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            clients.discard(ws)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    seq = [0]
    # The same start-up hygiene as the bus gets (dxbus.gc_freeze), so only the fan-out differs.
    gc.collect()
    gc.freeze()

    async def stop() -> None:
        await runner.cleanup()
        gc.unfreeze()

    async def publish(i: int, t: float) -> None:
        seq[0] += 1
        text = orjson.dumps({"Timestamp": "2026-01-01T00:00:00.000Z", "EventType": "bench",
                             "Data": {"i": i, "t": t}, "Seq": seq[0]}).decode()
        for ws in tuple(clients):
            await ws.send_str(text)

    return Server(f"ws://127.0.0.1:{port}/", publish, lambda: len(clients), stop)


async def start_bus(tmp: Path, queue_limit: int) -> Server:
    """Our bus, assembled as `dxbus serve` does, on ephemeral ports."""
    from dxbus.assemble import build_bus
    from dxbus.config import load_config

    config = load_config(None, {
        "HTTP": {"Port": 0}, "WebSocket": {"Port": 0, "ClientQueueLimit": queue_limit},
        "TCP": {"Port": 0}, "FileExport": {"Directory": str(tmp / "DataExport")},
        "State": {"File": str(tmp / "state.json")},
    })
    bus = build_bus(config, base_dir=tmp)
    await bus.start()
    emit = bus.hub.emit

    def publish(i: int, t: float) -> None:
        emit("bench", {"i": i, "t": t})

    return Server(bus.url("websocket") + "/", publish, lambda: bus.connections["websocket"], bus.stop)


# -- the runs ---------------------------------------------------------------------------------
async def drive(server: Server, events: int, rate: float | None) -> dict[str, Any]:
    """Start the client process, publish `events` (as fast as possible, or at `rate`/s), collect."""
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(
        target=client_process, args=(server.url, CLIENTS, events, rate is not None, child), daemon=True)
    proc.start()
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, parent.recv) == "ready"
    while server.connected() < CLIENTS:
        await asyncio.sleep(0.01)
    publish = server.publish
    start = time.monotonic()
    cpu_start = time.process_time()
    if rate is None:
        # Flat out, yielding to the loop every 50 events so sockets get written.
        for i in range(events):
            r = publish(i, time.monotonic())
            if r is not None:
                await r
            if i % 50 == 49:
                await asyncio.sleep(0)
    else:
        interval = 1.0 / rate
        for i in range(events):
            target = start + i * interval
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            # Stamped with when it was due, not when the server let us publish it: a server that
            # holds the producer back (the bare loop awaits every socket) pays for it in latency.
            r = publish(i, target)
            if r is not None:
                await r
    result = await loop.run_in_executor(None, parent.recv)
    cpu = time.process_time() - cpu_start  # the server side (this process), mostly the loop
    proc.join(5)
    lat = sorted(result["latencies"])
    complete = sum(result["counts"]) == events * CLIENTS
    return {
        "complete": complete,
        "delivered": sum(result["counts"]),
        "seconds": result["last"] - start,
        "events_per_s": events / (result["last"] - start) if complete else 0.0,
        "p50_ms": 1000 * lat[len(lat) // 2] if lat else float("nan"),
        "p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else float("nan"),
        "mean_ms": 1000 * statistics.fmean(lat) if lat else float("nan"),
        "cpu_us_per_event": 1e6 * cpu / events,
    }


async def measure(name: str, run: str, events: int, rate: float | None, tmp: Path) -> dict[str, Any]:
    """One run against a freshly started server."""
    server = await (start_bare() if name == "bare" else
                    start_bus(tmp / f"{run}-{time.monotonic_ns()}", queue_limit=max(events, 4096)))
    try:
        r = await drive(server, events, rate)
    finally:
        await server.stop()
    latency = f" p50={r['p50_ms']:6.2f} ms p99={r['p99_ms']:7.2f} ms" if rate else ""
    print(f"  {name:4} {run:10} {r['events_per_s']:6.0f} events/s{latency}  "
          f"server CPU {r['cpu_us_per_event']:4.0f} us/event  complete={r['complete']}", flush=True)
    return r


async def main(quick: bool, rounds: int) -> int:
    throughput_events = 1_000 if quick else 5_000
    latency_events = RATE * (1 if quick else 3)
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Alternate the servers and keep the best run of each: the machine may be shared, and a
        # burst of someone else's work should not decide the comparison.
        for round_no in range(1, rounds + 1):
            print(f"round {round_no}/{rounds}", flush=True)
            for name in ("bare", "bus"):
                for run, events, rate in (("throughput", throughput_events, None),
                                          ("latency", latency_events, RATE)):
                    r = await measure(name, run, events, rate, Path(tmp))
                    runs.setdefault((name, run), []).append(r)
    best = {key: (max(rs, key=lambda r: r["events_per_s"]) if key[1] == "throughput"
                  else min(rs, key=lambda r: r["p99_ms"])) for key, rs in runs.items()}
    bare_t, bus_t = best["bare", "throughput"], best["bus", "throughput"]
    bare_l, bus_l = best["bare", "latency"], best["bus", "latency"]
    ratio = bus_t["events_per_s"] / bare_t["events_per_s"]
    p99_ratio = bus_l["p99_ms"] / bare_l["p99_ms"]
    print(f"\n{CLIENTS} clients, loopback, best of {rounds} round(s)")
    print(f"throughput: bus {bus_t['events_per_s']:.0f} events/s "
          f"({bus_t['events_per_s'] * CLIENTS:.0f} frames/s), bare {bare_t['events_per_s']:.0f} events/s: "
          f"ratio {ratio:.2f} (target >= 0.60)")
    print(f"server CPU per event (50 clients): bus {bus_t['cpu_us_per_event']:.0f} us, "
          f"bare {bare_t['cpu_us_per_event']:.0f} us")
    print(f"latency at {RATE}/s: bus p50 {bus_l['p50_ms']:.2f} ms p99 {bus_l['p99_ms']:.2f} ms, "
          f"bare p50 {bare_l['p50_ms']:.2f} ms p99 {bare_l['p99_ms']:.2f} ms: "
          f"p99 ratio {p99_ratio:.2f} (target <= 2.0)")
    ok = ratio >= 0.6 and p99_ratio <= 2.0 and all(r["complete"] for r in best.values())
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds, best kept (default 2)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.quick, args.rounds)))
