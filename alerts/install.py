"""Wiring the alert engine into a bus (called from `build_bus`)."""

from __future__ import annotations

from typing import Any

from .routes import install_routes
from .service import AlertService


def install_alerts(bus: Any) -> AlertService:
    """Build the alert service (raises ConfigError for a missing sound), register it and its routes."""
    service = AlertService(bus)
    bus.add(service)
    bus.route_installers.append(install_routes(service))
    bus.status_providers["alerts"] = service.summary
    bus.alerts = service
    return service
