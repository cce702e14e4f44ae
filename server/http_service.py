"""The HTTP port as a bus service: binds `[HTTP] BindAddress:Port` and serves the app of `http_api`."""

from __future__ import annotations

import logging

from aiohttp import web

from .bus import Bus
from .http_api import build_app
from .listen import serve_app
from .parts import Part

log = logging.getLogger(__name__)


class HttpService:
    """REST API, dashboard, and whatever other parts install (overlays, `/ws`, static files)."""

    name = "http"

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Build the app (route installers run now, so every part has registered), then bind."""
        cfg = self.bus.config.http
        self.runner, self.bus.ports["http"] = await serve_app(
            build_app(self.bus), cfg.bind_address, cfg.port, "[HTTP] Port or use --http-port",
            gate=self.bus.gate, name="http")
        self.bus.status_providers.setdefault("gate", self.bus.gate.status)
        log.info("HTTP API and dashboard on %s/", self.bus.url("http"))

    async def stop(self) -> None:
        """Close the listener and every open connection (in-flight requests get shutdown_timeout)."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def http_part(bus: Bus) -> Part:
    """The 8080 port (when `[HTTP] EnableHttpServer`)."""
    return Part("http", services=[HttpService(bus)] if bus.config.http.enable_http_server else [])
