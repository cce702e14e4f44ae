"""Every number and name of every overlay reads over a bright and a dark busy game scene: a contrast of
at least 4.5:1 (WCAG AA for text) between the text and what is right behind it.

Method. Each overlay, in each theme, in a fixed state (real events on a ManualClock bus; the page on
Playwright's paused clock, its animations paused: `overlay_scenes.FREEZE`), is composited over each
scene of `overlay_scenes.SCENES` (`dark`, `bone`, `sands`: CSS painted behind the transparent page, as
OBS composites a browser source over the game). Two screenshots of the same frame: as it is, and with
every glyph's fill transparent (`-webkit-text-fill-color`), which keeps outlines, shadows and panels.
For each visible text node (its glyph boxes from a DOM Range):

- its glyphs are the pixels the fill changes (any channel by 24 or more);
- the text's luminance is the median WCAG relative luminance of the glyphs' cores (pixels changed by at
  least half the largest change), read from the first screenshot, so opacity and blending count;
- what is right behind it is every pixel within 2 px around the glyphs in the second screenshot: the
  outline, shadow or panel where there is one, the game scene where there is not;
- the contrast of the text against each of those pixels is WCAG's (L1 + 0.05) / (L2 + 0.05), and at
  least 95 % of them must reach 4.5:1 (the rest: the outline's own anti-aliased rim at the far corners
  of a 2 px disk).

An outline or backing is what makes an overlay pass over every scene: a light number with a thin soft
shadow fails over Bone Bottom, a dark one over the Abyss. The damage numbers are measured 40 % of the
way into their float, where they must still be at full opacity.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from overlay_scenes import FREEZE, OVERLAYS, QUERIES, SCENES, before_page, open_fixed, overrides, scene_css
from overlay_support import BusMaker
from pixel_support import NO_FILL_CSS, TEXT_NODES, contrast

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

THEMES = ("silk", "minimal", "contrast")
MIN_RATIO = 4.5
MIN_SHARE = 0.95
SIZE = (960, 600)
DUMP = os.environ.get("DXBUS_CONTRAST_DUMP")  # a folder: keep the screenshots measured, to look at


async def shots(page: Any) -> tuple[bytes, bytes, list[dict[str, Any]]]:
    """The frame with and without glyph fill, clipped round the text, and the text nodes in clip px."""
    nodes = await page.evaluate(TEXT_NODES)
    assert nodes, "no text on screen"
    x1 = max(0, min(r[0] for n in nodes for r in n["rects"]) - 10)
    y1 = max(0, min(r[1] for n in nodes for r in n["rects"]) - 10)
    x2 = min(SIZE[0], max(r[0] + r[2] for n in nodes for r in n["rects"]) + 10)
    y2 = min(SIZE[1], max(r[1] + r[3] for n in nodes for r in n["rects"]) + 10)
    clip = {"x": x1, "y": y1, "width": x2 - x1, "height": y2 - y1}
    for n in nodes:
        n["rects"] = [[r[0] - x1, r[1] - y1, r[2], r[3]] for r in n["rects"]]
    with_text = await page.screenshot(clip=clip, animations="allow", caret="hide")
    style = await page.add_style_tag(content=NO_FILL_CSS)
    without_text = await page.screenshot(clip=clip, animations="allow", caret="hide")
    await style.evaluate("s => s.remove()")
    return with_text, without_text, nodes


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("name", OVERLAYS)
async def test_every_number_and_name_reads_over_bright_and_dark_scenes(
        browser: Any, buses: BusMaker, tmp_path: Path, name: str, theme: str) -> None:
    bus = await buses.make(overrides=overrides(tmp_path, name))
    await before_page(bus, name)
    lab = await browser.new_page()
    failures, measured = [], 0
    query = "&".join(q for q in (f"theme={theme}", QUERIES.get(name, "")) if q)
    page = await open_fixed(browser, bus, name, query, SIZE)
    await page.evaluate(FREEZE, 0.4)
    if name == "damage":  # 40 % into the float: still fully opaque
        opacities = await page.evaluate(
            "[...document.querySelectorAll('.dmg')].map(e => getComputedStyle(e).opacity)")
        assert opacities == ["1", "1"], opacities
    for scene_name in SCENES:
        await page.evaluate(scene_css(scene_name))
        with_text, without_text, nodes = await shots(page)
        if DUMP:
            Path(DUMP, f"{name}-{theme}-{scene_name}.png").write_bytes(with_text)
            Path(DUMP, f"{name}-{theme}-{scene_name}-nofill.png").write_bytes(without_text)
        for result in await contrast(lab, with_text, without_text, nodes):
            measured += 1
            where = f"{name}?{query} over {scene_name}: {result['label']}"
            if not result["glyphs"]:
                failures.append(f"{where}: no glyph pixels found")
            elif result["pass"] < MIN_SHARE:
                failures.append(f"{where}: {result['pass']:.0%} of {result['ring']} pixels around the "
                                f"text at {MIN_RATIO}:1 or more (5th percentile {result['p5']:.2f}:1, "
                                f"text luminance {result['fill']:.3f})")
    await page.close()
    await lab.close()
    assert measured >= len(SCENES) * 2
    assert not failures, "\n".join(failures)
