"""Session state: the model (`state_model.py`) and its store (`state_store.py`).

The bus builds `bus.state` itself (bus.py); `state_part(bus)` is the part that persists its counters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .parts import Part
from .state_model import STATE_FILE_VERSION, BossRecord, SessionState, session_on_hub
from .state_store import StateStore

if TYPE_CHECKING:
    from .bus import Bus


def facts_part(bus: Bus) -> Part:
    """The timers of the bus's two fact streams (real and test): they settle a kill when its
    `[Facts] KillPairingSeconds` window ends."""
    return Part("facts", services=[bus.facts, bus.test_facts])


def state_part(bus: Bus) -> Part:
    """The store of `bus.state` (`[State] File`); a replay's state lives in memory only."""
    section = bus.config.state
    if not section.file:  # a replay (see assemble.keep_apart): in memory, the real history untouched
        return Part("state", status={"state": lambda: {"file": None, "in_memory": True}})
    store = StateStore(bus.state, bus.path(section.file), section.save_interval_seconds, bus.clock)
    return Part("state", services=[store], status={"state": store.status})


__all__ = ["STATE_FILE_VERSION", "BossRecord", "SessionState", "StateStore", "facts_part", "session_on_hub",
           "state_part"]
