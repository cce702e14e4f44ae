"""The race part of `build_bus`: the hub's races (`dxbus race`) or a runner's pusher (`--race URL`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config_base import ConfigError
from ..parts import Part
from .hub import race_hub_part
from .push import race_push_part
from .settings import RaceSettingsError, load_races
from .store import MemoryStore, RaceStore

if TYPE_CHECKING:
    from ..assemble import RunOptions
    from ..bus import Bus


def race_part(bus: Bus, options: RunOptions) -> Part:
    """The race hub for `options.races`, or the pusher for `options.race`; raises ConfigError."""
    try:
        if options.races is not None:
            races, routes = load_races(options.races)
            store: RaceStore = options.race_store or MemoryStore()
            if options.race_redis:
                from .store import RedisStore
                store = RedisStore(options.race_redis)
            return race_hub_part(bus, races, routes, store)[0]
        if options.race:
            return race_push_part(bus, options.race, options.runner, options.token)
    except (RaceSettingsError, ValueError, ImportError) as exc:
        raise ConfigError(str(exc)) from None
    return Part("race")


__all__ = ["race_part"]
