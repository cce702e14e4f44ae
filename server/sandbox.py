"""The preview sandbox: `bus.test_state`, a second session state fed only by test events.

The gallery's "Send test events" buttons and `POST /api/alerts/test` publish test-origin events. The
hub keeps them out of its history (no Seq, ring, export or listeners), so the real `bus.state`, the
persisted counters, boss records, split bests, text files, OBS and LiveSplit never see them. Previews
that want a state to render (a state channel for `?preview=1` pages) read this one instead. It lives in
memory only and starts empty with every bus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .state import SessionState

if TYPE_CHECKING:
    from .app import Bus


def install_test_state(bus: Bus) -> SessionState:
    """Create `bus.test_state` and feed it every test event (never written to disk)."""
    world = bus.state.world if bus.state is not None else None
    state = SessionState(bus.clock, world)
    bus.test_state = state
    bus.hub.add_test_listener(state.apply)
    return state


__all__ = ["install_test_state"]
