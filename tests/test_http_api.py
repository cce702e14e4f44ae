"""The REST routes of the HTTP port over real sockets: shapes, limits, status codes, JSON errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import aiohttp.web
import orjson
import pytest
from conftest import bus_overrides

from dxbus.assemble import build_bus
from dxbus.bus import Bus
from dxbus.clock import ManualClock, utc_iso
from dxbus.config import load_config

JSON_UTF8 = "application/json; charset=utf-8"


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    """Status and decoded JSON body; every reply of the API must be JSON with charset."""
    async with session.request(method, url, **kw) as resp:
        assert resp.headers["Content-Type"] == JSON_UTF8, (url, resp.headers["Content-Type"])
        return resp.status, orjson.loads(await resp.read())


def emit_some(bus: Bus) -> None:
    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bone_01"})
    bus.hub.emit("player_update", {"health_current": 5, "health_max": 5, "mp_current": 33, "mp_max": 99})
    for i in range(5):
        bus.hub.emit("combat_damage", {"damage": i, "is_player_damage": False})


async def test_status_shape_and_live_counts(bus: Bus, client: aiohttp.ClientSession) -> None:
    emit_some(bus)
    bus.status_providers["relay"] = lambda: {"connected": False}
    bus.status_providers["broken"] = lambda: 1 / 0
    status, body = await call(client, "GET", bus.url() + "/api/status")
    assert status == 200
    assert body["status"] == "healthy"
    assert body["version"] == bus.version
    assert body["uptime_seconds"] >= 0
    assert body["metrics_collected"] == 7
    assert body["active_connections"] == {"http": 1, "websocket": 0, "tcp": 0}  # this very request
    assert body["configuration"]["update_frequency_hz"] == 10
    assert body["configuration"]["advanced_metrics_enabled"] is False
    assert body["ports"]["http"] == bus.ports["http"]
    assert body["relay"] == {"connected": False}
    assert "ZeroDivisionError" in body["broken"]["error"]  # one broken provider does not break status


async def test_status_lists_subscribers(bus: Bus, client: aiohttp.ClientSession) -> None:
    sub = bus.hub.subscribe(types=["player_death"], name="ws 127.0.0.1")
    bus.hub.emit("player_death", {"location": "Bone_01"})
    _, body = await call(client, "GET", bus.url() + "/api/status")
    assert body["subscribers"] == [{"name": "ws 127.0.0.1", "types": ["player_death"], "backlog": 1,
                                    "delivered": 0, "coalesced": 0, "last_seq": 0}]
    bus.hub.unsubscribe(sub)


async def test_metrics_snapshot_is_chronological_filtered_and_non_destructive(
    bus: Bus, client: aiohttp.ClientSession
) -> None:
    emit_some(bus)
    url = bus.url() + "/api/metrics"
    _, everything = await call(client, "GET", url)
    assert [e["Seq"] for e in everything] == list(range(1, 8))
    _, again = await call(client, "GET", url)
    assert again == everything  # two pollers never steal from each other

    # limit=2 still brings the newest event of every type (the current player_update, the last scene)
    _, limited = await call(client, "GET", url, params={"limit": "2"})
    assert [e["EventType"] for e in limited] == ["scene_transition", "player_update",
                                                 "combat_damage", "combat_damage"]
    _, typed = await call(client, "GET", url, params={"type": "player_update"})
    assert [e["EventType"] for e in typed] == ["player_update"]
    _, typed2 = await call(client, "GET", url, params={"types": "player_update,scene_transition"})
    assert [e["Seq"] for e in typed2] == [1, 2]


async def test_metrics_reply_is_the_stored_wire_bytes(bus: Bus, client: aiohttp.ClientSession) -> None:
    emit_some(bus)
    async with client.get(bus.url() + "/api/metrics") as resp:
        raw = await resp.read()
    assert raw == b"[" + b",".join(e.raw for e in bus.hub.recent(100)) + b"]"


async def test_metrics_show_state_once_unless_asked(bus_factory, client: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    bus = await bus_factory(clock=clock)
    for hp in (5, 4, 3):
        bus.hub.emit("player_update", {"health_current": hp})
        bus.hub.emit("combat_damage", {"damage": 1, "is_player_damage": True})
        await clock.advance(0.1)  # the 10 Hz collection rate
    url = bus.url() + "/api/metrics"
    _, snapshot = await call(client, "GET", url)
    # guide clients take the first player_update they find: it must be the current one
    assert [(e["EventType"], e["Seq"]) for e in snapshot] == [
        ("combat_damage", 2), ("combat_damage", 4), ("player_update", 5), ("combat_damage", 6)]
    _, history = await call(client, "GET", url, params={"coalesce": "0", "type": "player_update"})
    assert [e["Data"]["health_current"] for e in history] == [5, 4, 3]
    status, body = await call(client, "GET", url, params={"coalesce": "maybe"})
    assert status == 400 and body["error"]["parameter"] == "coalesce"


@pytest.mark.parametrize("query, parameter", [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("type=Bad-Type", "type"),
])
async def test_metrics_bad_parameters(bus: Bus, client: aiohttp.ClientSession, query: str,
                                      parameter: str) -> None:
    status, body = await call(client, "GET", bus.url() + "/api/metrics?" + query)
    assert status == 400
    assert body["error"]["code"] == "INVALID_PARAMETER"
    assert body["error"]["parameter"] == parameter
    assert parameter in body["error"]["message"]


async def test_recent_count_type_since(bus_factory, client: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    bus = await bus_factory(clock=clock)
    emit_some(bus)
    url = bus.url() + "/api/recent"
    _, default = await call(client, "GET", url)
    assert len(default) == 7  # default count 10
    _, three = await call(client, "GET", url, params={"count": "3"})
    assert [e["Seq"] for e in three] == [5, 6, 7]
    _, damage = await call(client, "GET", url, params={"count": "100", "type": "combat_damage"})
    assert [e["Data"]["damage"] for e in damage] == [0, 1, 2, 3, 4]
    await clock.advance(1.0)
    cutoff = utc_iso(clock.time()).replace(".000Z", "Z")  # any ISO 8601 form is accepted
    await clock.advance(1.0)
    late = bus.hub.emit("player_death", {"location": "Bone_01"})
    _, since = await call(client, "GET", url, params={"since": cutoff, "type": "player_death"})
    assert [e["Seq"] for e in since] == [late.seq]
    for query in ("count=0", "count=101", "since=yesterday"):
        status, body = await call(client, "GET", f"{url}?{query}")
        assert status == 400, query
        assert body["error"]["parameter"] == query.split("=")[0]


async def test_state_route(bus: Bus, client: aiohttp.ClientSession) -> None:
    status, body = await call(client, "GET", bus.url() + "/api/state")
    assert status == 200 and "deaths" in body


async def test_livesplit_routes_put_timer_commands_on_the_bus(
    bus: Bus, client: aiohttp.ClientSession
) -> None:
    sub = bus.hub.subscribe(types=["timer_command"])
    for command in ("start", "split", "reset"):
        status, body = await call(client, "POST", f"{bus.url()}/api/livesplit/{command}")
        assert status == 200 and body["success"] is True and body["command"] == command
        event = sub.get_nowait(1)[0]
        assert event.seq == body["seq"]
        assert event.data == {"command": command, "value": None, "source": "manual"}
    status, body = await call(client, "GET", bus.url() + "/api/livesplit/split")
    assert status == 405
    assert body["error"]["code"] == "METHOD_NOT_ALLOWED" and body["error"]["allowed_methods"] == ["POST"]
    status, body = await call(client, "POST", bus.url() + "/api/livesplit/explode")
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"


async def test_configure_applies_at_once_and_reports(bus: Bus, client: aiohttp.ClientSession) -> None:
    url = bus.url() + "/api/configure"
    status, body = await call(client, "POST", url, json={
        "update_frequency_hz": 5, "enable_advanced_metrics": True, "colour": "blue"})
    assert status == 200 and body["success"] is True
    assert body["applied"] == {"update_frequency_hz": 5, "enable_advanced_metrics": True}
    assert len(body["warnings"]) == 1 and "'colour'" in body["warnings"][0]
    assert bus.policy.update_frequency_hz == 5 and bus.policy.advanced_metrics_enabled is True
    assert bus.config.data_collection.update_frequency_hz == 5
    _, status_body = await call(client, "GET", bus.url() + "/api/status")
    assert status_body["configuration"]["update_frequency_hz"] == 5
    # the status spelling is accepted back
    _, body = await call(client, "POST", url, json={"advanced_metrics_enabled": False})
    assert body["applied"] == {"enable_advanced_metrics": False} and not body["warnings"]


@pytest.mark.parametrize("payload, field", [
    ({"update_frequency_hz": 0}, "update_frequency_hz"),
    ({"update_frequency_hz": 61}, "update_frequency_hz"),
    ({"update_frequency_hz": "5"}, "update_frequency_hz"),
    ({"update_frequency_hz": 2.5}, "update_frequency_hz"),
    ({"update_frequency_hz": True}, "update_frequency_hz"),
    ({"export_combat_data": 0, "update_frequency_hz": 5}, "export_combat_data"),
])
async def test_configure_rejects_bad_values_and_applies_nothing(
    bus: Bus, client: aiohttp.ClientSession, payload: dict, field: str
) -> None:
    status, body = await call(client, "POST", bus.url() + "/api/configure", json=payload)
    assert status == 400
    assert body["error"]["code"] == "INVALID_FIELD" and body["error"]["field"] == field
    assert body["error"]["message"].startswith(field)
    assert bus.policy.update_frequency_hz == 10 and bus.policy.export_combat_data is True


async def test_configure_bad_bodies(bus: Bus, client: aiohttp.ClientSession) -> None:
    url = bus.url() + "/api/configure"
    status, body = await call(client, "POST", url, data=b"{not json")
    assert status == 400 and body["error"]["code"] == "INVALID_JSON"
    status, body = await call(client, "POST", url, json=[1, 2])
    assert status == 400 and body["error"]["code"] == "INVALID_BODY"
    status, body = await call(client, "GET", url)
    assert status == 405


async def test_configure_really_gates_what_is_collected(bus: Bus, client: aiohttp.ClientSession) -> None:
    base = bus.url()
    await call(client, "POST", base + "/api/configure", json={"export_combat_data": False})
    status, result = await call(client, "POST", base + "/api/events", json=[
        {"EventType": "combat_damage", "Data": {"damage": 3}},
        {"EventType": "player_death", "Data": {"location": "Bone_01"}},
    ])
    assert status == 200 and result["accepted"] == 1 and result["filtered"] == 1
    ours = {"types": "combat_damage,player_death"}  # other parts may derive events (alerts)
    _, metrics = await call(client, "GET", base + "/api/metrics", params=ours)
    assert [e["EventType"] for e in metrics] == ["player_death"]
    await call(client, "POST", base + "/api/configure", json={"export_combat_data": True})
    damage = {"EventType": "combat_damage", "Data": {"damage": 4}}
    await call(client, "POST", base + "/api/events", json=damage)
    _, metrics = await call(client, "GET", base + "/api/metrics", params={"type": "combat_damage"})
    assert [e["Data"]["damage"] for e in metrics] == [4]


async def test_unknown_route_and_wrong_method_are_json(bus: Bus, client: aiohttp.ClientSession) -> None:
    status, body = await call(client, "GET", bus.url() + "/api/nothing-here")
    assert status == 404
    assert body == {"error": {"code": "NOT_FOUND", "message": "no route for GET /api/nothing-here"}}
    status, body = await call(client, "DELETE", bus.url() + "/api/status")
    assert status == 405 and body["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_http_connection_count_goes_back_to_zero(bus: Bus, client: aiohttp.ClientSession) -> None:
    await call(client, "GET", bus.url() + "/api/status")
    assert bus.connections["http"] == 0
    assert bus.connection_limiter.open_for("127.0.0.1") == 0


async def test_a_crashing_handler_is_a_json_500_and_the_port_keeps_serving(
    tmp_path, client: aiohttp.ClientSession
) -> None:
    async def boom(request: aiohttp.web.Request) -> aiohttp.web.Response:
        raise RuntimeError("secret detail")

    bus = build_bus(load_config(None, bus_overrides(tmp_path)), base_dir=tmp_path)
    bus.route_installers.append(lambda app, _bus: app.router.add_get("/boom", boom))
    await bus.start()
    try:
        async with client.get(bus.url() + "/boom", headers={"Origin": "null"}) as resp:
            assert resp.status == 500 and resp.headers["Access-Control-Allow-Origin"] == "null"
            body = await resp.json()
        assert body["error"]["code"] == "INTERNAL_ERROR" and "secret" not in body["error"]["message"]
        status, _ = await call(client, "GET", bus.url() + "/api/status")
        assert status == 200
    finally:
        await bus.stop()


async def test_stopping_bus_answers_503(bus: Bus, client: aiohttp.ClientSession) -> None:
    bus.stopping = True
    try:
        status, body = await call(client, "GET", bus.url() + "/api/status")
    finally:
        bus.stopping = False
    assert status == 503 and body["error"]["code"] == "SHUTTING_DOWN"
