"""permessage-deflate on the stream: `[WebSocket] Compression` decides whether it is negotiated, and a
client that gets it (the `websockets` library and Chromium offer it by default) receives every frame
intact, with each event deflated once for all such clients (`server_no_context_takeover`)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import websockets
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.ws_frames import Deflater, FrameCache, is_loopback, negotiates_deflate
from dxbus.ws_stream import WebSocketStream

EXTENSIONS = "Sec-WebSocket-Extensions"


def stream_of(bus: Bus) -> WebSocketStream:
    status = bus.status_providers["websocket"]
    stream = getattr(status, "__self__", None)
    assert isinstance(stream, WebSocketStream)
    return stream


async def open_client(bus: Bus, query: str = "", **kwargs: Any) -> websockets.ClientConnection:
    before = bus.connections["websocket"]
    ws = await websockets.connect(f"{bus.url('websocket')}/{query}", max_size=None, **kwargs)
    await wait_until(lambda: bus.connections["websocket"] > before)
    return ws


async def test_on_negotiates_no_context_takeover_and_deflates_each_event_once(bus_factory) -> None:
    bus = await bus_factory({"WebSocket": {"Compression": "on"}})
    first = await open_client(bus)  # offers "permessage-deflate; client_max_window_bits"
    second = await open_client(bus)
    plain = await open_client(bus, compression=None)
    for ws in (first, second):
        assert ws.response is not None
        assert ws.response.headers[EXTENSIONS] == "permessage-deflate; server_no_context_takeover"
    assert plain.response is not None and EXTENSIONS not in plain.response.headers
    assert [c["compressed"] for c in bus.status_providers["websocket"]()["clients"]].count(True) == 2

    stream = stream_of(bus)
    before = stream.frames.deflated
    events = [bus.hub.emit("combat_damage", {"damage": n, "source": "Moss Mother " * n})
              for n in (1, 20, 300)]
    events.append(bus.hub.emit("custom_event", {"text": "x" * 65_400}))  # 16-bit length, near the limit
    assert all(e is not None for e in events)
    for ws in (first, second, plain):
        for event in events:
            assert event is not None
            assert (await asyncio.wait_for(ws.recv(), 5)).encode() == event.raw
    assert stream.frames.deflated - before == len(events)  # once per event, not per client
    for ws in (first, second, plain):
        await ws.close()


async def test_replies_and_compressed_client_messages_on_a_deflate_stream(bus_factory) -> None:
    bus = await bus_factory({"WebSocket": {"Compression": "on"}})
    ws = await open_client(bus, "?snapshot=1")
    snapshot = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
    assert snapshot["EventType"] == "bus_snapshot"
    for n in range(3):  # the client deflates its messages with context takeover; the bus reads them
        await ws.send(orjson.dumps({"type": "ping", "id": n}).decode())
        assert orjson.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong", "id": n}
    await ws.send('{"type": "subscribe", "types": ["player_death"]}')
    assert orjson.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "subscribed"
    bus.hub.emit("combat_damage", {"damage": 1})
    death = bus.hub.emit("player_death", {"location": "Bone_01"})
    assert death is not None
    assert (await asyncio.wait_for(ws.recv(), 5)).encode() == death.raw
    await ws.close()


@pytest.mark.parametrize("mode", ["off", "auto"])
async def test_off_and_auto_decline_deflate_over_loopback(bus_factory, mode: str) -> None:
    bus = await bus_factory({"WebSocket": {"Compression": mode}})
    ws = await open_client(bus)
    assert ws.response is not None and EXTENSIONS not in ws.response.headers
    assert [c["compressed"] for c in bus.status_providers["websocket"]()["clients"]] == [False]
    event = bus.hub.emit("combat_damage", {"damage": 4})
    assert event is not None
    assert (await asyncio.wait_for(ws.recv(), 5)).encode() == event.raw
    await ws.close()


def test_auto_compresses_for_other_machines_only() -> None:
    assert negotiates_deflate("auto", "192.168.1.20")
    assert negotiates_deflate("auto", "2001:db8::1")
    assert negotiates_deflate("auto", None)  # unknown: treated as remote
    for local in ("127.0.0.1", "127.4.5.6", "::1", "::ffff:127.0.0.1"):
        assert is_loopback(local) and not negotiates_deflate("auto", local)
    assert negotiates_deflate("on", "127.0.0.1")
    assert not negotiates_deflate("off", "192.168.1.20")


def test_a_frame_that_deflate_would_grow_goes_uncompressed() -> None:
    cache = FrameCache()
    tiny = cache.build(b"{}", 15)
    assert tiny == b"\x81\x02{}"  # RSV1 clear: not compressed, valid on a deflate stream
    big = cache.build(b'{"a":"' + b"z" * 500 + b'"}', 15)
    assert big[0] == 0xC1 and len(big) < 100  # RSV1 set
    # Messages are independent: the same payload deflates to the same bytes every time.
    deflater = Deflater(15)
    assert deflater.message(b"hello hello hello") == deflater.message(b"hello hello hello")


CHROMIUM_STREAM = """async (url) => {
  window.got = [];
  const socket = new WebSocket(url);
  socket.onmessage = (m) => window.got.push(m.data);
  await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
  return socket.extensions;
}"""


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["on", "auto"])
async def test_chromium_receives_every_frame(bus_factory, chromium_path: str, mode: str) -> None:
    from conftest import CHROMIUM_ARGS
    from playwright.async_api import async_playwright

    bus = await bus_factory({"WebSocket": {"Compression": mode}})
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(bus.url("http") + "/")  # the bus's own page may read the stream
            extensions = await page.evaluate(CHROMIUM_STREAM, f"{bus.url('websocket')}/")
            expected = "permessage-deflate; server_no_context_takeover" if mode == "on" else ""
            assert extensions == expected
            await wait_until(lambda: bus.connections["websocket"] >= 1)
            events = [bus.hub.emit("combat_damage", {"damage": n, "source": "Lace " * n})
                      for n in (1, 50, 2000)]
            await page.wait_for_function("window.got.length >= 3")
            got = await page.evaluate("window.got")
            assert [g.encode() for g in got[:3]] == [e.raw for e in events if e is not None]
        finally:
            await browser.close()
