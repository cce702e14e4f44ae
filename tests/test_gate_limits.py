"""Bounded resources under attack: slowloris (headers and bodies sent byte by byte) and a flood of idle
sockets against the real `dxbus serve` with a low open-file limit."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import resource
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from waiting import wait_until

from dxbus.bus import Bus

DEATH = {"EventType": "player_death", "Data": {"location": "Bone_01"}}


def _complete(reply: bytes) -> bool:
    """Whether `reply` holds a whole HTTP response (its head and Content-Length bytes of body)."""
    head, found, body = reply.partition(b"\r\n\r\n")
    match = re.search(rb"Content-Length: (\d+)", head)
    return bool(found) and match is not None and len(body) >= int(match.group(1))


async def trickle(host: str, port: int, head: bytes, pace: float = 0.05) -> tuple[float, bytes]:
    """Send `head` then one more byte every `pace` s, as slowloris does, until the server answers or
    hangs up; returns how long until then (from the connect), and all it said.

    A plain socket, not a StreamReader: the server closing with the attacker's bytes unread makes the
    kernel send RST, and a StreamReader that sees the reset (or a failed write of the next byte)
    raises it even for an answer already in its buffer. The socket hands out what arrived first.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    # The server's timer starts when it accepts, which can be well before this task runs again after
    # connecting (a loaded loop): counted from before the connect, a cut-off is never seen early.
    started = loop.time()
    await loop.sock_connect(sock, (host, port))
    await loop.sock_sendall(sock, head)

    async def dribble() -> None:
        with contextlib.suppress(OSError):
            while True:
                await asyncio.sleep(pace)  # the attacker's pace, not a wait for the server's timer
                await loop.sock_sendall(sock, b"X")

    attacker = asyncio.create_task(dribble())
    reply, elapsed = b"", None
    try:
        async with asyncio.timeout(20):
            while not _complete(reply):
                try:
                    chunk = await loop.sock_recv(sock, 65536)
                except ConnectionResetError:
                    chunk = b""  # either way the server hung up
                if elapsed is None:
                    elapsed = loop.time() - started
                if not chunk:
                    break
                reply += chunk
    finally:
        attacker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await attacker
        sock.close()
    assert elapsed is not None
    return elapsed, reply


@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_slowloris_headers_are_cut_off(bus_factory, kind: str) -> None:
    bus: Bus = await bus_factory({"Security": {"HeaderTimeoutSeconds": 0.5}})
    host, port = bus.url(kind).split("//")[-1].rsplit(":", 1)
    attacks = [asyncio.create_task(trickle(host, int(port), b"GET /api/status HTTP/1.1\r\nHost: localhost\r\n"
                                                              b"X-Slow: "))
               for _ in range(20)]
    async with aiohttp.ClientSession() as session, session.get(bus.url() + "/api/status") as resp:
        assert resp.status == 200  # everyone else is served meanwhile
    for elapsed, _ in await asyncio.gather(*attacks):
        assert 0.4 <= elapsed < 10
    await wait_until(lambda: bus.gate.port_budget(kind).open == 0)


async def test_a_body_sent_byte_by_byte_gets_408(bus_factory) -> None:
    bus: Bus = await bus_factory({"Security": {"BodyTimeoutSeconds": 0.5}})
    host, port = bus.url().removeprefix("http://").split(":")
    elapsed, reply = await trickle(host, int(port), b"POST /api/events HTTP/1.1\r\nHost: localhost\r\n"
                                                    b"Content-Length: 100000\r\n\r\n[")
    assert 0.4 <= elapsed < 10
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert orjson.loads(body)["error"]["code"] == "BODY_TIMEOUT"
    assert bus.hub.seq == 0
    await wait_until(lambda: bus.connections["http"] == 0)


# -- the real process, 1,100 idle sockets, 1,024 descriptors ------------------------------------------
PORT_LINES = {
    "http": re.compile(r"HTTP API and dashboard on http://127\.0\.0\.1:(\d+)/"),
    "websocket": re.compile(r"WebSocket stream on ws://127\.0\.0\.1:(\d+)"),
    "tcp": re.compile(r"TCP timer port on 127\.0\.0\.1:(\d+)"),
}


@pytest.fixture
async def low_fd_bus(tmp_path: Path) -> AsyncIterator[tuple[dict[str, int], list[str]]]:
    """`dxbus serve` in a subprocess limited to 1,024 open files; its ports and its log lines."""
    config = tmp_path / "dxbus.toml"
    config.write_text(
        "[HTTP]\nPort = 0\n[WebSocket]\nPort = 0\n[TCP]\nPort = 0\n"
        f"[FileExport]\nDirectory = '{tmp_path / 'DataExport'}'\n"
        f"[State]\nFile = '{tmp_path / 'state.json'}'\n"
        "[Security]\nHeaderTimeoutSeconds = 1.0\n")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dxbus.cli", "serve", "--config", str(config), cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, preexec_fn=limit)
    assert proc.stderr is not None
    log: list[str] = []
    ports: dict[str, int] = {}

    async def read_log() -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            log.append(text)
            for kind, pattern in PORT_LINES.items():
                if match := pattern.search(text):
                    ports[kind] = int(match.group(1))

    reader = asyncio.create_task(read_log())
    try:
        # A cold interpreter on a busy two-core machine can take over 30 s to print its ports (seen at a
        # load average of 25): 120 s, polled, so a fast start is still fast.
        await wait_until(lambda: len(ports) == 3 or proc.returncode is not None, timeout=120,
                         what="dxbus serve to print its three ports")
        assert len(ports) == 3, log
        yield ports, log
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await asyncio.wait_for(reader, 5)


def open_idle_sockets(port: int, count: int) -> list[socket.socket]:
    """Connect `count` sockets that never send a byte (non-blocking: the kernel finishes them)."""
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", port))
        assert code in (0, errno.EINPROGRESS), os.strerror(code)
        socks.append(sock)
    return socks


@pytest.mark.timeout(300)  # the cold start above, then up to 30 s for the game's POST
async def test_1100_idle_sockets_do_not_stop_the_ports(low_fd_bus) -> None:
    ports, log = low_fd_bus
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))  # the attacker's
    idle = open_idle_sockets(ports["http"], 1100)
    try:
        async with aiohttp.ClientSession() as session:
            # the other ports answer during the flood
            ws = await session.ws_connect(f"ws://127.0.0.1:{ports['websocket']}/")
            await ws.send_str('{"type":"ping"}')
            assert orjson.loads((await ws.receive(timeout=10)).data)["type"] == "pong"
            reader, writer = await asyncio.open_connection("127.0.0.1", ports["tcp"])
            writer.write(b"PING\n")
            assert await asyncio.wait_for(reader.readline(), 10) == b"PONG\n"
            writer.close()

            # and the HTTP port serves the game again once the idle sockets are cut (HeaderTimeoutSeconds)
            async def game_posts() -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.post(f"http://127.0.0.1:{ports['http']}/api/events", json=DEATH,
                                            timeout=aiohttp.ClientTimeout(total=5)) as resp:
                        return resp.status == 200
                return False

            await wait_until(game_posts, timeout=30, what="the game's POST answered")
            await ws.close()
    finally:
        for sock in idle:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not [line for line in log if "out of system resource" in line or "Too many open files" in line]
    assert any("MaxConnectionsPerPort lowered" in line for line in log)
