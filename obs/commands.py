"""Command-line parts of OBS control: `--obs-url`, `--obs-password`, `--dry-run`, `dxbus obs explain`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dxbus.config import ConfigError, load_config

from .scene_rules import RuleSet, compile_rules

PASSWORD_ENV = "DXBUS_OBS_PASSWORD"


def add_obs_arguments(parser: argparse.ArgumentParser) -> None:
    """The OBS options shared by `serve` and `demo`."""
    group = parser.add_argument_group("OBS scene control ([OBS] in the config)")
    group.add_argument("--obs-url", metavar="URL", type=parse_obs_url,
                       help="obs-websocket address, e.g. ws://127.0.0.1:4455 (turns OBS control on)")
    group.add_argument("--obs-password", metavar="PW",
                       help=f"obs-websocket password (or set {PASSWORD_ENV}, which stays out of `ps`)")
    group.add_argument("--dry-run", action="store_true",
                       help="run the OBS scene rules and log what they would do, without touching OBS")


def add_obs_command(commands: Any) -> None:
    """`dxbus obs explain ROOM`."""
    obs = commands.add_parser("obs", help="OBS scene rules: explain which rule fires for a room",
                              description="Inspect the [OBS] scene rules of the config.")
    obs.add_argument("--config", type=Path, metavar="PATH",
                     help="TOML config file (default: ./dxbus.toml if it exists)")
    sub = obs.add_subparsers(dest="obs_command", metavar="SUBCOMMAND", required=True)
    explain = sub.add_parser("explain", help="print which rule would fire when the player enters ROOM",
                             description="Go through the [OBS] rules in order for a room name and say "
                             "which one matches first (and would switch the scene), and why the others "
                             "do not. OBS is not contacted.")
    explain.add_argument("room", metavar="ROOM", help="a room (Unity scene) name, e.g. Bone_05")
    # Also after the subcommand (`dxbus obs explain ROOM --config my.toml`); SUPPRESS keeps a value
    # given before it (`dxbus obs --config my.toml explain ROOM`).
    explain.add_argument("--config", type=Path, metavar="PATH", default=argparse.SUPPRESS,
                         help="TOML config file (default: ./dxbus.toml if it exists)")


def parse_obs_url(value: str) -> tuple[str, int]:
    """`ws://host:port`, `host:port` or `host` -> (host, port); port defaults to 4455."""
    text = value if "//" in value else f"ws://{value}"
    try:
        parts = urlsplit(text)
        port = parts.port or 4455
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a ws://host:port address: {value!r} ({exc})") from None
    if parts.scheme not in ("ws", "") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not a ws://host:port address: {value!r}")
    return parts.hostname, port


def obs_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """`[OBS]` config overrides implied by the command line (and the password variable)."""
    out: dict[str, Any] = {}
    url = getattr(args, "obs_url", None)
    if url is not None:
        out.update(Enabled=True, Host=url[0], Port=url[1])
    password = getattr(args, "obs_password", None) or os.environ.get(PASSWORD_ENV)
    if password:
        out["Password"] = password
    if getattr(args, "dry_run", False):
        out["DryRun"] = True
    return out


def run_obs_command(args: argparse.Namespace) -> int:
    """Run `dxbus obs SUBCOMMAND` (only `explain` so far); returns the exit code."""
    path: Path | None = args.config
    if path is None and Path("dxbus.toml").exists():
        path = Path("dxbus.toml")
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"dxbus: configuration error\n{exc}", file=sys.stderr)
        return 2
    for error in config.obs.rule_errors:
        print(f"dxbus: {error}", file=sys.stderr)
    rules = RuleSet(compile_rules(config.obs), config.obs.menu_rooms)
    print(f"[OBS] rules from {path or 'the defaults (no config file)'}")
    for line in rules.explain(args.room):
        print(line)
    return 2 if config.obs.rule_errors else 0
