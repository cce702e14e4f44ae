"""The dashboard at `/`: what the stream shows, the connected overlays, status and live events.

The page is rendered with Jinja (autoescaped) and then keeps itself current from the same port: the
session state over the state channel (`/static/bus.js`, as overlays get it), `/api/status` every two
seconds (the overlays card, the alert queue), and events from the WebSocket at `/ws` (falling back to polling
`/api/recent` when `/ws` is not there). The token of the page URL (`?token=`) is passed on.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from .bus import Bus

_env = Environment(
    loader=PackageLoader("dxbus", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

# The page's script, a linted file of its own, inlined so the dashboard needs no second request.
_SCRIPT = resources.files("dxbus.static").joinpath("dashboard.js").read_text(encoding="utf-8")


def render_dashboard(bus: Bus, has_ws: bool, links: list[tuple[str, str]]) -> str:
    """The dashboard HTML for the bus as it is now."""
    from .http_api import status_payload  # the same dict the page refreshes from /api/status

    status: dict[str, Any] = status_payload(bus)
    # `</` cannot close the config element early: the JSON escapes every `<`.
    config = json.dumps({"has_ws": has_ws}).replace("<", "\\u003c")
    return _env.get_template("dashboard.html.j2").render(
        status=status, config=config, script=_SCRIPT, bus_js="/static/bus.js", links=links,
        version=bus.version)


def install_dashboard(app: web.Application, bus: Bus) -> None:
    """Serve the dashboard at `/` and `/index.html` (the original's two addresses)."""

    async def dashboard(request: web.Request) -> web.Response:
        # Decided per request: route installers add /ws and /overlays after this function runs.
        paths = {getattr(r.resource, "canonical", "") for r in request.app.router.routes()}
        has_ws = "/ws" in paths
        pages = (("Overlays", "/overlays/"), ("Alerts", "/alerts/"), ("Report", "/report"))
        links = [(label, path) for label, path in pages if any(p.startswith(path.rstrip("/")) for p in paths)]
        html = render_dashboard(bus, has_ws, links)
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    app.router.add_get("/", dashboard)
    app.router.add_get("/index.html", dashboard)
