"""The operator's hands on the stream's alert queue: skip (the alert on screen goes, the next comes)
and replay (the last shown alert again), on a real server and from the dashboard's buttons in Chromium.

The server's queue runs on a ManualClock: nothing ends or follows by itself while a test looks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from alerts_rig import Rig
from conftest import CHROMIUM_ARGS
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.clock import ManualClock


async def call(bus: Bus, path: str, body: Any = None, status: int = 200) -> Any:
    async with aiohttp.ClientSession() as http, http.post(bus.url() + path, json=body) as resp:
        assert resp.status == status, await resp.text()
        return await resp.json()


async def make(bus_factory: Any) -> tuple[Bus, ManualClock]:
    clock = ManualClock()
    bus = await bus_factory(clock=clock)
    return bus, clock


async def test_skip_ends_the_alert_on_screen_and_the_next_one_follows_after_the_gap(bus_factory: Any) -> None:
    bus, clock = await make(bus_factory)
    assert (await call(bus, "/api/alerts/skip"))["skipped"] == []  # nothing on screen: nothing to do
    async with aiohttp.ClientSession() as http, http.ws_connect(
            bus.url("websocket") + "/?types=alert,alert_end") as ws:
        bus.hub.emit("scene_transition", {"to_scene": "Bone_East_12"})
        bus.hub.emit("player_death", {"location": "Bone_East_12"})
        first = await ws.receive_json()
        assert first["EventType"] == "alert" and first["Data"]["rule"] == "death"
        bus.alerts.queue.offer(_alert(bus, "low_health"))  # waiting behind it
        body = await call(bus, "/api/alerts/skip")
        assert [a["id"] for a in body["skipped"]] == [first["Data"]["id"]] and body["queued"] == 1
        end = await ws.receive_json()
        assert end["EventType"] == "alert_end"
        assert end["Data"] == {"id": first["Data"]["id"], "rule": "death", "reason": "skipped", "test": False}
        await wait_until(lambda: bus.alerts.queue.current is None, what="the skipped alert gone")
        assert bus.alerts.queue.history[-1]["status"] == "skipped"
        assert bus.alerts.queue.pending  # the gap first (0.5 s of the bus clock)
        await clock.advance(0.5)
        second = await ws.receive_json()
        assert second["EventType"] == "alert" and second["Data"]["rule"] == "low_health"


async def test_a_skipped_alert_leaves_the_obs_text_file_too(bus_factory: Any, tmp_path: Path) -> None:
    bus, clock = await make(bus_factory)
    text = tmp_path / "obs-text" / "alert.txt"
    bus.hub.emit("scene_transition", {"to_scene": "Bone_East_12"})
    bus.hub.emit("player_death", {"location": "Bone_East_12"})
    await wait_until(lambda: bus.alerts.queue.current is not None, what="the death alert on screen")
    await clock.advance(0.25)  # the text files' tick
    assert text.read_text(encoding="utf-8") == bus.alerts.queue.current.message
    await call(bus, "/api/alerts/skip")
    await wait_until(lambda: bus.alerts.queue.current is None, what="the skipped alert gone")
    await clock.advance(0.25)
    assert text.read_text(encoding="utf-8") == ""


async def test_replay_queues_the_last_shown_alerts_again(bus_factory: Any) -> None:
    bus, clock = await make(bus_factory)
    nothing = await call(bus, "/api/alerts/replay")  # an empty body means one
    assert nothing == {"success": False, "replayed": [], "queued": 0}
    for bad in ({"count": 0}, {"count": "2"}, {"count": True}, {"count": 51}, [1]):
        error = await call(bus, "/api/alerts/replay", bad, status=400)
        assert error["error"]["code"] == "INVALID_PARAMETER", bad
    async with aiohttp.ClientSession() as http, http.ws_connect(
            bus.url("websocket") + "/?types=alert") as ws:
        bus.hub.emit("scene_transition", {"to_scene": "Bone_East_12"})
        bus.hub.emit("player_death", {"location": "Bone_East_12"})
        first = (await ws.receive_json())["Data"]
        await clock.advance(first["duration"] + 0.5)
        body = await call(bus, "/api/alerts/replay", {"count": 1})
        assert body["success"] is True and [a["message"] for a in body["replayed"]] == [first["message"]]
        again = (await ws.receive_json())["Data"]
        same = ("rule", "title", "message", "icon", "sound", "duration", "count")
        assert {k: again[k] for k in same} == {k: first[k] for k in same}
        assert again["id"] != first["id"] and again["replay"] is True and first["replay"] is False
        await clock.advance(again["duration"] + 0.5)
        # Two back: the death and its replay, oldest first.
        body = await call(bus, "/api/alerts/replay", {"count": 2})
        assert [a["message"] for a in body["replayed"]] == [first["message"]] * 2
    async with aiohttp.ClientSession() as http, http.get(bus.url() + "/api/status") as resp:
        assert (await resp.json())["alerts"]["last_shown"] == "death"


async def test_a_replay_ignores_and_starts_no_cooldown_and_is_never_merged(tmp_path: Path) -> None:
    rig = await Rig(tmp_path, {"Rules": [{"Name": "hit", "Event": "combat_damage", "Message": "hit",
                                          "Cooldown": 20, "Duration": 1, "Stale": "merge"}]}).start()
    queue = rig.service.queue
    try:
        await rig.emit("combat_damage", damage=1)  # t=0: shown, cooldown until t=20
        await rig.advance(10)
        queue.replay(1)  # t=10: inside the cooldown, shown anyway
        await rig.advance(0)
        assert rig.rules == ["hit", "hit"] and rig.shown[1][1]["replay"] is True
        await rig.advance(16)
        await rig.emit("combat_damage", damage=1)  # t=26: a cooldown started by the replay would hold it
        assert len(rig.shown) == 3 and rig.shown[2][1]["replay"] is False
        await rig.advance(5)
        queue.set_paused(True)
        queue.replay(1)
        await rig.advance(21)  # past the cooldown of t=26
        await rig.emit("combat_damage", damage=1)
        assert [a.replay for a in queue.pending] == [True, False]  # the burst did not swallow the replay
    finally:
        await rig.stop()


def _alert(bus: Bus, rule: str) -> Any:
    """A rendered alert of `rule` (sample fields), as the service would queue it."""
    from dxbus.alerts.detectors import SAMPLES, Trigger

    service = bus.alerts
    queue, service.queue = service.queue, _Capture()
    try:
        service.fire(Trigger(rule, dict(SAMPLES[rule]), None))
    finally:
        captured, service.queue = service.queue, queue
    return captured.alert


class _Capture:
    alert: Any = None

    def offer(self, alert: Any) -> str:
        self.alert = alert
        return "queued"


@pytest.mark.browser
async def test_dashboard_skip_and_replay_buttons(bus_factory: Any, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    bus, clock = await make(bus_factory)
    queue = bus.alerts.queue
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(bus.url() + "/")
            await page.wait_for_function("document.getElementById('show-alerts').textContent !== '–'",
                                         timeout=10_000)
            assert await page.is_disabled("#alerts-skip") and await page.is_disabled("#alerts-replay")
            bus.hub.emit("scene_transition", {"to_scene": "Bone_01"})
            bus.hub.emit("player_death", {"location": "Bone_01"})
            await wait_until(lambda: queue.current is not None, what="the death alert on screen")
            shown = queue.current
            await page.click("#alerts-skip")  # waits for the next status refresh to enable it
            await wait_until(lambda: queue.history[-1]["status"] == "skipped", what="skipped")
            assert queue.history[-1]["id"] == shown.id and queue.current is None
            await page.wait_for_function("document.getElementById('alerts-skip').disabled", timeout=10_000)
            await page.click("#alerts-replay")
            await wait_until(lambda: queue.pending or queue.current is not None, what="the replay queued")
            await clock.advance(0.5)  # the gap after the skipped alert
            await wait_until(lambda: queue.current is not None and queue.current.replay, what="replay shown")
            assert queue.current.message == shown.message and queue.current.id != shown.id
            await page.wait_for_function(
                "document.getElementById('show-alerts').textContent.startsWith('showing death')",
                timeout=10_000)
        finally:
            await browser.close()
