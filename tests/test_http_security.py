"""`[Security]` on the HTTP port: token, CORS (errors and 429 too), rate and connection limits, body size."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import requests

from dxbus.clock import ManualClock


async def get(url: str, headers: dict[str, str] | None = None, method: str = "GET"):
    async with aiohttp.ClientSession() as session, session.request(method, url, headers=headers) as resp:
        return resp.status, resp.headers.copy(), await resp.read()


def error_code(raw: bytes) -> str:
    return orjson.loads(raw)["error"]["code"]


async def test_token_on_every_route(bus_factory) -> None:
    bus = await bus_factory(overrides={"Security": {"AuthToken": "s3cret"}})
    base = bus.url()
    for path in ("/api/status", "/api/metrics", "/", "/api/no-such-route"):
        status, headers, raw = await get(base + path, {"Origin": "null"})
        assert status == 401, path
        assert error_code(raw) == "AUTH_REQUIRED"
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert headers["Access-Control-Allow-Origin"] == "null"  # a file:// page may read the error
    status, _, raw = await get(base + "/api/status", {"Authorization": "Bearer wrong"})
    assert status == 401 and error_code(raw) == "AUTH_FAILED"
    status, _, raw = await get(base + "/api/status?token=s3cre")
    assert status == 401 and error_code(raw) == "AUTH_FAILED"
    assert (await get(base + "/api/status", {"Authorization": "Bearer s3cret"}))[0] == 200
    assert (await get(base + "/api/status?token=s3cret"))[0] == 200
    status, _, raw = await get(base + "/?token=s3cret")
    assert status == 200 and b"<!DOCTYPE html>" in raw


async def test_preflight_is_answered_before_auth(bus_factory) -> None:
    bus = await bus_factory(overrides={"Security": {"AuthToken": "s3cret"}})
    status, headers, raw = await get(bus.url() + "/api/configure", method="OPTIONS", headers={
        "Origin": bus.url(), "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
        "Access-Control-Request-Private-Network": "true",
    })
    assert status == 204 and raw == b""
    assert headers["Access-Control-Allow-Origin"] == bus.url()
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert headers["Access-Control-Allow-Private-Network"] == "true"


async def test_cors_with_a_list_of_origins(bus_factory) -> None:
    bus = await bus_factory(overrides={"Security": {"AllowedOrigins": "http://localhost:3000, null"}})
    url = bus.url() + "/api/status"
    status, headers, _ = await get(url, {"Origin": "http://localhost:3000"})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "Origin" in headers.getall("Vary")
    status, headers, _ = await get(url, {"Origin": "null"})  # a page opened from file://
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "null"
    status, headers, raw = await get(url, {"Origin": "https://evil.example"})
    assert status == 403 and error_code(raw) == "ORIGIN_NOT_ALLOWED"
    assert "Access-Control-Allow-Origin" not in headers
    status, headers, _ = await get(url)  # scripts send no Origin
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


async def test_rate_limit_headers_429_and_refill(bus_factory) -> None:
    clock = ManualClock()
    bus = await bus_factory(clock=clock, overrides={
        "Security": {"EnableRateLimiting": True, "RateLimitPerMinute": 3}})
    url = bus.url() + "/api/status"
    remaining = []
    for _ in range(3):
        status, headers, _ = await get(url, {"Origin": "null"})
        assert status == 200 and headers["X-Rate-Limit-Limit"] == "3"
        remaining.append(headers["X-Rate-Limit-Remaining"])
    assert remaining == ["2", "1", "0"]
    status, headers, raw = await get(url, {"Origin": "null"})
    assert status == 429
    body = orjson.loads(raw)["error"]
    assert body["code"] == "RATE_LIMIT_EXCEEDED" and body["retry_after"] == 20
    assert headers["Retry-After"] == "20"
    assert headers["Access-Control-Allow-Origin"] == "null"  # CORS on 429 so a page can read it
    assert "Retry-After" in headers["Access-Control-Expose-Headers"]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    # errors are rate-limited and carry the headers too
    status, headers, _ = await get(bus.url() + "/nowhere")
    assert status == 429 and headers["X-Rate-Limit-Remaining"] == "0"
    await clock.advance(20)
    status, headers, _ = await get(url)
    assert status == 200 and headers["X-Rate-Limit-Remaining"] == "0"


async def test_no_rate_headers_when_disabled(bus) -> None:
    _, headers, _ = await get(bus.url() + "/api/status")
    assert "X-Rate-Limit-Limit" not in headers


async def test_20_mb_body_gets_413_and_the_bus_keeps_serving(bus) -> None:
    url = bus.url() + "/api/events"
    body = b"x" * (20 * 1024 * 1024)
    started = time.monotonic()
    reply = await asyncio.to_thread(lambda: requests.post(url, data=body, timeout=30))
    assert reply.status_code == 413
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    error = reply.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE" and error["limit_bytes"] == 10 * 1024 * 1024
    assert "MaxBodyMb" in error["message"]
    assert time.monotonic() - started < 20
    assert bus.hub.seq == 0
    assert (await get(bus.url() + "/api/status"))[0] == 200


async def test_chunked_body_over_the_limit_is_413(bus_factory) -> None:
    bus = await bus_factory(overrides={"HTTP": {"MaxBodyMb": 1}})

    async def chunks():
        for _ in range(40):
            yield b'{"EventType":"custom_event","Data":{"pad":"' + b"y" * 65_000 + b'"}}\n'

    async with aiohttp.ClientSession() as session, \
            session.post(bus.url() + "/api/events", data=chunks()) as resp:
        assert resp.status == 413
        error = (await resp.json())["error"]
        assert error["code"] == "PAYLOAD_TOO_LARGE" and error["limit_bytes"] == 1024 * 1024
    assert bus.hub.seq == 0


async def test_connection_limit_per_ip(bus_factory) -> None:
    bus = await bus_factory(overrides={"Security": {"MaxConnectionsPerIP": 1}})
    host, port = bus.url().removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    # a request whose body is still on its way keeps the slot busy
    writer.write(b"POST /api/events HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{")
    await writer.drain()
    deadline = time.monotonic() + 5
    while bus.connections["http"] != 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert bus.connections["http"] == 1
    status, _, raw = await get(bus.url() + "/api/status")
    assert status == 429 and error_code(raw) == "CONNECTION_LIMIT"
    writer.close()
    await writer.wait_closed()
    deadline = time.monotonic() + 5
    while bus.connections["http"] != 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert (await get(bus.url() + "/api/status"))[0] == 200


async def test_curl_big_upload_is_refused_before_it_is_sent(bus, tmp_path) -> None:
    # curl sends `Expect: 100-continue` for big bodies: no 100 is sent, the 413 comes first
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (20 * 1024 * 1024))
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "-o", "-", "-w", "\\n%{http_code} %{size_upload}", "--data-binary", f"@{big}",
        bus.url() + "/api/events", stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    body, status_line = out.decode().rsplit("\n", 1)
    status, uploaded = status_line.split()
    assert status == "413" and error_code(body.encode()) == "PAYLOAD_TOO_LARGE"
    assert float(uploaded) < 1024 * 1024  # the 20 MB never crossed the wire
