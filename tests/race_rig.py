"""The race tests' rig: three simulated runner buses (127.0.0.2, .3, .4), a race hub, ground truth.

Every bus shares one `ManualClock`, so a whole race runs in a few seconds of real time with no
timer slept for. Each runner bus also runs the race's route on its own timer (`[Timer] Route`): its
split engine's splits are the ground truth the hub's standings are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import bus_overrides
from waiting import wait_until

from dxbus.assemble import RunOptions, build_bus
from dxbus.bus import Bus
from dxbus.clock import ManualClock
from dxbus.config import load_config
from dxbus.race.hub import RaceService
from dxbus.race.store import RaceStore
from dxbus.speedrun.timer_service import TimerService

# Seeds whose simulated Hornet reaches both splits within ~80 game seconds, close together.
SEEDS = {"Hornet123": 1, "Silkweaver_of_the_Far_Fields": 2, "Moss Knight": 5}
ADDRESSES = {"Hornet123": "127.0.0.2", "Silkweaver_of_the_Far_Fields": "127.0.0.3",
             "Moss Knight": "127.0.0.4"}
ROUTE = """
name = "Race test route"
game_time = true
[start]
new_game = true
[[splits]]
name = "Moss Mother"
boss = "Moss Mother"
[[splits]]
name = "Enter Bone Bottom"
enter = "Bonetown"
"""
TOKENS = {name: f"token-{i}-0123456789" for i, name in enumerate(SEEDS)}


def write_race_file(folder: Path, pull: dict[str, str] | None = None, stale_after: float = 10) -> Path:
    """races.toml with the test route; runners pull from `pull[name]` or push with TOKENS."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "route.toml").write_text(ROUTE)
    lines = ['[[race]]', 'id = "test"', 'name = "Test race"', 'route = "route.toml"',
             f'stale_after = {stale_after}']
    for name in SEEDS:
        lines.append("[[race.runner]]")
        lines.append(f'name = "{name}"')
        if pull is not None:
            lines.append(f'pull = "{pull[name]}"')
        else:
            lines.append(f'token = "{TOKENS[name]}"')
    path = folder / "races.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Rig:
    """The buses of one race test; `stop()` stops all of them."""

    tmp: Path
    clock: ManualClock = field(default_factory=ManualClock)
    runners: dict[str, Bus] = field(default_factory=dict)
    started: list[Bus] = field(default_factory=list)

    async def runner(self, name: str, options: dict[str, Any] | None = None) -> Bus:
        """A simulated runner bus on its own loopback address; its timer runs the race route."""
        folder = self.tmp / f"runner-{SEEDS[name]}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "route.toml").write_text(ROUTE)
        overrides = bus_overrides(folder, {"HTTP": {"BindAddress": ADDRESSES[name]},
                                           "Timer": {"Route": str(folder / "route.toml")}})
        config = load_config(None, overrides)
        run = RunOptions(simulate=True, seed=SEEDS[name], speed=1.0, **(options or {}))
        bus = build_bus(config, run, clock=self.clock, base_dir=folder)
        await bus.start()
        self.runners[name] = bus
        self.started.append(bus)
        return bus

    async def hub(self, race_file: Path, store: RaceStore | None = None, folder: str = "hub",
                  overrides: dict[str, Any] | None = None) -> tuple[Bus, RaceService]:
        """A race hub bus (no sources) with the race file's races."""
        base = self.tmp / folder
        base.mkdir(parents=True, exist_ok=True)
        config = load_config(None, bus_overrides(base, overrides))
        run = RunOptions(races=race_file, race_store=store)
        bus = build_bus(config, run, clock=self.clock, base_dir=base)
        service = next(s for s in bus.services if isinstance(s, RaceService))
        await bus.start()
        self.started.append(bus)
        return bus, service

    async def stop(self) -> None:
        """Stop every bus, newest first."""
        for bus in reversed(self.started):
            if not bus.stopping:
                await bus.stop()


def truth(bus: Bus) -> list[tuple[str, float]]:
    """The runner bus's own timer splits: (name, game time)."""
    timer = next(s for s in bus.services if isinstance(s, TimerService))
    return [(s.name, s.game) for s in timer.engine.run.splits]


def finished(bus: Bus) -> bool:
    """The runner's own timer ended the route."""
    timer = next(s for s in bus.services if isinstance(s, TimerService))
    return timer.engine.phase == "ended"


async def caught_up(service: RaceService, runners: dict[str, Bus], names: list[str] | None = None) -> None:
    """Wait until the hub's race holds every runner's latest Seq (real sockets, no timer)."""
    lane = service.lanes["test"]

    async def done() -> bool:
        for name, bus in runners.items():
            if names is not None and name not in names:
                continue
            if lane.seen.get(name, 0) < bus.hub.seq:
                return False
        return lane.position == await service.store.last_id("test")

    await wait_until(done, timeout=30, what="the hub caught up with the runners")
