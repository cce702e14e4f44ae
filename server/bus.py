"""Composition: the `Bus` object that every port, source and sink is built around."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from . import __version__
from .clock import Clock, SystemClock
from .collection import CollectionPolicy
from .config import Config
from .gate import Gate
from .hub import Hub

if TYPE_CHECKING:
    from .facts import FactStream
    from .state import SessionState
    from .state_channel import StateChannel

log = logging.getLogger(__name__)

RouteInstaller = Callable[[web.Application, "Bus"], None]


class Service(Protocol):
    """Something the bus starts and stops: a port, a source, a sink."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Bus:
    """The hub plus everything around it; built once per process (or per test)."""

    def __init__(self, config: Config, clock: Clock | None = None, base_dir: Path | None = None):
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.base_dir = base_dir or Path.cwd()
        dc = config.data_collection
        self.policy = CollectionPolicy(
            update_frequency_hz=dc.update_frequency_hz,
            export_player_data=dc.export_player_data,
            export_combat_data=dc.export_combat_data,
            export_scene_data=dc.export_scene_data,
            export_timing_data=dc.export_timing_data,
            advanced_metrics_enabled=dc.enable_advanced_metrics,
        )
        self.hub = Hub(self.clock, dc.ring_buffer_size, self.policy,
                       config.web_socket.client_queue_limit,
                       ring_bytes=int(config.security.max_ring_buffer_mb * 1024 * 1024))
        self.version = __version__
        self.started_at = self.clock.monotonic()
        self.services: list[Service] = []
        # Extra HTTP routes (overlays, alerts, timer...) installed on the 8080 app.
        self.route_installers: list[RouteInstaller] = []
        # Named status providers merged into /api/status (relay, OBS, LiveSplit...).
        self.status_providers: dict[str, Callable[[], Any]] = {}
        # Seq restarts at 1 in every process; clients resuming with since_seq compare this id
        # (in /api/status) to tell "same bus, resume" from "new bus, start over".
        self.instance_id = uuid.uuid4().hex
        self.status_providers["instance_id"] = lambda: self.instance_id
        # Bound ports by name ("http", "websocket", "tcp"), filled in as services start.
        self.ports: dict[str, int] = {}
        # Live connection counts by kind, kept by the ports.
        self.connections: dict[str, int] = {"http": 0, "websocket": 0, "tcp": 0}
        # The one gate of every port (`[Security]`); the HTTP requests' per-IP budget kept by name.
        self.gate = Gate(config, self.clock, self.ports)
        self.connection_limiter = self.gate.budgets["http"]
        # Session state (`dxbus.state.SessionState`), attached by build_bus before anything starts.
        self.state: SessionState | None = None
        # Game facts (`dxbus.facts.FactStream`), the first hub listener, attached by build_bus.
        self.facts: FactStream | None = None
        # The preview sandbox: a second session state fed only by test events (`dxbus.sandbox`).
        self.test_state: SessionState | None = None
        # The state channel (`dxbus.state_channel.StateChannel`): the state pushed to overlays.
        self.state_channel: StateChannel | None = None
        # What feeds this bus: "live" (the game), "demo" (the simulator) or "replay"; demo and
        # replay keep their state apart from real play (build_bus chooses the files).
        self.mode = "live"
        self._started: list[Service] = []
        self.stopping = False

    def url(self, kind: str = "http") -> str:
        """Base URL of a running port: `http://127.0.0.1:8080`, `ws://127.0.0.1:9091`, `127.0.0.1:9090`."""
        host = self.config.http.bind_address
        host = "127.0.0.1" if host in ("0.0.0.0", "localhost", "") else host
        scheme = {"http": "http://", "websocket": "ws://", "tcp": ""}[kind]
        return f"{scheme}{host}:{self.ports[kind]}"

    def path(self, configured: str) -> Path:
        """Resolve a configured path against the bus's base directory."""
        p = Path(configured).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def add(self, service: Service) -> Service:
        """Register a service to start with the bus (in order) and stop in reverse."""
        self.services.append(service)
        return service

    def uptime(self) -> float:
        return self.clock.monotonic() - self.started_at

    async def start(self) -> None:
        """Start every service in order; on failure stop what started and re-raise."""
        self.started_at = self.clock.monotonic()
        self.stopping = False
        for service in self.services:
            try:
                await service.start()
            except BaseException:
                await self.stop()
                raise
            self._started.append(service)

    async def stop(self) -> None:
        """Stop started services in reverse order; one failing does not stop the others."""
        self.stopping = True
        while self._started:
            service = self._started.pop()
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", service.name)
        self.hub.close()  # trailing-edge thinning timers

    async def run_forever(self) -> None:
        """Start, wait for Ctrl+C or SIGTERM, stop (flushing exports, recordings and state)."""
        await self.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await stop.wait()
        finally:
            await self.stop()
