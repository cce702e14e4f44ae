"""Chromium on pages the bus did not serve: a site on another origin, and a page opened from file://.

With the default `[Security]`, such a page can write nothing (events, timer, configure, alerts) and a
foreign site can read nothing; a file:// page can still read the stream (the usage guide's overlays).
The bus's own pages keep full access, which shows the attacks would land if the gate let them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from overlay_support import BusMaker

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

ATTACK = """async ({http, ws}) => {
  const death = JSON.stringify({EventType: "player_death", Data: {location: "forged"}});
  const out = {};
  const attempt = async (name, url, init) => {
    try { const r = await fetch(url, init); out[name] = r.type === "opaque" ? "opaque" : r.status; }
    catch (e) { out[name] = "blocked"; }
  };
  await attempt("read_state", http + "/api/state", {});
  await attempt("read_recent", http + "/api/recent?count=100", {});
  const simple = {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}};
  await attempt("events_text", http + "/api/events", {...simple, body: death});
  await attempt("events_json", http + "/api/events",
                {method: "POST", headers: {"Content-Type": "application/json"}, body: death});
  await attempt("reset", http + "/api/livesplit/reset", simple);
  await attempt("configure", http + "/api/configure", {...simple, body: '{"export_combat_data": false}'});
  await attempt("alert", http + "/api/alerts/test", {...simple, body: '{"message": "forged alert"}'});
  const open = (url) => new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.onopen = () => { socket.close(); resolve("open"); };
    socket.onerror = () => resolve("refused");
  });
  out.stream_9091 = await open(ws + "/");
  out.stream_ws = await open(http.replace("http", "ws") + "/ws");
  return out;
}"""


@pytest_asyncio.fixture(loop_scope="module")
async def foreign_site() -> AsyncIterator[str]:
    """Another web server on this machine: the origin of a page the streamer happens to open."""
    async def page(_: web.Request) -> web.Response:
        return web.Response(text="<!DOCTYPE html><title>a web page</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site.port}/"
    await runner.cleanup()


def untouched(bus: Any) -> None:
    """Nothing a page sent reached the bus."""
    kinds = {e.type for e in bus.hub.recent(100)}
    assert not kinds & {"player_death", "timer_command", "alert"}, kinds
    assert bus.policy.export_combat_data


async def attack(browser: Any, bus: Any, url: str) -> dict[str, Any]:
    page = await browser.new_page()
    try:
        await page.goto(url)
        return await page.evaluate(ATTACK, {"http": bus.url("http"), "ws": bus.url("websocket")})
    finally:
        await page.close()


async def test_a_page_on_another_origin_can_neither_read_nor_write(
        browser: Any, buses: BusMaker, foreign_site: str) -> None:
    bus = await buses.make()
    result = await attack(browser, bus, foreign_site)
    assert result == {
        "read_state": "blocked", "read_recent": "blocked", "events_text": "opaque", "events_json": "blocked",
        "reset": "opaque", "configure": "opaque", "alert": "opaque",
        "stream_9091": "refused", "stream_ws": "refused",
    }
    untouched(bus)


async def test_a_file_page_may_read_the_stream_but_write_nothing(
        browser: Any, buses: BusMaker, tmp_path: Path) -> None:
    bus = await buses.make()
    page_file = tmp_path / "my-overlay.html"
    page_file.write_text("<!DOCTYPE html><title>a downloaded page</title>")
    result = await attack(browser, bus, page_file.as_uri())
    assert result["read_state"] == 200 and result["stream_9091"] == "open" and result["stream_ws"] == "open"
    assert result["events_json"] == "blocked"  # the preflight is refused
    untouched(bus)


async def test_with_a_token_a_file_page_cannot_read_either(
        browser: Any, buses: BusMaker, tmp_path: Path) -> None:
    bus = await buses.make(overrides={"Security": {"AuthToken": "s3cret"}})
    page_file = tmp_path / "my-overlay.html"
    page_file.write_text("<!DOCTYPE html><title>a downloaded page</title>")
    result = await attack(browser, bus, page_file.as_uri())
    assert result["read_state"] == 401
    untouched(bus)


async def test_the_bus_s_own_pages_and_listed_origins_may_write(
        browser: Any, buses: BusMaker, foreign_site: str) -> None:
    bus = await buses.make(overrides={"Security": {"AllowedOrigins": foreign_site.rstrip("/")}})
    for url in (bus.url("http") + "/", foreign_site):
        result = await attack(browser, bus, url)
        assert result["read_state"] == 200 and result["events_json"] == 200, (url, result)
        assert result["stream_9091"] == "open" and result["stream_ws"] == "open"
    assert len(bus.hub.recent(100, frozenset({"player_death"}))) == 4  # text and JSON, from each page
    assert not bus.policy.export_combat_data  # the configure went through
