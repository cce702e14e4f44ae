"""The one gate (issue 11), attacked over real sockets: every case the issue lists, on every port."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.events import Draft
from dxbus.http_service import HttpService
from dxbus.hub import Hub

EVIL = "https://evil.example"
TOKEN = "s3cret"
DEATH = {"EventType": "player_death", "Data": {"location": "Bone_01"}}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def call(session: aiohttp.ClientSession, method: str, url: str, **kwargs: object) -> tuple[int, dict]:
    async with session.request(method, url, **kwargs) as resp:  # type: ignore[arg-type]
        raw = await resp.read()
        return resp.status, (orjson.loads(raw) if raw else {})


async def raw_request(bus: Bus, data: bytes, kind: str = "http") -> bytes:
    """Send bytes to a port and read the whole reply (the server closes after an error)."""
    host, port = bus.url(kind).split("//")[-1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return reply


def json_body(reply: bytes) -> dict:
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"application/json" in head, head
    return orjson.loads(body)


def post_routes(bus: Bus) -> list[str]:
    """Every POST route of the 8080 app, placeholders filled in."""
    service = next(s for s in bus.services if isinstance(s, HttpService))
    assert service.runner is not None
    paths = []
    for route in service.runner.app.router.routes():
        if route.method == "POST":
            info = route.resource.get_info() if route.resource else {}
            path = info.get("path") or info.get("formatter", "")
            paths.append(path.replace("{action}", "pause").replace("{name}", "damage"))
    return sorted(set(paths))


# -- 1. one gate: no bypass with an Upgrade header --------------------------------------------------
@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/state", None),
    ("POST", "/api/events", DEATH),
    ("POST", "/api/configure", {"export_combat_data": False}),
    ("POST", "/api/livesplit/reset", None),
])
async def test_an_upgrade_header_skips_nothing(bus_factory, session, method: str, path: str, body) -> None:
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}})
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    status, reply = await call(session, method, bus.url() + path, headers=headers, json=body)
    assert status == 401 and reply["error"]["code"] == "AUTH_REQUIRED"
    assert bus.hub.seq == 0 and bus.policy.export_combat_data


async def test_an_upgrade_header_does_not_escape_the_per_ip_budget(bus_factory) -> None:
    bus = await bus_factory({"Security": {"MaxConnectionsPerIP": 1}})
    host, port = bus.url().removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /api/events HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{")
    await writer.drain()
    await wait_until(lambda: bus.connections["http"] == 1)
    reply = await raw_request(bus, b"GET /api/status HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                                   b"Connection: Upgrade, close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 429") and json_body(reply)["error"]["code"] == "CONNECTION_LIMIT"
    writer.close()


# -- 2. safe defaults: browsers write only from the bus's own pages ---------------------------------
async def test_every_post_route_refuses_a_foreign_page(bus: Bus, session) -> None:
    routes = post_routes(bus)
    for expected in ("/api/events", "/api/configure", "/api/livesplit/reset", "/api/alerts/test",
                     "/api/practice"):
        assert expected in routes
    routes.append("/api/replay/pause")  # installed with a replay source; the gate answers first anyway
    for path in routes:
        for origin in (EVIL, "null", "http://127.0.0.1:1"):
            for content_type in ("text/plain", "application/json"):
                status, reply = await call(session, "POST", bus.url() + path, data=orjson.dumps(DEATH),
                                           headers={"Origin": origin, "Content-Type": content_type})
                assert status == 403, (path, origin)
                assert reply["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    assert bus.hub.seq == 0


async def test_programs_and_the_bus_s_own_pages_may_write(bus: Bus, session) -> None:
    status, reply = await call(session, "POST", bus.url() + "/api/events", json=DEATH)  # no Origin
    assert status == 200 and reply["accepted"] == 1
    for own in (bus.url(), bus.url().replace("127.0.0.1", "localhost")):
        status, reply = await call(session, "POST", bus.url() + "/api/events", json=DEATH,
                                   headers={"Origin": own})
        assert status == 200 and reply["accepted"] == 1, own
    assert len(bus.hub.recent(100, frozenset({"player_death"}))) == 3


async def test_a_browser_write_without_origin_is_still_foreign(bus: Bus, session) -> None:
    status, reply = await call(session, "POST", bus.url() + "/api/livesplit/reset",
                               headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403 and reply["error"]["code"] == "ORIGIN_NOT_ALLOWED"


async def test_reading_from_file_pages_and_listed_origins(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"AllowedOrigins": "http://localhost:3000"}})
    status, _ = await call(session, "GET", bus.url() + "/api/state", headers={"Origin": "null"})
    assert status == 200  # a guide page opened from file:// may read
    status, reply = await call(session, "GET", bus.url() + "/api/state", headers={"Origin": EVIL})
    assert status == 403 and reply["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    status, reply = await call(session, "POST", bus.url() + "/api/events", json=DEATH,
                               headers={"Origin": "http://localhost:3000"})
    assert status == 200 and reply["accepted"] == 1
    status, reply = await call(session, "POST", bus.url() + "/api/events", json=DEATH,
                               headers={"Origin": "null"})
    assert status == 403 and "may read the bus but not change it" in reply["error"]["message"]
    # a preflight for a write from a read-only page is refused, so the browser never sends it
    status, _ = await call(session, "OPTIONS", bus.url() + "/api/events", headers={
        "Origin": "null", "Access-Control-Request-Method": "POST"})
    assert status == 403


async def test_the_stream_refuses_foreign_pages_on_both_ports(bus: Bus, session) -> None:
    for url in (f"{bus.url('websocket')}/", f"{bus.url('websocket').replace('9091', '')}/"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(url, origin=EVIL)
        assert err.value.status == 403
    ws_url = bus.url("http").replace("http://", "ws://") + "/ws"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await session.ws_connect(ws_url, origin=EVIL)
    assert err.value.status == 403
    for url in (f"{bus.url('websocket')}/", ws_url):
        ws = await session.ws_connect(url, origin="null")  # file:// pages may read the stream
        await ws.send_str('{"type":"ping"}')
        assert orjson.loads((await ws.receive()).data)["type"] == "pong"
        await ws.close()


async def test_a_token_closes_the_stream_to_file_pages_too(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"AuthToken": TOKEN}})
    ws = await session.ws_connect(f"{bus.url('websocket')}/", origin="null")
    await ws.send_str('{"type":"subscribe","types":["player_death"]}')
    assert orjson.loads((await ws.receive()).data)["error"]["code"] == "AUTH_FAILED"
    await ws.close()


# -- Host: DNS rebinding ----------------------------------------------------------------------------
async def test_a_rebound_host_name_is_refused_on_every_port(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"AllowedHosts": "streampc.local"}})
    status, reply = await call(session, "GET", bus.url() + "/api/state", headers={"Host": "evil.example"})
    assert status == 403 and reply["error"]["code"] == "HOST_NOT_ALLOWED"
    for kind, path in (("websocket", "/"), ("http", "/ws")):
        url = bus.url(kind).replace("http://", "ws://") + path
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(url, headers={"Host": "evil.example:9091"})
        assert err.value.status == 403
    for host in ("localhost:8080", "127.0.0.1", "[::1]:8080", "streampc.local", "192.168.1.20:8080"):
        status, _ = await call(session, "GET", bus.url() + "/api/status", headers={"Host": host})
        assert status == 200, host


# -- rate and connection budgets: one meaning, per kind -----------------------------------------------
async def test_the_rate_limit_applies_to_9091_too(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"EnableRateLimiting": True, "RateLimitPerMinute": 2}})
    for _ in range(2):
        ws = await session.ws_connect(f"{bus.url('websocket')}/")
        await ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await session.ws_connect(f"{bus.url('websocket')}/")
    assert err.value.status == 429
    status, _ = await call(session, "GET", bus.url() + "/api/status")  # the HTTP bucket is its own
    assert status == 200


async def test_overlays_never_lock_out_the_game_or_the_timer(bus_factory, session) -> None:
    bus = await bus_factory({"Security": {"MaxConnectionsPerIP": 4}})
    streams = [await session.ws_connect(f"{bus.url('websocket')}/") for _ in range(2)]
    streams += [await session.ws_connect(bus.url().replace("http", "ws") + "/ws") for _ in range(2)]
    await wait_until(lambda: bus.connections["websocket"] == 4)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:  # /ws and 9091 share the stream budget
        await session.ws_connect(f"{bus.url('websocket')}/")
    assert err.value.status == 429
    status, reply = await call(session, "POST", bus.url() + "/api/events", json=DEATH)
    assert status == 200 and reply["accepted"] == 1
    host, port = bus.url("tcp").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"PING\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"PONG\n"
    writer.close()
    for ws in streams:
        await ws.close()


# -- 3. bad input never costs data ------------------------------------------------------------------
async def test_an_out_of_range_timestamp_is_one_item_s_error(bus: Bus, session) -> None:
    batch = [DEATH, {**DEATH, "Timestamp": "0001-01-01T00:00:00+01:00"}, DEATH]
    status, reply = await call(session, "POST", bus.url() + "/api/events", json=batch)
    assert status == 200 and reply["accepted"] == 2 and reply["rejected"] == 1
    assert reply["errors"] == [{"index": 1, "error": "Timestamp: '0001-01-01T00:00:00+01:00' is out of "
                                                    "range (years 1 to 9999 in UTC)"}]
    for text in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"):
        status, reply = await call(session, "GET", bus.url() + "/api/recent", params={"since": text})
        assert status == 400 and reply["error"]["parameter"] == "since"


async def test_integers_beyond_64_bits_are_refused_by_name(bus: Bus, session) -> None:
    body = b'[{"EventType":"custom_event","Data":{"n":{"big":123456789012345678901234567890}}},' \
           b'{"EventType":"custom_event","Data":{"n":18446744073709551615}}]'
    status, reply = await call(session, "POST", bus.url() + "/api/events", data=body)
    assert status == 200 and reply["accepted"] == 1
    assert reply["errors"][0]["index"] == 0 and reply["errors"][0]["error"].startswith("Data.n.big: ")
    assert bus.hub.latest("custom_event").data == {"n": 18446744073709551615}


async def test_since_seq_beyond_64_bits_is_a_clear_error(bus: Bus, session) -> None:
    ws = await session.ws_connect(f"{bus.url('websocket')}/?since_seq={2**63}")
    msg = await ws.receive()
    assert orjson.loads(msg.data)["error"]["code"] == "BAD_PARAMETER"
    assert "since_seq" in orjson.loads(msg.data)["error"]["message"]
    assert (await ws.receive()).data == 1008
    ok = await session.ws_connect(f"{bus.url('websocket')}/?since_seq={2**63 - 1}")
    await ok.send_str('{"type":"ping"}')
    assert orjson.loads((await ok.receive()).data)["type"] == "pong"
    await ok.close()


@pytest.mark.parametrize(("request_bytes", "status", "code"), [
    (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414, "URI_TOO_LONG"),
    (b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n", 431,
     "HEADERS_TOO_LARGE"),
    (b"G@T / HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, "BAD_REQUEST_LINE"),
    (b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: x\r\n\r\n", 400, "BAD_REQUEST"),
])
@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_parser_errors_are_json_and_one_log_line(bus: Bus, caplog, kind: str, request_bytes: bytes,
                                                       status: int, code: str) -> None:
    with caplog.at_level(logging.INFO):
        reply = await raw_request(bus, request_bytes, kind)
    assert reply.split(b" ", 2)[1] == str(status).encode(), reply[:80]
    error = json_body(reply)["error"]
    assert error["code"] == code and error["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert [r for r in caplog.records if "refused a request" in r.getMessage()]


async def test_a_client_hanging_up_mid_body_is_not_a_server_failure(bus: Bus, caplog, session) -> None:
    with caplog.at_level(logging.INFO):
        host, port = bus.url().removeprefix("http://").split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /api/events HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n[{")
        await writer.drain()
        await wait_until(lambda: bus.connections["http"] == 1)
        writer.close()
        await wait_until(lambda: bus.connections["http"] == 0)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert any("went away mid-body" in r.getMessage() for r in caplog.records)
    assert (await call(session, "GET", bus.url() + "/api/status"))[0] == 200


# -- 4. bounded resources -----------------------------------------------------------------------------
def test_the_ring_is_bounded_in_bytes() -> None:
    hub = Hub(ring_size=10_000, ring_bytes=1024 * 1024)
    for n in range(100):
        hub.publish(Draft("custom_event", {"n": n, "pad": "x" * 60_000}))
    assert hub.ring_bytes <= 1024 * 1024
    kept = hub.since(0)
    assert 10 <= len(kept) <= 17 and kept[-1].seq == 100
    assert hub.ring_bytes == sum(len(e.raw) for e in kept)
    assert hub.oldest_seq == kept[0].seq


def test_the_ring_byte_count_follows_the_event_bound() -> None:
    hub = Hub(ring_size=100)
    for n in range(250):
        hub.publish(Draft("custom_event", {"n": n}))
    assert hub.ring_bytes == sum(len(e.raw) for e in hub.since(0)) and len(hub.since(0)) == 100


async def test_the_timer_port_hangs_up_on_a_web_page(bus: Bus) -> None:
    reply = await raw_request(bus, b"POST /reset HTTP/1.1\r\nHost: 127.0.0.1:9090\r\n\r\n", "tcp")
    assert reply.startswith(b"ERROR:NOT_HTTP")
    await wait_until(lambda: bus.connections["tcp"] == 0)


async def test_status_shows_the_gate_and_how_far_the_export_is(bus: Bus, session) -> None:
    await call(session, "POST", bus.url() + "/api/events", json=[DEATH, DEATH])
    await wait_until(lambda: bus.status_providers["file_export"]()["last_seq_written"] == bus.hub.seq)
    _, reply = await call(session, "GET", bus.url() + "/api/status")
    assert reply["file_export"]["last_seq_written"] == reply["seq"] >= 2  # the deaths (and their alert)
    assert reply["file_export"]["last_seq_synced"] == 0  # fsynced on rotation and at stop only
    assert reply["gate"]["ports"]["http"]["open"] >= 1
    assert bus.url() in reply["gate"]["own_origins"]
