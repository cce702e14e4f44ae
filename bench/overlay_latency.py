"""Overlay latency: publish -> DOM updated, and publish -> the frame that paints it (p50/p99).

For the HP overlay (`player_update`) and the damage overlay (`combat_damage`), at 60 and 1,000
events/s, each beside a bare page that only writes the number into one element, in the same run
(both pages open at once, same events, same browser). Run it:

    python3 bench/overlay_latency.py [--seconds 3] [--repeat 3] [--json out.json]

How it measures: each event carries `_t`, the publish time (`time.time()`, wall clock). The pages run
a probe (injected before load): `bus.js` calls `window.__dxProbe(ev)` right after the overlay's
handler has written the DOM, the bare page calls it after its `textContent` write. The probe records
`performance.timeOrigin + performance.now() - _t` (publish -> DOM), then in the next
`requestAnimationFrame` callback, which runs just before the browser paints that frame, records
publish -> frame and how many frames passed since the DOM write (1 = the very next frame).
Both clocks are this machine's wall clock; the same offset error, if any, hits every page alike.
Overlays render server state (the state channel): for them `bus.js` calls the probe after each draw with
the publish time of the oldest event in the changes it drew (the patch's `event_time`), so a burst merged
into one draw counts once, at its worst. A page that draws only events (the damage numbers) reports
its event draws alone.

Besides the medians, each row keeps every repeat's DOM p99 ratio (`dom_p99_ratios`, also printed).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from dxbus.assemble import RunOptions, build_bus
from dxbus.config import load_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]

PROBE = """
window.__lat = {dom: [], frame: [], frames: []};
window.__frame = 0;
(function loop() { window.__frame++; requestAnimationFrame(loop); })();
window.__dxProbe = function (ev) {
  var sent = (ev.data || ev.Data || {})._t;
  if (!sent) return;
  var t = performance.timeOrigin + performance.now();
  window.__lat.dom.push(t - sent * 1000);
  var f0 = window.__frame;
  requestAnimationFrame(function () {
    window.__lat.frame.push(performance.timeOrigin + performance.now() - sent * 1000);
    window.__lat.frames.push(window.__frame - f0);
  });
};
"""

BARE = """<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<body style="background:transparent"><div id="n">-</div><script>
var el = document.getElementById("n");
var ws = new WebSocket("ws://" + location.host + "/ws?types=TYPE");
ws.onmessage = function (m) {
  var ev = JSON.parse(m.data);
  el.textContent = ev.Data.FIELD;
  window.__dxProbe(ev);
};
</script></body>"""

CASES = {
    # overlay, event type, field the bare page writes, data factory
    "hp": ("player_update", "health_current",
           lambda i: {"health_current": 1 + i % 5, "health_max": 5, "mp_current": i % 10, "mp_max": 9}),
    "damage": ("combat_damage", "damage",
               lambda i: {"damage": 5 + i % 40, "is_player_damage": i % 7 == 0, "enemy_type": "Moss Mother"}),
}


def install_bare_pages(app: web.Application, _bus: Any) -> None:
    """`/bench-bare/{type}/{field}`: the bare page, served by the bus itself (same origin, and
    Chromium's local-network checks only let pages served from this machine reach 127.0.0.1)."""

    async def bare(request: web.Request) -> web.Response:
        html = BARE.replace("TYPE", request.match_info["type"]).replace("FIELD", request.match_info["field"])
        return web.Response(text=html, content_type="text/html")

    app.router.add_get("/bench-bare/{type}/{field}", bare)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def publish(bus: Any, event_type: str, make: Any, rate: int, seconds: float) -> int:
    """Publish `rate` events/s for `seconds`, each stamped with its publish time."""
    start = time.perf_counter()
    sent = 0
    total = int(rate * seconds)
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            data = make(sent)
            data["_t"] = time.time()
            bus.hub.emit(event_type, data)
            sent += 1
        await asyncio.sleep(0.0005 if rate > 100 else 1 / rate / 2)
    return sent


async def run(seconds: float, out: Path | None, only: list[str] | None = None,
              query: str = "", repeat: int = 3) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    tmp = Path(tempfile.mkdtemp(prefix="dxbus-bench-"))
    config = load_config(None, {
        "HTTP": {"Port": 0}, "WebSocket": {"Port": 0}, "TCP": {"Port": 0},
        "FileExport": {"EnableFileExport": False}, "State": {"File": str(tmp / "state.json")},
        "Overlays": {"HotReload": False},
    })
    bus = build_bus(config, RunOptions(), base_dir=tmp)
    bus.route_installers.append(install_bare_pages)
    # The benchmark drives player_update far above the 60 Hz collection cap on purpose.
    bus.policy.update_frequency_hz = 1_000_000
    await bus.start()
    base = bus.url("http")
    rows: list[dict[str, Any]] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, (event_type, field, make) in CASES.items():
                if only and name not in only:
                    continue
                for rate in (60, 1000):
                    # One context (one window) per page: a second tab in a window is hidden, and
                    # hidden pages get no animation frames at all.
                    contexts = [await browser.new_context(viewport={"width": 1920, "height": 1080})
                                for _ in range(2)]
                    for context in contexts:
                        await context.add_init_script(PROBE)
                    pages = {"bare": await contexts[0].new_page(), name: await contexts[1].new_page()}
                    await pages["bare"].goto(f"{base}/bench-bare/{event_type}/{field}")
                    await pages[name].goto(f"{base}/overlays/{name}" + (f"?{query}" if query else ""))
                    await pages[name].wait_for_function("DXBus.client && DXBus.client.stats.snapshots > 0")
                    await asyncio.sleep(0.5)  # let both sockets settle
                    await publish(bus, event_type, make, rate, 0.5)  # warm-up, discarded
                    await asyncio.sleep(0.3)
                    runs: dict[str, list[dict[str, Any]]] = {"bare": [], name: []}
                    count = 0
                    for _ in range(repeat):
                        for page in pages.values():
                            await page.evaluate("window.__lat = {dom: [], frame: [], frames: []}")
                        count += await publish(bus, event_type, make, rate, seconds)
                        await asyncio.sleep(0.5)
                        for label, page in pages.items():
                            runs[label].append(summarize(await page.evaluate("window.__lat")))
                    # Median over the repeats: a shared machine stalls now and then; one stall
                    # should not decide a p99.
                    bare, over = median_of(runs["bare"]), median_of(runs[name])
                    rows.append({"overlay": name, "rate": rate, "published": count, "repeats": repeat,
                                 "bare": bare, "overlay_": over,
                                 "dom_p99_ratios": [ratio(o["dom_p99"], b["dom_p99"])
                                                    for o, b in zip(runs[name], runs["bare"], strict=True)],
                                 "dom_p99_ratio": ratio(over["dom_p99"], bare["dom_p99"]),
                                 "frame_p99_ratio": ratio(over["frame_p99"], bare["frame_p99"])})
                    for context in contexts:
                        await context.close()
            await browser.close()
    finally:
        await bus.stop()
    print_table(rows)
    if out:
        out.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    return rows


def summarize(lat: dict[str, list[float]]) -> dict[str, Any]:
    """Percentiles of one page's samples."""
    return {
        "n": len(lat["dom"]),
        "dom_p50": pct(lat["dom"], 50), "dom_p99": pct(lat["dom"], 99),
        "frame_p50": pct(lat["frame"], 50), "frame_p99": pct(lat["frame"], 99),
        "frames_mean": statistics.fmean(lat["frames"]) if lat["frames"] else float("nan"),
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each statistic's median over repeated runs (n: the total)."""
    out = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key != "n"}
    out["n"] = sum(r["n"] for r in runs)
    return out


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def print_table(rows: list[dict[str, Any]]) -> None:
    print("publish -> DOM and publish -> frame latency, ms (p50 / p99); "
          "frames = frames from DOM write to paint")
    print(f"{'overlay':8} {'ev/s':>5} {'page':7} {'n':>5} {'DOM p50':>8} {'DOM p99':>8} "
          f"{'frame p50':>9} {'frame p99':>9} {'frames':>6}")
    for row in rows:
        for label, key in (("bare", "bare"), (row["overlay"], "overlay_")):
            r = row[key]
            print(f"{row['overlay']:8} {row['rate']:>5} {label:7} {r['n']:>5} {r['dom_p50']:>8.2f} "
                  f"{r['dom_p99']:>8.2f} {r['frame_p50']:>9.2f} {r['frame_p99']:>9.2f} "
                  f"{r['frames_mean']:>6.2f}")
        each = " ".join(f"{r:.2f}x" for r in row["dom_p99_ratios"])
        print(f"{'':8} {'':>5} {'ratio':7} {'':>5} {'':>8} {row['dom_p99_ratio']:>7.2f}x "
              f"{'':>9} {row['frame_p99_ratio']:>8.2f}x  (DOM p99 per repeat: {each})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per run (default 3)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case, medians reported (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--only", action="append", choices=sorted(CASES), help="run only this overlay")
    parser.add_argument("--query", default="", help="overlay settings for the run, e.g. 'theme=minimal'")
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.json, args.only, args.query, max(1, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
