"""HTTP side of the overlays: `/overlays` (gallery), `/overlays/<name>`, `/static/...`, `/api/overlays`.

`overlays_part(bus, overlays_dir)` is plugged by `build_bus`: the routes, the hot-reload service and the
`overlays` status provider.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import traceback
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from dxbus import error_page
from dxbus.bus import Bus
from dxbus.events import TEST
from dxbus.parts import Part

from .assets import Assets
from .hot_reload import RELOAD_EVENT, OverlayReloader
from .registry import Overlay, Registry
from .settings import canonical_query, resolve
from .sizing import Size, recommended_size
from .versions import page_version

log = logging.getLogger(__name__)

# Font stacks behind the `font` setting: local fonts only (OBS machines are often offline).
FONT_STACKS = {
    "sans": "'Segoe UI', 'Noto Sans', 'DejaVu Sans', Arial, sans-serif",
    "serif": "'Trajan Pro', 'Cinzel', Georgia, 'Noto Serif', 'DejaVu Serif', serif",
    "mono": "'Cascadia Mono', 'JetBrains Mono', 'DejaVu Sans Mono', Consolas, monospace",
    "rounded": "'Nunito', 'Varela Round', 'Segoe UI', 'DejaVu Sans', sans-serif",
    "condensed": "'Oswald', 'Roboto Condensed', 'Arial Narrow', 'DejaVu Sans Condensed', sans-serif",
}


class OverlayPages:
    """Renders overlay pages and the gallery from the registry's templates."""

    def __init__(self, bus: Bus, registry: Registry, assets: Assets) -> None:
        self.bus = bus
        self.registry = registry
        self.assets = assets
        self._test_ids = itertools.count(1)
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in registry.template_dirs]),
            autoescape=True,  # every `{{ }}` is HTML-escaped: event text can never become markup
            auto_reload=True,  # templates are re-read when their file changes (hot reload)
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def static_url(self, token: str | None) -> Callable[[str], str]:
        """`static('bus.js')` -> `/static/bus.js?v=<mtime>` (plus the page's token, if it has one)."""

        def url(relative: str) -> str:
            query = {"v": self.assets.version(relative)}
            if token:
                query["token"] = token
            return f"/static/{quote(relative)}?{urlencode(query)}"

        return url

    def render_overlay(self, overlay: Overlay, query: dict[str, str]) -> str:
        """The overlay page for a query string (bad settings fall back to defaults, with warnings)."""
        resolved = resolve(overlay.settings, query, overlay.name)
        for warning in resolved.warnings:
            log.info("%s", warning)
        token = query.get("token")
        values = resolved.values
        page = {
            "overlay": overlay.name,
            # No types in the manifest: every event (no filter, so overlay_reload comes too).
            "types": sorted({*overlay.types, RELOAD_EVENT}) if overlay.types else [],
            "settings": [s.to_json() for s in overlay.settings.values()],
            "values": values,  # bus.js uses these as they are: the server resolved them
            "notes": resolved.notes,
            "warnings": resolved.warnings,
            "ws": "/ws",
            "version": page_version(overlay, self.registry, self.assets),  # sent back in its hello
        }
        template = self.env.get_template(overlay.template)
        static = self.static_url(token)
        own_script = f"overlays/{overlay.name}.js"
        return template.render(
            overlay=overlay, s=values, page=page, static=static,
            script=static(own_script) if self._has_script(overlay, own_script) else None,
            font_stack=FONT_STACKS.get(str(values.get("font", "sans")), FONT_STACKS["sans"]),
            scene_areas=scene_areas,
        )

    def version(self, name: str) -> str | None:
        """The asset version a page of overlay `name` would get now (None: no such overlay)."""
        overlay = self.find(name)
        return page_version(overlay, self.registry, self.assets) if overlay is not None else None

    def _has_script(self, overlay: Overlay, relative: str) -> bool:
        # A user overlay that replaces a built-in must not get the built-in's script.
        found = self.assets.find(relative)
        if found is None or overlay.builtin:
            return found is not None
        return self.assets.user is not None and found.is_relative_to(self.assets.user)

    def render_gallery(self, token: str | None) -> str:
        """The gallery: every overlay with a live preview, its settings form and its OBS URL."""
        overlays = self.registry.all()
        return self.env.get_template("_gallery.html.j2").render(
            overlays=[self.describe(o) for o in overlays], catalog=[self.describe(o) for o in overlays],
            errors=self.registry.errors,
            static=self.static_url(token), token=token or "",
        )

    # -- handlers ----------------------------------------------------------------------------
    async def gallery(self, request: web.Request) -> web.Response:
        """GET /overlays."""
        try:
            html = self.render_gallery(request.query.get("token"))
        except Exception as exc:  # a user overlay folder can break a shared template
            return error_page.page_response(request, 500, "Gallery: template error",
                                            f"{type(exc).__name__}: {exc}", template_location(exc))
        return _html(html)

    def describe(self, overlay: Overlay) -> dict[str, Any]:
        """An overlay's manifest, with its recommended size for the default settings."""
        out = overlay.to_json()
        size = size_for(overlay, {name: s.default for name, s in overlay.settings.items()})
        out.update(width=size.width, height=size.height, size_basis=size.basis)
        return out

    def find(self, name: str) -> Overlay | None:
        """The overlay a URL names, forgiving case (`/overlays/HP` is hp)."""
        return self.registry.get(name) or self.registry.get(name.strip().lower())

    async def overlay(self, request: web.Request) -> web.Response:
        """GET /overlays/{name} (also with a trailing slash, any case); errors are pages OBS can show."""
        name = request.match_info["name"]
        overlay = self.find(name)
        if overlay is None:
            problem = self.registry.errors.get(name) or self.registry.errors.get(name.lower())
            if problem:
                return error_page.page_response(request, 500, f"Overlay {name} cannot load", problem,
                                                ["fix the file, then refresh the source"])
            known = [o.name for o in self.registry.all()]
            close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
            hint = f"did you mean /overlays/{close[0]} ?" if close else "see the gallery at /overlays"
            return error_page.page_response(request, 404, "No such overlay",
                                            f"there is no overlay named {name!r}", [hint])
        query = {key: request.query.getone(key) for key in request.query}
        try:
            html = self.render_overlay(overlay, query)
        except Exception as exc:  # a user template may fail in any way; the page says where
            return error_page.page_response(request, 500, f"Overlay {overlay.name}: template error",
                                            f"{type(exc).__name__}: {exc}", template_location(exc))
        return _html(html)

    async def resolve_settings(self, request: web.Request) -> web.Response:
        """GET /api/overlays/{name}/resolve?...: what the overlay would use for this query, and why.

        The gallery's form shows these values and reasons and builds its URL from `query`, so the
        form, the URL and the page always agree (one implementation: overlays/settings.py).
        """
        overlay = self.find(request.match_info["name"])
        if overlay is None:
            raise web.HTTPNotFound(text="no such overlay")
        query = {key: request.query.getone(key) for key in request.query}
        resolved = resolve(overlay.settings, query, overlay.name)
        canonical = canonical_query(overlay.settings, resolved.values)
        return web.json_response({"values": resolved.values, "notes": resolved.notes,
                                  "warnings": resolved.warnings, "query": urlencode(canonical),
                                  "size": size_for(overlay, resolved.values).to_json()})

    async def catalog(self, request: web.Request) -> web.Response:
        """GET /api/overlays: every overlay's manifest (name, size, settings) and manifest errors."""
        body = {"overlays": [self.describe(o) for o in self.registry.all()], "errors": self.registry.errors}
        return web.json_response(body)

    async def send_test(self, request: web.Request) -> web.Response:
        """POST /api/overlays/{name}/test: the overlay's sample events, as test events (the gallery's button).

        Test events reach only the pages that asked for them (the gallery's previews, `?preview=1`)
        and the preview sandbox state; never the session state, records, text files, OBS or timers.
        """
        overlay = self.registry.get(request.match_info["name"])
        if overlay is None:
            raise web.HTTPNotFound(text="no such overlay")
        published = 0
        for sample in overlay.test_events:
            data = dict(sample.get("Data", {}))
            if sample["EventType"] == "alert":
                data.setdefault("id", f"test-{next(self._test_ids)}")
            if self.bus.hub.emit(str(sample["EventType"]), data, origin=TEST) is not None:
                published += 1
        return web.json_response({"published": published})

    async def static(self, request: web.Request) -> web.StreamResponse:
        """GET /static/{path}: built-in or user assets; nothing outside those folders."""
        path = self.assets.find(request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound(text="no such file")
        # no-cache: the browser revalidates (cheap 304s), so an edited CSS/JS shows on reload.
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


def size_for(overlay: Overlay, values: dict[str, Any]) -> Size:
    """The recommended OBS size of `overlay` with these resolved settings (sizing.py)."""
    return recommended_size(overlay.name, values, (overlay.width, overlay.height), overlay.builtin)


def template_location(exc: BaseException) -> list[str]:
    """Where in which template `exc` happened: ["file.html.j2, line 12", the line's text]."""
    filename, lineno = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    if not (filename and lineno):  # a runtime error: Jinja puts template frames into the traceback
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
        if frames:
            filename, lineno = frames[-1].filename, frames[-1].lineno
    if not (filename and lineno):
        return []
    out = [f"{filename}, line {lineno}"]
    try:
        text = Path(filename).read_text(encoding="utf-8").splitlines()[lineno - 1].strip()
    except (OSError, IndexError):
        text = ""
    if text:
        out.append(text if len(text) <= 120 else text[:117] + "...")
    return out


@cache
def scene_areas() -> dict[str, str]:
    """Scene -> titled area, for the room overlay (world data, loaded once)."""
    try:
        from dxbus.world import load_world
    except ImportError:  # pragma: no cover
        return {}
    return {name: scene.area for name, scene in load_world().scenes.items() if scene.area}


def overlays_part(bus: Bus, overlays_dir: Path | None = None) -> Part:
    """The overlays: routes on the 8080 app, hot reload, status."""
    section = getattr(bus.config, "overlays", None)
    configured = getattr(section, "directory", "") if section is not None else ""
    user_dir = overlays_dir or (bus.path(configured) if configured else None)
    if user_dir is not None and not user_dir.is_dir():
        log.warning("--overlays %s is not a folder; only the built-in overlays are served", user_dir)
    registry = Registry(user_dir.resolve() if user_dir else None)
    assets = Assets(user_dir / "static" if user_dir else None)
    pages = OverlayPages(bus, registry, assets)
    hot_reload = getattr(section, "hot_reload", True) if section is not None else True
    reloader = OverlayReloader(bus, [*registry.template_dirs, *assets.roots], enabled=hot_reload)
    if bus.state_channel is not None:
        bus.state_channel.versions = pages.version  # the dashboard tells stale pages from current ones

    def install(app: web.Application, _bus: Bus) -> None:
        app.router.add_get("/overlays", pages.gallery)
        app.router.add_get("/overlays/", pages.gallery)
        app.router.add_get("/overlays/{name}", pages.overlay)
        app.router.add_get("/overlays/{name}/", pages.overlay)  # pasted with a trailing slash
        app.router.add_get("/api/overlays/{name}/resolve", pages.resolve_settings)
        app.router.add_get("/api/overlays", pages.catalog)
        app.router.add_post("/api/overlays/{name}/test", pages.send_test)
        # A catch-all: routes added before it (the alert engine's /static/user-sounds/...) still win.
        app.router.add_get("/static/{path:.*}", pages.static)

    def status() -> dict[str, Any]:
        return {
            "overlays": [o.name for o in registry.all()],
            "user_dir": str(user_dir) if user_dir else None,
            "hot_reload": reloader.watching,
            "errors": registry.errors,
        }

    return Part("overlays", services=[reloader], routes=[install], status={"overlays": status})
