"""The preview sandbox: `bus.test_state`, a second session state fed only by test events.

The gallery's "Send test events" buttons and `POST /api/alerts/test` publish test-origin events. The
hub keeps them out of its history (no Seq, ring, export or listeners), so the real `bus.state`, the
persisted counters, boss records, split bests, text files, OBS and LiveSplit never see them. Previews
that want a state to render (a state channel for `?preview=1` pages) read this one instead. It lives in
memory only and starts empty with every bus.
"""

from __future__ import annotations

from typing import cast

from .clock import Clock
from .config import Config
from .facts import FactDeriver, FactListener, FactStream
from .hub import Hub, Listener
from .state_model import SessionState
from .world import World


class _TestSide:
    """The hub's test-event side, shaped like the hub for `FactStream` and `SessionState.follow`."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def add_listener(self, listener: Listener | FactListener) -> None:
        self._hub.add_test_listener(cast(Listener, listener))


def sandbox_state(hub: Hub, clock: Clock, config: Config, world: World) -> tuple[SessionState, FactStream]:
    """`bus.test_state` and its fact stream (a service: its timer settles a test kill), fed every test
    event and never written to disk."""
    # Its own deriver: a test fight or kill never touches the real one's room or fight.
    deriver = FactDeriver(clock, config.facts.kill_pairing_seconds, world)
    side = cast(Hub, _TestSide(hub))
    stream = FactStream(side, deriver, name="test-facts")
    state = SessionState(clock, world, deriver)
    state.follow(side, stream)
    return state, stream


__all__ = ["sandbox_state"]
