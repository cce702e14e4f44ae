"""The recorder and the file/relay sources as parts of `build_bus`, from the run options."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import ConfigError
from ..parts import Part
from ..recorder import Recorder
from .relay import RelaySource
from .replay import ReplaySource, install_routes
from .tail import TailSource

if TYPE_CHECKING:
    from ..assemble import RunOptions
    from ..bus import Bus


def recorder_part(bus: Bus, options: RunOptions) -> Part:
    """`--record FILE`: plugged with the sinks, so it sees every event from the first one."""
    if options.record is None:
        return Part("recorder")
    recorder = Recorder(bus, bus.path(str(options.record)))
    return Part("recorder", services=[recorder], listeners=[recorder.on_event],
                status={"recorder": recorder.status})


def sources_part(bus: Bus, options: RunOptions) -> Part:
    """`dxbus replay FILE...`, `--tail DIR`, `--relay URL`: plugged after the ports."""
    part = Part("sources")
    if options.replay:
        try:
            replay = ReplaySource(
                bus, [bus.path(str(f)) for f in options.replay], speed=options.speed,
                loop=options.replay_loop, start_from=options.replay_from, paused=options.replay_paused,
            )
        except ValueError as exc:  # a bad --speed or --from: worded for the command line
            raise ConfigError(f"replay: {exc}") from None
        part = part.plus(Part("replay", services=[replay], routes=[install_routes(replay)],
                                status={"replay": replay.status}))
    if options.tail is not None:
        tail = TailSource(bus, bus.path(str(options.tail)))
        part = part.plus(Part("tail", services=[tail], status={"tail": tail.status}))
    if options.relay:
        relay = RelaySource(bus, options.relay)
        part = part.plus(Part("relay", services=[relay], status={"relay": relay.status}))
    return part

