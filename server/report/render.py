"""The report as one self-contained HTML page: no CDN, no server, opens from a file.

The page is rendered with Jinja (autoescaped) from `templates/report.html.j2`; its stylesheet and
chart script (`static/report.css`, `static/report.js`, ours, no library) are inlined, and the data
the charts draw is embedded as JSON (with `<` escaped, so no text in it can end the script).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(
    loader=PackageLoader("dxbus", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _static(name: str) -> str:
    return resources.files("dxbus.static").joinpath(name).read_text(encoding="utf-8")


def embed_json(value: Any) -> str:
    """JSON safe inside a `<script type="application/json">` element."""
    return (json.dumps(value, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def clock(seconds: float | None) -> str:
    """1:02:03 / 2:03 / 0:07 for a number of seconds; a dash for None."""
    if seconds is None:
        return "–"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


_env.filters["clock"] = clock


def render_html(report: dict[str, Any], live: bool = False, token: str | None = None) -> str:
    """The page for `report` (what `dxbus.report.command.build` returns). `live`: served at
    `/report` by the running bus, refreshing itself from `/report.json`."""
    return _env.get_template("report.html.j2").render(
        report=report, data=embed_json(report), live=live, token=token,
        css=_static("report.css"), script=_static("report.js"))
