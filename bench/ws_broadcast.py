"""Benchmark: WebSocket fan-out of the bus against a bare aiohttp broadcast loop, in the same run.

Two figures, each for our bus (`dxbus serve` as built by build_bus: hub, session state, file export,
alerts, the WebSocket port) and for a minimal aiohttp server that `send_str`s each message to every
client:

1. throughput: events/s delivered to 50 WebSocket clients (every client receives every event);
2. latency: p50/p99 publish-to-receive at 1,000 events/s with 50 clients.

The 50 clients live in a separate process (aiohttp), loopback only. Times are CLOCK_MONOTONIC, shared by
both processes on Linux. Run: `python3 bench/ws_broadcast.py` (about 30-50 s; `--quick` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

CLIENTS = 50
RATE = 1000  # events/s for the latency run


# -- the clients (separate process) ------------------------------------------------------------
def client_process(url: str, clients: int, expected: int, latency: bool, conn: Any) -> None:
    """Open `clients` sockets, say ready, read `expected` events on each, send back what was seen."""
    asyncio.run(_clients(url, clients, expected, latency, conn))


async def _clients(url: str, clients: int, expected: int, latency: bool, conn: Any) -> None:
    latencies: list[float] = []
    last = [0.0]
    counts = [0] * clients
    loads = orjson.loads
    now = time.monotonic

    async def one(ws: aiohttp.ClientWebSocketResponse, index: int) -> None:
        got = 0
        t = 0.0
        while got < expected:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            if '"bench"' not in msg.data:
                continue  # something else on the bus
            got += 1
            if latency:
                t = now()
                latencies.append(t - loads(msg.data)["Data"]["t"])
        # In the throughput run only the arrival of the last event matters (no parsing: keep the
        # clients cheaper than the servers they measure).
        t = now() if not latency else t
        last[0] = max(last[0], t)
        counts[index] = got

    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(url, compress=0, max_msg_size=0) for _ in range(clients)]
        conn.send("ready")
        with contextlib.suppress(TimeoutError):  # a stalled run reports its counts as incomplete
            await asyncio.wait_for(asyncio.gather(*(one(ws, i) for i, ws in enumerate(sockets))), 60)
        for ws in sockets:
            await ws.close()
    conn.send({"latencies": latencies, "last": last[0], "counts": counts})


# -- the two servers --------------------------------------------------------------------------
@dataclass
class Server:
    """A running server: where clients connect, how to publish one event, how many are connected."""

    url: str
    publish: Callable[[int], Awaitable[None] | None]
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

    async def publish(i: int) -> None:
        seq[0] += 1
        text = orjson.dumps({"Timestamp": "2026-01-01T00:00:00.000Z", "EventType": "bench",
                             "Data": {"i": i, "t": time.monotonic()}, "Seq": seq[0]}).decode()
        for ws in tuple(clients):
            await ws.send_str(text)

    return Server(f"ws://127.0.0.1:{port}/", publish, lambda: len(clients), runner.cleanup)


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

    def publish(i: int) -> None:
        emit("bench", {"i": i, "t": time.monotonic()})

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
    if rate is None:
        # Flat out, yielding to the loop every 50 events so sockets get written.
        for i in range(events):
            r = publish(i)
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
            r = publish(i)
            if r is not None:
                await r
    result = await loop.run_in_executor(None, parent.recv)
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
    }


async def main(quick: bool) -> int:
    throughput_events = 2_000 if quick else 10_000
    latency_seconds = 1 if quick else 5
    latency_events = RATE * latency_seconds
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("bare", "bus"):
            results[name] = {}
            for run, events, rate in (("throughput", throughput_events, None),
                                      ("latency", latency_events, RATE)):
                server = await (start_bare() if name == "bare" else
                                start_bus(Path(tmp) / run, queue_limit=max(events, 4096)))
                try:
                    results[name][run] = await drive(server, events, rate)
                finally:
                    await server.stop()
                r = results[name][run]
                latency = f" p50={r['p50_ms']:.2f} ms p99={r['p99_ms']:.2f} ms" if rate else ""
                print(f"{name:5} {run:10} complete={r['complete']} {r['events_per_s']:7.0f} events/s"
                      f"{latency} ({r['seconds']:.2f} s)", flush=True)
    bare, bus = results["bare"], results["bus"]
    ratio = bus["throughput"]["events_per_s"] / bare["throughput"]["events_per_s"]
    p99_ratio = bus["latency"]["p99_ms"] / bare["latency"]["p99_ms"]
    print()
    print(f"{CLIENTS} clients, loopback, one client process")
    print(f"throughput: bus {bus['throughput']['events_per_s']:.0f} events/s "
          f"({bus['throughput']['events_per_s'] * CLIENTS:.0f} frames/s), bare "
          f"{bare['throughput']['events_per_s']:.0f} events/s: ratio {ratio:.2f} (target >= 0.60)")
    print(f"latency at {RATE}/s: bus p50 {bus['latency']['p50_ms']:.2f} ms "
          f"p99 {bus['latency']['p99_ms']:.2f} ms, "
          f"bare p50 {bare['latency']['p50_ms']:.2f} ms p99 {bare['latency']['p99_ms']:.2f} ms: "
          f"p99 ratio {p99_ratio:.2f} (target <= 2.0)")
    ok = ratio >= 0.6 and p99_ratio <= 2.0 and all(r["complete"] for x in results.values()
                                                   for r in x.values())
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))
