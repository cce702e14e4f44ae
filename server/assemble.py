"""Which services a bus runs, from the config and the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dxbus.alerts.install import install_alerts
from dxbus.obs.controller import install_obs
from dxbus.obs.text_files import install_text_files
from dxbus.overlays.routes import install_overlays

from .app import Bus
from .clock import Clock
from .config import Config
from .export import install_export
from .facts import install_facts
from .http_service import HttpService
from .sources.install import install_recorder, install_sources
from .sources.simulator import install_simulator
from .speedrun.install import install_speedrun
from .state import install_state
from .tcp_timer import install_tcp_timer
from .ws_stream import install_websocket


@dataclass
class RunOptions:
    """Choices made on the command line rather than in the config file."""

    simulate: bool = False
    seed: int | None = None
    speed: float = 1.0
    record: Path | None = None
    tail: Path | None = None
    relay: str | None = None
    replay: list[Path] = field(default_factory=list)
    replay_loop: bool = False
    replay_from: str | None = None  # a Seq, a time (90s, 1:30) or a scene name
    replay_paused: bool = False
    overlays_dir: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)


def build_bus(
    config: Config,
    options: RunOptions | None = None,
    clock: Clock | None = None,
    base_dir: Path | None = None,
) -> Bus:
    """Create the bus and register its services in start order."""
    options = options or RunOptions()
    bus = Bus(config, clock=clock, base_dir=base_dir)
    install_facts(bus)  # first: bus.facts derives game facts once, before any other listener
    install_state(bus)  # then: every event, from the first one, folds into bus.state
    install_export(bus)  # NDJSON files: listens from the first event on
    install_recorder(bus, options)  # --record FILE: every event's raw line
    install_alerts(bus)  # detectors and rules -> queued `alert` events; /api/alerts
    install_text_files(bus)  # obs-text/*.txt for OBS text sources
    install_speedrun(bus)  # split rules -> timer_command events; segments, practice; LiveSplit bridge
    install_overlays(bus, options.overlays_dir)  # /overlays, /static, hot reload of open pages
    # Each part registers its services here, in start order: state and sinks first, then the
    # ports, then the sources, so nothing a source publishes is missed.
    if config.http.enable_http_server:
        bus.add(HttpService(bus))  # builds its app at start, after every route installer is in
    install_websocket(bus)  # 9091 (any path) and /ws on the 8080 app
    install_tcp_timer(bus)  # 9090: timer_command events as lines
    install_obs(bus)  # OBS scene rules (only with [OBS] Enabled or DryRun); never blocks start-up
    install_sources(bus, options)  # replay, --tail, --relay: last, after the ports
    if options.simulate:  # the demo: Silksong play simulated from the world data
        install_simulator(bus, options.seed, options.speed)
    return bus
