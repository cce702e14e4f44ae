"""Golden screenshots: every overlay in fixed states looks as it did when its golden was made.

States, each driven through real events on a ManualClock bus (`overlay_scenes`, `largest_support`):

- `full`: typical content (a fight in progress with a list, a run ahead and behind, damage numbers...);
- `empty`: a fresh bus, default settings: what the overlay shows before anything happened (idle parts
  are hidden, so for most overlays nothing at all);
- `long`: the largest real content (the longest room, area, boss and split names, five-digit counts:
  `overlays/largest.py`), for the overlays sized by it;
- `mid`: mid-animation, for the overlays that animate: damage numbers half-way through their float, the
  HP overlay's hit flash and mask crack, the death counter's bump, each paused at a fixed share of its
  length.

Determinism: the page runs on Playwright's clock, installed and paused (timers, redraws and animation
frames move only when the test says); every Web Animation is then paused at a fixed point of its length
(`overlay_scenes.FREEZE`): 1 (finished) for the still states, 0.3 or 0.5 for `mid`. The screenshot is
of the overlay alone (transparent background, alpha kept), clipped to what it paints plus 8 px.

Comparison: a pixel differs when any channel (alpha too) differs by more than `CHANNEL` (of 255); at
most `MAX_SHARE` of the pixels may differ, and the size must match. That absorbs anti-aliasing and
hinting differences between font builds, not a moved, recoloured or missing part.

Goldens live in `tests/golden/<overlay>-<state>.png`. To make them again after an intended change to
the look (or on a machine whose fonts differ too much), run

    DXBUS_UPDATE_GOLDEN=1 pytest tests/test_overlay_golden.py

and look at the new PNGs before committing them. A missing golden fails the test (with the path), so a
new overlay or state cannot pass unseen.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from largest_support import fill, prepare
from overlay_scenes import FREEZE, OVERLAYS, QUERIES, before_page, open_fixed, overrides, until
from overlay_support import BusMaker, emit_state
from pixel_support import compare

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DXBUS_UPDATE_GOLDEN") == "1"
CHANNEL = 48      # a channel difference a font build's anti-aliasing can make
MAX_SHARE = 0.02  # of the pixels, at most this many may differ by more than CHANNEL
SIZE = (960, 600)

# The overlays sized by their largest content (largest_support.fill knows them).
LONG = ("hp", "room", "boss", "practice", "deaths", "stats", "splits")
MID = ("damage", "hp", "deaths")
CASES = ([(name, "full") for name in OVERLAYS] + [(name, "empty") for name in OVERLAYS]
         + [(name, "long") for name in LONG] + [(name, "mid") for name in MID])

# What the overlay paints: the union of its visible elements' boxes (page px), or None.
PAINTED = """() => {
  let x1 = 1e9, y1 = 1e9, x2 = -1e9, y2 = -1e9;
  for (const e of document.querySelectorAll("#dx-root, #dx-root *")) {
    if (!e.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const b = e.getBoundingClientRect();
    if (!b.width || !b.height || e.classList.contains("dx-damage")) continue;  // (the damage canvas)
    x1 = Math.min(x1, b.left); y1 = Math.min(y1, b.top);
    x2 = Math.max(x2, b.right); y2 = Math.max(y2, b.bottom);
  }
  return x2 > x1 ? [x1, y1, x2, y2] : null;
}"""


async def staged(browser: Any, buses: BusMaker, tmp_path: Path, name: str, state: str) -> Any:
    """The overlay's page in `state`, frozen."""
    query = QUERIES.get(name, "") if state != "empty" else ""
    if state == "long":
        bus = await buses.make(overrides=prepare(tmp_path, name))
        await fill(bus, name, {})
    else:
        bus = await buses.make(overrides=overrides(tmp_path, name) if state != "empty" else None)
        if state in ("full", "mid"):
            await before_page(bus, name)
    if state == "empty" and name == "damage":
        query = "spread=0"
    page = await open_fixed(browser, bus, name, query, SIZE, events=state != "empty")
    at = 1.0
    if state == "mid":
        at = 0.5 if name == "damage" else 0.3
        if name in ("hp", "deaths"):
            # Whatever the first state set off (the silk bar filling from 0) ends first: whether it was
            # still running when the page froze depended on the machine's speed.
            await page.evaluate("document.getAnimations().forEach(a => a.finish())")
        if name == "hp":  # a hit: two masks crack, the flash glows
            await emit_state(bus, "player_update",
                             {"health_current": 3, "health_max": 7, "mp_current": 6, "mp_max": 9})
            await until(page, "document.getElementById('fx-hit').getAnimations().length === 1")
        elif name == "deaths":
            bus.hub.emit("player_death", {"location": "Bone_05"})
            await until(page, "document.getElementById('session').getAnimations().length === 1")
    elif state == "full" and name == "damage":
        at = 0.4
    await page.evaluate(FREEZE, at)
    return page


async def shot(page: Any) -> bytes:
    box = await page.evaluate(PAINTED)
    if box is None:  # nothing painted: a small transparent frame at the box's corner says so
        box = [0, 0, 64, 64]
    x1, y1 = max(0, int(box[0]) - 8), max(0, int(box[1]) - 8)
    x2, y2 = min(SIZE[0], int(box[2] + 0.999) + 8), min(SIZE[1], int(box[3] + 0.999) + 8)
    clip = {"x": x1, "y": y1, "width": x2 - x1, "height": y2 - y1}
    return bytes(await page.screenshot(clip=clip, omit_background=True, animations="allow", caret="hide"))


@pytest.mark.parametrize(("name", "state"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
async def test_overlay_matches_its_golden(browser: Any, buses: BusMaker, tmp_path: Path,
                                          name: str, state: str) -> None:
    page = await staged(browser, buses, tmp_path, name, state)
    got = await shot(page)
    await page.close()
    golden = GOLDEN / f"{name}-{state}.png"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_bytes(got)
        return
    assert golden.exists(), f"no golden {golden}: make it with DXBUS_UPDATE_GOLDEN=1 (module docstring)"
    lab = await browser.new_page()
    result = await compare(lab, got, golden.read_bytes(), CHANNEL)
    await lab.close()
    if not result["sameSize"] or result["share"] > MAX_SHARE:
        failed = tmp_path / golden.name
        failed.write_bytes(got)
        pytest.fail(f"{name} ({state}) differs from {golden}: {result}; this run's screenshot: {failed}")
