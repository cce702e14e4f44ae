"""Wiring the speedrun part into `build_bus`."""

from __future__ import annotations

from ..bus import Bus
from ..config import ConfigError
from ..state_view import speedrun_sections
from .api import install_routes
from .livesplit import LiveSplitBridge
from .practice import PracticeTracker
from .route import RouteError
from .segments import SegmentBook
from .timer_service import TimerService


def install_speedrun(bus: Bus) -> TimerService | None:
    """Register the split rules (`[Timer]`) and the LiveSplit bridge (`[LiveSplit]`).

    Raises `ConfigError` (naming the route file, split and key) when the route cannot be used.
    """
    service = None
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
        bus.add(service)
        bus.route_installers.append(install_routes(service))
        bus.status_providers["timer"] = service.status
        if bus.state_channel is not None:  # segments and practice are part of the overlays' state
            bus.state_channel.sections.update(speedrun_sections(service))
    settings = bus.config.live_split
    if settings.enabled:
        bridge = LiveSplitBridge(settings, bus.clock)
        bus.hub.add_listener(bridge.listener)
        bus.add(bridge)
        bus.status_providers["livesplit"] = bridge.status
    else:
        bus.status_providers["livesplit"] = lambda: {"enabled": False, "state": "disabled"}
    return service
