"""The composition root: which parts a bus runs, in which order, from the config and the command line.

`build_bus` is the one place that shows every part. `dxbus serve`, `dxbus demo`, `dxbus replay`, the
tests and the bench all run this same assembly. A part is a `Part` (parts.py); its position in the list
below is its services' start order (stopped in reverse), its listeners' call order for each event (after
the bus's own facts and session state) and its routes' order on the 8080 app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dxbus.alerts.install import alerts_part
from dxbus.obs.doctor_routes import doctor_part
from dxbus.obs.service import obs_part
from dxbus.overlays.routes import overlays_part

from .banner import Banner
from .bus import Bus
from .clock import Clock
from .config import Config
from .events import DEMO, LIVE, REPLAY
from .export import export_part
from .folder_lock import folder_lock_parts
from .gc_freeze import FreezeStartup
from .http_service import http_part
from .ingest_tcp import ingest_port_part
from .parts import Part
from .race.install import race_part
from .report.live import live_report_part
from .sources.install import recorder_part, sources_part
from .sources.simulator import simulator_part
from .speedrun.install import speedrun_part
from .state import facts_part, state_part
from .state_channel import state_channel_part
from .tcp_timer import tcp_timer_part
from .text_files import text_files_part
from .ws_stream import websocket_part

if TYPE_CHECKING:
    from .race.store import RaceStore


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
    races: Path | None = None  # `dxbus race RACES.toml`: this bus is a race hub
    race_redis: str | None = None  # `--redis URL`: the hub shares its races through Redis
    race_store: RaceStore | None = None  # a store object instead (tests)
    race: str | None = None  # `--race URL --runner NAME --token T`: this bus pushes to a race hub
    runner: str | None = None
    token: str | None = None


def build_bus(
    config: Config,
    options: RunOptions | None = None,
    clock: Clock | None = None,
    base_dir: Path | None = None,
) -> Bus:
    """Create the bus (hub, facts, session state) and plug every part, in order."""
    options = options or RunOptions()
    mode = run_mode(options)
    bus = Bus(keep_apart(config, mode), clock=clock, base_dir=base_dir)
    bus.mode = mode
    lock, announce = folder_lock_parts(bus)
    channel, bus.state_channel = state_channel_part(bus)
    alerts, bus.alerts = alerts_part(bus)
    parts: list[Part] = [
        lock,  # first: one bus per folder (state and text files)
        facts_part(bus),  # the timers that settle kills (bus.facts, bus.test_facts)
        state_part(bus),  # loads and saves bus.state's counters before anything reads them
        channel,  # bus.state_channel: the state pushed to overlays (`/ws?state=1`)
        # Sinks: they listen from the first event on.
        export_part(bus),  # NDJSON files
        recorder_part(bus, options),  # --record FILE: every event's raw line
        alerts,  # detectors and rules -> queued `alert` events; /api/alerts
        text_files_part(bus),  # obs-text/*.txt, rendered from bus.state
        speedrun_part(bus),  # split rules -> timer_command events; segments, practice; LiveSplit bridge
        overlays_part(bus, options.overlays_dir),  # /overlays, /static, hot reload of open pages
        live_report_part(bus),  # /report: the session report of this bus's session so far
        # Ports: after the sinks, so nothing a client sends is missed.
        http_part(bus),  # 8080: builds its app at start, with every part's routes
        websocket_part(bus),  # 9091 (any path) and /ws on the 8080 app
        tcp_timer_part(bus),  # 9090: timer_command events as lines
        ingest_port_part(bus),  # [Ingest]: NDJSON events over one TCP connection (off by default)
        obs_part(bus),  # OBS scene rules (only with [OBS] Enabled or DryRun); never blocks start-up
        doctor_part(bus),  # /api/obs/doctor: the OBS sources showing this bus, checked and fixed
        # Sources: last, after the ports, so no client misses their first events.
        sources_part(bus, options),  # replay, --tail, --relay
        race_part(bus, options),  # `dxbus race` hub (races, pullers, /api/race) or `--race` pusher
        simulator_part(bus, options.seed, options.speed) if options.simulate else Part("simulator"),
        announce,  # the bound URLs into the lock, so a second bus here can name this one
        Part("banner", services=[Banner(bus)]),  # prints the URLs once every port is bound
        Part("gc_freeze", services=[FreezeStartup()]),  # after everything started: see dxbus.gc_freeze
    ]
    for part in parts:
        bus.plug(part)
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
