"""The TCP timer port (PROTOCOL.md section 6) over real sockets."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.clock import ManualClock
from dxbus.tcp_timer import command_line, format_seconds

TOKEN = "timer-token"




async def open_client(bus: Bus) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    before = bus.connections["tcp"]
    host, port = bus.url("tcp").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    await wait_until(lambda: bus.connections["tcp"] > before)
    return reader, writer


async def line(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), 5)


def timer(bus: Bus, command: str, value: float | None = None) -> None:
    bus.hub.emit("timer_command", {"command": command, "value": value, "source": "manual"})


@pytest.mark.parametrize(("data", "expected"), [
    ({"command": "start"}, b"start\n"),
    ({"command": "split", "value": None}, b"split\n"),
    ({"command": "time", "value": 123.45}, b"time:123.45\n"),
    ({"command": "time", "value": 12.5}, b"time:12.5\n"),
    ({"command": "time", "value": 60}, b"time:60.0\n"),
    ({"command": "time", "value": None}, None),
    ({"command": "time", "value": -1}, None),
    ({"command": "launch"}, None),
])
def test_command_lines(data: dict, expected: bytes | None) -> None:
    assert command_line(data) == expected


def test_format_seconds() -> None:
    assert format_seconds(0.0004) == "0.0"
    assert format_seconds(3599.9996) == "3600.0"


async def test_every_command_becomes_a_line_for_every_client(bus: Bus) -> None:
    first, w1 = await open_client(bus)
    second, w2 = await open_client(bus)
    for command in ("start", "split", "pause", "resume", "reset"):
        timer(bus, command)
    timer(bus, "time", 83.5)
    bus.hub.emit("combat_damage", {"damage": 1})  # not a timer command: nothing is sent
    expected = [b"start\n", b"split\n", b"pause\n", b"resume\n", b"reset\n", b"time:83.5\n"]
    for reader in (first, second):
        assert [await line(reader) for _ in expected] == expected
    w1.write(b"PING\r\n")
    assert await line(first) == b"PONG\n"
    for w in (w1, w2):
        w.close()
    await wait_until(lambda: bus.connections["tcp"] == 0)


async def test_unknown_client_line_is_invalid_but_keeps_the_client(bus: Bus) -> None:
    reader, writer = await open_client(bus)
    writer.write(b"starttimer\n\n")
    assert await line(reader) == b"ERROR:COMMAND_INVALID\n"
    timer(bus, "split")
    assert await line(reader) == b"split\n"
    writer.close()


async def test_auth_ok(bus_factory) -> None:
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}})
    reader, writer = await open_client(bus)
    timer(bus, "start")  # before AUTH: not for this client
    writer.write(f"AUTH:{TOKEN}\n".encode())
    assert await line(reader) == b"AUTH:OK\n"
    timer(bus, "split")
    assert await line(reader) == b"split\n"
    writer.close()


@pytest.mark.parametrize("first", [b"AUTH:wrong\n", b"split\n"])
async def test_auth_wrong_or_missing_is_refused_and_closed(bus_factory, first: bytes) -> None:
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}})
    reader, writer = await open_client(bus)
    writer.write(first)
    assert await line(reader) == b"ERROR:AUTH_REQUIRED\n"
    assert await line(reader) == b""  # closed
    await wait_until(lambda: bus.connections["tcp"] == 0)


async def test_auth_deadline(bus_factory) -> None:
    clock = ManualClock()
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}}, clock=clock)
    reader, _ = await open_client(bus)
    await clock.advance(10.5)
    assert await line(reader) == b"ERROR:AUTH_REQUIRED\n"
    assert await line(reader) == b""


async def test_a_client_that_stops_reading_is_dropped_not_waited_for(bus: Bus) -> None:
    host, port = bus.url("tcp").rsplit(":", 1)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect((host, int(port)))
    _, writer = await open_client(bus)
    await wait_until(lambda: bus.connections["tcp"] == 2)
    clients = lambda: len(bus.status_providers["tcp"]()["clients"])  # noqa: E731
    for _ in range(200):  # lines the stalled client never reads, until its buffer bound is hit
        for _ in range(500):
            timer(bus, "split")
        await asyncio.sleep(0)
        if clients() == 1:
            break
    assert clients() == 1
    await wait_until(lambda: bus.connections["tcp"] == 1)
    timer(bus, "reset")
    writer.close()
    stalled.close()


async def test_connection_limit_and_disabled_port(bus_factory) -> None:
    bus = await bus_factory({"Security": {"MaxConnectionsPerIP": 1}})
    _, kept = await open_client(bus)
    host, port = bus.url("tcp").rsplit(":", 1)
    reader, _ = await asyncio.open_connection(host, int(port))
    assert await line(reader) == b"ERROR:CONNECTION_LIMIT\n"
    assert await line(reader) == b""
    kept.close()
    await bus.stop()  # one bus per folder: the next one starts where this one ran
    off = await bus_factory({"TCP": {"EnableTcpServer": False}})
    assert "tcp" not in off.ports


async def test_manual_http_routes_reach_timer_clients(bus: Bus) -> None:
    reader, writer = await open_client(bus)
    async with aiohttp.ClientSession() as session:
        for command in ("start", "split", "reset"):
            async with session.post(f"{bus.url('http')}/api/livesplit/{command}") as resp:
                assert resp.status == 200
    assert [await line(reader) for _ in range(3)] == [b"start\n", b"split\n", b"reset\n"]
    writer.close()
