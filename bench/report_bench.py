"""Benchmark: `dxbus report` on a 3-hour 60 Hz session beside the usage guide's own analyzers.

The session (about 650,000 events: `player_update` at 60 Hz plus the simulated play) is generated
once by `report_session.py`. Then, each in its own child process pinned to one core (`taskset -c 0`)
so the figures are comparable and memory is the child's own peak RSS (`wait4`):

- **dxbus report**: the real command, `python -m dxbus.cli report FILE -o report.html` (reading,
  the facts, every section, route clustering for every room, the HTML page);
- **guide (pandas)**: the usage guide's `GameSessionAnalyzer` (tests/usage_guide/session_analyzer.py,
  verbatim): load into a DataFrame, `plot_health_over_time`, `analyze_combat_performance`,
  `scene_heatmap` (matplotlib's drawing stubbed out: what is timed is the analysis, as no display is
  here), then its `GameplayAnalyzer` (gameplay_analyzer.py, verbatim): `analyze_routes` for every
  room entered at least three times, as our report does.

Run: `python3 bench/report_bench.py` (about 2-4 minutes; `--hours 0.5` for a smoke run). Needs the
`[analysis]` extra and, for the baseline, the `[bench]` extra (pandas).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from report_session import generate  # noqa: E402

GUIDE = r'''
import sys, types
sys.path.insert(0, {guide!r})
try:
    import matplotlib  # noqa: F401
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for name in ("show", "figure", "plot", "fill_between", "barh", "tight_layout"):
        setattr(plt, name, lambda *a, **k: None)
except ImportError:  # the guide imports pyplot; without matplotlib its drawing calls do nothing
    class NoOp:
        def __call__(self, *a, **k):
            return [] if a and isinstance(a[0], list) else self
        def __getattr__(self, name):
            return self
    pyplot = NoOp()
    mpl = types.ModuleType("matplotlib")
    mpl.pyplot = pyplot
    sys.modules["matplotlib"] = mpl
    sys.modules["matplotlib.pyplot"] = pyplot
from session_analyzer import GameSessionAnalyzer
from gameplay_analyzer import GameplayAnalyzer
path = {path!r}
a = GameSessionAnalyzer(path)
a.plot_health_over_time()
stats = a.analyze_combat_performance()
a.scene_heatmap()
g = GameplayAnalyzer(path)
rooms = [scene for scene, attempts in g.segments.items() if len(attempts) >= 3]
analysed = [g.analyze_routes(scene) for scene in rooms]
print(len(rooms), "rooms", int(stats["combat_encounters"]), "hits")
'''


def run_child(args: list[str], cwd: Path) -> dict[str, Any]:
    """Run a child pinned to core 0; its wall time, CPU time and peak RSS."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    started = time.perf_counter()
    proc = subprocess.Popen([*pin, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args[:4]} failed ({proc.returncode}):\n{out}\n{err}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "output": out.strip()[-200:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--hz", type=int, default=60)
    parser.add_argument("--no-baseline", action="store_true", help="skip the guide's analyzers")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        session = folder / "metrics_session.ndjson"
        events = generate(session, args.hours, args.hz)
        size_mb = session.stat().st_size / 1e6
        print(f"session: {args.hours:g} h at {args.hz} Hz, {events:,} events, {size_mb:.0f} MB")
        results: dict[str, Any] = {"events": events, "hours": args.hours, "file_mb": round(size_mb, 1)}
        results["dxbus"] = run_child([sys.executable, "-m", "dxbus.cli", "report", str(session),
                                      "-o", str(folder / "report.html")], folder)
        if not args.no_baseline:
            code = GUIDE.format(guide=str(ROOT / "tests" / "usage_guide"), path=str(session))
            results["guide"] = run_child([sys.executable, "-c", code], folder)
        print(f"{'':18}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}")
        for name, label in (("dxbus", "dxbus report"), ("guide", "guide (pandas)")):
            if name in results:
                r = results[name]
                print(f"{label:18}{r['wall_s']:>9}{r['cpu_s']:>9}{r['peak_rss_mb']:>13}")
        if "guide" in results:
            ratio = results["guide"]["cpu_s"] / results["dxbus"]["cpu_s"]
            results["ratio_cpu"] = round(ratio, 2)
            print(f"guide / dxbus CPU time: {ratio:.2f}x (the guide's analyzers draw nothing, write no page)")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
