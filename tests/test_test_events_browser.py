"""Every "Send test events" button of the gallery, clicked in Debian's Chromium during a live fight:
the previews get the test events; the session state, the persisted counters, the text files, the
stream's clients and the fight in progress do not change."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from overlay_support import BusMaker
from waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

LIVE_FIGHT = [
    {"EventType": "scene_transition", "Data": {"from_scene": "Bone_East_11", "to_scene": "Bone_East_12"}},
    {"EventType": "player_update", "Data": {"health_current": 6, "health_max": 8}},
    {"EventType": "player_death", "Data": {"location": "Bone_East_12", "cause": "Lace"}},
    {"EventType": "boss_encounter", "Data": {"boss_name": "Lace", "phase": "start"}},
]


def text_files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))}


def seconds(text: str) -> int:
    minutes, _, secs = text.rpartition(":")
    return int(minutes or 0) * 60 + int(secs)


async def frames_until(ws: aiohttp.ClientWebSocketResponse, stop: str) -> list[dict]:
    """Frames up to and including the first of type `stop`."""
    out: list[dict] = []
    while not out or out[-1]["EventType"] != stop:
        msg = await asyncio.wait_for(ws.receive(), 10)
        out.append(orjson.loads(msg.data))
    return out


async def test_every_gallery_test_button_leaves_real_play_untouched(
    browser: Any, buses: BusMaker, tmp_path: Path,
) -> None:
    bus = await buses.make()
    clock = bus.clock
    store = next(s for s in bus.services if s.name == "state")
    async with aiohttp.ClientSession() as http:
        async with http.post(bus.url() + "/api/events", data=orjson.dumps(LIVE_FIGHT)) as resp:
            assert (await resp.json())["accepted"] == len(LIVE_FIGHT)
        await clock.advance(10.0)  # the real death's alert is over; the text files are written
        folder = tmp_path / "obs-text"
        await wait_until(lambda: (folder / "boss.txt").read_text(encoding="utf-8") == "Lace",
                         what="boss.txt shows the live fight")
        before_files = text_files(folder)
        before_state = bus.state.snapshot()
        before_persisted = bus.state.persistent()
        assert store.save()
        before_disk = store.path.read_bytes()
        seq = bus.hub.seq
        before_alerts = list(bus.alerts.queue.history)

        # A preview-like client that asked for test events, and a stream client that did not.
        preview = await http.ws_connect(bus.url("websocket") + "/?include_test=1")
        stream = await http.ws_connect(bus.url("websocket") + "/")
        await wait_until(lambda: bus.connections["websocket"] >= 2)

        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(bus.url() + "/overlays")
        buttons = page.locator("button.test, button.alert-test")
        count = await buttons.count()
        assert count >= 9  # every overlay with sample events, and the alerts card's test alert
        for i in range(count):
            button = buttons.nth(i)
            async with page.expect_response(lambda r: "/test" in r.url and r.request.method == "POST") as r:
                await button.click()
            assert (await r.value).status == 200
        # The hp preview (asked with ?preview=1) shows its test sample: 5 of 7 masks.
        hp = page.frame_locator("#card-hp iframe")
        await page.locator("#card-hp").scroll_into_view_if_needed()
        await hp.locator(".mask.full").nth(4).wait_for(timeout=10_000)
        await clock.advance(10.0)  # test alerts run their course; text files and state store tick

        # The previews' client got test events (no Seq, marked test), the test alert among them.
        await http.post(bus.url() + "/api/events", json={"EventType": "custom_event", "Data": {"end": 1}})
        got = await frames_until(preview, "custom_event")
        tests = got[:-1]
        assert tests and all(f.get("Origin") == "test" and "Seq" not in f for f in tests)
        assert {"alert", "boss_encounter", "player_death", "combat_damage", "player_update",
                "scene_transition"} <= {f["EventType"] for f in tests}
        # The stream client got nothing but the real event; the history has only that one more.
        [real] = await frames_until(stream, "custom_event")
        assert real["Seq"] == seq + 1 and "Origin" not in real
        assert bus.hub.seq == seq + 1

        # The fight in progress, the counters, the records and the files are as they were.
        after = bus.state.snapshot()
        assert after["boss"]["current"] == "Lace" and after["boss"]["active"] is True
        assert after["boss"]["attempts"] == before_state["boss"]["attempts"]
        assert after["deaths"] == before_state["deaths"] == {"session": 1, "total": 1}
        assert after["scene"]["current"] == "Bone_East_12" and after["player"] == before_state["player"]
        assert "Moss Mother" not in after["bosses"]
        assert bus.state.persistent() == before_persisted
        assert store.save() and store.path.read_bytes() == before_disk
        # Only the clocks moved (10 s of bus time): the real fight's timer still runs, from where it was.
        now = text_files(folder)
        changed = {k: (before_files.get(k), v) for k, v in now.items() if v != before_files.get(k)}
        assert set(changed) <= {"boss-timer.txt", "session-time.txt"}, changed
        assert seconds(now["boss-timer.txt"]) == seconds(before_files["boss-timer.txt"]) + 10
        assert list(bus.alerts.queue.history) == before_alerts  # the stream's alerts: none added
        assert bus.alerts.test_queue.history  # the test alert ran in its own queue
        # The previews' sandbox state saw them instead.
        sandbox = bus.test_state.snapshot()
        assert sandbox["deaths"]["session"] == 1 and sandbox["boss"]["current"] == "Moss Mother"
        assert not errors, errors
        await page.close()
        await preview.close()
        await stream.close()

