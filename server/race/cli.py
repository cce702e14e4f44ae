"""The race parts of the `dxbus` command: `dxbus race RACES.toml` (the hub) and
`dxbus serve|demo --race URL --runner NAME --token T` (a runner pushing to it)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def add_race_command(commands: argparse._SubParsersAction,
                     add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """`dxbus race RACES.toml [--redis URL]`."""
    race = commands.add_parser(
        "race", help="run a race hub: several runners' buses in one live race",
        description="Run a race hub for the races in RACES.toml (docs/race.md): runners push to it "
        "(dxbus serve --race URL --runner NAME --token T) or it pulls their buses; standings at "
        "/api/race, race overlays in the gallery, race_split / race_lead_change / race_finish events "
        "on this hub's bus. With --redis, several hub processes share the races.")
    add_common(race)
    race.add_argument("races", type=Path, metavar="RACES.toml", help="the race file (races, routes, runners)")
    race.add_argument("--redis", metavar="URL",
                      help="share the races with other hub processes through Redis Streams, "
                      "e.g. redis://127.0.0.1:6379/0 (needs the [race] extra)")


def add_race_push_arguments(parser: argparse.ArgumentParser) -> None:
    """`--race URL --runner NAME --token T` on `serve` and `demo`."""
    group = parser.add_argument_group("racing", "push this bus's events to a race hub (docs/race.md)")
    group.add_argument("--race", metavar="URL", help="the race on the hub, e.g. http://hub:8080/api/race/weekly")
    group.add_argument("--runner", metavar="NAME", help="your runner name in that race")
    group.add_argument("--token", metavar="T", help="your runner token (from the organiser)")


__all__ = ["add_race_command", "add_race_push_arguments"]
