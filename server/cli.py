"""The `dxbus` command."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from dxbus.obs.commands import add_obs_arguments, add_obs_command, obs_overrides, run_obs_command
from dxbus.obs.doctor import add_doctor_command, run_doctor
from dxbus.overlays.scaffold import add_overlay_command, run_overlay_command

from . import __version__
from .assemble import RunOptions, build_bus
from .config import Config, ConfigError, load_config
from .config_toml import to_toml
from .race.cli import add_race_command, add_race_push_arguments
from .report.command import add_report_command, run_report
from .speedrun.cli import add_livesplit_command, livesplit_overrides, run_livesplit_standalone

log = logging.getLogger("dxbus")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="PATH",
                        help="TOML config file (default: ./dxbus.toml if it exists)")
    parser.add_argument("--http-port", type=int, metavar="N", help="HTTP port (default 8080)")
    parser.add_argument("--ws-port", type=int, metavar="N", help="WebSocket port (default 9091)")
    parser.add_argument("--tcp-port", type=int, metavar="N", help="TCP timer port (default 9090)")
    parser.add_argument("--bind", metavar="ADDR", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--export-dir", metavar="DIR", help="NDJSON export folder (default DataExport)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_obs_arguments(parser)


def _add_overlays(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overlays", type=Path, metavar="DIR",
                        help="a folder of your own overlays (NAME.html.j2 + NAME.toml, assets in "
                        "DIR/static); one named like a built-in replaces it")


def make_parser() -> argparse.ArgumentParser:
    """The argument parser; every command and option documents itself in --help."""
    parser = argparse.ArgumentParser(
        prog="dxbus",
        description="data-export-bus: the Data Export Bus for Hollow Knight: Silksong, "
        "with overlays, alerts, OBS control and speedrun timing.",
    )
    parser.add_argument("--version", action="version", version=f"dxbus {__version__}")
    # Not required: a bare `dxbus` prints this help instead of a usage error.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the bus (ingest only, or from --tail/--relay)",
                                description="Run the bus. Events arrive by POST /api/events, "
                                "or from the sources given as options.")
    _add_common(serve)
    _add_overlays(serve)
    serve.add_argument("--record", type=Path, metavar="FILE",
                       help="append every event to FILE as NDJSON (replay it with `dxbus replay FILE`)")
    serve.add_argument("--tail", type=Path, metavar="DIR",
                       help="follow the newest metrics_*.ndjson the game writes in DIR")
    serve.add_argument("--relay", metavar="URL",
                       help="relay the original mod's WebSocket, e.g. ws://localhost:9091")
    add_race_push_arguments(serve)

    demo = commands.add_parser("demo", help="run the bus fed by the Silksong simulator",
                               description="Run the bus fed by a simulator of real Silksong play, "
                               "and print the URLs of the dashboard and overlays.")
    _add_common(demo)
    _add_overlays(demo)
    demo.add_argument("--seed", type=int, help="simulator seed, to reproduce a run")
    demo.add_argument("--speed", type=float, default=1.0, help="time compression (default 1)")
    demo.add_argument("--record", type=Path, metavar="FILE", help="append every event to FILE as NDJSON")
    add_race_push_arguments(demo)

    replay = commands.add_parser(
        "replay", help="run the bus fed by NDJSON recordings",
        description="Run the bus and play recordings into it with their original spacing: files from "
        "--record, the bus's export files, or the original mod's DataExport files. "
        "Control it while it runs: GET /api/replay, POST /api/replay/{pause,resume,seek,speed,step}.")
    _add_common(replay)
    _add_overlays(replay)
    replay.add_argument("files", type=Path, nargs="+", metavar="FILE", help="recordings, played in order")
    replay.add_argument("--speed", type=float, default=1.0,
                        help="playback speed, e.g. 0.5, 1, 2, 10 (default 1)")
    replay.add_argument("--loop", action="store_true", help="start over at the end (from --from)")
    replay.add_argument("--from", dest="start_from", metavar="SEQ|TIME|SCENE",
                        help="start at a recorded Seq (120), a time (90s, 1:30) or a scene (Bone_05)")
    replay.add_argument("--pause", action="store_true", help="start paused (step with POST /api/replay/step)")
    add_obs_command(commands)
    add_livesplit_command(commands, _add_common)
    add_report_command(commands)
    add_overlay_command(commands)
    add_race_command(commands, _add_common)
    add_doctor_command(commands, _add_common)

    config = commands.add_parser(
        "config", help="check a config file and print the effective configuration",
        description="Validate the config file (./dxbus.toml or --config) with the command-line "
        "overrides, and print every section and key as TOML with its allowed range. "
        "Exit status 2 and a message naming the key when a value is wrong.")
    _add_common(config)
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """Load the config file and apply command-line overrides."""
    path: Path | None = args.config
    if path is None and Path("dxbus.toml").exists():
        path = Path("dxbus.toml")
    overrides: dict[str, dict[str, Any]] = {}

    def put(section: str, key: str, value: Any) -> None:
        if value is not None:
            overrides.setdefault(section, {})[key] = value

    put("HTTP", "Port", args.http_port)
    put("HTTP", "BindAddress", args.bind)
    put("WebSocket", "Port", args.ws_port)
    put("TCP", "Port", args.tcp_port)
    put("FileExport", "Directory", args.export_dir)
    if args.command == "replay":
        # A rehearsal must not land among the real exports (its state stays in memory: build_bus).
        put("FileExport", "Directory", args.export_dir or str(Path("DataExport") / "replay"))
    for key, value in obs_overrides(args).items():
        put("OBS", key, value)
    for key, value in livesplit_overrides(args).items():
        put("LiveSplit", key, value)
    return load_config(path, overrides)


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """The run options a command implies."""
    options = RunOptions()
    options.overlays_dir = getattr(args, "overlays", None)
    if args.command == "demo":
        options.simulate = True
        options.seed = args.seed
        options.speed = args.speed
    if args.command == "replay":
        options.replay = list(args.files)
        options.speed = args.speed
        options.replay_loop = args.loop
        options.replay_from = args.start_from
        options.replay_paused = args.pause
    options.record = getattr(args, "record", None)
    options.tail = getattr(args, "tail", None)
    options.relay = getattr(args, "relay", None)
    if args.command == "race":  # `dxbus race RACES.toml`: this bus is a race hub
        options.races = args.races
        options.race_redis = args.redis
    options.race = getattr(args, "race", None)  # `--race URL`: this bus pushes to a race hub
    options.runner = getattr(args, "runner", None)
    options.token = getattr(args, "token", None)
    return options


def print_config(args: argparse.Namespace) -> int:
    """`dxbus config`: validate, then print the effective configuration."""
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"dxbus: configuration error\n{exc}", file=sys.stderr)
        return 2
    print(to_toml(config), end="")
    # Parts that leave a bad entry out instead of refusing to start still fail the check.
    for error in config.obs.rule_errors:
        print(f"dxbus: {error}", file=sys.stderr)
    return 2 if config.obs.rule_errors else 0


def running_bus_url(config: Config, timeout: float = 1.0) -> str | None:
    """The dashboard URL of a dxbus already serving on the configured HTTP port, else None.

    Asks its `/api/status` (with the configured token): only a dxbus answers with an `instance_id`.
    """
    host = config.http.bind_address
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost", "") else host
    url = f"http://{host}:{config.http.port}/"
    request = urllib.request.Request(url + "api/status")
    if config.security.auth_token:
        request.add_header("Authorization", f"Bearer {config.security.auth_token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            body = json.loads(reply.read())
    except (OSError, ValueError):
        return None
    return url if isinstance(body, dict) and "instance_id" in body else None


def saved_files(config: Config, options: RunOptions, base_dir: Path, since: float) -> list[str]:
    """What this run left on disk (written since `since`, epoch seconds), one phrase each."""
    def path(configured: str | Path) -> Path:
        p = Path(configured).expanduser()
        return p if p.is_absolute() else base_dir / p

    def written(p: Path) -> bool:
        try:
            return p.stat().st_mtime >= since - 1  # coarse file-system clocks
        except OSError:
            return False

    out = []
    state = path(config.state.file)
    if config.state.file and written(state):  # "" = kept in memory (replays)
        out.append(f"session counters (deaths, boss attempts) in {state}")
    if config.timer.enabled and config.timer.bests_file and written(bests := path(config.timer.bests_file)):
        out.append(f"splits and best segments in {bests}")
    if config.file_export.enable_file_export:
        export = path(config.file_export.directory)
        files = [f for f in export.glob("*.ndjson") if written(f)] if export.is_dir() else []
        if files:
            out.append(f"events in {len(files)} export file{'s' if len(files) > 1 else ''} in {export}")
    if options.record is not None and written(record := path(options.record)):
        out.append(f"the recording {record}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `dxbus` console script."""
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if args.command == "obs":
        return run_obs_command(args)
    if args.command == "report":
        return run_report(args)
    if args.command == "overlay":
        return run_overlay_command(args)
    if args.command == "config":
        return print_config(args)
    if args.command == "doctor":
        try:
            return run_doctor(config_from_args(args), fix=args.fix, as_json=args.json)
        except ConfigError as exc:
            print(f"dxbus: configuration error\n{exc}", file=sys.stderr)
            return 2
    try:
        config = config_from_args(args)
        if getattr(args, "bus", None):  # `dxbus livesplit --bus HOST:PORT`: only the bridge
            return run_livesplit_standalone(args, config)
        # Building checks what needs the file system too (e.g. alert sound files).
        options = options_from_args(args)
        bus = build_bus(config, options)
    except ConfigError as exc:
        print(f"dxbus: configuration error\n{exc}", file=sys.stderr)
        return 2
    started = time.time()
    try:
        asyncio.run(bus.run_forever())
    except KeyboardInterrupt:
        pass  # Ctrl+C: asyncio.run cancelled run_forever, which stopped every service
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE and (url := running_bus_url(config)) is not None:
            print(f"dxbus is already running at {url} (stop it first, or start this one with other "
                  "ports: --http-port, --ws-port, --tcp-port)", file=sys.stderr)
        else:
            print(f"dxbus: {exc}", file=sys.stderr)
        return 1
    # The services have stopped (and flushed) by now: say what is on disk.
    saved = saved_files(bus.config, options, bus.base_dir, started)  # a demo's own files
    print("dxbus stopped; " + ("saved " + "; ".join(saved) if saved else "nothing was saved") + ".",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
