"""The benchmark's clients, each run in its own process: WebSocket readers, HTTP posters, a TCP sender.

They are written against raw sockets (asyncio Protocols), far cheaper per frame or request than a
client library, so that on a two-core machine the clients are not what is measured. Times are
CLOCK_MONOTONIC, which every process on the machine shares: a producer stamps each event with the
time it was **due** (`Data.t`), a reader subtracts it from the time the frame arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import zlib
from typing import Any

import orjson

MARKER = b'"bench_t":'  # in every benchmark event's Data (a key, so no derived event copies it)
_TAIL = len(MARKER) - 1
_DEFLATE_TAIL = b"\x00\x00\xff\xff"
TEXT = 0x1  # a frame's opcode (the low bits of its first byte)
IDLE_GIVE_UP = 10.0  # seconds with no event arriving after which readers stop waiting for the rest
RSV1 = 0x40  # set on a permessage-deflate frame


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def take_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """The complete server frames at the front of `buf` as (first byte, payload), removed from it.

    Server frames are never masked; a frame still arriving stays in `buf` for the next read.
    Every benchmark client reads its stream through this one parser.
    """
    frames = []
    pos, size = 0, len(buf)
    while size - pos >= 2:
        length, head = buf[pos + 1] & 0x7F, 2
        if length == 126:
            if size - pos < 4:
                break
            length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
        elif length == 127:
            if size - pos < 10:
                break
            length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
        if size - pos < head + length:
            break
        frames.append((buf[pos], bytes(buf[pos + head:pos + head + length])))
        pos += head + length
    del buf[:pos]
    return frames


def bench_event(i: int, t: float) -> bytes:
    """One benchmark event as the game would post it (a hit on an enemy: the bus derives a fact from
    it for the session state, alerts and rules), stamped with the time it was due."""
    return (b'{"EventType":"combat_damage","Data":{"damage":3,"source":"Crawler","is_player_damage":false,'
            b'"bench_i":%d,"bench_t":%.6f}}' % (i, t))


# -- WebSocket readers ------------------------------------------------------------------------
class Reader(asyncio.Protocol):
    """One WebSocket connection that counts the benchmark's events and, if asked, their latency.

    Uncompressed streams are counted by searching the bytes for the event type (no frame parsing);
    a latency run or a deflated stream parses frames (and inflates RSV1 ones).
    """

    def __init__(self, host: str, port: int, deflate: bool, latency: bool, window: float) -> None:
        offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if deflate else ""
        self.request = (f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        f"Sec-WebSocket-Version: 13\r\n{offer}\r\n").encode()
        self.latency = latency
        self.window = window
        self.buf = bytearray()
        self.upgraded = False
        self.inflate: Any = None
        self.got = 0
        self.last = 0.0
        self.latencies: list[tuple[float, float]] = []  # (arrival, latency)
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during the handshake"))

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            if b" 101 " not in head:
                self.ready.set_exception(ConnectionError(head.decode(errors="replace")[:200]))
                return
            if b"permessage-deflate" in head:
                self.inflate = zlib.decompressobj(-15)
            del buf[:end + 4]
            self.upgraded = True
            self.ready.set_result(None)
        if self.inflate is None and not self.latency:
            # Count the marker; keep a tail so a marker split across reads is seen once.
            found = buf.count(MARKER)
            if found:
                self.got += found
                self.last = now
            del buf[:max(0, len(buf) - _TAIL)]
            if buf.find(MARKER[:1]) < 0:
                buf.clear()
            return
        self._frames(now)

    def _frames(self, now: float) -> None:
        for first, payload in take_frames(self.buf):
            if first & 0x0F != TEXT:
                continue
            if first & RSV1:
                payload = self.inflate.decompress(payload + _DEFLATE_TAIL)
            if MARKER in payload:
                self.got += 1
                self.last = now
                if self.latency:
                    k = payload.find(MARKER) + len(MARKER)
                    self.latencies.append((now, now - float(payload[k:payload.find(b"}", k)])))


def reader_process(host: str, port: int, clients: int, deflate: bool, latency: bool, conn: Any) -> None:
    """Open `clients` streams, say "ready", count until told "stop", send back what was seen."""
    asyncio.run(_readers(host, port, clients, deflate, latency, conn))


async def _readers(host: str, port: int, clients: int, deflate: bool, latency: bool, conn: Any) -> None:
    loop = asyncio.get_running_loop()
    readers: list[Reader] = []
    try:
        for _ in range(clients):
            _, proto = await loop.create_connection(
                lambda: Reader(host, port, deflate, latency, 10.0), host, port)
            readers.append(proto)
        await asyncio.gather(*(r.ready for r in readers))
        negotiated = sum(r.inflate is not None for r in readers)
        conn.send(("ready", negotiated))
    except Exception as exc:  # reported to the orchestrator, which stops the run
        conn.send(("error", repr(exc)))
        return
    expected: int = await loop.run_in_executor(None, conn.recv)  # events each reader should get
    # Until every reader has them all, or nothing arrived for IDLE_GIVE_UP seconds: a paced run goes on
    # for its whole length (a fixed deadline from its start cut off its last events as "missing").
    quiet_since = time.monotonic()
    while any(r.got < expected for r in readers):
        last = max(r.last for r in readers)
        if last > quiet_since:
            quiet_since = last
        if time.monotonic() - quiet_since > IDLE_GIVE_UP:
            break
        await asyncio.sleep(0.005)
    lat = [x for r in readers for x in r.latencies]
    conn.send({"counts": [r.got for r in readers], "last": max(r.last for r in readers),
               "latency": summarize(lat) if latency else None})
    for r in readers:
        if r.transport is not None:
            r.transport.close()


def summarize(samples: list[tuple[float, float]], window: float = 10.0) -> dict[str, Any]:
    """p50/p99 overall and p99 per `window` seconds of arrival time (to see whether it stays flat)."""
    if not samples:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "windows_p99_ms": []}
    lat = sorted(x[1] for x in samples)
    start = min(x[0] for x in samples)
    buckets: dict[int, list[float]] = {}
    for arrival, value in samples:
        buckets.setdefault(int((arrival - start) // window), []).append(value)
    windows = [1000 * sorted(b)[int(len(b) * 0.99)] for _, b in sorted(buckets.items()) if len(b) > 100]
    return {"p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[int(len(lat) * 0.99)],
            "windows_p99_ms": windows, "samples": len(lat)}


# -- HTTP posting -----------------------------------------------------------------------------
class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: `await post(body)` -> the response status."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     "Content-Type: application/json\r\nContent-Length: ").encode()
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("server closed the connection"))

    def post(self, body: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(self.head + b"%d\r\n\r\n" % len(body) + body)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        k = buf.lower().find(b"content-length:", 0, end)
        length = int(buf[k + 15:buf.find(b"\r\n", k)]) if k >= 0 else 0
        if len(buf) < end + 4 + length:
            return
        status = int(buf[9:12])
        del buf[:end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)


async def _open(host: str, port: int, count: int, path: str = "/api/events") -> list[HttpConnection]:
    loop = asyncio.get_running_loop()
    out = []
    for _ in range(count):
        _, proto = await loop.create_connection(lambda: HttpConnection(host, port, path), host, port)
        out.append(proto)
    return out


def poster_process(host: str, port: int, mode: str, params: dict[str, Any], conn: Any) -> None:
    """Run one posting job (`single`, `batches`, `paced`) and send back its result."""
    asyncio.run(_poster(host, port, mode, params, conn))


async def _poster(host: str, port: int, mode: str, params: dict[str, Any], conn: Any) -> None:
    conns = await _open(host, port, params.get("connections", 1))
    conn.send("ready")
    conn.recv()  # "go"
    jobs = {"single": _single, "batches": _batches, "paced": _paced}
    try:
        result = await jobs[mode](conns, params)
    except ConnectionError as exc:  # the server hung up: report it, never leave the orchestrator waiting
        result = {"error": repr(exc), "requests_per_s": float("nan"), "events_per_s": float("nan"),
                  "bad": -1, "events": 0}
    conn.send(result)
    for c in conns:
        if c.transport is not None:
            c.transport.close()


async def _single(conns: list[HttpConnection], params: dict[str, Any]) -> dict[str, Any]:
    """Each connection posts one event at a time, for `seconds`: requests per second."""
    stop = time.monotonic() + params["seconds"]
    counts = [0] * len(conns)
    bad = [0]

    async def loop(n: int, c: HttpConnection) -> None:
        i = 0
        while time.monotonic() < stop:
            status = await c.post(bench_event(i, time.monotonic()))
            if status != 200:
                bad[0] += 1
            counts[n] += 1
            i += 1

    start = time.monotonic()
    await asyncio.gather(*(loop(n, c) for n, c in enumerate(conns)))
    return {"requests_per_s": sum(counts) / (time.monotonic() - start), "bad": bad[0]}


async def _batches(conns: list[HttpConnection], params: dict[str, Any]) -> dict[str, Any]:
    """`events` events as NDJSON bodies of `batch` lines, one request at a time per connection."""
    events, size = params["events"], params["batch"]
    bodies = [b"\n".join(bench_event(i, 0.0) for i in range(s, min(s + size, events)))
              for s in range(0, events, size)]
    start = time.monotonic()
    bad = 0
    queue = list(reversed(bodies))

    async def loop(c: HttpConnection) -> None:
        nonlocal bad
        while queue:
            if await c.post(queue.pop()) != 200:
                bad += 1

    await asyncio.gather(*(loop(c) for c in conns))
    end = time.monotonic()
    return {"start": start, "end": end, "events_per_s": events / (end - start), "bad": bad}


async def _paced(conns: list[HttpConnection], params: dict[str, Any]) -> dict[str, Any]:
    """Single-event POSTs at `rate`/s for `seconds`, each stamped with the time it was due; a free
    connection of the pool takes each one (a server that answers late delays the next ones)."""
    rate, seconds = params["rate"], params["seconds"]
    total = int(rate * seconds)
    free: asyncio.Queue[HttpConnection] = asyncio.Queue()
    for c in conns:
        free.put_nowait(c)
    pending: set[asyncio.Task[None]] = set()
    bad = 0

    async def send(c: HttpConnection, body: bytes) -> None:
        nonlocal bad
        try:
            if await c.post(body) != 200:
                bad += 1
        except ConnectionError:  # the server closed it: count the event lost, keep the pool's size
            bad += 1
            c = (await _open(c.host, c.port, 1, c.path))[0]
        free.put_nowait(c)

    start = time.monotonic() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        c = await free.get()
        task = asyncio.create_task(send(c, bench_event(i, due)))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    return {"events": total, "bad": bad}


# -- persistent TCP NDJSON ingest -------------------------------------------------------------
def tcp_process(host: str, port: int, params: dict[str, Any], conn: Any) -> None:
    """Send `events` NDJSON lines on one connection, then a sync; events/s until the sync answer."""
    asyncio.run(_tcp(host, port, params, conn))


async def _tcp(host: str, port: int, params: dict[str, Any], conn: Any) -> None:
    events, chunk = params["events"], params.get("chunk", 1000)
    reader, writer = await asyncio.open_connection(host, port)
    if params.get("token"):
        writer.write(orjson.dumps({"control": "auth", "token": params["token"]}) + b"\n")
    lines = [bench_event(i, 0.0) + b"\n" for i in range(events)]
    chunks = [b"".join(lines[s:s + chunk]) for s in range(0, events, chunk)]
    conn.send("ready")
    conn.recv()
    start = time.monotonic()
    for body in chunks:
        writer.write(body)
        await writer.drain()
    writer.write(b'{"control":"sync","id":1}\n')
    await writer.drain()
    answer: dict[str, Any] = {}
    errors = 0
    with contextlib.suppress(asyncio.TimeoutError):
        while True:
            line = await asyncio.wait_for(reader.readline(), 120)
            if not line:
                break
            msg = orjson.loads(line)
            if msg.get("control") == "synced":
                answer = msg
                break
            errors += 1
    end = time.monotonic()
    writer.close()
    conn.send({"events_per_s": events / (end - start), "answer": answer, "errors": errors})
