"""`POST /api/events`: objects, arrays and NDJSON; per-item errors; nothing accepted is lost."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest
import requests

from dxbus.bus import Bus
from dxbus.ingest import BodyError, split_body


def test_split_body_tells_the_forms_apart() -> None:
    assert split_body(b'{"EventType": "a"}')[0] == "object"
    assert split_body(b'\xef\xbb\xbf {\n "EventType": "a"\n}\n')[0] == "object"  # pretty, with BOM
    assert split_body(b'[{"EventType": "a"}, 3]')[0] == "array"
    form, pieces = split_body(b'{"EventType": "a"}\r\n\r\n{"EventType": "b"}\r\n{oops\r\n')
    assert form == "ndjson"
    assert [(p.key, p.pos) for p in pieces] == [("line", 1), ("line", 3), ("line", 4)]
    assert pieces[2].error is not None and pieces[2].error.startswith("not valid JSON")
    for bad in (b"", b"  \n ", b"[1, 2"):
        with pytest.raises(BodyError):
            split_body(bad)


async def post(bus: Bus, body: bytes) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.post(bus.url() + "/api/events", data=body) as resp:
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        return resp.status, orjson.loads(await resp.read())


async def test_one_object(bus: Bus) -> None:
    status, body = await post(bus, b'{"EventType": "player_death", "Data": {"location": "Bone_01"}}')
    assert status == 200
    assert body == {"accepted": 1, "rejected": 0, "filtered": 0, "seqs": [1], "errors": [], "form": "object"}
    event = bus.hub.latest("player_death")
    assert event is not None and event.data == {"location": "Bone_01"}


async def test_array_with_bad_items(bus: Bus) -> None:
    items = [
        {"EventType": "enemy_killed", "Data": {"enemy_name": "Mossgrub"}},
        {"EventType": "Enemy Killed"},
        "not an event",
        {"EventType": "custom_event", "Data": [1]},
        {"EventType": "custom_event", "Data": {"mod_name": "x"}, "Timestamp": "2024-01-15T14:30:45.1234567Z"},
    ]
    status, body = await post(bus, orjson.dumps(items))
    assert status == 200
    assert body["accepted"] == 2 and body["rejected"] == 3 and body["form"] == "array"
    assert [e["index"] for e in body["errors"]] == [1, 2, 3]
    assert body["errors"][0]["error"].startswith("EventType:")
    assert body["errors"][1]["error"].startswith("event: an event must be a JSON object")
    assert body["errors"][2]["error"].startswith("Data:")
    assert bus.hub.latest("custom_event").timestamp == "2024-01-15T14:30:45.123Z"


async def test_ndjson_with_per_line_errors_and_nothing_accepted_lost(bus: Bus) -> None:
    lines = []
    for i in range(300):
        lines.append(orjson.dumps({"EventType": "combat_damage", "Data": {"damage": i}}))
        if i % 100 == 0:
            lines.append(b'{"EventType": "combat_damage", "Data": ')  # cut short
    status, body = await post(bus, b"\r\n".join(lines) + b"\r\n")
    assert status == 200
    assert body["form"] == "ndjson" and body["accepted"] == 300 and body["rejected"] == 3
    assert [e["line"] for e in body["errors"]] == [2, 103, 204]
    assert "not valid JSON" in body["errors"][0]["error"]
    # every accepted event is on the bus, in order, with the Seq the reply gave
    stored = bus.hub.since(0)
    assert [e.seq for e in stored] == body["seqs"]
    assert [e.data["damage"] for e in stored] == list(range(300))


async def test_nothing_valid_is_a_400_with_both_shapes(bus: Bus) -> None:
    status, body = await post(bus, b'{"EventType": 5}\n{"Data": {}}\n')
    assert status == 400
    assert body["accepted"] == 0 and body["rejected"] == 2
    assert body["error"]["code"] == "INVALID_EVENTS"
    assert body["error"]["message"] == "no event accepted; line 1: EventType: required, must be a string"
    assert bus.hub.seq == 0


@pytest.mark.parametrize("raw, fragment", [
    (b"", "empty"), (b"[{\"EventType\": \"a\"},", "JSON array"),
])
async def test_unreadable_bodies(bus: Bus, raw: bytes, fragment: str) -> None:
    status, body = await post(bus, raw)
    assert status == 400 and body["error"]["code"] == "INVALID_JSON"
    assert fragment in body["error"]["message"]


async def test_error_list_is_capped(bus: Bus) -> None:
    status, body = await post(bus, b"\n".join([b"x"] * 250))
    assert status == 400 and body["rejected"] == 250
    assert len(body["errors"]) == 100 and body["errors_truncated"] is True


async def test_event_too_large_is_rejected_by_place(bus: Bus) -> None:
    big = {"EventType": "custom_event", "Data": {"blob": "x" * 70_000}}
    status, body = await post(bus, orjson.dumps([{"EventType": "ok_event"}, big]))
    assert status == 200 and body["accepted"] == 1
    assert body["errors"][0]["index"] == 1 and "limit" in body["errors"][0]["error"]


async def test_ingest_with_requests_and_text_content_type(bus: Bus) -> None:
    # scripts often send NDJSON with curl -d / requests data= (no JSON content type): still accepted
    # requests is blocking: run it in a thread so the bus's loop keeps serving
    reply = await asyncio.to_thread(lambda: requests.post(
        bus.url() + "/api/events", data='{"EventType":"checkpoint_reached","Data":{"scene":"Bellshrine"}}\n',
        headers={"Content-Type": "application/x-ndjson"}, timeout=5))
    assert reply.status_code == 200 and reply.json()["accepted"] == 1



async def test_curl_ndjson_upload_with_100_continue(bus: Bus, tmp_path) -> None:
    pad = "z" * 500
    lines = [orjson.dumps({"EventType": "custom_event", "Data": {"i": i, "pad": pad}}) for i in range(5000)]
    upload = tmp_path / "events.ndjson"
    upload.write_bytes(b"\n".join(lines))
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "-H", "Expect: 100-continue", "--data-binary", f"@{upload}",
        bus.url() + "/api/events", stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    reply = orjson.loads(out)
    assert reply["accepted"] == 5000 and reply["rejected"] == 0
    assert [e.data["i"] for e in bus.hub.since(0)] == list(range(5000))
