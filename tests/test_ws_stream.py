"""The WebSocket stream (PROTOCOL.md section 4) over real sockets: filters, resume, snapshot, auth,
client messages, origins, compression, limits, on 9091 and at /ws on the 8080 app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.clock import ManualClock
from dxbus.ws_stream import StreamOptions, WebSocketStream

TOKEN = "s3cret-token"




@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def connect(
    session: aiohttp.ClientSession, bus: Bus, query: str = "", kind: str = "websocket",
    path: str = "/", **kwargs: object,
) -> aiohttp.ClientWebSocketResponse:
    """Open a stream and wait until the bus has it registered (so nothing published is missed)."""
    before = bus.connections["websocket"]
    ws = await session.ws_connect(f"{bus.url(kind)}{path}{'?' + query if query else ''}", **kwargs)
    await wait_until(lambda: bus.connections["websocket"] > before)
    return ws


async def frame(ws: aiohttp.ClientWebSocketResponse) -> dict:
    """The next text frame, decoded."""
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return orjson.loads(msg.data)


async def frames(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict]:
    return [await frame(ws) for _ in range(count)]


async def closed(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    """Read until the server closes; the close code and reason."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        if msg.type == aiohttp.WSMsgType.CLOSE:  # the server's close frame, as sent
            return msg.data, msg.extra or ""
        if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code, ""


async def test_frames_are_the_events_raw_bytes_and_types_filter(bus: Bus, session) -> None:
    everything = await connect(session, bus, path="/any/path/works")
    damage_only = await connect(session, bus, "types=combat_damage,player_death", kind="websocket")
    scene = bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bone_01"})
    hit = bus.hub.emit("combat_damage", {"damage": 13, "source": "Skull Tyrant", "is_player_damage": False})
    assert scene is not None and hit is not None
    first = await everything.receive()
    assert first.data.encode() == scene.raw  # the stored bytes, never re-serialized
    assert (await frame(everything))["Seq"] == hit.seq
    got = await frame(damage_only)
    assert got == {"Timestamp": hit.timestamp, "EventType": "combat_damage", "Data": hit.data,
                   "Seq": hit.seq}


async def test_since_seq_replays_from_the_ring_with_no_gap_or_duplicate(bus: Bus, session) -> None:
    first = await connect(session, bus)
    for i in range(3):
        bus.hub.emit("enemy_killed", {"enemy_name": f"Crawler {i}"})
    seen = [f["Seq"] for f in await frames(first, 3)]
    assert seen == [1, 2, 3]
    await first.close()
    await wait_until(lambda: bus.connections["websocket"] == 0)
    for i in range(3, 6):  # published while the client is away
        bus.hub.emit("enemy_killed", {"enemy_name": f"Crawler {i}"})
    again = await connect(session, bus, f"since_seq={seen[-1]}")
    bus.hub.emit("enemy_killed", {"enemy_name": "live"})
    resumed = await frames(again, 4)
    assert [f["Seq"] for f in resumed] == [4, 5, 6, 7]
    assert resumed[-1]["Data"]["enemy_name"] == "live"


async def test_since_seq_with_a_type_filter(bus: Bus, session) -> None:
    for i in range(4):
        bus.hub.emit("combat_damage", {"damage": i})
        bus.hub.emit("timing_update", {"fps": 60, "session_time": i})
    ws = await connect(session, bus, "since_seq=2&types=combat_damage")
    assert [f["Data"]["damage"] for f in await frames(ws, 3)] == [1, 2, 3]


async def test_snapshot_frame_comes_first_then_live_events_without_a_gap(bus: Bus, session) -> None:
    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bone_01"})
    bus.hub.emit("player_death", {"location": "Bone_01", "cause": "Skull Tyrant"})
    ws = await connect(session, bus, "snapshot=1")
    live = bus.hub.emit("combat_damage", {"damage": 4})
    assert live is not None
    snap = await frame(ws)
    assert snap["EventType"] == "bus_snapshot"
    assert snap["Seq"] == live.seq - 1
    assert set(snap["Data"]["latest"]) >= {"scene_transition", "player_death"}
    assert snap["Data"]["latest"]["player_death"]["Data"]["location"] == "Bone_01"
    state = snap["Data"]["state"]
    assert state["deaths"]["session"] == 1
    assert (await frame(ws))["Seq"] == live.seq


async def test_snapshot_latest_respects_types(bus: Bus, session) -> None:
    bus.hub.emit("scene_transition", {"to_scene": "Bone_01"})
    bus.hub.emit("combat_damage", {"damage": 2})
    ws = await connect(session, bus, "snapshot=1&types=combat_damage")
    assert set((await frame(ws))["Data"]["latest"]) == {"combat_damage"}


async def test_token_in_the_query(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}})
    ws = await connect(session, bus, f"token={TOKEN}")
    bus.hub.emit("player_death", {"location": "Bone_01"})
    assert (await frame(ws))["EventType"] == "player_death"


async def test_token_in_the_authorization_header(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}})
    ws = await connect(session, bus, headers={"Authorization": f"Bearer {TOKEN}"})
    bus.hub.emit("player_death", {"location": "Bone_01"})
    assert (await frame(ws))["EventType"] == "player_death"


async def test_wrong_query_token_gets_an_error_frame_then_4401(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}})
    ws = await session.ws_connect(f"{bus.url('websocket')}/?token=nope")
    error = await frame(ws)
    assert error["type"] == "error" and error["error"]["code"] == "AUTH_FAILED"
    assert (await closed(ws))[0] == 4401


async def test_auth_by_first_message(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}})
    ws = await connect(session, bus)
    bus.hub.emit("combat_damage", {"damage": 1})  # before auth: not for this client
    await ws.send_str(orjson.dumps({"type": "auth", "token": TOKEN}).decode())
    assert await frame(ws) == {"type": "authenticated", "success": True}
    bus.hub.emit("combat_damage", {"damage": 2})
    assert (await frame(ws))["Data"]["damage"] == 2


async def test_wrong_token_message_and_non_auth_first_message_close_4401(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}})
    for message in ({"type": "auth", "token": "wrong"}, {"type": "ping"}):
        ws = await connect(session, bus)
        await ws.send_str(orjson.dumps(message).decode())
        assert (await frame(ws))["error"]["code"] == "AUTH_FAILED"
        assert (await closed(ws))[0] == 4401
        await wait_until(lambda: bus.connections["websocket"] == 0)


async def test_no_auth_message_before_the_deadline_closes_4401(bus_factory, session) -> None:
    clock = ManualClock()
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}}, clock=clock)
    ws = await connect(session, bus)
    await clock.advance(4.9)
    bus.hub.emit("combat_damage", {"damage": 1})
    await clock.advance(0.2)
    error = await frame(ws)
    assert error["error"]["code"] == "AUTH_FAILED" and "token" in error["error"]["message"]
    assert (await closed(ws))[0] == 4401


async def test_subscribe_and_unsubscribe(bus: Bus, session) -> None:
    ws = await connect(session, bus, "types=combat_damage")
    await ws.send_str('{"type":"subscribe","types":["player_death"]}')
    assert await frame(ws) == {"type": "subscribed", "types": ["combat_damage", "player_death"]}
    bus.hub.emit("scene_transition", {"to_scene": "Bone_01"})
    bus.hub.emit("player_death", {"location": "Bone_01"})
    bus.hub.emit("combat_damage", {"damage": 3})
    assert [f["EventType"] for f in await frames(ws, 2)] == ["player_death", "combat_damage"]
    await ws.send_str('{"type":"unsubscribe","types":["combat_damage"]}')
    assert await frame(ws) == {"type": "unsubscribed", "types": ["player_death"]}
    bus.hub.emit("combat_damage", {"damage": 3})
    bus.hub.emit("player_death", {"location": "Bone_02"})
    assert (await frame(ws))["Data"]["location"] == "Bone_02"


async def test_subscribe_narrows_an_unfiltered_stream_and_star_widens_it(bus: Bus, session) -> None:
    ws = await connect(session, bus)
    await ws.send_str('{"type":"subscribe","types":["alert"]}')
    assert (await frame(ws))["types"] == ["alert"]
    bus.hub.emit("combat_damage", {"damage": 3})
    bus.hub.emit("alert", {"message": "hi"})
    assert (await frame(ws))["EventType"] == "alert"
    await ws.send_str('{"type":"subscribe","types":["*"]}')
    assert (await frame(ws))["types"] is None
    bus.hub.emit("combat_damage", {"damage": 4})
    assert (await frame(ws))["EventType"] == "combat_damage"


async def test_ping_pong_and_bad_messages_get_error_frames_not_disconnects(bus: Bus, session) -> None:
    ws = await connect(session, bus)
    await ws.send_str('{"type":"ping","id":7}')
    assert await frame(ws) == {"type": "pong", "id": 7}
    bad = ["not json", "[1,2]", '{"type":"dance"}', '{"type":"subscribe","types":"Bad Type!"}',
           '{"type":"subscribe"}', '{"type":"unsubscribe","types":["x"]}']
    codes = []
    for text in bad:
        await ws.send_str(text)
        reply = await frame(ws)
        assert reply["type"] == "error" and reply["error"]["message"]
        codes.append(reply["error"]["code"])
    assert codes == ["BAD_JSON", "BAD_MESSAGE", "UNKNOWN_MESSAGE", "BAD_MESSAGE", "BAD_MESSAGE",
                     "BAD_MESSAGE"]
    await ws.send_bytes(b"\x00\x01")
    assert (await frame(ws))["error"]["code"] == "BAD_MESSAGE"
    bus.hub.emit("player_death", {"location": "Bone_01"})
    assert (await frame(ws))["EventType"] == "player_death"  # still connected and streaming


async def test_bad_query_parameter_is_explained_then_closed(bus: Bus, session) -> None:
    ws = await session.ws_connect(f"{bus.url('websocket')}/?since_seq=yesterday")
    error = await frame(ws)
    assert error["error"]["code"] == "BAD_PARAMETER" and "since_seq" in error["error"]["message"]
    assert (await closed(ws))[0] == 1008


@pytest.mark.parametrize(("allowed", "origin", "ok"), [
    ("*", "null", True),  # a page opened from file://
    ("*", "http://absolute", True),  # OBS browser source with a local file
    ("*", "https://example.com", True),
    ("http://localhost:8080", "http://localhost:8080", True),
    ("http://localhost:8080", "https://evil.example", False),
    ("http://localhost:8080", "null", True),  # ReadOnlyOrigins = "null": file:// pages may read
])
async def test_origin_check(bus_factory, session, allowed: str, origin: str, ok: bool) -> None:
    bus = await bus_factory({"Security": {"AllowedOrigins": allowed}})
    url = f"{bus.url('websocket')}/"
    if ok:
        ws = await session.ws_connect(url, origin=origin)
        await ws.send_str('{"type":"ping"}')
        assert (await frame(ws))["type"] == "pong"
    else:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(url, origin=origin)
        assert err.value.status == 403


async def test_permessage_deflate_is_negotiated_when_compression_is_on(bus_factory, session) -> None:
    bus = await bus_factory({"WebSocket": {"Compression": "on"}})
    ws = await connect(session, bus, compress=15)
    assert ws.compress == 15
    plain = await connect(session, bus, compress=0)
    assert plain.compress == 0
    clients = {c["compressed"] for c in bus.status_providers["websocket"]()["clients"]}
    assert clients == {True, False}
    event = bus.hub.emit("combat_damage", {"damage": 9, "source": "Moss Mother" * 20})
    assert event is not None
    assert (await ws.receive()).data.encode() == event.raw
    assert (await plain.receive()).data.encode() == event.raw


async def test_per_ip_connection_limit(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"MaxConnectionsPerIP": 2}})
    first = await connect(session, bus)
    second = await connect(session, bus)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await session.ws_connect(f"{bus.url('websocket')}/")
    assert err.value.status == 429
    await first.close()
    await wait_until(lambda: bus.connections["websocket"] == 1)
    third = await connect(session, bus)  # a slot is free again
    assert not second.closed and not third.closed


async def test_ws_path_on_the_http_port_and_client_listing(bus: Bus, session) -> None:
    ws = await connect(session, bus, kind="http", path="/ws", params={"types": "player_death"})
    status = bus.status_providers["websocket"]()
    assert [c["path"] for c in status["clients"]] == ["/ws"]
    assert status["clients"][0]["name"].startswith("127.0.0.1:")
    assert any(s.name.endswith(" /ws") for s in bus.hub.subscriptions)
    bus.hub.emit("player_death", {"location": "Bone_01"})
    assert (await frame(ws))["EventType"] == "player_death"
    await ws.close()
    await wait_until(lambda: bus.connections["websocket"] == 0
                     and not any(s.name.endswith(" /ws") for s in bus.hub.subscriptions))


async def test_plain_http_request_to_the_stream_port_is_a_json_400(bus: Bus, session) -> None:
    async with session.get(f"{bus.url('websocket')}/") as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "WEBSOCKET_REQUIRED"


async def test_shutdown_closes_clients_going_away(bus_factory, session) -> None:
    bus = await bus_factory()
    ws = await connect(session, bus)
    stopping = asyncio.create_task(bus.stop())
    assert (await closed(ws))[0] == 1001
    await stopping


async def test_frames_of_every_length_class_arrive_intact(bus_factory, session) -> None:
    bus = await bus_factory({"WebSocket": {"Compression": "on"}})
    plain = await connect(session, bus)
    deflated = await connect(session, bus, compress=15)
    events = [bus.hub.emit("custom_event", {"text": "y" * n}) for n in (10, 200, 1000)]
    assert all(e is not None for e in events)
    overhead = len(events[-1].raw) - 1000  # same Seq width for the next one
    big = bus.hub.emit("custom_event", {"text": "z" * (65_536 - overhead)})
    assert big is not None and len(big.raw) == 65_536  # the 64-bit length form (16-bit below it)
    events.append(big)
    assert deflated.compress == 15
    for ws in (plain, deflated):
        for event in events:
            assert (await ws.receive()).data.encode() == event.raw


async def test_a_dead_peer_is_detected_by_the_heartbeat(bus: Bus) -> None:
    stream = WebSocketStream(bus, StreamOptions(heartbeat=0.2))
    app = web.Application()
    app.router.add_get("/", stream.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
        await wait_until(lambda: len(stream.clients) == 1)
        # This peer never answers the protocol pings (a frozen machine, a dead network).
        await wait_until(lambda: not stream.clients, timeout=5)
        assert bus.connections["websocket"] == 0
        writer.close()
    finally:
        await runner.cleanup()


async def test_token_rules_are_the_same_at_ws_on_the_http_port(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}})
    ok = await connect(session, bus, f"token={TOKEN}", kind="http", path="/ws")
    bus.hub.emit("player_death", {"location": "Bone_01"})
    assert (await frame(ok))["EventType"] == "player_death"
    refused = await session.ws_connect(f"{bus.url('http')}/ws?token=nope")
    assert (await frame(refused))["error"]["code"] == "AUTH_FAILED"
    assert (await closed(refused))[0] == 4401
