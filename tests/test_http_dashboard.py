"""The dashboard at `/`: rendered escaped, keeps the token, shows live events and clients in Chromium."""

from __future__ import annotations

import aiohttp
import pytest
from conftest import CHROMIUM_ARGS

from dxbus.bus import Bus

EVIL = "<img src=x onerror=alert(1)>"


async def test_dashboard_renders_escaped_status(bus: Bus) -> None:
    sub = bus.hub.subscribe(name=EVIL)
    async with aiohttp.ClientSession() as session:
        for path in ("/", "/index.html"):
            async with session.get(bus.url() + path) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
                html = await resp.text()
            assert "&lt;img src=x onerror=alert(1)&gt;" in html and EVIL not in html
            assert "cdn" not in html.lower() and "https://" not in html  # self-contained
            assert 'id="conn-http">1<' in html
    bus.hub.unsubscribe(sub)


@pytest.mark.browser
async def test_dashboard_live_in_chromium_with_a_token(bus_factory, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    bus = await bus_factory(overrides={"Security": {"AuthToken": "t0ken"}})
    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bone_01"})
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            failures: list[str] = []
            page.on("response", lambda r: failures.append(r.url) if r.status >= 400 else None)
            await page.goto(bus.url() + "/?token=t0ken")
            await page.wait_for_selector("#events li.scene_transition", timeout=10_000)
            # the page follows the bus live (WebSocket /ws when present, else polling)
            bus.hub.emit("player_death", {"location": EVIL})
            await page.wait_for_selector("#events li.player_death", timeout=10_000)
            row = await page.text_content("#events li.player_death .data")
            assert row is not None and EVIL in row  # shown as text, never as markup
            assert await page.locator("#events img").count() == 0
            links = await page.eval_on_selector_all("a[data-keep-token]", "els => els.map(a => a.href)")
            assert links and all("token=t0ken" in href for href in links)
            await page.wait_for_function(
                "document.getElementById('health-text').textContent === 'healthy'", timeout=10_000)
            assert not failures, failures
        finally:
            await browser.close()
