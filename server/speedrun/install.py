"""The speedrun part of `build_bus`: split rules, segments, practice, the LiveSplit bridge."""

from __future__ import annotations

from ..bus import Bus
from ..config import ConfigError
from ..parts import Part
from ..state_view import speedrun_sections
from .api import install_routes
from .livesplit import LiveSplitBridge
from .practice import PracticeTracker
from .route import RouteError
from .segments import SegmentBook
from .timer_service import TimerService


def speedrun_part(bus: Bus) -> Part:
    """The split rules (`[Timer]`) and the LiveSplit bridge (`[LiveSplit]`).

    Raises `ConfigError` (naming the route file, split and key) when the route cannot be used.
    """
    part = Part("speedrun")
    timer = bus.config.timer
    if timer.enabled:
        try:
            route = timer.build_route(bus.base_dir)
        except RouteError as exc:
            raise ConfigError(str(exc)) from None
        book = SegmentBook(route, bus.path(timer.bests_file) if timer.bests_file else None)
        practice = PracticeTracker()
        if timer.practice_boss:
            practice.set_target("boss", timer.practice_boss)
        elif timer.practice_room:
            practice.set_target("room", timer.practice_room)
        service = TimerService(bus, route, book, practice)
        part = Part("speedrun", services=[service], listeners=[service.on_event],
                    fact_listeners=[service.on_fact], routes=[install_routes(service)],
                    status={"timer": service.status})
        if bus.state_channel is not None:  # segments and practice are part of the overlays' state
            bus.state_channel.sections.update(speedrun_sections(service))
    settings = bus.config.live_split
    if not settings.enabled:
        off = {"enabled": False, "state": "disabled"}
        return part.plus(Part("livesplit", status={"livesplit": lambda: off}))
    bridge = LiveSplitBridge(settings, bus.clock)
    return part.plus(Part("livesplit", services=[bridge], listeners=[bridge.listener],
                          status={"livesplit": bridge.status}))
