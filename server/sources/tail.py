"""`--tail DIR`: follow the newest `metrics_*.ndjson` in a folder as the game writes it.

- Waits for the folder if it does not exist yet (and again if it disappears).
- The file that is newest at start is followed from its end (old events are not re-published:
  alerts and scene switches would fire again); a file that appears later is read from its start.
- A partial last line waits in a buffer until its newline arrives.
- When a newer file appears (the original rotates by creating `metrics_<new time>.ndjson` and moving
  the old one to `archive/`), the old one is read to its end first, then the tail switches.
- A file that shrinks (truncated and rewritten) is read again from its start.
Lines are normalized from the original mod's format (`original_format`); an unreadable line is
reported as `file:line` and skipped.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from watchfiles import awatch

from ..events import EventError
from ..outage import Outage
from ..tasks import cancel_and_wait
from .ndjson_reader import BadLine, LineBuffer, decode_line
from .original_format import OriginalNormalizer

if TYPE_CHECKING:
    from ..bus import Bus

log = logging.getLogger(__name__)

PATTERN = "metrics_*.ndjson"
# The tail of a file examined at start to find where its last complete line ends.
_SCAN_BACK = 1 << 16


class _Followed:
    """One open file and how far it has been read."""

    def __init__(self, path: Path, handle: BinaryIO, position: int) -> None:
        self.path = path
        self.handle = handle
        self.position = position
        self.lines = LineBuffer(str(path))


class TailSource:
    """A service that publishes the lines the game appends to its newest export file."""

    name = "tail"

    def __init__(
        self,
        bus: Bus,
        directory: Path,
        pattern: str = PATTERN,
        poll_interval: float = 1.0,
        force_polling: bool | None = None,
    ) -> None:
        self.bus = bus
        self.directory = Path(directory)
        self.pattern = pattern
        self.poll_interval = poll_interval
        self.force_polling = force_polling
        self.state = "starting"
        self.events = 0
        self.bad_lines = 0
        self.rotations = 0
        self.last_error: str | None = None
        self._normalizer = OriginalNormalizer()
        self._current: _Followed | None = None
        self._first_look = True
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- service ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start following in the background (a missing folder is waited for, not an error)."""
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="tail")

    async def stop(self) -> None:
        """Stop watching and close the file."""
        self._stop.set()
        await cancel_and_wait(self._task)
        self._close()

    def status(self) -> dict[str, Any]:
        """What `/api/status` reports under `tail`."""
        return {
            "directory": str(self.directory),
            "state": self.state,
            "file": str(self._current.path) if self._current else None,
            "events": self.events,
            "bad_lines": self.bad_lines,
            "rotations": self.rotations,
            "last_error": self.last_error,
        }

    # -- the loop --------------------------------------------------------------------------------
    async def _run(self) -> None:
        outage = Outage(log)
        while not self._stop.is_set():
            try:
                if not self.directory.is_dir():
                    await self._wait_for_directory()
                    continue
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a flaky folder must not end the tail; look again shortly
                self.last_error = f"{type(exc).__name__}: {exc}"
                outage.failed(f"tail {self.directory}: {self.last_error}", detail="retrying")
                await self.bus.clock.sleep(self.poll_interval)

    async def _wait_for_directory(self) -> None:
        # Whatever appears in the folder from now on is new: read it from its start.
        self._first_look = False
        if self.state != "waiting_for_directory":
            log.info("tail: waiting for folder %s to appear", self.directory)
            self.state = "waiting_for_directory"
        await self.bus.clock.sleep(self.poll_interval)

    async def _watch(self) -> None:
        self.poll()
        timeout_ms = max(50, int(self.poll_interval * 1000))
        async for _changes in awatch(
            self.directory, stop_event=self._stop, debounce=50, step=20, rust_timeout=timeout_ms,
            yield_on_timeout=True, recursive=False, force_polling=self.force_polling,
            watch_filter=None,
        ):
            # Whatever changed, read what is new: cheap, and robust to missed notifications.
            self.poll()
            if not self.directory.is_dir():
                log.warning("tail: folder %s disappeared", self.directory)
                self._close()
                return

    # -- reading ---------------------------------------------------------------------------------
    def poll(self) -> None:
        """Read what was appended, switch to a newer file if one appeared."""
        newest = self._newest()
        first_look, self._first_look = self._first_look, False
        if self._current is None:
            if newest is None:
                if self.state != "waiting_for_file":
                    log.info("tail: waiting for %s in %s", self.pattern, self.directory)
                self.state = "waiting_for_file"
                return
            self._open(newest, from_end=first_look)
        elif newest is not None and newest != self._current.path:
            self._read_current(final=True)
            log.info("tail: %s rotated; now following %s", self._current.path.name, newest.name)
            self.rotations += 1
            self._close()
            self._open(newest, from_end=False)
        self._read_current(final=False)

    def _newest(self) -> Path | None:
        # Names carry the creation time (metrics_yyyyMMdd_HHmmss), so the name orders them.
        candidates = [p for p in self.directory.glob(self.pattern) if p.is_file()]
        return max(candidates, key=lambda p: p.name, default=None)

    def _open(self, path: Path, from_end: bool) -> None:
        handle = path.open("rb")
        position = _last_line_end(handle) if from_end else 0
        self._current = _Followed(path, handle, position)
        if position:
            # So skipped-line reports name the real line numbers of a file joined half-way.
            handle.seek(0)
            self._current.lines.line_number = _count_newlines(handle, position)
        handle.seek(position)
        self.state = "following"
        log.info("tail: following %s%s", path, " from its end" if from_end and position else "")

    def _close(self) -> None:
        if self._current is not None:
            self._current.handle.close()
            self._current = None

    def _read_current(self, final: bool) -> None:
        current = self._current
        if current is None:
            return
        size = os.fstat(current.handle.fileno()).st_size
        if size < current.position:
            log.warning("tail: %s shrank; reading it again from the start", current.path.name)
            current.handle.seek(0)
            current.position = 0
            current.lines = LineBuffer(str(current.path))
        chunk = current.handle.read()
        current.position += len(chunk)
        lines = current.lines.feed(chunk)
        if final:
            lines += current.lines.finish()
        for line, where in lines:
            self._publish_line(line, where)

    def _publish_line(self, line: bytes, where: str) -> None:
        result = decode_line(line, where, self._normalizer)
        if result is None:
            return
        if isinstance(result, BadLine):
            self.bad_lines += 1
            log.warning("tail: skipped %s", result)
            return
        try:
            if self.bus.hub.publish(result.draft) is not None:
                self.events += 1
        except EventError as exc:
            self.bad_lines += 1
            log.warning("tail: skipped %s: %s", where, exc)


def _last_line_end(handle: BinaryIO) -> int:
    """Offset just after the last newline (where the next complete line will start)."""
    size = handle.seek(0, os.SEEK_END)
    start = max(0, size - _SCAN_BACK)
    handle.seek(start)
    tail = handle.read()
    cut = tail.rfind(b"\n")
    if cut < 0:
        return start if start else 0
    return start + cut + 1


def _count_newlines(handle: BinaryIO, end: int) -> int:
    """Newlines in the first `end` bytes (read in chunks)."""
    count, left = 0, end
    while left > 0:
        chunk = handle.read(min(left, 1 << 20))
        if not chunk:
            break
        count += chunk.count(b"\n")
        left -= len(chunk)
    return count
