"""Pixels of overlay screenshots, read in the test's Chromium (no imaging library needed).

Playwright's screenshots are PNGs; a blank "lab" page decodes them with `createImageBitmap` onto an
`OffscreenCanvas` (no colour conversion) and does the per-pixel arithmetic in JavaScript, which is
fast where Python loops are not. Used by the contrast test and the golden screenshots.
"""

from __future__ import annotations

import base64
from typing import Any

# Every visible text node (decorations aside) under the overlay's box: where its glyphs are
# (client rects, page px).
TEXT_NODES = """() => {
  const out = [];
  const root = document.getElementById("dx-root");
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    // (decorations, aria-hidden like the deaths overlay's skull, are not text to read)
    if (!text || el.closest("[aria-hidden=true]")) continue;
    if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0)
      .map(r => [r.left, r.top, r.width, r.height]);
    if (!rects.length) continue;
    const name = el.id ? "#" + el.id : (el.getAttribute("class") || el.tagName.toLowerCase()).split(" ")[0];
    out.push({label: name + " " + JSON.stringify(text.slice(0, 40)), rects});
  }
  return out;
}"""

# Hide every glyph's fill, keep its outline, shadow and the panels: what is "right behind" the text.
NO_FILL_CSS = "* { -webkit-text-fill-color: transparent !important; caret-color: transparent !important; }"

_DECODE = """
async function decode(b64) {
  const blob = await (await fetch("data:image/png;base64," + b64)).blob();
  const bmp = await createImageBitmap(blob, {colorSpaceConversion: "none", premultiplyAlpha: "none"});
  const canvas = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(bmp, 0, 0);
  return ctx.getImageData(0, 0, bmp.width, bmp.height);
}
"""

CONTRAST = """async ({withText, withoutText, nodes, ring, diffMin}) => {""" + _DECODE + """
  const A = await decode(withText), B = await decode(withoutText);
  const W = A.width, H = A.height, a = A.data, b = B.data;
  const lin = c => { c /= 255; return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const LUT = new Float64Array(256).map((_, i) => lin(i));
  const lum = (d, i) => 0.2126 * LUT[d[i]] + 0.7152 * LUT[d[i + 1]] + 0.0722 * LUT[d[i + 2]];
  const disk = [];
  for (let dy = -ring; dy <= ring; dy++)
    for (let dx = -ring; dx <= ring; dx++) if (dx * dx + dy * dy <= ring * ring) disk.push([dx, dy]);
  return nodes.map(node => {
    // the glyphs' fill: pixels in the node's boxes (1 px of overhang) that the fill changed
    const mask = new Uint8Array(W * H);
    let maxDiff = 0, count = 0;
    const diffs = new Map();
    for (const [x0, y0, w, h] of node.rects) {
      for (let y = Math.max(0, Math.floor(y0) - 1); y < Math.min(H, Math.ceil(y0 + h) + 1); y++) {
        for (let x = Math.max(0, Math.floor(x0) - 1); x < Math.min(W, Math.ceil(x0 + w) + 1); x++) {
          const i = (y * W + x) * 4;
          const d = Math.max(Math.abs(a[i] - b[i]), Math.abs(a[i + 1] - b[i + 1]),
                             Math.abs(a[i + 2] - b[i + 2]));
          const p = y * W + x;
          if (d < diffMin || mask[p]) continue;
          mask[p] = 1; diffs.set(p, d); count++; maxDiff = Math.max(maxDiff, d);
        }
      }
    }
    if (!count) return {label: node.label, glyphs: 0};
    // the fill's luminance: the median over the glyphs' cores (at least half the largest change)
    const core = [];
    for (const [p, d] of diffs) if (d >= maxDiff / 2) core.push(lum(a, p * 4));
    core.sort((x, y) => x - y);
    const fill = core[Math.floor(core.length / 2)];
    // the glyphs' shape: pixels at least half covered by the fill (their edge at 50 % coverage); what
    // is right behind them: every other pixel within `ring` px of that shape, without the fill
    const shape = new Uint8Array(W * H);
    for (const [p, d] of diffs) if (d >= maxDiff / 2) shape[p] = 1;
    const seen = new Uint8Array(W * H);
    const ratios = [];
    for (const [p, d] of diffs) {
      if (d < maxDiff / 2) continue;
      const px = p % W, py = (p - px) / W;
      for (const [dx, dy] of disk) {
        const x = px + dx, y = py + dy;
        if (x < 0 || y < 0 || x >= W || y >= H) continue;
        const q = y * W + x;
        if (shape[q] || seen[q]) continue;
        seen[q] = 1;
        const back = lum(b, q * 4);
        ratios.push((Math.max(fill, back) + 0.05) / (Math.min(fill, back) + 0.05));
      }
    }
    ratios.sort((x, y) => x - y);
    const pass = ratios.filter(r => r >= 4.5).length / ratios.length;
    return {label: node.label, glyphs: count, fill: fill, ring: ratios.length, pass: pass,
            p5: ratios[Math.floor(ratios.length * 0.05)], worst: ratios[0]};
  });
}
"""

COMPARE = """async ({got, want, channel}) => {""" + _DECODE + """
  const A = await decode(got), B = await decode(want);
  if (A.width !== B.width || A.height !== B.height)
    return {sameSize: false, size: [A.width, A.height], wantSize: [B.width, B.height]};
  let differing = 0, worst = 0;
  const a = A.data, b = B.data;
  for (let i = 0; i < a.length; i += 4) {
    const d = Math.max(Math.abs(a[i] - b[i]), Math.abs(a[i + 1] - b[i + 1]), Math.abs(a[i + 2] - b[i + 2]),
                       Math.abs(a[i + 3] - b[i + 3]));
    worst = Math.max(worst, d);
    if (d > channel) differing++;
  }
  return {sameSize: true, share: differing / (a.length / 4), worst: worst};
}
"""


def b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


async def contrast(lab: Any, with_text: bytes, without_text: bytes, nodes: list[dict[str, Any]],
                   ring: int = 2, diff_min: int = 24) -> list[dict[str, Any]]:
    """Per text node: the glyphs' fill luminance against each pixel within `ring` px around them."""
    result = await lab.evaluate(CONTRAST, {"withText": b64(with_text), "withoutText": b64(without_text),
                                           "nodes": nodes, "ring": ring, "diffMin": diff_min})
    return list(result)


async def compare(lab: Any, got: bytes, want: bytes, channel: int) -> dict[str, Any]:
    """The share of pixels differing by more than `channel` (0-255, any channel) and the worst difference."""
    return dict(await lab.evaluate(COMPARE, {"got": b64(got), "want": b64(want), "channel": channel}))
