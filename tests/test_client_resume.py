"""The Python client: typed events, handlers, publish, and exactly-once delivery across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from waiting import wait_until

from dxbus.client import BusClient, BusEvent


@pytest.fixture
def free_ports() -> Iterator[Callable[[int], list[int]]]:
    """`free_ports(n)`: n ports kept for this test until it ends.

    A bus restarted on the same ports needs them chosen in advance, but a port picked and let go is
    anyone's while a cold `dxbus serve` starts (tens of seconds under load): a connect elsewhere on
    the machine may take it as its local port. So each stays bound, with SO_REUSEADDR and never
    listening: nothing else gets it, and the bus (which binds with SO_REUSEADDR, as asyncio does on
    POSIX) can still listen on it, and again after a restart. Nobody listens there meanwhile.
    """
    held: list[socket.socket] = []

    def take(n: int) -> list[int]:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
        return [sock.getsockname()[1] for sock in held[-n:]]

    yield take
    for sock in held:
        sock.close()


class Collector:
    """Runs `client.events()` in a task and keeps what arrives."""

    def __init__(self, client: BusClient) -> None:
        self.client = client
        self.events: list[BusEvent] = []
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        async for event in self.client.events():
            self.events.append(event)

    def ns(self) -> list[int]:
        return [e.data["n"] for e in self.events if e.type == "custom_event"]

    async def stop(self) -> None:
        await self.client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 5)


def batch(start: int, stop: int) -> list[BusEvent]:
    return [BusEvent("custom_event", {"n": n}) for n in range(start, stop)]


async def test_handlers_publish_and_typed_events(bus) -> None:
    client = BusClient(bus.url("http"), bus.url("websocket"))
    seen: list[tuple[str, object]] = []

    @client.on_event("combat_damage")
    def on_hit(data: BusEvent) -> None:  # the guide's style: index the wire keys
        seen.append(("hit", data["Data"]["damage"]))

    @client.on_event("*")
    async def on_any(event: BusEvent) -> None:
        seen.append(("any", event.type))

    @client.on_event("combat_damage")
    def broken(event: BusEvent) -> None:
        raise RuntimeError("a handler bug must not end the stream")

    runner = asyncio.get_running_loop().create_task(client.stream())
    await wait_until(lambda: client.connected)
    report = await client.publish([BusEvent("combat_damage", {"damage": 3, "is_player_damage": True}),
                                   {"EventType": "custom_event", "Data": {"n": 1}}])
    assert report["accepted"] == 2
    await wait_until(lambda: len(seen) == 3)
    assert seen == [("hit", 3), ("any", "combat_damage"), ("any", "custom_event")]
    status = await client.get_status()
    assert status["instance_id"] == bus.instance_id
    metrics = await client.get_metrics("combat_damage", limit=5)
    assert [m["Data"]["damage"] for m in metrics] == [3]
    event = BusEvent.from_wire(metrics[0])
    assert event.type == "combat_damage" and event["Seq"] == event.seq and dict(event)["Data"] == event.data
    await client.close()
    await asyncio.wait_for(runner, 5)


async def test_resume_after_the_ports_restart(bus_factory, free_ports) -> None:
    http, ws, tcp = free_ports(3)
    bus = await bus_factory(overrides={"HTTP": {"Port": http}, "WebSocket": {"Port": ws},
                                       "TCP": {"Port": tcp}}, ephemeral=False)
    client = BusClient(bus.url("http"), bus.url("websocket"), types=["custom_event"],
                       backoff_initial=0.05, backoff_max=0.2)
    got = Collector(client)
    await wait_until(lambda: client.connected)
    await client.publish(batch(0, 10))
    await wait_until(lambda: got.ns() == list(range(10)))
    await bus.stop()  # ports down, the hub (and its ring buffer) lives on
    for n in range(10, 20):
        bus.hub.emit("custom_event", {"n": n})  # published while the client is away
    await bus.start()
    await wait_until(lambda: client.connected)
    await client.publish(batch(20, 30))
    await wait_until(lambda: len(got.ns()) >= 30)
    assert got.ns() == list(range(30))
    assert client.connections == 2 and client.restarts_seen == 0
    await got.stop()


@pytest.fixture
def bus_process(tmp_path: Path, free_ports: Callable[[int], list[int]]):
    """`dxbus serve` in a subprocess on chosen ports; `start()` again after `kill()` to restart it."""
    ports = free_ports(3)
    procs: list[subprocess.Popen] = []
    log = tmp_path / "serve.log"  # both runs' stderr

    class Proc:
        http = f"http://127.0.0.1:{ports[0]}"
        ws = f"ws://127.0.0.1:{ports[1]}"

        def start(self) -> None:
            with log.open("ab") as stderr:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "dxbus.cli", "serve", "--http-port", str(ports[0]),
                     "--ws-port", str(ports[1]), "--tcp-port", str(ports[2])],
                    cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"}))

        def kill(self) -> None:
            procs[-1].send_signal(signal.SIGKILL)
            procs[-1].wait(10)

        async def ready(self) -> None:
            # A cold interpreter on a busy two-core machine shared with other suites can take over
            # 30 s (seen under load): 120 s deadline, polled, so a fast start is still fast.
            deadline = asyncio.get_running_loop().time() + 120
            async with aiohttp.ClientSession() as session:
                while asyncio.get_running_loop().time() < deadline:
                    if procs[-1].poll() is not None:  # it will not come up: say why at once
                        raise AssertionError(f"dxbus serve exited ({procs[-1].returncode}):\n"
                                             + log.read_text(errors="replace"))
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(f"{self.http}/api/status") as resp:
                            if resp.status == 200:
                                return
                    await asyncio.sleep(0.02)
            raise AssertionError("the bus did not come up")

    yield Proc()
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


async def test_exactly_once_across_a_bus_process_restart(bus_process) -> None:
    bus_process.start()
    await bus_process.ready()
    client = BusClient(bus_process.http, bus_process.ws, types=["custom_event"],
                       backoff_initial=0.05, backoff_max=0.3)
    got = Collector(client)
    await wait_until(lambda: client.connected)
    first_instance = client.instance_id
    await client.publish(batch(0, 30))
    await wait_until(lambda: len(got.ns()) >= 30)
    bus_process.kill()  # mid-stream: no goodbye
    await wait_until(lambda: not client.connected)
    bus_process.start()
    await bus_process.ready()
    publisher = BusClient(bus_process.http, bus_process.ws)
    await publisher.publish(batch(30, 60))  # Seq 1..30 again, on the new bus, before we reconnect
    await wait_until(lambda: client.connected)
    await publisher.publish(batch(60, 80))
    await publisher.close()
    await wait_until(lambda: len(got.ns()) >= 80)
    assert got.ns() == list(range(80))
    assert client.restarts_seen == 1 and client.instance_id != first_instance
    await got.stop()


async def test_close_interrupts_the_backoff(free_ports) -> None:
    (port,) = free_ports(1)
    client = BusClient(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", backoff_initial=30)
    got = Collector(client)
    await wait_until(lambda: client.failed_attempts == 1)  # now in its 30 s backoff
    started = asyncio.get_running_loop().time()
    await got.stop()
    assert got.task.done() and asyncio.get_running_loop().time() - started < 2
