"""Every overlay at its recommended OBS size, with its largest real content, has nothing outside the frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from largest_support import fill, prepare
from overlay_support import BusMaker

from dxbus.overlays.sizing import BOXES

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

THEMES = ("silk", "minimal", "contrast")
SCALES = ("0.5", "1", "1.5", "2")
# Settings that make each overlay's box its largest (beside its defaults).
LARGEST = {
    "hp": ["show_numbers=1", "show_numbers=1&mask_size=72", "mask_size=160&silk_width=200&show_numbers=1"],
    "room": [""], "boss": ["", "show_list=1", "show_list=1&list_size=12"], "deaths": [""], "stats": [""],
    "splits": [""], "practice": [""],
}

# Every painted element's box; decorations at rest (opacity 0: a hit flash's glow) paint nothing.
EXTENT = """() => {
  const root = document.getElementById("dx-root");
  let x1 = 1e9, y1 = 1e9, x2 = -1e9, y2 = -1e9, n = 0;
  for (const e of [root, ...root.querySelectorAll("*")]) {
    const st = getComputedStyle(e);
    if (st.display === "none" || st.visibility === "hidden" || st.opacity === "0") continue;
    const b = e.getBoundingClientRect();
    if (!b.width || !b.height) continue;
    n++;
    x1 = Math.min(x1, b.left); y1 = Math.min(y1, b.top);
    x2 = Math.max(x2, b.right); y2 = Math.max(y2, b.bottom);
  }
  return {x1, y1, x2, y2, n, scrollW: document.documentElement.scrollWidth};
}"""


async def _size(bus: Any, name: str, query: str) -> tuple[int, int]:
    async with aiohttp.ClientSession() as http, \
            http.get(f"{bus.url('http')}/api/overlays/{name}/resolve?{query}") as r:
        body = await r.json()
    assert not body["notes"], body["notes"]
    return body["size"]["width"], body["size"]["height"]


# One test per overlay and theme: a dozen page loads each, which a loaded machine does well inside the
# per-test timeout (all themes in one test took over 180 s at a load average of 20).
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("name", sorted(BOXES))
async def test_recommended_size_holds_the_largest_content(browser: Any, buses: BusMaker, tmp_path: Path,
                                                          name: str, theme: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    buses.tmp_path = folder
    bus = await buses.make(overrides=prepare(folder, name))
    await fill(bus, name, {})
    cases = [f"theme={theme}&scale={sc}" + (f"&{extra}" if extra else "")
             for extra in LARGEST[name] for sc in SCALES]
    if theme == "silk":
        biggest = LARGEST[name][-1]
        cases += [f"font=mono&{biggest}", f"font=serif&scale=1.5&{biggest}"]
    page = await browser.new_page(viewport={"width": 400, "height": 300})
    slack = []
    for query in cases:
        width, height = await _size(bus, name, query)
        await page.set_viewport_size({"width": width, "height": height})
        await page.goto(f"{bus.url('http')}/overlays/{name}?{query}")
        await page.wait_for_function("DXBus.client && DXBus.client.stats.snapshots > 0")
        await page.evaluate("document.fonts.ready")
        box = await page.evaluate(EXTENT)
        assert box["n"] > 3, (query, box)
        where = f"{name}?{query} at {width}x{height}: content spans x {box['x1']:.0f}..{box['x2']:.0f}, " \
                f"y {box['y1']:.0f}..{box['y2']:.0f}"
        assert box["x1"] >= 0 and box["y1"] >= 0, where
        assert box["x2"] <= width and box["y2"] <= height, where
        slack.append((width - box["x2"]) / width)
    # and not a lot larger than it needs to be (a huge source wastes the scene's space)
    assert max(slack) < 0.35, slack
    await page.close()
