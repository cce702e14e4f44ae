"""`/api/replay` controls on a real bus, and `/api/status` reporting the replay."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import orjson

from dxbus.assemble import RunOptions
from dxbus.clock import ManualClock, settle, utc_iso


def write(path: Path, items: list[tuple[float, str, dict]]) -> Path:
    path.write_bytes(b"".join(
        orjson.dumps({"Timestamp": utc_iso(1_767_225_600 + t), "EventType": kind, "Data": data}) + b"\n"
        for t, kind, data in items))
    return path


async def test_replay_controls_over_http(tmp_path: Path, bus_factory) -> None:
    rec = write(tmp_path / "rec.ndjson", [
        (0, "scene_transition", {"from_scene": "Tut_01", "to_scene": "Bone_01"}),
        (1, "custom_event", {"n": 1}),
        (2, "scene_transition", {"from_scene": "Bone_01", "to_scene": "Bone_05"}),
        (3, "custom_event", {"n": 2}),
    ])
    clock = ManualClock()
    bus = await bus_factory(options=RunOptions(replay=[rec], replay_paused=True), clock=clock)
    base = bus.url("http")
    async with aiohttp.ClientSession() as http:
        async def post(action: str, body: dict | None = None) -> tuple[int, dict]:
            async with http.post(f"{base}/api/replay/{action}", json=body) as resp:
                return resp.status, await resp.json()

        async with http.get(f"{base}/api/replay") as resp:
            status = await resp.json()
        assert status["state"] == "paused" and status["position"]["total"] == 4
        code, body = await post("seek", {"scene": "Bone_05"})
        assert code == 200 and body["position"]["next_seq"] == 3
        code, body = await post("step")
        assert [e["Data"]["to_scene"] for e in body["stepped"]] == ["Bone_05"]
        assert bus.state.snapshot()["scene"]["current"] == "Bone_05"
        code, body = await post("speed", {"speed": 2})
        assert code == 200 and body["speed"] == 2.0
        code, body = await post("resume")
        assert body["state"] == "playing"
        await settle()
        await clock.advance(0.5)
        assert bus.hub.latest("custom_event").data == {"n": 2}
        code, body = await post("seek", {"scene": "Nowhere"})
        assert code == 400 and "Nowhere" in body["error"]["message"]
        code, body = await post("speed", {"speed": "fast"})
        assert code == 400 and body["error"]["code"] == "BAD_REQUEST"
        code, body = await post("rewind")
        assert code == 404
        async with http.get(f"{base}/api/status") as resp:
            status = await resp.json()
        assert status["replay"]["published"] == 2 and status["instance_id"] == bus.instance_id
