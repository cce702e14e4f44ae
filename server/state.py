"""Session state: the model (`state_model.py`) and its store (`state_store.py`), wired into a bus.

`install_state(bus)` builds `bus.state` on the bus's one fact stream (`bus.facts`, made here if the
bus has none yet) and registers the `StateStore` that persists its counters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .facts import install_facts
from .state_model import STATE_FILE_VERSION, BossRecord, SessionState, session_on_hub
from .state_store import StateStore
from .world import load_world

if TYPE_CHECKING:
    from .bus import Bus


def install_state(bus: Bus) -> SessionState:
    """Create `bus.state` following `bus.facts` and register its store (first in start order)."""
    stream = bus.facts if bus.facts is not None else install_facts(bus)
    state = SessionState(bus.clock, load_world(), stream.deriver)
    bus.state = state
    state.follow(bus.hub, stream)
    section = bus.config.state
    if not section.file:  # a replay (see assemble.keep_apart): in memory, the real history untouched
        bus.status_providers["state"] = lambda: {"file": None, "in_memory": True}
        return state
    store = StateStore(state, bus.path(section.file), section.save_interval_seconds, bus.clock)
    bus.add(store)
    bus.status_providers["state"] = store.status
    return state


__all__ = ["STATE_FILE_VERSION", "BossRecord", "SessionState", "StateStore", "install_state",
           "session_on_hub"]
