"""The `dxbus livesplit` command: run the bus with the LiveSplit bridge, or bridge a running bus."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

from ..config import Config
from .livesplit import run_standalone


def add_livesplit_command(commands: Any, add_common: Any) -> None:
    """Add `dxbus livesplit` to the command parser (`add_common`: the bus's usual options)."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "livesplit", help="run the bus and drive LiveSplit Server from the split rules",
        description="Send the bus's timer commands (split rules and manual /api/livesplit routes) to "
        "LiveSplit's server: in LiveSplit use Control > Start TCP Server (port 16834). Without --bus "
        "this runs the bus with the bridge on (like `serve` with [LiveSplit] Enabled = true); its "
        "state is under `livesplit` in GET /api/status. With --bus it runs only the bridge, reading "
        "a running bus's timer port, e.g. on the PC where LiveSplit runs.")
    add_common(parser)
    parser.add_argument("--host", metavar="HOST",
                        help="LiveSplit Server address (default [LiveSplit] Host, 127.0.0.1)")
    parser.add_argument("--port", type=int, metavar="N",
                        help="LiveSplit Server port (default [LiveSplit] Port, 16834)")
    parser.add_argument("--start-or-split", action="store_true", default=None,
                        help="send `startorsplit` for splits, so the first split also starts the timer")
    parser.add_argument("--bus", metavar="HOST:PORT",
                        help="bridge a bus that is already running, reading its timer port (9090)")
    parser.add_argument("--token", metavar="TOKEN",
                        help="with --bus: the bus's [Security] AuthToken, if it has one")
    parser.add_argument("--tail", type=Path, metavar="DIR",
                        help="follow the newest metrics_*.ndjson the game writes in DIR")
    parser.add_argument("--relay", metavar="URL",
                        help="relay the original mod's WebSocket, e.g. ws://localhost:9091")


def livesplit_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """`[LiveSplit]` keys the command line sets (the `livesplit` command turns the bridge on)."""
    if getattr(args, "command", None) != "livesplit":
        return {}
    out: dict[str, Any] = {"Enabled": True}
    for key, value in (("Host", args.host), ("Port", args.port), ("StartOrSplit", args.start_or_split)):
        if value is not None:
            out[key] = value
    return out


def parse_address(text: str, default_port: int = 9090) -> tuple[str, int]:
    """`HOST:PORT`, `HOST` or `:PORT` -> (host, port); raises ValueError naming the problem."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(default_port)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--bus {text!r}: the port must be a number from 1 to 65535")
    return host or "127.0.0.1", int(port)


def run_livesplit_standalone(args: argparse.Namespace, config: Config) -> int:
    """`dxbus livesplit --bus HOST:PORT`: only the bridge, until Ctrl+C."""
    try:
        host, port = parse_address(args.bus)
    except ValueError as exc:
        print(f"dxbus: {exc}", file=sys.stderr)
        return 2
    token = args.token if args.token is not None else config.security.auth_token
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_standalone(config.live_split, host, port, token))
    return 0
