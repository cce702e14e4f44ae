"""The preview sandbox: `bus.test_state`, a second session state fed only by test events.

The gallery's "Send test events" buttons and `POST /api/alerts/test` publish test-origin events. The
hub keeps them out of its history (no Seq, ring, export or listeners), so the real `bus.state`, the
persisted counters, boss records, split bests, text files, OBS and LiveSplit never see them. Previews
that want a state to render (a state channel for `?preview=1` pages) read this one instead. It lives in
memory only and starts empty with every bus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from .facts import FactDeriver, FactListener, FactStream
from .hub import Hub, Listener
from .state import SessionState
from .world import load_world

if TYPE_CHECKING:
    from .bus import Bus


class _TestSide:
    """The hub's test-event side, shaped like the hub for `FactStream` and `SessionState.follow`."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def add_listener(self, listener: Listener | FactListener) -> None:
        self._hub.add_test_listener(cast(Listener, listener))


def install_test_state(bus: Bus) -> SessionState:
    """Create `bus.test_state` and feed it every test event (never written to disk)."""
    world = bus.state.world if bus.state is not None else load_world()
    # Its own deriver: a test fight or kill never touches the real one's room or fight.
    deriver = FactDeriver(bus.clock, bus.config.facts.kill_pairing_seconds, world)
    side = cast(Hub, _TestSide(bus.hub))
    stream = FactStream(side, deriver, name="test-facts")
    state = SessionState(bus.clock, world, deriver)
    state.follow(side, stream)
    bus.test_state = state
    bus.add(stream)  # its timer settles a test kill when the pairing window ends
    return state


__all__ = ["install_test_state"]
