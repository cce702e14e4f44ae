"""Error pages for overlay URLs: small HTML that reads on stream, never raw JSON.

An OBS browser source paints whatever its URL answers. JSON (or a default error page) on a
transparent scene is unreadable or worse; these pages have a transparent background, large text with
an outline (legible over any game scene), say what went wrong and where to look, and are logged with
the URL the source asked for, so the log names the OBS source that needs fixing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from markupsafe import escape

log = logging.getLogger("dxbus.overlays")

# Paths whose errors are answered as pages: an overlay URL as pasted into OBS (any case).
PAGE_PREFIX = "/overlays"


def is_overlay_page(request: web.Request) -> bool:
    """Whether `request` is (or was meant to be) an overlay page or the gallery, not an API call."""
    path = request.path.lower()
    return request.method in ("GET", "HEAD") and (path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/"))


def source_url(request: web.Request) -> str:
    """The URL the browser source asked for, with any token masked (logs are shared in bug reports)."""
    pairs = parse_qsl(request.query_string, keep_blank_values=True)
    query = [(k, "***" if k == "token" else v) for k, v in pairs]
    text = urlencode(query, safe="*")
    return f"{request.scheme}://{request.host}{request.path}" + (f"?{text}" if text else "")


def render(status: int, title: str, message: str, details: Sequence[str] = ()) -> str:
    """The page: a title line, a message and optional detail lines (file and line, a hint)."""
    lines = "".join(f"<p class='d'>{escape(d)}</p>" for d in details)
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>overlay error</title>"
        "<style>html,body{background:transparent;margin:0}"
        "body{font:600 28px/1.3 'Segoe UI','Noto Sans','DejaVu Sans',Arial,sans-serif;color:#fff;"
        "padding:16px 20px;-webkit-text-stroke:0;text-shadow:0 0 3px #000,0 0 3px #000,2px 2px 0 #000,"
        "-2px -2px 0 #000,2px -2px 0 #000,-2px 2px 0 #000}"
        ".box{display:inline-block;max-width:100%;box-sizing:border-box;background:#000000b0;"
        "border-left:8px solid #ff5a4f;border-radius:8px;padding:12px 18px}"
        "h1{font-size:36px;margin:0 0 6px;color:#ffd0cc}p{margin:4px 0;overflow-wrap:anywhere}"
        ".d{font:500 22px/1.35 'DejaVu Sans Mono',Consolas,monospace;color:#fff3c4}</style>"
        f"<body data-status='{status}'><div class='box' role='alert'><h1>{escape(title)}</h1>"
        f"<p class='m'>{escape(message)}</p>{lines}</div></body></html>"
    )


def page_response(request: web.Request, status: int, title: str, message: str,
                  details: Sequence[str] = (), headers: dict[str, str] | None = None) -> web.Response:
    """Answer `request` with an error page and log it with the source's URL."""
    level = logging.ERROR if status >= 500 else logging.WARNING
    log.log(level, "overlay URL %s answered %d: %s%s", source_url(request), status, message,
            "".join(f" | {d}" for d in details))
    return web.Response(text=render(status, title, message, details), status=status, content_type="text/html",
                        charset="utf-8", headers={"Cache-Control": "no-cache", **(headers or {})})
