"""Property-based attacks (hypothesis) on one real bus per module: ingest bodies, query parameters, raw
HTTP requests, WebSocket connect URLs and messages, TCP timer lines.

Whatever is sent: no 5xx, every error has the JSON shape `{"error": {"code", "message"}}` (the stream:
`{"type": "error", "error": {...}}`), nothing is logged at ERROR, and the bus still serves afterwards.
The bus runs on its own thread and loop; the clients are ordinary blocking ones, like the game's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import string
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import websocket
from conftest import bus_overrides
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dxbus.assemble import build_bus
from dxbus.bus import Bus
from dxbus.config import load_config

FUZZ = settings(max_examples=500, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class ErrorLog(logging.Handler):
    """Collects records at ERROR and above, and any record carrying a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


class ThreadedBus:
    """A real bus on its own loop in a thread; tests talk to it over sockets only."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-bus", daemon=True)
        self.thread.start()
        config = load_config(None, bus_overrides(tmp, {"DataCollection": {"RingBufferSize": 1000}}))
        self.bus: Bus = build_bus(config, base_dir=tmp)
        self.run(self.bus.start())
        self.http = self.bus.url("http")
        self.ws = self.bus.url("websocket")
        self.tcp = ("127.0.0.1", self.bus.ports["tcp"])
        self.session = requests.Session()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.session.close()
        self.run(self.bus.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def still_serves(self) -> None:
        reply = self.session.get(self.http + "/api/status", timeout=10)
        assert reply.status_code == 200 and reply.json()["status"] == "healthy"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedBus]:
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    server = ThreadedBus(tmp_path_factory.mktemp("fuzz"))
    server.errors = errors  # type: ignore[attr-defined]
    yield server
    server.close()
    logging.getLogger().removeHandler(errors)


@pytest.fixture
def bus(served: ThreadedBus) -> Iterator[ThreadedBus]:
    """The module's bus; after each test: it serves, and nothing was logged as a failure."""
    yield served
    served.still_serves()
    errors = served.errors  # type: ignore[attr-defined]
    assert not errors.records, [r.getMessage() for r in errors.records[:5]]


def dumps(value: Any) -> bytes:
    """JSON as any client may write it: integers of any size included (orjson refuses them)."""
    return json.dumps(value).encode()


def assert_error_shape(body: Any) -> None:
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str), body


def check_reply(reply: requests.Response, allowed: set[int]) -> Any:
    assert reply.status_code in allowed, (reply.status_code, reply.text[:300])
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    if reply.status_code >= 400:
        assert_error_shape(body)
    return body


# -- strategies ---------------------------------------------------------------------------------------
big_ints = st.one_of(st.integers(), st.integers(min_value=2**63 - 10, max_value=2**70),
                     st.integers(min_value=-(2**70), max_value=-(2**63) + 10))
json_leaf = st.one_of(st.none(), st.booleans(), big_ints, st.floats(allow_nan=False, allow_infinity=False),
                      st.text(max_size=30))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)
event_type = st.one_of(st.sampled_from(["player_death", "combat_damage", "custom_event", "player_update",
                                        "timer_command", "bus_snapshot", "alert"]),
                       st.text(max_size=70), json_leaf)
timestamp = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "2026-13-01T00:00:00Z",
                     "2026-01-01T00:00:00", "2026-01-01T00:00:00.123456789Z", ""]),
    st.text(max_size=70), json_leaf)
event = st.fixed_dictionaries({"EventType": event_type}, optional={
    "Data": st.one_of(st.dictionaries(st.text(max_size=10), json_value, max_size=5), json_value),
    "Timestamp": timestamp, "Seq": big_ints})
item = st.one_of(event, json_value)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """An ingest body in one of the accepted forms, or something that is none of them."""
    form = draw(st.sampled_from(["object", "array", "ndjson", "bytes"]))
    if form == "object":
        return dumps(draw(event)), form
    if form == "array":
        return dumps(draw(st.lists(item, max_size=6))), form
    if form == "ndjson":
        lines = draw(st.lists(st.one_of(item.map(dumps), st.binary(max_size=30)), max_size=6))
        return b"\n".join(lines), form
    return draw(st.binary(max_size=200)), form


# -- HTTP ----------------------------------------------------------------------------------------------
@FUZZ
@given(body=bodies(), content_type=st.sampled_from(["application/json", "text/plain",
                                                     "application/x-ndjson", "", "multipart/form-data"]))
def test_ingest_bodies(bus: ThreadedBus, body: tuple[bytes, str], content_type: str) -> None:
    data, form = body
    reply = bus.session.post(bus.http + "/api/events", data=data, timeout=10,
                             headers={"Content-Type": content_type} if content_type else {})
    result = check_reply(reply, {200, 400})
    if "accepted" in result:
        assert all(isinstance(e.get("error"), str) for e in result["errors"])
        if form == "array" and reply.status_code == 200:
            assert result["accepted"] + result["rejected"] + result["filtered"] == len(orjson.loads(data))


query_text = st.one_of(st.text(max_size=40), st.integers().map(str), st.sampled_from(
    ["", "0", "-1", "1e3", str(2**63), str(2**64), "nan", "0001-01-01T00:00:00+01:00", "*", ",,",
     "player_death"]))


@FUZZ
@given(path=st.sampled_from(["/api/recent", "/api/metrics", "/api/state", "/api/status"]),
       params=st.dictionaries(st.sampled_from(["count", "limit", "since", "type", "types", "coalesce",
                                               "token", "x"]), query_text, max_size=4))
def test_query_parameters(bus: ThreadedBus, path: str, params: dict[str, str]) -> None:
    reply = bus.session.get(bus.http + path, params=params, timeout=10)
    check_reply(reply, {200, 400})


header_value = st.text(alphabet=string.printable.replace("\r", "").replace("\n", ""), max_size=60)


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "G@T", "PATCH", ""]),
       path=st.one_of(st.sampled_from(["/api/events", "/api/status", "/ws", "/", "/static/bus.js",
                                       "/api/livesplit/reset", "*", "http://x/"]),
                      st.text(alphabet=string.printable.replace("\r", "").replace("\n", ""), max_size=80)),
       headers=st.dictionaries(st.sampled_from(["Host", "Origin", "Upgrade", "Connection", "Content-Length",
                                                "Transfer-Encoding", "Content-Type", "Expect", "X-Junk",
                                                "Sec-Fetch-Site"]), header_value, max_size=5),
       body=st.binary(max_size=100), kind=st.sampled_from(["http", "websocket"]))
def test_raw_requests(bus: ThreadedBus, method: str, path: str, headers: dict[str, str], body: bytes,
                      kind: str) -> None:
    port = bus.bus.ports[kind]
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = head.encode() + b"Connection: close\r\n\r\n" + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    if not reply:
        return  # e.g. a Content-Length longer than what was sent: closed with nothing to say
    status_line, _, rest = reply.partition(b"\r\n")
    status = int(status_line.split()[1])
    assert status < 500, reply[:300]
    head_part, _, payload = rest.partition(b"\r\n\r\n")
    if status >= 400 and method != "HEAD" and status != 101:
        assert b"application/json" in head_part.lower(), reply[:300]
        if b"transfer-encoding: chunked" not in head_part.lower():
            assert_error_shape(orjson.loads(payload))


# -- WebSocket -----------------------------------------------------------------------------------------
@FUZZ
@given(params=st.dictionaries(st.sampled_from(["since_seq", "types", "snapshot", "token"]), query_text,
                              max_size=3))
def test_stream_connect_urls(bus: ThreadedBus, params: dict[str, str]) -> None:
    query = "&".join(f"{k}={requests.utils.quote(v, safe='')}" for k, v in params.items())
    ws = websocket.create_connection(f"{bus.ws}/?{query}", timeout=10)
    try:
        ws.send('{"type":"ping","id":1}')
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big")
                assert code == 1008, code  # a bad parameter, with its reason: never 1006/1011
                return
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            frame = orjson.loads(data)
            if frame.get("type") == "error":
                assert_error_shape(frame)
            elif frame.get("type") == "pong":
                return
    finally:
        ws.close()


@pytest.fixture(scope="module")
def stream(served: ThreadedBus) -> Iterator[websocket.WebSocket]:
    ws = websocket.create_connection(f"{served.ws}/?types=no_such_type", timeout=10)
    yield ws
    ws.close()


ws_message = st.one_of(
    st.fixed_dictionaries({"type": st.one_of(st.sampled_from(["auth", "subscribe", "unsubscribe", "ping",
                                                              "pong", "AUTH", "nope"]), json_leaf)},
                          optional={"types": json_value, "events": json_value, "token": json_value,
                                    "id": json_value}).map(json.dumps),
    json_value.map(json.dumps),
    st.text(max_size=100))


@FUZZ
@given(message=ws_message)
def test_stream_messages(bus: ThreadedBus, stream: websocket.WebSocket, message: str) -> None:
    stream.send(message)
    stream.send('{"type":"ping","id":"end"}')
    while True:  # every reply is JSON; errors have the shape; the connection stays open
        frame = orjson.loads(stream.recv())
        if frame.get("type") == "error":
            assert_error_shape(frame)
        if frame == {"type": "pong", "id": "end"}:
            break


# -- TCP timer port --------------------------------------------------------------------------------------
TCP_REPLIES = (b"PONG", b"AUTH:OK", b"ERROR:")


@FUZZ
@given(lines=st.lists(st.one_of(st.binary(max_size=60).filter(lambda b: b"\n" not in b),
                                st.sampled_from([b"PING", b"AUTH:x", b"GET / HTTP/1.1", b"split", b""])),
                      min_size=1, max_size=5))
def test_tcp_lines(bus: ThreadedBus, lines: list[bytes]) -> None:
    with socket.create_connection(bus.tcp, timeout=10) as sock:
        sock.sendall(b"\n".join(lines) + b"\nPING\n")
        reader = sock.makefile("rb")
        while True:
            line = reader.readline()
            if not line:  # the port hung up (an HTTP request line): said so first
                break
            assert line.startswith(TCP_REPLIES), line
            if line == b"PONG\n":
                break
