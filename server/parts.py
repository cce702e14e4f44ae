"""The one contract between a part of the bus and `build_bus`: what the part contributes.

A part (the file export, the alerts, the OBS service, a port, a source...) is built by a function
`<name>_part(bus, ...) -> Part` that creates its objects and returns them here, without writing into
the bus. `build_bus` (assemble.py) plugs the parts in one stated order with `Bus.plug`, so that order
is, at once, the start order of their services (stopped in reverse), the order their hub and fact
listeners are called for each event, and the order their routes are added to the 8080 app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

if TYPE_CHECKING:
    from .bus import Bus
    from .facts import FactListener
    from .hub import Listener


class Service(Protocol):
    """Something the bus starts and stops: a port, a source, a sink."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# Adds a part's HTTP routes to the 8080 app (called when the HTTP port starts, in plug order).
RouteInstaller = Callable[[web.Application, "Bus"], None]
# Returns the JSON a part shows under its name in `/api/status`.
StatusProvider = Callable[[], Any]


@dataclass(frozen=True)
class Part:
    """What one part contributes to a bus; every field is optional."""

    name: str
    # Started with the bus in plug order, stopped in reverse.
    services: Sequence[Service] = ()
    # `fn(event)` for every event (hub listeners), after the bus's facts and session state.
    listeners: Sequence[Listener] = ()
    # `fn(event)` for every test event (gallery previews; they never reach `listeners`).
    test_listeners: Sequence[Listener] = ()
    # `fn(fact)` for every game fact (`bus.facts`), after the session state's.
    fact_listeners: Sequence[FactListener] = ()
    # HTTP routes on the 8080 app.
    routes: Sequence[RouteInstaller] = ()
    # `/api/status` entries by name.
    status: Mapping[str, StatusProvider] = field(default_factory=dict)

    def plus(self, other: Part) -> Part:
        """One part (named as this one) with both parts' contributions, this one's first."""
        return Part(self.name, services=[*self.services, *other.services],
                    listeners=[*self.listeners, *other.listeners],
                    test_listeners=[*self.test_listeners, *other.test_listeners],
                    fact_listeners=[*self.fact_listeners, *other.fact_listeners],
                    routes=[*self.routes, *other.routes], status={**self.status, **other.status})


__all__ = ["Part", "RouteInstaller", "Service", "StatusProvider"]
