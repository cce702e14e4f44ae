"""Persistence of the session's counters (`SessionState.persistent()`) in a small JSON file.

Counters that matter across streams (total deaths, per-boss attempts/defeats/best, death locations)
are written when they change (throttled to `[State] SaveIntervalSeconds`) and on stop, atomically.
Fast state (HP, position) is never written.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from pathlib import Path
from typing import Any

import orjson

from .atomic import atomic_write
from .clock import Clock
from .os_errors import describe_os_error
from .outage import Outage
from .state_model import SessionState
from .tasks import cancel_and_wait

# Log lines keep the name people know from earlier versions.
log = logging.getLogger("dxbus.state")


class StateStore:
    """Service: loads the state file at start, saves it on change (throttled) and at stop."""

    name = "state"

    def __init__(self, state: SessionState, path: Path, interval: float, clock: Clock) -> None:
        self.state = state
        self.path = path
        self.interval = interval
        self.clock = clock
        self.saved_revision = 0
        self.saves = 0
        self.last_error: str | None = None
        self._outage = Outage(log)
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        # A save running in a worker thread and the final save at stop must not share the temp file.
        self._lock = threading.Lock()

    async def start(self) -> None:
        """Load the persisted counters, then start the throttled writer."""
        self.load()
        self.saved_revision = self.state.revision
        self._started = self.clock.monotonic()
        self._task = asyncio.create_task(self._run(), name="state-store")

    async def stop(self) -> None:
        """Stop the writer and save whatever changed."""
        await cancel_and_wait(self._task)
        self._task = None
        if self.state.revision != self.saved_revision:
            self.save()

    def load(self) -> None:
        """Read the state file; a missing file is a first run, a bad one is kept as `.bad`."""
        try:
            raw = self.path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return  # first run (a bad folder shows up, once, when saving)
        except OSError as exc:
            log.error("state file %s cannot be read (%s); starting counters from zero",
                      self.path, describe_os_error(exc))
            return
        try:
            self.state.restore(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
            bad = self.path.with_name(self.path.name + ".bad")
            try:
                shutil.copyfile(self.path, bad)
                kept = f"kept a copy as {bad}"
            except OSError as copy_exc:
                kept = f"could not keep a copy ({copy_exc})"
            log.error("state file %s is corrupt (%s); starting counters from zero, %s",
                      self.path, exc, kept)

    def save(self) -> bool:
        """Write the counters now (on the loop thread); False (logged once) on failure."""
        return self._write(self.state.revision, self._body())

    def _body(self) -> bytes:
        # Serialized on the loop thread: the listener mutates these dicts there.
        return orjson.dumps(self.state.persistent(), option=orjson.OPT_INDENT_2)

    def _write(self, revision: int, body: bytes) -> bool:
        """Atomic, durable write (safe to run in a worker thread)."""
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(self.path, body, durable=True)  # the user cannot recreate these counters
            except OSError as exc:
                message = describe_os_error(exc)
                self._outage.failed(f"state file {self.path} cannot be written ({message})",
                                    level=logging.ERROR, detail="will retry")
                self.last_error = message
                return False
            self._outage.recovered(f"state file {self.path} written again")
            self.last_error = None
            self.saved_revision = max(self.saved_revision, revision)
            self.saves += 1
            return True

    async def _run(self) -> None:
        # Throttle: at most one write per interval, and only when a counter changed. Deadlines are
        # counted from start(), so a task that first runs late does not shift the schedule.
        due = self._started + self.interval
        while True:
            await self.clock.sleep(due - self.clock.monotonic())
            due = max(due + self.interval, self.clock.monotonic())
            if self.state.revision != self.saved_revision:
                # The file is tiny, but a slow disk must never stall the event loop.
                await asyncio.to_thread(self._write, self.state.revision, self._body())

    def status(self) -> dict[str, Any]:
        """For `/api/status`."""
        return {"file": str(self.path), "saves": self.saves, "error": self.last_error,
                "pending": self.state.revision != self.saved_revision}


__all__ = ["StateStore"]
