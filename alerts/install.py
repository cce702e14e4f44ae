"""The alert engine as a part of `build_bus`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dxbus.parts import Part

from .routes import install_routes
from .service import AlertService

if TYPE_CHECKING:
    from dxbus.bus import Bus


def alerts_part(bus: Bus) -> tuple[Part, AlertService]:
    """The alert service (raises ConfigError for a missing sound), its listeners and routes."""
    service = AlertService(bus)
    on = service.config.enabled  # off: no detector or rule runs; tests can still be fired by hand
    part = Part("alerts", services=[service], listeners=[service.on_event] if on else [],
                fact_listeners=[service.on_fact] if on else [], routes=[install_routes(service)],
                status={"alerts": service.summary})
    return part, service
