"""`--record FILE`: write every event the bus publishes, exactly as sent on the wire, one per line.

The lines are the events' `raw` bytes (the same bytes every socket gets), UTF-8, LF, no BOM, so
`dxbus replay FILE` plays the session back. An existing file is appended to, never overwritten
(a replay of it then plays both sessions one after the other). Writes are batched: the listener
only appends to a buffer; the buffer goes to disk every `flush_seconds` and at stop.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .events import Event
from .outage import Outage
from .tasks import cancel_and_wait

if TYPE_CHECKING:
    from .bus import Bus

log = logging.getLogger(__name__)


class Recorder:
    """A service that appends every published event to an NDJSON file."""

    name = "recorder"

    def __init__(self, bus: Bus, path: Path, flush_seconds: float = 0.5) -> None:
        self.bus = bus
        self.path = Path(path)
        self.flush_seconds = flush_seconds
        self.events = 0
        self.bytes = 0
        self.last_error: str | None = None
        self._buffer: list[bytes] = []
        self._file: BinaryIO | None = None
        self._task: asyncio.Task[None] | None = None
        self._outage = Outage(log)

    async def start(self) -> None:
        """Open the file (creating its folder) and start writing what the listener buffers."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")
        self._task = asyncio.get_running_loop().create_task(self._flusher(), name="recorder")
        log.info("recording every event to %s", self.path)

    async def stop(self) -> None:
        """Write what is buffered and close the file (later events are not recorded)."""
        await cancel_and_wait(self._task)
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None
        log.info("recording closed: %d events in %s", self.events, self.path)

    def on_event(self, event: Event) -> None:
        """Hub listener: buffer the event's wire bytes (written by the flusher and at stop)."""
        self._buffer.append(event.raw)
        self._buffer.append(b"\n")
        self.events += 1

    def flush(self) -> None:
        """Write the buffered lines now."""
        if not self._buffer or self._file is None:
            return
        chunk = b"".join(self._buffer)
        self._buffer.clear()
        try:
            self._file.write(chunk)
            self._file.flush()
            self.bytes += len(chunk)
        except OSError as exc:
            # A full disk must not stop the bus; say so once per outage and keep serving.
            self.last_error = str(exc)
            self._outage.failed(f"recording to {self.path} failed: {exc}", level=logging.ERROR,
                                detail="those events are not in the recording")
        else:
            self._outage.recovered(f"recording to {self.path} again")

    async def _flusher(self) -> None:
        while True:
            await self.bus.clock.sleep(self.flush_seconds)
            self.flush()

    def status(self) -> dict[str, Any]:
        """What `/api/status` reports under `recorder`."""
        return {"file": str(self.path), "events": self.events, "bytes": self.bytes,
                "last_error": self.last_error}
