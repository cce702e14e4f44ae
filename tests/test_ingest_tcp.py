"""The persistent NDJSON ingest (`[Ingest]`, docs/ingest.md) over real sockets: events published in
order with the POST checks, per-line errors, sync answers, the gate (token, budgets, rate), a web
page's HTTP request refused, and what a WebSocket reader sees."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.clock import ManualClock

TOKEN = "ingest-token"


def ingest_config(**security: Any) -> dict[str, dict[str, Any]]:
    return {"Ingest": {"EnableTcpIngest": True, "Port": 0}, "Security": security}


async def connect(bus: Bus) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", bus.ports["ingest"])


async def sync(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int = 1) -> list[dict]:
    """Send a sync and return every line answered up to (and including) its answer."""
    writer.write(orjson.dumps({"control": "sync", "id": n}) + b"\n")
    await writer.drain()
    lines = []
    while True:
        # Generous: a 20,000-line burst is a few seconds of CPU, far more on a loaded machine.
        msg = orjson.loads(await asyncio.wait_for(reader.readline(), 60))
        lines.append(msg)
        if msg.get("control") == "synced" and msg.get("id") == n:
            return lines


def event(i: int, **data: Any) -> bytes:
    return orjson.dumps({"EventType": "combat_damage", "Data": {"damage": i, "source": "Crawler", **data}})


async def test_off_by_default(bus: Bus) -> None:
    assert "ingest" not in bus.ports
    assert bus.status_providers["ingest"]()["enabled"] is False


async def test_lines_are_published_in_order_with_errors_per_line(bus_factory) -> None:
    bus = await bus_factory(ingest_config())
    reader, writer = await connect(bus)
    body = b"\n".join([
        event(1),
        b"",  # blank lines are skipped (and counted)
        b'{"EventType": "Bad Type", "Data": {}}',
        b"{not json",
        event(2) + b"\r",  # CRLF senders
        b'{"event_type": "player_death", "data": {"location": "Bone_01"}}',  # the original's spelling
        b'{"EventType": "combat_damage", "Data": []}',
    ]) + b"\n"
    # Split mid-line, as TCP may deliver it.
    writer.write(body[:37])
    await writer.drain()
    writer.write(body[37:])
    answers = await sync(reader, writer)
    errors, synced = answers[:-1], answers[-1]
    assert errors == [
        {"line": 3, "error": "EventType: 'Bad Type' must match [a-z][a-z0-9_]{0,63}"},
        {"line": 4,
         "error": "not valid JSON: unexpected character, expected a string key: column 2 (char 1)"},
        {"line": 7, "error": "Data: must be a JSON object, got array"},
    ]
    # (the death also makes an alert, a derived event: not this sender's)
    events = [e for e in bus.hub.recent(10) if e.type != "alert"]
    assert [(e.type, e.data.get("damage")) for e in events] == [
        ("combat_damage", 1), ("combat_damage", 2), ("player_death", None)]
    assert synced == {"control": "synced", "id": 1, "line": 8, "accepted": 3, "rejected": 3,
                      "filtered": 0, "last_seq": events[-1].seq}
    assert events[2].data["location"] == "Bone_01"
    assert bus.state.snapshot()["deaths"]["session"] == 1  # the same listeners as every ingest path
    writer.close()


async def test_a_stream_reader_gets_every_event_of_a_large_burst(bus_factory) -> None:
    bus = await bus_factory(ingest_config(**{}) | {"WebSocket": {"ClientQueueLimit": 100_000}})
    count = 20_000  # several slices of published lines, several socket reads
    async with aiohttp.ClientSession() as session, session.ws_connect(
            f"{bus.url('websocket')}/?types=combat_damage") as ws:
        await wait_until(lambda: bus.connections["websocket"] == 1)
        reader, writer = await connect(bus)
        writer.write(b"".join(event(i) + b"\n" for i in range(count)))
        synced = (await sync(reader, writer))[-1]
        assert synced["accepted"] == count and synced["rejected"] == 0
        seen = [orjson.loads((await asyncio.wait_for(ws.receive(), 30)).data)["Data"]["damage"]
                for _ in range(count)]
    assert seen == list(range(count))
    writer.close()


async def test_token_first_line_and_deadline(bus_factory) -> None:
    clock = ManualClock()
    bus = await bus_factory(ingest_config(AuthToken=TOKEN), clock=clock)
    reader, writer = await connect(bus)
    writer.write(event(1) + b"\n")  # no auth line
    refused = orjson.loads(await asyncio.wait_for(reader.readline(), 5))
    assert refused["error"]["code"] == "AUTH_REQUIRED"
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed

    reader, writer = await connect(bus)
    writer.write(b'{"control": "auth", "token": "wrong"}\n' + event(1) + b"\n")
    assert orjson.loads(await asyncio.wait_for(reader.readline(), 5))["error"]["code"] == "AUTH_FAILED"
    assert await asyncio.wait_for(reader.read(), 5) == b""

    reader, writer = await connect(bus)
    writer.write(orjson.dumps({"control": "auth", "token": TOKEN}) + b"\n" + event(5) + b"\n")
    assert orjson.loads(await asyncio.wait_for(reader.readline(), 5)) == {"control": "authenticated"}
    assert (await sync(reader, writer))[-1]["accepted"] == 1
    assert [e.data["damage"] for e in bus.hub.recent(10)] == [5]
    writer.close()

    reader, writer = await connect(bus)  # silent: cut when the bus clock passes the deadline
    await wait_until(lambda: len(bus.status_providers["ingest"]()["connections"]) == 1)
    await clock.advance(11)
    assert orjson.loads(await asyncio.wait_for(reader.readline(), 5))["error"]["code"] == "AUTH_REQUIRED"


async def test_a_web_page_cannot_post_events_through_the_port(bus_factory) -> None:
    """A page can reach a TCP port only with an HTTP request; its body lines must never be events."""
    bus = await bus_factory(ingest_config())
    body = event(666) + b"\n"
    reader, writer = await connect(bus)
    writer.write(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    answer = orjson.loads(await asyncio.wait_for(reader.readline(), 5))
    assert answer["error"]["code"] == "NOT_NDJSON"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert bus.hub.seq == 0


async def test_connection_budget_per_ip_and_overlong_lines(bus_factory) -> None:
    bus = await bus_factory(ingest_config(MaxConnectionsPerIP=1))
    reader, writer = await connect(bus)
    await wait_until(lambda: len(bus.status_providers["ingest"]()["connections"]) == 1)
    second_reader, _ = await connect(bus)
    refused = orjson.loads(await asyncio.wait_for(second_reader.readline(), 5))
    assert refused["error"]["code"] == "CONNECTION_LIMIT"
    # An overlong line is reported and skipped; the line after it is published.
    writer.write(b'{"EventType":"custom_event","Data":{"x":"' + b"y" * 300_000 + b'"}}\n' + event(7) + b"\n")
    answers = await sync(reader, writer)
    assert answers[0] == {"line": 1, "error": "line is longer than 65536 bytes"}
    assert answers[-1]["accepted"] == 1 and answers[-1]["rejected"] == 1
    assert [e.data["damage"] for e in bus.hub.recent(10)] == [7]
    writer.close()


@pytest.mark.parametrize("limit", [2])
async def test_rate_limited_connects(bus_factory, limit: int) -> None:
    bus = await bus_factory(ingest_config(EnableRateLimiting=True, RateLimitPerMinute=limit),
                            clock=ManualClock())
    for _ in range(limit):
        _, writer = await connect(bus)
        writer.close()
    reader, _ = await connect(bus)
    refused = orjson.loads(await asyncio.wait_for(reader.readline(), 5))
    assert refused["error"]["code"] == "RATE_LIMIT_EXCEEDED"
