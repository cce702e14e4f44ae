"""A client that stops reading while 10,000 events flow: it is closed with a reason, the other client
gets every event in order, and every accepted event is counted and exported."""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path

import aiohttp
import orjson
import pytest
import websockets
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.subscription import Subscription

EVENTS = 10_000
CHUNK = 16




def sub_for_port(bus: Bus, port: int) -> Subscription:
    """The hub subscription of the client whose local port is `port`."""
    (sub,) = [s for s in bus.hub.subscriptions if s.name.startswith(f"127.0.0.1:{port} ")]
    return sub


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflate"])
async def test_client_that_stops_reading_is_closed_others_get_everything(
    bus_factory, tmp_path: Path, deflate: bool
) -> None:
    bus: Bus = await bus_factory({"WebSocket": {"ClientQueueLimit": 64}})
    url = f"{bus.url('websocket')}/"
    port = bus.ports["websocket"]

    # The stalled client: a tiny kernel receive buffer, and a library queue of one frame, so it stops
    # taking bytes off the socket almost at once and the server's buffers fill.
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", port))
    slow = await websockets.connect(url, sock=raw, max_queue=1, ping_interval=None,
                                    compression="deflate" if deflate else None,
                                    max_size=None, close_timeout=2)
    await wait_until(lambda: bus.connections["websocket"] == 1)
    slow_sub = sub_for_port(bus, raw.getsockname()[1])

    received: list[int] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as fast:
        await wait_until(lambda: bus.connections["websocket"] == 2)
        (fast_sub,) = [s for s in bus.hub.subscriptions if s is not slow_sub]

        async def read_fast() -> None:
            async for msg in fast:
                received.append(orjson.loads(msg.data)["Seq"])
                if len(received) == EVENTS:
                    return

        reader = asyncio.create_task(read_fast())
        for start in range(0, EVENTS, CHUNK):
            for i in range(start, start + CHUNK):
                # Random text, so compression cannot make the stalled client's share small.
                padding = random.randbytes(600).hex()
                event = bus.hub.emit("combat_damage", {"damage": i % 97, "source": padding, "n": i})
                assert event is not None
            # The bus never waits for anyone; the test only paces itself to the reader it keeps.
            await wait_until(lambda: fast_sub.backlog == 0)
        await asyncio.wait_for(reader, 20)

    assert received == list(range(1, EVENTS + 1))  # no gap, no duplicate, in order
    assert fast_sub.closed_reason is None
    assert bus.hub.metrics_collected == EVENTS

    # The stalled client was given up on with a reason that says how to resume.
    assert slow_sub.closed_reason is not None and "since_seq=" in slow_sub.closed_reason
    try:
        async for _ in slow:  # reading again drains what was buffered, then the close frame
            pass
    except websockets.ConnectionClosed:
        pass
    assert slow.close_code == 1008
    assert "since_seq=" in (slow.close_reason or "")
    await wait_until(lambda: bus.connections["websocket"] == 0)

    # Every accepted event is in the export (flushed on stop).
    await bus.stop()
    seqs = [orjson.loads(line)["Seq"] for f in sorted((tmp_path / "DataExport").glob("*.ndjson"))
            for line in f.read_bytes().splitlines() if line]
    assert sorted(seqs) == list(range(1, EVENTS + 1))
