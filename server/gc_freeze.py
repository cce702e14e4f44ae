"""Keep the objects that live for the whole run out of the garbage collector's full passes.

A full collection walks every tracked object; on a started bus that is tens of thousands (world data,
templates, config, the web apps) and took about 44 ms of CPU per pass, which showed up as the p99 of
the WebSocket stream at 1,000 events/s (`bench/ws_broadcast.py`). Frozen, a pass walks only what came
later, mostly the ring buffer: about 8 ms.
"""

from __future__ import annotations

import gc


class FreezeStartup:
    """Service registered last (after every port and source has started): `gc.freeze()` what exists."""

    name = "gc-freeze"

    async def start(self) -> None:
        """Collect start-up garbage first, so only live objects are frozen."""
        gc.collect()
        gc.freeze()

    async def stop(self) -> None:
        """Let everything be collected again."""
        gc.unfreeze()


__all__ = ["FreezeStartup"]
