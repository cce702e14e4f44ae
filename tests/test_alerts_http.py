"""Alerts end to end on a real bus: HTTP routes, user sounds, and `alert` events on the WebSocket."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from waiting import wait_until

from dxbus.clock import ManualClock


async def test_get_alerts_and_fire_a_test_alert(bus_factory: Any) -> None:
    bus = await bus_factory()
    async with aiohttp.ClientSession() as http:
        async with http.get(bus.url() + "/api/alerts") as resp:
            assert resp.status == 200
            body = await resp.json()
        assert body["enabled"] is True and body["current"] is None and body["queue"] == []
        assert {r["name"] for r in body["rules"]} >= {"boss_defeated", "death", "low_health"}
        async with http.post(bus.url() + "/api/alerts/test", json={"rule": "boss_defeated"}) as resp:
            assert resp.status == 200
            fired = await resp.json()
        assert fired["success"] is True and fired["outcome"] == "queued"
        assert fired["alert"]["message"] == "Lace defeated in 1:23.4 \u2014 NEW BEST!"
        assert fired["alert"]["test"] is True
        await wait_until(lambda: bus.alerts.test_queue.current is not None)
        async with http.get(bus.url() + "/api/alerts") as resp:
            body = await resp.json()
        # A test alert has its own queue: the stream's alert slot stays free for real alerts.
        assert body["current"] is None and body["history"] == []
        assert body["test"]["current"]["rule"] == "boss_defeated"
        assert body["test"]["history"][-1]["status"] == "shown"
        async with http.get(bus.url() + "/api/status") as resp:
            status = await resp.json()
        assert "alerts" in orjson.dumps(status).decode()


async def test_test_route_errors(bus_factory: Any) -> None:
    bus = await bus_factory()
    async with aiohttp.ClientSession() as http:
        async with http.post(bus.url() + "/api/alerts/test", json={"rule": "nope"}) as resp:
            assert resp.status == 404
            error = (await resp.json())["error"]
            assert error["code"] == "UNKNOWN_RULE" and "boss_defeated" in error["message"]
        async with http.post(bus.url() + "/api/alerts/test", json={"name": "death"}) as resp:
            assert resp.status == 400
        async with http.post(bus.url() + "/api/alerts/test", data=b"{not json") as resp:
            assert resp.status == 400
        async with http.post(bus.url() + "/api/alerts/test", json={"rule": "death", "data": 3}) as resp:
            assert resp.status == 400


async def test_user_sounds_are_served_without_traversal(bus_factory: Any, tmp_path: Path) -> None:
    sounds = tmp_path / "my-sounds"
    sounds.mkdir()
    (sounds / "airhorn.wav").write_bytes(b"RIFF....WAVE")
    (tmp_path / "secret.wav").write_bytes(b"secret")
    (sounds / "notes.txt").write_text("not audio")
    bus = await bus_factory({"Alerts": {"SoundsDirectory": str(sounds),
                                        "Detectors": {"Death": {"Sound": "airhorn.wav"}}}})
    async with aiohttp.ClientSession() as http:
        async with http.post(bus.url() + "/api/alerts/test", json={"rule": "death"}) as resp:
            alert = (await resp.json())["alert"]
        assert alert["sound"] == "/static/user-sounds/airhorn.wav"
        async with http.get(bus.url() + alert["sound"]) as resp:
            assert resp.status == 200 and await resp.read() == b"RIFF....WAVE"
        for bad in ("/static/user-sounds/..%2Fsecret.wav", "/static/user-sounds/%2e%2e%2fsecret.wav",
                    "/static/user-sounds/notes.txt", "/static/user-sounds/missing.wav",
                    "/static/user-sounds/.hidden.wav"):
            async with http.get(bus.url() + bad) as resp:
                assert resp.status == 404, bad
                assert b"secret" not in await resp.read()


async def test_game_events_become_alert_events_on_the_websocket(bus_factory: Any) -> None:
    bus = await bus_factory()
    events = [{"EventType": "scene_transition", "Data": {"to_scene": "Bone_East_12"}},
              {"EventType": "player_death", "Data": {"location": "Bone_East_12", "cause": "Lace"}}]
    async with aiohttp.ClientSession() as http, http.ws_connect(bus.url("websocket") + "/?types=alert") as ws:
        async with http.post(bus.url() + "/api/events", json=events) as resp:
            assert resp.status == 200
        frame = orjson.loads((await asyncio.wait_for(ws.receive(), 5)).data)
    assert frame["EventType"] == "alert"
    data = frame["Data"]
    assert data["rule"] == "death" and data["message"] == "Died in Deep Docks"
    assert data["sound"] == "/static/sounds/death.wav" and data["duration"] == 4.0
    assert isinstance(frame["Seq"], int)


async def test_queue_runs_on_the_bus_clock(bus_factory: Any) -> None:
    clock = ManualClock()
    bus = await bus_factory(clock=clock)
    queue = bus.alerts.test_queue
    for _ in range(3):
        bus.alerts.fire_test("low_health")
    await wait_until(lambda: queue.current is not None)
    await clock.advance(3.0)  # low_health: 3 s on screen, then the 0.5 s gap
    assert queue.current is None and len(queue.pending) == 2
    await clock.advance(0.5)
    await wait_until(lambda: queue.current is not None)
    assert len(queue.pending) == 1


async def test_pause_and_clear_routes(bus_factory: Any) -> None:
    bus = await bus_factory()
    async with aiohttp.ClientSession() as http:
        async with http.post(bus.url() + "/api/alerts/pause", json={"paused": True}) as resp:
            assert resp.status == 200 and (await resp.json())["paused"] is True
        for _ in range(2):
            async with http.post(bus.url() + "/api/alerts/test", json={"rule": "new_area"}) as resp:
                assert resp.status == 200
        async with http.get(bus.url() + "/api/alerts") as resp:
            body = await resp.json()
        assert body["paused"] is True and body["current"] is None and len(body["test"]["queue"]) == 2
        async with http.post(bus.url() + "/api/alerts/clear") as resp:
            assert (await resp.json())["cleared"] == 2
        async with http.post(bus.url() + "/api/alerts/pause", json={"paused": "no"}) as resp:
            assert resp.status == 400
        async with http.post(bus.url() + "/api/alerts/pause", json={"paused": False}) as resp:
            assert (await resp.json())["paused"] is False
