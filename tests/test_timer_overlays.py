"""The splits and practice overlays in Debian's Chromium against a real bus fed scripted events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from overlay_support import BusMaker, open_overlay

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

XSS = '<img src=x onerror="window.__pwned=1">'
ROUTE = f"""
name = 'Route {XSS}'
[[splits]]
name = "Moss Mother"
boss = "Moss Mother"
[[splits]]
name = 'Bone Bottom {XSS}'
enter = "Bonetown"
[[splits]]
name = "Bell Beast"
boss = "Bell Beast"
"""


def scene(bus: Any, frm: str, to: str) -> None:
    bus.hub.emit("scene_transition", {"from_scene": frm, "to_scene": to})


async def test_splits_overlay_shows_the_run(browser: Any, buses: BusMaker, tmp_path: Path) -> None:
    (tmp_path / "route.toml").write_text(ROUTE)
    bus = await buses.make(overrides={"Timer": {"Route": str(tmp_path / "route.toml")}})
    page, console = await open_overlay(browser, bus, "splits", "tenths=0")
    await page.wait_for_function("document.querySelectorAll('#splits-list li').length === 3")
    assert await page.text_content("#splits-route") == f"Route {XSS}"  # text, not markup
    scene(bus, "Opening_Sequence", "Tut_01")
    await bus.clock.advance(12)
    scene(bus, "Tut_01", "Tut_03")
    await bus.clock.advance(30)
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother"})
    await page.wait_for_function("document.querySelector('#splits-list li.done') !== null")
    first = page.locator("#splits-list li").nth(0)
    assert await first.locator(".time").text_content() == "0:42"
    # the first run: every segment is a gold one, and there is no PB to show a delta against
    assert await first.locator(".delta").get_attribute("class") == "delta gold"
    assert await first.locator(".delta").text_content() == ""
    assert await page.get_attribute("#splits-list li:nth-child(2)", "class") == "current"
    assert await page.text_content("#splits-list li:nth-child(2) .name") == f"Bone Bottom {XSS}"
    assert "Moss Grotto" in (await page.text_content("#splits-room") or "")
    assert await page.evaluate("window.__pwned") is None
    assert not console.of("error") and not console.of("pageerror")
    await page.close()


async def test_practice_overlay_counts_attempts(browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    async with aiohttp.ClientSession() as http, \
            http.post(bus.url() + "/api/practice", json={"boss": "Moss Mother"}) as resp:
        assert resp.status == 200
    page, console = await open_overlay(browser, bus, "practice", "tenths=0")
    await page.wait_for_function("document.getElementById('practice-target').textContent === 'Moss Mother'")
    scene(bus, "Tut_01", "Tut_03")
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    await bus.clock.advance(20)
    bus.hub.emit("combat_damage", {"damage": 2, "is_player_damage": True})
    bus.hub.emit("player_death", {"location": "Tut_03"})
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    await bus.clock.advance(31)
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother"})
    await page.wait_for_function("document.getElementById('practice-cleared').textContent === '1'")
    got = {k: await page.text_content(f"#practice-{k}") for k in
           ("attempts", "deaths", "best", "average", "damage", "clock")}
    assert got == {"attempts": "2", "deaths": "1", "best": "0:31", "average": "0:31", "damage": "2",
                   "clock": "0:31"}
    history = await page.locator("#practice-history li").all_text_contents()
    assert history == ["#2 cleared 0:31 · 0 dmg", "#1 died 0:20 · 2 dmg"]
    assert not console.of("error") and not console.of("pageerror")
    await page.close()
