"""Registering the recorder and the file/relay sources in `build_bus`, from the run options."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import ConfigError
from ..recorder import Recorder
from .relay import RelaySource
from .replay import ReplaySource, install_routes
from .tail import TailSource

if TYPE_CHECKING:
    from ..assemble import RunOptions
    from ..bus import Bus


def install_recorder(bus: Bus, options: RunOptions) -> Recorder | None:
    """`--record FILE`: registered with the sinks, so it sees every event from the first one."""
    if options.record is None:
        return None
    recorder = Recorder(bus, bus.path(str(options.record)))
    bus.add(recorder)
    return recorder


def install_sources(bus: Bus, options: RunOptions) -> None:
    """`dxbus replay FILE...`, `--tail DIR`, `--relay URL`: registered after the ports."""
    if options.replay:
        try:
            replay = ReplaySource(
                bus, [bus.path(str(f)) for f in options.replay], speed=options.speed,
                loop=options.replay_loop, start_from=options.replay_from, paused=options.replay_paused,
            )
        except ValueError as exc:  # a bad --speed or --from: worded for the command line
            raise ConfigError(f"replay: {exc}") from None
        bus.add(replay)
        bus.route_installers.append(install_routes(replay))
    if options.tail is not None:
        bus.add(TailSource(bus, bus.path(str(options.tail))))
    if options.relay:
        bus.add(RelaySource(bus, options.relay))
