"""Benchmark: the race hub (`dxbus race`) against a bare aiohttp relay, in the same run.

Load, the same for every server: 100 runners push `player_update` at 60 Hz each over the hub's push
socket (`/api/race/<id>/push`, the protocol of `dxbus serve --race`), and every runner enters the next
room of the route every `--split-every` seconds, which is a split; 1,000 viewers hold a WebSocket on
`/ws?types=race_split`. Figures: events/s in (sent by the runners), race_split deliveries/s out (summed
over the viewers) and p50/p99 split-to-viewer latency (the runner's `Timestamp` of the room change to
the arrival at a viewer; wall clock, millisecond resolution, so figures round up to the next ms).

Servers, each its own process:

- **hub**: `dxbus race races.toml` as an organiser runs it (facts, split rules and the race model per
  runner, `race_state` at 4 Hz, the NDJSON export and text files of its own bus);
- **hub, Redis, 2 processes** (`--redis`): runners on process A, viewers on process B, sharing the
  race through a real `redis-server` (started here on a free port, in a temp dir);
- **bare relay** (`--bare-server`, used by this script): aiohttp that accepts the same push socket,
  decodes each frame and `send_str`s a `race_split` to every viewer for every room change. No facts,
  no route, no standings: about the least a relay can do.

Runners are aiohttp clients in one process; viewers are raw-socket readers in `--viewer-procs`
processes (cheaper per frame than a client library). Run:
`python3 bench/race_bench.py` (about 2 minutes) or `--quick`; `--no-redis` skips the Redis run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from dxbus.clock import utc_iso

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import free_port, take_frames  # the bench folder is not a package

RACE = "bench"


def epoch_of(text: bytes) -> float:
    """Epoch seconds of a wire Timestamp."""
    return datetime.fromisoformat(text.decode().replace("Z", "+00:00")).timestamp()


# -- the bare relay (a server process) ----------------------------------------------------------
def bare_server(port: int) -> None:
    """aiohttp: the push socket in, a race_split per room change out to every viewer."""
    from aiohttp import WSMsgType, web

    viewers: set[web.WebSocketResponse] = set()
    counts = {"in": 0}

    async def push(request: web.Request) -> web.WebSocketResponse:
        runner = request.query.get("runner", "")
        ws = web.WebSocketResponse(max_msg_size=8 * 1024 * 1024)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            obj = orjson.loads(msg.data)
            if isinstance(obj, dict):
                await ws.send_str('{"type":"resume","since_seq":0}')
                continue
            for event in obj:
                counts["in"] += 1
                data = event.get("Data") or {}
                if (event.get("EventType") == "scene_transition"
                        and data.get("from_scene") != "Opening_Sequence"):
                    out = orjson.dumps({"EventType": "race_split", "Data": {
                        "runner": runner, "split": event["Data"]["to_scene"],
                        "timestamp": event.get("Timestamp")}}).decode()
                    for viewer in list(viewers):
                        with contextlib.suppress(ConnectionError):
                            await viewer.send_str(out)
        return ws

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        viewers.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            viewers.discard(ws)
        return ws

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"race": {"races": {RACE: {"received": counts["in"]}}}})

    app = web.Application()
    app.router.add_get(f"/api/race/{RACE}/push", push)
    app.router.add_get("/ws", stream)
    app.router.add_get("/api/status", status)
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


# -- viewers (processes of raw-socket readers) ----------------------------------------------------
class Viewer(asyncio.Protocol):
    """One `/ws?types=race_split` connection; records (arrival, latency) of each race_split."""

    def __init__(self, port: int) -> None:
        self.request = (f"GET /ws?types=race_split HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                        ).encode()
        self.buf = bytearray()
        self.upgraded = False
        self.samples: list[tuple[float, float]] = []
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during the handshake"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in bytes(buf[:end]):
                self.ready.set_exception(ConnectionError(bytes(buf[:200]).decode(errors="replace")))
                return
            del buf[:end + 4]
            self.upgraded = True
            self.ready.set_result(None)
        for _, payload in take_frames(buf):
            if b'"race_split"' in payload:
                k = payload.find(b'"timestamp":"') + 13
                if k >= 13:
                    self.samples.append((now, now - epoch_of(payload[k:payload.find(b'"', k)])))


def viewer_process(port: int, count: int, conn: Any) -> None:
    """Open `count` viewers, say ready, collect until told to stop, send the samples back."""
    async def main() -> None:
        loop = asyncio.get_running_loop()
        viewers = []
        for _ in range(count):
            _, viewer = await loop.create_connection(lambda: Viewer(port), "127.0.0.1", port)
            viewers.append(viewer)
        await asyncio.gather(*(v.ready for v in viewers))
        conn.send("ready")
        await loop.run_in_executor(None, conn.recv)  # "stop"
        conn.send([s for v in viewers for s in v.samples])

    asyncio.run(main())


# -- runners (one process of aiohttp clients) -----------------------------------------------------
def runner_process(port: int, first: int, runners: int, total: int, hz: int, seconds: float,
                   split_every: float, conn: Any) -> None:
    """Push like `dxbus serve --race`: hello, resume, then 60 Hz player_update and a room per split."""
    import aiohttp

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            sockets = []
            for i in range(first, first + runners):
                url = f"ws://127.0.0.1:{port}/api/race/{RACE}/push?runner=runner-{i:03d}"
                ws = await session.ws_connect(url, headers={"X-Runner-Token": f"bench-token-{i:03d}"},
                                              max_msg_size=0)
                await ws.send_str(orjson.dumps({"type": "hello", "instance": f"bench-{i}"}).decode())
                await ws.receive(timeout=30)
                sockets.append(ws)
            seqs = [0] * runners
            rooms = [0] * runners
            sent = 0
            splits = 0

            def frame(i: int, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
                seqs[i] += 1
                return {"EventType": event_type, "Data": data, "Seq": seqs[i],
                        "Timestamp": utc_iso(time.time())}

            for i, ws in enumerate(sockets):  # a new save: the race route starts
                await ws.send_str(orjson.dumps([frame(i, "scene_transition", {
                    "from_scene": "Opening_Sequence", "to_scene": "Tut_01"})]).decode())
            conn.send("ready")
            conn.recv()  # "go": every runner process starts at once
            start = time.monotonic()
            tick = 0
            next_split = [start + split_every * (first + i + 1) / total for i in range(runners)]
            while (now := time.monotonic()) < start + seconds:
                for i, ws in enumerate(sockets):
                    events = [frame(i, "player_update", {
                        "health_current": 5 - (tick // 120 + i) % 3, "health_max": 5, "mp_current": tick % 9,
                        "position_x": round(tick * 0.13 + i, 2), "position_y": 3.0,
                        "scene": f"Room_{rooms[i]:03d}"})]
                    if now >= next_split[i]:
                        previous = f"Room_{rooms[i]:03d}" if rooms[i] else "Tut_01"
                        rooms[i] += 1
                        next_split[i] += split_every
                        events.append(frame(i, "scene_transition", {
                            "from_scene": previous, "to_scene": f"Room_{rooms[i]:03d}"}))
                        splits += 1
                    await ws.send_str(orjson.dumps(events).decode())
                    sent += len(events)
                tick += 1
                await asyncio.sleep(max(0.0, start + tick / hz - time.monotonic()))
            conn.send({"sent": sent, "splits": splits, "seconds": time.monotonic() - start})
            for ws in sockets:
                await ws.close()

    asyncio.run(main())


# -- orchestration ----------------------------------------------------------------------------------
def race_folder(root: Path, runners: int, splits: int) -> Path:
    """races.toml with one race of `runners` push runners, a route of `splits` room entries."""
    root.mkdir(parents=True, exist_ok=True)
    route = ['name = "Bench route"', "[start]", "new_game = true"]
    for k in range(1, splits + 1):
        route += ["[[splits]]", f'name = "Room {k}"', f'enter = "Room_{k:03d}"']
    (root / "route.toml").write_text("\n".join(route) + "\n")
    lines = ["[[race]]", f'id = "{RACE}"', 'route = "route.toml"']
    for i in range(runners):
        lines += ["[[race.runner]]", f'name = "runner-{i:03d}"', f'token = "bench-token-{i:03d}"']
    (root / "races.toml").write_text("\n".join(lines) + "\n")
    (root / "dxbus.toml").write_text(
        "[Security]\nMaxConnectionsPerIP = 10000\nMaxConnectionsPerPort = 6000\n")
    return root / "races.toml"


def wait_http(port: int, timeout: float = 60) -> None:
    """Until GET /api/status answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/status", timeout=2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def received(port: int) -> int | None:
    """Events the server counted in (its /api/status); None if it is too busy to answer in 60 s."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=60) as resp:
            status = orjson.loads(resp.read())
    except OSError:
        return None
    return int(status["race"]["races"][RACE]["received"])


def start_hub(folder: Path, races: Path, port: int, redis: str | None) -> subprocess.Popen[bytes]:
    """`dxbus race` in its own folder."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(races.parent / "dxbus.toml", folder / "dxbus.toml")
    args = [sys.executable, "-m", "dxbus.cli", "race", str(races), "--http-port", str(port),
            "--ws-port", "0", "--tcp-port", "0"] + (["--redis", redis] if redis else [])
    return subprocess.Popen(args, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def measure(name: str, runner_port: int, viewer_port: int, args: argparse.Namespace) -> dict[str, Any]:
    """One load run against servers already up; returns the figures."""
    ctx = mp.get_context("spawn")
    per = [args.viewers // args.viewer_procs + (1 if i < args.viewers % args.viewer_procs else 0)
           for i in range(args.viewer_procs)]
    viewers = []
    for count in per:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=viewer_process, args=(viewer_port, count, child), daemon=True)
        proc.start()
        viewers.append((proc, parent))
    for _, pipe in viewers:
        assert pipe.recv() == "ready"
    runners = []
    share = [args.runners // args.runner_procs + (1 if i < args.runners % args.runner_procs else 0)
             for i in range(args.runner_procs)]
    for k, count in enumerate(share):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=runner_process, args=(runner_port, sum(share[:k]), count, args.runners,
                                                        args.hz, args.seconds, args.split_every, child),
                           daemon=True)
        proc.start()
        runners.append((proc, parent))
    for _, pipe in runners:
        assert pipe.recv() == "ready"
    in_before = received(runner_port)
    for _, pipe in runners:
        pipe.send("go")
    parts = [pipe.recv() for _, pipe in runners]
    result = {"sent": sum(p["sent"] for p in parts), "splits": sum(p["splits"] for p in parts),
              "seconds": max(p["seconds"] for p in parts)}
    in_after = received(runner_port)
    time.sleep(args.drain)  # late deliveries still count toward latency, not toward the rate
    samples: list[tuple[float, float]] = []
    for _, pipe in viewers:
        pipe.send("stop")
    for proc, pipe in viewers:
        samples += pipe.recv()
        proc.join(10)
    for proc, _ in runners:
        proc.join(10)
    latencies = sorted(lat for _, lat in samples)
    expected = result["splits"] * args.viewers
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [float("nan")] * 99
    server_in = (in_after - in_before) / result["seconds"] if in_after is not None and in_before is not None \
        else float("nan")
    return {"name": name, "events_in": result["sent"] / result["seconds"], "server_in": server_in,
            "deliveries_out": len(samples) / result["seconds"], "delivered": len(samples),
            "expected": expected, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000}


def redis_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's redis-server on a free port in a temp dir."""
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return proc, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runners", type=int, default=100)
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--hz", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--split-every", type=float, default=5.0, help="seconds between a runner's splits")
    parser.add_argument("--viewer-procs", type=int, default=4)
    parser.add_argument("--runner-procs", type=int, default=2)
    parser.add_argument("--drain", type=float, default=5.0,
                        help="seconds to wait after the runners stop for late deliveries")
    parser.add_argument("--quick", action="store_true", help="20 runners, 100 viewers, 6 s")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(args.bare_server)
        return 0
    if args.quick:
        args.runners, args.viewers, args.seconds, args.viewer_procs, args.runner_procs = 20, 100, 6.0, 2, 1
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 1,000 viewers need the descriptors
    splits = int(args.seconds / args.split_every) + 5
    results = []
    with tempfile.TemporaryDirectory(prefix="race-bench-") as tmp:
        root = Path(tmp)
        races = race_folder(root / "cfg", args.runners, splits)
        # 1. the bare relay
        port = free_port()
        bare = subprocess.Popen([sys.executable, __file__, "--bare-server", str(port)],
                                start_new_session=True)
        try:
            wait_http(port)
            results.append(measure("bare aiohttp relay", port, port, args))
        finally:
            stop(bare)
        # 2. one hub process
        port = free_port()
        hub = start_hub(root / "hub", races, port, None)
        try:
            wait_http(port)
            results.append(measure("dxbus race (1 process)", port, port, args))
        finally:
            stop(hub)
        # 3. two hub processes through Redis: runners on A, viewers on B
        if not args.no_redis:
            redis, url = redis_server(root)
            port_a, port_b = free_port(), free_port()
            hub_a = start_hub(root / "hub-a", races, port_a, url)
            hub_b = start_hub(root / "hub-b", races, port_b, url)
            try:
                wait_http(port_a)
                wait_http(port_b)
                results.append(measure("dxbus race, Redis (runners on A, viewers on B)", port_a, port_b,
                                       args))
            finally:
                stop(hub_a)
                stop(hub_b)
                stop(redis)
    bare_result = results[0]
    print(f"\n{args.runners} runners x {args.hz} Hz, split every {args.split_every:g} s each, "
          f"{args.viewers} viewers, {args.seconds:g} s\n")
    print("| server | events/s in | deliveries/s out | delivered/expected | p50 / p99 ms | "
          "out / p99 ratio to bare |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['name']} | {r['events_in']:,.0f} (server {r['server_in']:,.0f}) | "
              f"{r['deliveries_out']:,.0f} | {r['delivered']:,}/{r['expected']:,} | "
              f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} | "
              f"{r['deliveries_out'] / bare_result['deliveries_out']:.2f} / "
              f"{r['p99_ms'] / bare_result['p99_ms']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
