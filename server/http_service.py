"""The HTTP port as a bus service: binds `[HTTP] BindAddress:Port` and serves the app of `http_api`."""

from __future__ import annotations

import logging

from aiohttp import web

from .app import Bus
from .http_api import build_app

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
        app = build_app(self.bus)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                    shutdown_timeout=2.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, cfg.bind_address, cfg.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self.runner.cleanup()
            self.runner = None
            raise OSError(exc.errno, f"HTTP port {cfg.bind_address}:{cfg.port} is not available "
                          f"({exc.strerror}); change [HTTP] Port or use --http-port") from None
        # Port 0 asks the OS for a free port; report the one really bound.
        self.bus.ports["http"] = self.runner.addresses[0][1]
        log.info("HTTP API and dashboard on %s/", self.bus.url("http"))

    async def stop(self) -> None:
        """Close the listener and every open connection (in-flight requests get shutdown_timeout)."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
