"""Benchmark: the real `dxbus serve` process against bare aiohttp loops, fed the same way, same run.

`python3 bench/bus_bench.py` (about 25 minutes; `--quick` for a smoke run of about 2 minutes).

Servers, each its own process, started afresh for every repetition:
- **bus**: `dxbus serve` with the file export and the text files on (the defaults), `[WebSocket]
  Compression` at its default (`auto`: no deflate over loopback); **bus+deflate**: the same with
  `Compression = "on"`, for the deflate-offering rows only.
- **send_str**: bare aiohttp (`bench/bare_server.py --mode send_str`), which accepts deflate like any
  aiohttp server with default settings and `await ws.send_str()`s each event to every client.
- **raw**: bare aiohttp writing each frame straight to every client's transport (never deflates).

Clients, each kind its own process (`bench/loadgen.py`): WebSocket readers (with or without a
permessage-deflate offer, as Chromium and OBS make it), an HTTP poster (one event per POST like the
game, or NDJSON batches), a TCP NDJSON sender (the bus's persistent ingest; the bare server has a
naive one). Every figure is measured three times (`--reps`); the table shows the median and the
range, and ratios are taken per repetition (same machine state) and then the median.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import loadgen
from loadgen import free_port

HOST = "127.0.0.1"
CTX = mp.get_context("spawn")


# -- servers ----------------------------------------------------------------------------------
@dataclass
class Server:
    """A server process and where to reach it."""

    kind: str
    proc: subprocess.Popen[bytes]
    http_port: int
    ws_port: int
    tcp_port: int | None  # the persistent NDJSON ingest

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def bus_config(tmp: Path, compression: str, ingest_port: int) -> Path:
    path = tmp / "dxbus.toml"
    path.write_text(f"""
[WebSocket]
ClientQueueLimit = 1000000  # the flat-out runs measure delivery, not the too-far-behind rule
Compression = "{compression}"

[Security]
MaxConnectionsPerIP = 2000
MaxConnectionsPerPort = 2000

{f"[Ingest]{chr(10)}EnableTcpIngest = true{chr(10)}Port = {ingest_port}" if has_ingest() else ""}

[State]
File = "{tmp / 'state.json'}"

[TextFiles]
Directory = "{tmp / 'obs-text'}"
""")
    return path


def has_ingest() -> bool:
    """Whether this dxbus has the persistent TCP ingest (`[Ingest]`)."""
    from dxbus.config import Config

    return "ingest" in Config.model_fields


def start_server(kind: str, tmp: Path) -> Server:
    """Start `bus`, `bus+deflate`, `send_str` or `raw` on fresh ports and wait until it answers."""
    http, ws, tcp = free_port(), free_port(), free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if kind.startswith("bus"):
        folder = Path(tempfile.mkdtemp(dir=tmp))
        config = bus_config(folder, "on" if kind == "bus+deflate" else "auto", tcp)
        cmd = [sys.executable, "-m", "dxbus.cli", "serve", "--config", str(config),
               "--http-port", str(http), "--ws-port", str(ws), "--tcp-port", str(free_port()),
               "--export-dir", str(folder / "DataExport")]
        log = (folder / "server.log").open("wb")  # a file, never a pipe nobody drains (it would block)
        proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=log)
    else:
        cmd = [sys.executable, str(Path(__file__).parent / "bare_server.py"), "--mode", kind,
               "--http-port", str(http), "--tcp-port", str(tcp)]
        log = (Path(tempfile.mkdtemp(dir=tmp)) / "server.log").open("wb")
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        ws = http
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{http}/api/status", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{kind} did not start: see {log.name}")
        time.sleep(0.1)
    return Server(kind, proc, http, ws, tcp if not kind.startswith("bus") or has_ingest() else None)


# -- client processes -------------------------------------------------------------------------
@contextlib.contextmanager
def readers(server: Server, clients: int, deflate: bool, latency: bool = False) -> Iterator[Any]:
    """A reader process with `clients` streams open; yields its pipe (after "ready")."""
    parent, child = CTX.Pipe()
    proc = CTX.Process(target=loadgen.reader_process,
                       args=(HOST, server.ws_port, clients, deflate, latency, child), daemon=True)
    proc.start()
    try:
        status, detail = parent.recv()
        if status != "ready":
            raise RuntimeError(f"readers: {detail}")
        parent.negotiated = detail  # type: ignore[attr-defined]
        yield parent
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()


@contextlib.contextmanager
def job(target: Callable[..., None], *args: Any) -> Iterator[Any]:
    """A client process running `target(*args, pipe)`; yields the pipe once it said "ready"."""
    parent, child = CTX.Pipe()
    proc = CTX.Process(target=target, args=(*args, child), daemon=True)
    proc.start()
    try:
        assert parent.recv() == "ready"
        yield parent
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()


# -- the measurements -------------------------------------------------------------------------
def fanout(server: Server, clients: int, deflate: bool, events: int) -> dict[str, Any]:
    """NDJSON batches of 100 posted flat out; deliveries/s until the last client had them all."""
    with readers(server, clients, deflate) as r, \
            job(loadgen.poster_process, HOST, server.http_port, "batches",
                {"events": events, "batch": 100, "connections": 1}) as p:
        cpu = server.cpu_seconds()
        r.send(events)
        p.send("go")
        posted = p.recv()
        seen = r.recv()
        cpu = server.cpu_seconds() - cpu
    if "error" in posted:
        return {"value": float("nan"), "complete": False, "error": posted["error"]}
    complete = sum(seen["counts"]) == events * clients
    seconds = seen["last"] - posted["start"]
    return {"value": events * clients / seconds if complete else 0.0, "complete": complete,
            "negotiated": r.negotiated, "cpu_us_per_delivery": 1e6 * cpu / (events * clients)}


def single_posts(server: Server, seconds: float) -> dict[str, Any]:
    """One event per POST on 10 keep-alive connections, nobody reading: requests/s."""
    with job(loadgen.poster_process, HOST, server.http_port, "single",
             {"seconds": seconds, "connections": 10}) as p:
        cpu = server.cpu_seconds()
        p.send("go")
        out = p.recv()
        cpu = server.cpu_seconds() - cpu
    return {"value": out["requests_per_s"], "complete": out["bad"] == 0,
            "cpu_us_per_request": round(1e6 * cpu / (out["requests_per_s"] * seconds), 1)}


def batch_posts(server: Server, events: int) -> dict[str, Any]:
    """NDJSON bodies of 100 events, one connection, nobody reading: events/s."""
    with job(loadgen.poster_process, HOST, server.http_port, "batches",
             {"events": events, "batch": 100, "connections": 1}) as p:
        cpu = server.cpu_seconds()
        p.send("go")
        out = p.recv()
        cpu = server.cpu_seconds() - cpu
    return {"value": out["events_per_s"], "complete": out["bad"] == 0,
            "events_per_cpu_s": round(events / cpu) if cpu else None}


def persistent(server: Server, events: int) -> dict[str, Any]:
    """One TCP connection of NDJSON lines, nobody reading: events/s until the sync answer."""
    if server.tcp_port is None:
        return {"value": float("nan"), "complete": False}
    with job(loadgen.tcp_process, HOST, server.tcp_port, {"events": events}) as p:
        cpu = server.cpu_seconds()
        p.send("go")
        out = p.recv()
        cpu = server.cpu_seconds() - cpu
    # Events per second of server CPU: what one core would carry, the figure least bent by other load.
    return {"value": out["events_per_s"], "complete": out["answer"].get("accepted") == events,
            "events_per_cpu_s": round(events / cpu) if cpu else None}


def latency(server: Server, rate: int, seconds: float, clients: int = 50) -> dict[str, Any]:
    """Single-event POSTs at `rate`/s to `clients` deflate-offering readers: p50/p99 in ms."""
    total = int(rate * seconds)
    with readers(server, clients, deflate=True, latency=True) as r, \
            job(loadgen.poster_process, HOST, server.http_port, "paced",
                {"rate": rate, "seconds": seconds, "connections": 8}) as p:
        r.send(total)
        p.send("go")
        p.recv()
        seen = r.recv()
    lat = seen["latency"]
    return {"value": lat["p99_ms"], "p50": lat["p50_ms"], "windows": lat["windows_p99_ms"],
            "complete": sum(seen["counts"]) == total * clients}


def memory(server: Server, clients: int = 200) -> dict[str, Any]:
    """Server RSS growth per idle deflate-offering client (200 of them), in KB."""
    time.sleep(0.5)
    before = server.rss_kb()
    with readers(server, clients, deflate=True) as r:
        time.sleep(1.0)
        after = server.rss_kb()
        r.send(0)
        r.recv()
    return {"value": (after - before) / clients, "complete": True}


@dataclass(frozen=True)
class Row:
    """One line of the table: what is measured, for which servers, and which way is better."""

    key: str
    title: str
    unit: str
    servers: tuple[str, ...]
    run: Callable[[Server], dict[str, Any]]
    higher_is_better: bool = True


def rows(quick: bool, latency_seconds: float, scale: int = 1) -> list[Row]:
    n = 4 if quick else scale
    everyone = ("bus", "send_str", "raw")
    return [
        Row("memory", "memory per deflate-offering client (200 idle)", "KB",
            ("bus", "bus+deflate", "send_str", "raw"), memory, higher_is_better=False),
        Row("single", "single-event POST, 10 connections, no readers", "req/s", everyone,
            lambda s: single_posts(s, 2 if quick else 5)),
        Row("batches", "NDJSON batches of 100 by POST, no readers", "events/s", everyone,
            lambda s: batch_posts(s, 50_000 // n)),
        Row("persistent", "persistent TCP NDJSON, one connection, no readers", "events/s", everyone,
            lambda s: persistent(s, 200_000 // n)),
        Row("fan50", "fan-out to 50 clients, no deflate offered, batches in", "deliveries/s", everyone,
            lambda s: fanout(s, 50, False, 20_000 // n)),
        Row("fan50d", "fan-out to 50 deflate-offering clients, batches in", "deliveries/s",
            ("bus", "bus+deflate", "send_str", "raw"), lambda s: fanout(s, 50, True, 20_000 // n)),
        Row("fan200d", "fan-out to 200 deflate-offering clients, batches in", "deliveries/s",
            ("bus", "bus+deflate", "send_str", "raw"), lambda s: fanout(s, 200, True, 5_000 // n)),
        Row("lat60", "latency at 60 single POSTs/s, 50 deflate-offering clients, p99", "ms", everyone,
            lambda s: latency(s, 60, min(latency_seconds, 20 if quick else 60)), higher_is_better=False),
        Row("lat1000", "latency at 1,000 single POSTs/s, 50 deflate-offering clients, p99", "ms",
            everyone, lambda s: latency(s, 1000, latency_seconds), higher_is_better=False),
    ]


def fmt(value: float) -> str:
    if value != value:  # nan
        return "n/a"
    if value >= 1000:
        return f"{value / 1000:.0f}k" if value >= 10_000 else f"{value / 1000:.1f}k"
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def cell(results: list[dict[str, Any]]) -> str:
    values = [r["value"] for r in results]
    text = f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"
    if not all(r["complete"] for r in results):
        text += " incomplete"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, one repetition (smoke test)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--latency-seconds", type=float, default=60.0,
                        help="length of each latency run (default 60)")
    parser.add_argument("--only", help="comma-separated row keys (memory,single,batches,persistent,"
                                       "fan50,fan50d,fan200d,lat60,lat1000)")
    parser.add_argument("--scale", type=int, default=1,
                        help="divide the event counts of the throughput rows by this (a busy machine)")
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    args = parser.parse_args()
    reps = 1 if args.quick else args.reps
    table = rows(args.quick, 5.0 if args.quick else args.latency_seconds, args.scale)
    if args.only:
        wanted = set(args.only.split(","))
        table = [row for row in table if row.key in wanted]
    kinds = [k for k in ("bus", "bus+deflate", "send_str", "raw") if any(k in row.servers for row in table)]
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(1, reps + 1):
            for kind in kinds:
                server = start_server(kind, Path(tmp))
                try:
                    for row in table:
                        if kind not in row.servers:
                            continue
                        r = row.run(server)
                        results.setdefault((row.key, kind), []).append(r)
                        extra = {k: v for k, v in r.items() if k not in ("value",)}
                        print(f"rep {rep} {kind:11} {row.key:10} {fmt(r['value']):>8} {row.unit} {extra}",
                              flush=True)
                finally:
                    server.stop()
    print(f"load average at end: {os.getloadavg()}\n")
    print("| what | bus | bus, Compression on | bare send_str | bare raw write "
          "| bus / send_str | bus / raw |")
    print("|---|---|---|---|---|---|---|")
    for row in table:
        cells = [cell(results[row.key, k]) if (row.key, k) in results else "" for k in kinds_all()]
        ratios = []
        for base in ("send_str", "raw"):
            if (row.key, "bus") in results and (row.key, base) in results:
                per_rep = [b["value"] / x["value"] if x["value"] else float("nan")
                           for b, x in zip(results[row.key, "bus"], results[row.key, base], strict=False)]
                ratios.append(f"{statistics.median(per_rep):.2f}")
            else:
                ratios.append("")
        print(f"| {row.title} ({row.unit}) | " + " | ".join(cells + ratios) + " |")
    for key in ("lat60", "lat1000"):
        for kind in ("bus", "send_str", "raw"):
            for r in results.get((key, kind), []):
                print(f"{key} {kind}: p50 {r['p50']:.2f} ms, p99 per 10 s: "
                      + ", ".join(f"{w:.1f}" for w in r["windows"]))
    if args.json:
        args.json.write_text(json.dumps({f"{k[0]}/{k[1]}": v for k, v in results.items()}, indent=1))
    return 0


def kinds_all() -> tuple[str, ...]:
    return ("bus", "bus+deflate", "send_str", "raw")


if __name__ == "__main__":
    sys.exit(main())
