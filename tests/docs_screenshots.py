"""Make the screenshots in docs/overlays.md: every overlay, in its fixed `full` state, over a dark and a
bright game-like scene (`overlay_scenes.SCENES`), cropped to what the overlay paints.

    python tests/docs_screenshots.py            # writes docs/overlays/<name>-<scene>.png

Each overlay runs on its own bus (ManualClock, ephemeral ports, a temporary folder) fed the same events
as the contrast and golden tests, in Debian's Chromium with the page's clock paused and its animations
frozen, so running it again gives the same pictures (up to font builds).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import CHROMIUM, CHROMIUM_ARGS
from overlay_scenes import (
    FREEZE,
    OVERLAYS,
    QUERIES,
    before_page,
    open_fixed,
    overrides,
    scene_css,
)
from overlay_support import BusMaker

OUT = Path(__file__).resolve().parent.parent / "docs" / "overlays"
SHOWN_SCENES = ("dark", "bone")
SIZE = (960, 600)
PAD = 14

# The union of what the overlay paints (page px); the damage layer itself is the whole canvas.
PAINTED = """() => {
  let x1 = 1e9, y1 = 1e9, x2 = -1e9, y2 = -1e9;
  for (const e of document.querySelectorAll("#dx-root, #dx-root *")) {
    if (!e.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const b = e.getBoundingClientRect();
    if (!b.width || !b.height || e.classList.contains("dx-damage")) continue;
    x1 = Math.min(x1, b.left); y1 = Math.min(y1, b.top);
    x2 = Math.max(x2, b.right); y2 = Math.max(y2, b.bottom);
  }
  return [x1, y1, x2, y2];
}"""


async def main() -> None:
    from playwright.async_api import async_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name in OVERLAYS:
            with tempfile.TemporaryDirectory() as folder:
                maker = BusMaker(Path(folder))
                try:
                    bus = await maker.make(overrides=overrides(Path(folder), name))
                    await before_page(bus, name)
                    page = await open_fixed(browser, bus, name, QUERIES.get(name, ""), SIZE)
                    await page.evaluate(FREEZE, 0.4 if name == "damage" else 1.0)
                    x1, y1, x2, y2 = await page.evaluate(PAINTED)
                    clip = {"x": max(0, x1 - PAD), "y": max(0, y1 - PAD)}
                    clip |= {"width": min(SIZE[0], x2 + PAD) - clip["x"],
                             "height": min(SIZE[1], y2 + PAD) - clip["y"]}
                    for scene in SHOWN_SCENES:
                        await page.evaluate(scene_css(scene))
                        path = OUT / f"{name}-{scene}.png"
                        path.write_bytes(await page.screenshot(clip=clip, animations="allow", caret="hide"))
                        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
                    await page.close()
                finally:
                    await maker.close()
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
