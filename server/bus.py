"""The `Bus`: the hub, the game facts and session state, and the parts plugged into it.

The bus builds its core itself (hub, facts, `state`, `test_state`: every part may rely on them);
everything else is a `Part` (parts.py) that `build_bus` (assemble.py) plugs in, in one stated order.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .clock import Clock, SystemClock
from .collection import CollectionPolicy
from .config import Config
from .facts import FactDeriver, FactStream
from .gate import Gate
from .hub import Hub
from .parts import Part, RouteInstaller, Service, StatusProvider
from .sandbox import sandbox_state
from .signals import stop_on_signals
from .state_model import SessionState
from .world import load_world

if TYPE_CHECKING:
    from dxbus.alerts.service import AlertService

    from .state_channel import StateChannel

log = logging.getLogger(__name__)


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
        # What the plugged parts contribute (see `plug`), in plug order.
        self.parts: list[Part] = []
        self.services: list[Service] = []
        # Extra HTTP routes (overlays, alerts, timer...) installed on the 8080 app.
        self.route_installers: list[RouteInstaller] = []
        # Named status providers merged into /api/status (relay, OBS, LiveSplit...).
        self.status_providers: dict[str, StatusProvider] = {}
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
        # The core every part may rely on. Game facts: the FIRST hub listener, so every other
        # listener sees an event's facts before it sees the event itself.
        world = load_world()
        deriver = FactDeriver(self.clock, config.facts.kill_pairing_seconds, world)
        self.facts = FactStream(self.hub, deriver)
        # The session state (`/api/state`), folding every event from the first one; its store (the
        # persisted counters) is a part (`state.state_part`).
        self.state = SessionState(self.clock, world, deriver)
        self.state.follow(self.hub, self.facts)
        # The preview sandbox: a second session state fed only by test events (`dxbus.sandbox`).
        self.test_state, self.test_facts = sandbox_state(self.hub, self.clock, config, world)
        # The alert engine, when plugged (`dxbus.alerts.install.alerts_part`).
        self.alerts: AlertService | None = None
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

    def plug(self, part: Part) -> Part:
        """Take in what `part` contributes: services (start order), listeners (call order), routes, status.

        Listeners are added at once, so a part sees every event from the first one; a part's
        listeners must therefore be harmless before its services start and after they stop.
        """
        self.parts.append(part)
        self.services.extend(part.services)
        for listener in part.listeners:
            self.hub.add_listener(listener)
        for listener in part.test_listeners:
            self.hub.add_test_listener(listener)
        for fact_listener in part.fact_listeners:
            self.facts.add_listener(fact_listener)
        self.route_installers.extend(part.routes)
        self.status_providers.update(part.status)
        return part

    def uptime(self) -> float:
        """Seconds since the bus (last) started, on its clock."""
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
        undo = stop_on_signals(stop.set)  # SIGTERM; on Windows also Ctrl+Break (dxbus.signals)
        try:
            await stop.wait()
        finally:
            undo()
            await self.stop()
