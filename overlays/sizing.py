"""Recommended OBS source sizes that follow an overlay's settings and its largest real content.

An overlay draws one box (`#dx-root`), scaled by `scale` and placed `margin` px inside the page. The
source must hold the box at its largest: 10 masks with numbers, the longest real room, area and boss
names (`largest.py`), a full boss list, 8 splits. Each built-in overlay's box is computed here from its
settings, in CSS px at scale 1, measured in Chromium with DejaVu Sans (the widest of the local font
fallbacks, so Segoe UI or Arial on a streamer's machine only leave more room), and checked by
`tests/test_overlay_sizes.py`, which renders every overlay at its recommended size with its largest
content for each theme and several scales and finds nothing outside the frame.

Overlays that fill the canvas (damage numbers, alerts) and user overlays keep their manifest size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Text set in another font stack is wider or narrower than DejaVu Sans by about this much.
FONT_WIDTH = {"sans": 1.0, "serif": 1.12, "mono": 1.22, "rounded": 1.0, "condensed": 1.0}
THEME_ALLOWANCE = 6  # px at scale 1: the contrast theme's 2 px border on each side, plus rounding


@dataclass(frozen=True)
class Size:
    """A recommended browser-source size, with what it is sized for."""

    width: int
    height: int
    basis: str = ""

    def to_json(self) -> dict[str, Any]:
        """For `/api/overlays/<name>/resolve` and the gallery card."""
        return {"width": self.width, "height": self.height, "basis": self.basis}


Box = tuple[float, float, float, str]  # text width, fixed width, height (px at scale 1), basis


def _hp(s: Mapping[str, Any]) -> Box:
    size = float(s["mask_size"])
    numbers = bool(s["show_numbers"])
    num_w = 12 + size * 0.45 * 3.3 if numbers else 0  # "10/10" in bold at 0.45 x mask size (min 3em)
    masks_w = size * (0.8 * 10 + 0.16 * 9) * 1.12 if s["show_masks"] else 0  # 10 masks; the flash's glow
    silk_w = float(s["silk_width"]) if s["show_silk"] else 0
    silk_h = max(6.0, size * 0.28) if s["show_silk"] else 0
    num_h = size * 0.45 * 1.25 if numbers else 0
    # (the mask row measures 1.6 x the mask size: the hit flash's layer and the row's line box)
    rows = [h for h in (max(size * 1.6, num_h) if s["show_masks"] else 0, max(silk_h, num_h)) if h]
    height = 16 + sum(rows) + 10 * max(0, len(rows) - 1)
    mask_row = masks_w + (num_w if s["show_masks"] else 0)
    width = 16 + max(mask_row, silk_w + (num_w if s["show_silk"] else 0), 1)
    return 0.0, width, height, f"{10} masks" + (", numbers" if numbers else "")


def _room(s: Mapping[str, Any]) -> Box:
    # The longest area (34 px bold) over the longest room id (22 px) with an hour-long time beside it.
    rows = (46 if s["show_area"] else 0) + (30 if s["show_room"] or s["show_time"] else 0)
    return 520 - 36, 36, 20 + rows, "the longest room and area names"


def _boss(s: Mapping[str, Any]) -> Box:
    height = 180.0
    if s["show_list"]:
        height += 8 + 24 * int(s["list_size"])
    return 530 - 36, 36, height, "the longest boss name" + (", a full list" if s["show_list"] else "")


def _deaths(s: Mapping[str, Any]) -> Box:
    return 410 - 36, 36, 100, "five-digit counts, grouped (98,765)"


def _stats(s: Mapping[str, Any]) -> Box:
    return 376 - 36, 36, 216, "hour-long sessions, large totals (grouped digits)"


def _splits(s: Mapping[str, Any]) -> Box:
    shown = int(s["visible"])
    return 561 - 36, 36, 140 + 30 * shown, f"{shown} splits with the longest names"


def _practice(s: Mapping[str, Any]) -> Box:
    return 478 - 36, 36, 178 + 20 * int(s["history"]), "the longest boss name"


BOXES: dict[str, Callable[[Mapping[str, Any]], Box]] = {
    "hp": _hp, "room": _room, "boss": _boss, "deaths": _deaths, "stats": _stats, "splits": _splits,
    "practice": _practice,
}


def recommended_size(name: str, values: Mapping[str, Any], manifest: tuple[int, int],
                     builtin: bool = True) -> Size:
    """The browser-source size overlay `name` needs with these (resolved) settings."""
    box = BOXES.get(name) if builtin else None
    if box is None:
        return Size(*manifest, basis="the manifest's size")
    text_w, fixed_w, height, basis = box(values)
    scale = float(values.get("scale", 1.0))
    margin = int(values.get("margin", 0))
    font = FONT_WIDTH.get(str(values.get("font", "sans")), 1.2)
    width = (text_w * font + fixed_w + THEME_ALLOWANCE) * scale + 2 * margin
    tall = (height + THEME_ALLOWANCE) * scale + 2 * margin
    return Size(math.ceil(width / 2) * 2, math.ceil(tall / 2) * 2, basis)  # even sizes scale cleanly
