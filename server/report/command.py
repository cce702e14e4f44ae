"""`dxbus report FILE_OR_FOLDER... [-o report.html] [--json]`: the offline session report."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from .load import DEFAULT_GAP_SECONDS, LoadError, Problems, read_events, sessions

INSTALL_HINT = ("dxbus report needs the analysis extra (numpy and scikit-learn); install it with:\n"
                "    pip install 'data-export-bus[analysis]'\n"
                "(from a checkout: pip install -e '.[analysis]')")


def add_report_command(commands: Any) -> None:
    """Register `dxbus report` on the CLI's subparsers."""
    report = commands.add_parser(
        "report", help="write an offline HTML report of recorded sessions",
        description="Read NDJSON exports, recordings and the original mod's DataExport files (any mix, "
        "folders, .gz), split them into sessions, and write one self-contained HTML report: summary, "
        "health and silk, damage, time per room, deaths, bosses, routes. Needs the [analysis] extra.")
    report.add_argument("paths", type=Path, nargs="+", metavar="FILE_OR_FOLDER",
                        help="recordings or folders of them (e.g. DataExport/)")
    report.add_argument("-o", "--output", type=Path, default=Path("report.html"), metavar="FILE",
                        help="where to write the HTML (default report.html)")
    report.add_argument("--json", action="store_true",
                        help="print the report's numbers as JSON instead of writing HTML")
    report.add_argument("--gap", type=float, default=DEFAULT_GAP_SECONDS / 60, metavar="MINUTES",
                        help="minutes without events that start a new session (default 30)")


def analysis_available() -> bool:
    """numpy and scikit-learn are installed (the [analysis] extra); found, not imported: importing
    scikit-learn takes seconds, paid only once the clustering runs."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("numpy", "sklearn"))
    except (ImportError, ValueError):
        return False


def build(paths: list[Path], gap_minutes: float = DEFAULT_GAP_SECONDS / 60,
          with_routes: bool = True) -> dict[str, Any]:
    """Every session's report, and what could not be read."""
    from ..world import load_world
    from .analysis import EXPLAIN, analyze
    from .session import fold

    world = load_world()
    problems = Problems()
    reports = [analyze(fold(group, world), with_routes)
               for group in sessions(read_events(paths, problems), gap_minutes * 60)]
    return {"sessions": reports, "files": problems.files,
            "problems": {"bad_lines": problems.bad_count, "examples": problems.bad_lines,
                         "duplicates_skipped": problems.duplicates},
            "explain": EXPLAIN}


def run_report(args: argparse.Namespace) -> int:
    """Run `dxbus report`; exit status 2 for missing files or the missing extra."""
    if not analysis_available():
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    try:
        report = build(args.paths, args.gap)
    except LoadError as exc:
        print(f"dxbus report: {exc}", file=sys.stderr)
        return 2
    for line in report["problems"]["examples"]:
        print(f"dxbus report: skipped {line}", file=sys.stderr)
    if not report["sessions"]:
        print("dxbus report: no events in " + ", ".join(map(str, args.paths)), file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(json.dumps(report, indent=1) + "\n")
        return 0
    from .render import render_html

    args.output.write_text(render_html(report), encoding="utf-8")
    count = len(report["sessions"])
    print(f"dxbus report: {count} session{'s' if count != 1 else ''} from {len(report['files'])} "
          f"file{'s' if len(report['files']) != 1 else ''} -> {args.output}")
    return 0
