"""Each connected overlay's self-report: its page (without the token) and its publish-to-paint latency,
in `/api/status` and on the dashboard."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import CHROMIUM_ARGS
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.clock import ManualClock
from dxbus.overlay_health import OverlayHealth, clean_page


def test_page_loses_its_token_and_nonsense_is_dropped() -> None:
    assert clean_page("/overlays/hp?token=s3cret&mask_size=40") == "/overlays/hp?mask_size=40"
    assert clean_page("/overlays/hp?token=s3cret") == "/overlays/hp"
    assert clean_page("https://evil.example/") is None and clean_page(42) is None
    health = OverlayHealth(remote="127.0.0.1", connected_at=10.0)
    for sent in ("1", None, True, 99.0, -5000.0):  # not a number, or not a time the bus could have sent
        health.painted(sent, now=12.0)
    assert health.draws == 0 and health.report(12.0)["latency_ms"] == {"p50": None, "p95": None, "samples": 0}
    for ms in range(1, 101):
        health.painted(12.0 - ms / 1000, now=12.0)
    report = health.report(12.0)
    assert report["latency_ms"] == {"p50": 50.5, "p95": 96.0, "samples": 100}
    assert report["connected_seconds"] == 2.0 and report["draws"] == 100


async def _overlays(session: aiohttp.ClientSession, bus: Bus) -> list[dict[str, Any]]:
    async with session.get(bus.url() + "/api/status") as resp:
        return list((await resp.json())["connected_overlays"])


async def test_a_page_reports_what_it_drew_over_the_state_channel(bus: Bus) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(
            bus.url() + "/ws?state=1&types=") as ws:
        state = await ws.receive_json()
        assert state["type"] == "state"
        await ws.send_json({"type": "hello", "page": "/overlays/hp?token=x&scale=2"})
        await ws.send_json({"type": "painted", "server_now": state["server_now"]})
        await ws.send_json({"type": "ping", "id": 1})  # answered after the two above are read
        assert (await ws.receive_json())["type"] == "pong"
        [overlay] = await _overlays(session, bus)
        assert overlay["page"] == "/overlays/hp?scale=2" and overlay["feed"] == "live"
        assert overlay["draws"] == 1 and overlay["latency_ms"]["samples"] == 1
        assert 0 <= overlay["latency_ms"]["p50"] < 10_000


@pytest.mark.browser
async def test_dashboard_lists_open_overlays_with_their_latency(bus: Bus, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            overlay = await browser.new_page()
            await overlay.goto(bus.url() + "/overlays/hp?mask_size=500")
            await overlay.wait_for_function("document.documentElement.dataset.bus === 'live'", timeout=10_000)
            bus.hub.emit("player_update", {"health": 7, "max_health": 10})
            async with aiohttp.ClientSession() as session:
                rows: list[dict[str, Any]] = []
                for _ in range(500):  # the page reports its first draw at once; 10 s at most
                    rows = await _overlays(session, bus)
                    if any(o["draws"] for o in rows):
                        break
                    await asyncio.sleep(0.02)
                [row] = rows
            assert row["page"] == "/overlays/hp?mask_size=500" and row["latency_ms"]["p50"] is not None
            assert any("mask_size" in w for w in row["warnings"])  # shown where the streamer looks
            dashboard = await browser.new_page()
            await dashboard.goto(bus.url() + "/")
            cells = dashboard.locator('#overlays tr[data-page="/overlays/hp?mask_size=500"] td')
            await cells.first.wait_for(timeout=10_000)
            texts = await cells.all_text_contents()
            assert texts[0].startswith("/overlays/hp?mask_size=500⚠ ") and "mask_size" in texts[0][20:]
            assert float(texts[2]) >= 0 and float(texts[3]) >= float(texts[2])
        finally:
            await browser.close()


@pytest.mark.browser
async def test_dashboard_shows_what_the_stream_shows_and_holds_the_alert_queue(
        bus: Bus, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bone_01"})
    bus.hub.emit("player_update", {"health_current": 4, "health_max": 9})
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(bus.url() + "/")
            await page.wait_for_function("document.getElementById('show-hp').textContent === '4 / 9'",
                                         timeout=10_000)
            assert "Moss Mother" in (await page.text_content("#show-fight") or "")
            assert (await page.text_content("#show-room") or "") not in ("", "–")
            bus.hub.emit("player_death", {"location": "Bone_01"})
            await page.wait_for_function(
                "document.getElementById('show-deaths').textContent.startsWith('1 this session')",
                timeout=10_000)
            await page.click("#alerts-pause")
            await page.wait_for_function(
                "document.getElementById('alerts-pause').textContent === 'Resume alerts'", timeout=10_000)
            assert bus.status_providers["alerts"]()["paused"] is True
            await page.click("#alerts-pause")
            await page.wait_for_function(
                "document.getElementById('alerts-pause').textContent === 'Pause alerts'", timeout=10_000)
            # the dashboard reads the state channel but is not an overlay
            async with aiohttp.ClientSession() as session:
                assert all(o["page"] != "/" for o in await _overlays(session, bus))
        finally:
            await browser.close()


def test_a_page_is_stale_when_its_version_is_not_the_current_one_and_says_when_it_last_drew() -> None:
    health = OverlayHealth(remote="127.0.0.1", connected_at=0.0)
    assert health.report(1.0, "abc123")["stale"] is None  # no hello yet: unknown, not stale
    assert health.report(1.0)["painted_ago"] is None
    health.hello("/overlays/hp", [], "hp", "abc123")
    assert health.report(1.0, "abc123")["stale"] is False
    report = health.report(1.0, "def456")
    assert report["stale"] is True and report["version"] == "abc123" and report["current_version"] == "def456"
    assert health.report(1.0, None)["stale"] is None  # an overlay since removed: unknown
    for overlay, version in (("../hp", "abc"), ("hp", "<script>"), (7, ["x"]), ("hp", "A" * 40)):
        health.hello("/overlays/hp", [], overlay, version)
        assert health.report(1.0, "abc")["stale"] is None, (overlay, version)
    health.painted(9.5, now=10.0)
    assert health.report(12.25)["painted_ago"] == 2.2  # seconds of the bus clock since the last draw
    health.painted("nonsense", now=20.0)
    assert health.report(20.0)["painted_ago"] == 10.0


async def test_status_compares_each_pages_version_with_its_files_now(bus_factory: Any) -> None:
    clock = ManualClock()
    bus = await bus_factory(clock=clock)
    async with aiohttp.ClientSession() as session:
        async with session.get(bus.url() + "/overlays/hp") as resp:
            html = await resp.text()
        current = json.loads(html.split('<script id="dx-config" type="application/json">')[1]
                             .split("</script>")[0])["version"]
        async with session.ws_connect(bus.url() + "/ws?state=1&types=") as ws:
            state = await ws.receive_json()
            await ws.send_json({"type": "hello", "page": "/overlays/hp", "overlay": "hp",
                                "version": "0123ab"})
            await ws.send_json({"type": "ping", "id": 1})
            assert (await ws.receive_json())["type"] == "pong"
            [row] = await _overlays(session, bus)
            assert row["stale"] is True and row["current_version"] == current and row["painted_ago"] is None
            await ws.send_json({"type": "hello", "page": "/overlays/hp", "overlay": "hp", "version": current})
            await ws.send_json({"type": "painted", "server_now": state["server_now"]})
            await ws.send_json({"type": "ping", "id": 2})
            assert (await ws.receive_json())["type"] == "pong"
            await clock.advance(2)
            [row] = await _overlays(session, bus)
            assert row["stale"] is False and row["version"] == current and row["painted_ago"] == 2.0


USER_TEMPLATE = """{% extends "_base.html.j2" %}
{% block body %}<div id="mine">mine</div>{% endblock %}
{% block script %}
DXBus.connect({ types: [], render() { document.getElementById("mine").dataset.drawn = "1"; } });
{% endblock %}
"""


@pytest.mark.browser
async def test_dashboard_shows_a_page_loaded_before_its_settings_changed_as_stale(
        bus_factory: Any, chromium_path: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    folder = tmp_path / "my-overlays"
    folder.mkdir()
    (folder / "mine.html.j2").write_text(USER_TEMPLATE)
    (folder / "mine.toml").write_text('title = "Mine"\n')
    # Hot reload off: nothing refreshes the page behind the test's back.
    bus = await bus_factory({"Overlays": {"Directory": str(folder), "HotReload": False}})
    async with async_playwright() as p, aiohttp.ClientSession() as session:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            overlay = await browser.new_page()
            await overlay.goto(bus.url() + "/overlays/mine")
            await overlay.wait_for_function("window.DXBus && DXBus.client && DXBus.client.stats.renders >= 1",
                                            timeout=10_000)
            rows = await wait_until(lambda: _mine(session, bus, "painted_ago"), what="the page's first draw")
            assert rows[0]["stale"] is False and rows[0]["overlay"] == "mine"
            dashboard = await browser.new_page()
            await dashboard.goto(bus.url() + "/")
            row = dashboard.locator('#overlays tr[data-page="/overlays/mine"]')
            await row.locator(".version.current").wait_for(timeout=10_000)
            assert (await row.locator(".painted").text_content() or "").startswith("painted ")
            # The settings change (a new setting in the manifest): the open page still has the old ones.
            (folder / "mine.toml").write_text('title = "Mine"\n[settings.size]\ntype = "int"\ndefault = 3\n')
            rows = await wait_until(lambda: _mine(session, bus, "stale"), what="the page turning stale")
            assert rows[0]["version"] != rows[0]["current_version"]
            await row.locator(".version.stale").wait_for(timeout=10_000)
            assert await row.locator(".version.stale").text_content() == "stale: refresh it"
            await overlay.reload()  # a refreshed page is current again
            current = '#overlays tr[data-page="/overlays/mine"]:not(.stale) .version.current'
            await dashboard.locator(current).wait_for(timeout=10_000)
        finally:
            await browser.close()


async def _mine(session: aiohttp.ClientSession, bus: Bus, key: str) -> list[dict[str, Any]]:
    """The rows of /overlays/mine whose `key` is set (empty until then)."""
    rows = [o for o in await _overlays(session, bus) if o["page"] == "/overlays/mine"]
    return rows if rows and all(o[key] not in (None, False) for o in rows) else []
