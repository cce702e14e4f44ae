"""The alert overlay in Debian's Chromium shows a fired alert's message and starts its sound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from overlay_support import BusMaker, eventually, open_overlay

from dxbus.alerts.make_sounds import RECIPES, write_wav

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# Resolves once the page's last sound has really played some audio (its `played` ranges grow), with
# its details; the sounds are short, so it may already have ended by the time this runs.
SOUND_STARTED = """async () => {
  const audio = DXBus.sound.last;
  if (!audio) return null;
  const deadline = Date.now() + 10000;
  const played = () => audio.played.length > 0 && audio.played.end(0) > 0;
  while (!played()) {
    if (audio.error) throw new Error("audio error " + audio.error.code);
    if (Date.now() > deadline) throw new Error("sound did not start (paused=" + audio.paused + ")");
    await new Promise(r => setTimeout(r, 20));
  }
  return {src: audio.dataset.src, volume: audio.volume, played: audio.played.end(0),
          duration: audio.duration};
}"""


async def post(bus: Any, path: str, body: Any) -> Any:
    async with aiohttp.ClientSession() as http, http.post(bus.url() + path, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_test_alert_shows_its_message_and_plays_its_sound(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page, console = await open_overlay(browser, bus, "alerts", "preview=1")  # test alerts: previews only
    fired = await post(bus, "/api/alerts/test", {"rule": "boss_defeated"})
    await page.wait_for_selector(".alert .message", timeout=10_000)
    assert await page.text_content(".alert .message") == fired["alert"]["message"]
    assert fired["alert"]["message"] == "Lace defeated in 1:23.4 \u2014 NEW BEST!"
    sound = await page.evaluate(SOUND_STARTED)
    assert sound["src"] == "/static/sounds/victory.wav"
    assert sound["played"] > 0 and sound["duration"] > 0.5
    assert sound["volume"] == pytest.approx(0.8)
    assert not console.of("error") and not console.of("pageerror")
    await page.close()


async def test_a_game_event_becomes_an_alert_on_screen(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page, _ = await open_overlay(browser, bus, "alerts")
    await post(bus, "/api/events", [
        {"EventType": "scene_transition", "Data": {"to_scene": "Bone_East_12"}},
        {"EventType": "player_death", "Data": {"location": "Bone_East_12", "cause": "Lace"}}])
    await page.wait_for_selector(".alert .message", timeout=10_000)
    assert await page.text_content(".alert .message") == "Died in Deep Docks"
    assert (await page.evaluate(SOUND_STARTED))["src"] == "/static/sounds/death.wav"
    await page.close()


async def test_a_sound_from_the_users_folder_plays(browser: Any, buses: BusMaker, tmp_path: Path) -> None:
    folder = tmp_path / "my-sounds"
    folder.mkdir()
    write_wav(folder / "airhorn.wav", RECIPES["streak.wav"]())
    bus = await buses.make(overrides={"Alerts": {
        "SoundsDirectory": str(folder),
        "Rules": [{"Name": "big_hit", "Event": "combat_damage", "Sound": "airhorn.wav", "Volume": 0.5,
                   "Conditions": [{"Field": "damage", "Op": ">=", "Value": 2}],
                   "Message": "Ouch <b>{{ data.damage }}</b>"}]}})
    page, _ = await open_overlay(browser, bus, "alerts")
    await post(bus, "/api/events", {"EventType": "combat_damage",
                                    "Data": {"damage": 3, "is_player_damage": True}})
    await page.wait_for_selector(".alert .message", timeout=10_000)
    # Event text is text, never HTML.
    assert await page.text_content(".alert .message") == "Ouch <b>3</b>"
    assert await page.locator(".alert b").count() == 0
    sound = await page.evaluate(SOUND_STARTED)
    assert sound["src"] == "/static/user-sounds/airhorn.wav" and sound["played"] > 0
    await page.close()


async def test_dashboard_test_alert_button_goes_through_the_queue(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page = await browser.new_page()
    await page.goto(bus.url() + "/")
    await page.select_option("#alert-rule", "death")
    await page.click("#alert-test")
    await page.wait_for_function("document.getElementById('alert-result').textContent.length > 0")
    assert await page.text_content("#alert-result") == "queued: Died in Deep Docks (3 in a row)"
    assert bus.alerts.test_queue.history[-1]["rule"] == "death"  # the test queue, never the stream's
    assert not bus.alerts.queue.history
    await page.close()


async def test_gallery_test_alert_button_goes_through_the_queue(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    page = await browser.new_page()
    await page.goto(bus.url() + "/overlays")
    await page.click("#card-alerts button.alert-test")
    await eventually(lambda: _fired(bus), what="the gallery's test alert")
    last = bus.alerts.test_queue.history[-1]
    assert last["rule"] == "boss_defeated" and last["test"] is True
    assert not bus.alerts.queue.history
    await page.close()


async def _fired(bus: Any) -> bool:
    return bool(bus.alerts.test_queue.history)
