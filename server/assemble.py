"""Which services a bus runs, from the config and the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dxbus.alerts.install import install_alerts
from dxbus.obs.service import install_obs
from dxbus.overlays.routes import install_overlays

from .bus import Bus
from .clock import Clock
from .config import Config
from .events import DEMO, LIVE, REPLAY
from .export import install_export
from .facts import install_facts
from .folder_lock import announce_urls, install_folder_lock
from .http_service import HttpService
from .ingest_tcp import install_ingest_port
from .report.live import install_live_report
from .sandbox import install_test_state
from .sources.install import install_recorder, install_sources
from .sources.simulator import install_simulator
from .speedrun.install import install_speedrun
from .state import install_state
from .state_channel import install_state_channel
from .tcp_timer import install_tcp_timer
from .text_files import install_text_files
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
    mode = run_mode(options)
    bus = Bus(keep_apart(config, mode), clock=clock, base_dir=base_dir)
    bus.mode = mode
    lock = install_folder_lock(bus)  # first: one bus per folder (state and text files)
    install_facts(bus)  # then: bus.facts derives game facts once, before any other listener
    install_state(bus)  # every event, from the first one, folds into bus.state
    install_test_state(bus)  # bus.test_state: the previews' sandbox, fed only by test events
    install_state_channel(bus)  # bus.state_channel: the state pushed to overlays (`/ws?state=1`)
    install_export(bus)  # NDJSON files: listens from the first event on
    install_recorder(bus, options)  # --record FILE: every event's raw line
    install_alerts(bus)  # detectors and rules -> queued `alert` events; /api/alerts
    install_text_files(bus)  # obs-text/*.txt for OBS text sources
    install_speedrun(bus)  # split rules -> timer_command events; segments, practice; LiveSplit bridge
    install_overlays(bus, options.overlays_dir)  # /overlays, /static, hot reload of open pages
    install_live_report(bus)  # /report: the session report of this bus's session so far
    # Each part registers its services here, in start order: state and sinks first, then the
    # ports, then the sources, so nothing a source publishes is missed.
    if config.http.enable_http_server:
        bus.add(HttpService(bus))  # builds its app at start, after every route installer is in
    install_websocket(bus)  # 9091 (any path) and /ws on the 8080 app
    install_tcp_timer(bus)  # 9090: timer_command events as lines
    install_ingest_port(bus)  # [Ingest]: NDJSON events over one TCP connection (off by default)
    install_obs(bus)  # OBS scene rules (only with [OBS] Enabled or DryRun); never blocks start-up
    install_sources(bus, options)  # replay, --tail, --relay: last, after the ports
    if options.simulate:  # the demo: Silksong play simulated from the world data
        install_simulator(bus, options.seed, options.speed)
    announce_urls(bus, lock)  # the bound URLs into the lock, so a second bus here can name this one
    return bus


def run_mode(options: RunOptions) -> str:
    """What feeds the bus: the simulator ("demo"), recordings ("replay"), or the game ("live")."""
    if options.simulate:
        return DEMO
    if options.replay:
        return REPLAY
    return LIVE


def apart(configured: str, mode: str) -> str:
    """`dxbus-state.json` -> `dxbus-demo-state.json` (other names: `demo-<name>`), same folder."""
    path = Path(configured)
    name = path.name.removeprefix("dxbus-")
    prefix = f"dxbus-{mode}-" if name != path.name else f"{mode}-"
    return str(path.with_name(prefix + name))


def keep_apart(config: Config, mode: str) -> Config:
    """The config a demo or replay runs with: never the real history's files.

    The demo keeps its own state and split bests (`dxbus-demo-state.json`, `dxbus-demo-splits.json`)
    and exports under `<Directory>/demo`; a replay keeps its state and bests in memory only (every
    rehearsal starts from zero). Live play is untouched.
    """
    if mode == LIVE:
        return config
    if mode == DEMO:
        state_file = apart(config.state.file, DEMO)
        bests = apart(config.timer.bests_file, DEMO) if config.timer.bests_file else ""
        export_dir = str(Path(config.file_export.directory) / DEMO)
    else:
        state_file, bests = "", ""
        export_dir = config.file_export.directory  # `dxbus replay` already exports under replay/
    return config.model_copy(update={
        "state": config.state.model_copy(update={"file": state_file}),
        "timer": config.timer.model_copy(update={"bests_file": bests}),
        "file_export": config.file_export.model_copy(update={"directory": export_dir}),
    })
