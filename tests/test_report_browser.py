"""The report page in Debian's Chromium: opens offline with no console error, every chart drawn
from its data, the numbers a user reads where they belong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from overlay_support import browser  # noqa: F401  (the module's Chromium)
from report_sessions import planted_session

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

SECTIONS = ("summary", "health", "damage", "rooms", "deaths", "bosses", "routes", "segments", "path")


async def open_report(browser: Any, url: str) -> tuple[Any, list[str]]:  # noqa: F811
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: errors.append(f"request {r.url}") if not r.url.startswith(
        ("file:", "data:", "http://127.0.0.1")) else None)
    await page.goto(url)
    return page, errors


async def charts(page: Any) -> dict[str, list[int]]:
    """Each chart kind with the number of marks every figure of it drew."""
    found = await page.eval_on_selector_all(
        "figure[data-chart]", "fs => fs.map(f => [f.dataset.chart, Number(f.dataset.points)])")
    out: dict[str, list[int]] = {}
    for kind, points in found:
        out.setdefault(kind, []).append(points)
    return out


async def test_report_opens_offline_and_every_chart_has_its_data(
        browser: Any, tmp_path: Path) -> None:  # noqa: F811
    path = planted_session().write(tmp_path / "session.ndjson")
    html = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "dxbus.cli", "report", str(path), "-o", str(html)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    page, errors = await open_report(browser, html.as_uri())
    drawn = await charts(page)
    assert set(drawn) == {"health", "damage", "rooms", "deaths-room", "deaths-cause", "boss", "route", "path"}
    assert all(n > 0 for points in drawn.values() for n in points), drawn
    assert drawn["rooms"] == [3] and drawn["deaths-room"] == [2] and drawn["deaths-cause"] == [2]
    assert drawn["boss"] == [3] and drawn["path"] == [18]
    assert drawn["route"] == [9, 6, 3]  # Tut_01, Tut_02, Bone_05: one point per attempt
    cards = await page.eval_on_selector_all(
        ".card", "cs => Object.fromEntries(cs.map(c => [c.dataset.key, c.querySelector('b').textContent]))")
    assert cards == {"play_seconds": "4:11", "deaths": "3", "rooms_visited": "3", "bosses_beaten": "1",
                     "total_damage_dealt": "330.0", "total_damage_taken": "25.0", "damage_ratio": "13.2",
                     "heals": "4"}
    # Every SVG mark sits inside its chart (nothing drawn off the canvas, no NaN coordinates).
    bad = await page.evaluate("""() => [...document.querySelectorAll('figure svg')].flatMap(svg => {
        const vb = svg.viewBox.baseVal;
        return [...svg.querySelectorAll('rect, circle, line')].filter(m => {
          const b = m.getBBox();
          return !(b.x >= -1 && b.y >= -1 && b.x + b.width <= vb.width + 1
                   && b.y + b.height <= vb.height + 1);
        }).map(m => m.outerHTML.slice(0, 120));
      })""")
    assert bad == []
    route = page.locator("#s0-routes .route").nth(1)
    assert "Tut_02" in await route.locator("h4").inner_text()
    assert "best: route A, damage-free, moderate-pace" in await route.inner_text()
    assert "Optimal route takes 3.7 less damage" in await route.inner_text()
    for section in SECTIONS:  # the pictures a reviewer looks at
        await page.locator(f"#s0-{section}").screenshot(path=str(tmp_path / f"{section}.png"))
    assert errors == []
    await page.close()
