"""NDJSON file export (PROTOCOL.md section 7): every event, one line each, in rotating files.

The hub listener only appends the event's wire bytes (`Event.raw`, serialized once by the hub) to an
in-memory batch; a writer task flushes the batch every 100 ms in a worker thread, so the event loop never
waits on the disk. Lines are written whole: rotation (by size or age) happens between lines, and a failed
write is truncated back to the last complete line and retried, so no line is split, lost or duplicated.

If the folder cannot be written (permissions, a file in the way, disk full) the export logs one line,
keeps events in a bounded buffer, retries every few seconds and reports itself in `/api/status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .clock import Clock, utc_iso
from .events import Event
from .os_errors import describe_os_error
from .outage import Outage
from .parts import Part
from .tasks import cancel_and_wait

if TYPE_CHECKING:
    from .bus import Bus

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.1
RETRY_INTERVAL = 5.0
# While the disk refuses writes, keep at most this many lines (the oldest are dropped, and counted).
MAX_BUFFERED_LINES = 50_000


class FileExport:
    """Service: the `[FileExport]` NDJSON writer. Attach `on_event` as a hub listener."""

    name = "file_export"

    def __init__(
        self,
        directory: Path,
        clock: Clock,
        rotation_bytes: int,
        rotation_seconds: float,
        max_buffered: int = MAX_BUFFERED_LINES,
        flush_interval: float = FLUSH_INTERVAL,
        retry_interval: float = RETRY_INTERVAL,
    ) -> None:
        self.directory = directory
        self.clock = clock
        self.rotation_bytes = rotation_bytes
        self.rotation_seconds = rotation_seconds
        self.max_buffered = max_buffered
        self.flush_interval = flush_interval
        self.retry_interval = retry_interval
        self._buffer: deque[Event] = deque()
        # The file being written (touched only under `_lock`, from the worker thread or at stop).
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self.path: Path | None = None
        self.size = 0
        self._opened_at = 0.0
        self.files_opened = 0
        self.lines_written = 0
        self.bytes_written = 0
        self.dropped = 0
        self.error: str | None = None
        self.error_since: str | None = None
        self._outage = Outage(log)
        self._retry_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Future[None] | None = None
        self.in_flight = 0  # lines handed to the worker thread and not yet accounted for
        self._started = 0.0
        # How far the export is, for /api/status: the Seq of the last line handed to the OS
        # (survives a crash of the bus) and of the last one fsynced (survives a crash of the machine).
        self.last_seq_written = 0
        self.last_seq_synced = 0

    # -- the hot path --------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Hub listener: queue the event (its wire bytes are written; no I/O here)."""
        self._buffer.append(event)
        if self.error is not None and len(self._buffer) > self.max_buffered:
            self._buffer.popleft()
            self.dropped += 1
            if self.dropped == 1:
                log.warning("file export: %d events buffered while %s cannot be written; dropping "
                            "the oldest from now on (see /api/status)", self.max_buffered,
                            self.directory)

    # -- service -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the writer task (the folder is created on the first write)."""
        self._started = self.clock.monotonic()
        self._task = asyncio.create_task(self._run(), name="file-export")

    async def stop(self) -> None:
        """Write everything still buffered, fsync and close."""
        await cancel_and_wait(self._task)
        self._task = None
        if self._inflight is not None:
            with contextlib.suppress(Exception):
                await self._inflight
        await self._flush(final=True)
        if self._buffer:
            log.error("file export: %d events could not be written to %s at shutdown (%s)",
                      len(self._buffer), self.directory, self.error)

    async def _run(self) -> None:
        due = self._started + self.flush_interval
        while True:
            await self.clock.sleep(due - self.clock.monotonic())
            due = max(due + self.flush_interval, self.clock.monotonic())
            if not self._buffer:
                continue
            if self.error is not None and self.clock.monotonic() < self._retry_at:
                continue
            # Shielded: a stop() arriving mid-write waits for this batch instead of abandoning it.
            self._inflight = asyncio.ensure_future(self._flush())
            await asyncio.shield(self._inflight)

    async def _flush(self, final: bool = False) -> None:
        """Hand the current batch to a worker thread; whatever it could not write goes back first."""
        lines = list(self._buffer)  # events; their `raw` bytes are the lines
        self._buffer.clear()
        mono, wall = self.clock.monotonic(), self.clock.time()
        self.in_flight = len(lines)
        try:
            written = await asyncio.to_thread(self._write_lines, lines, mono, wall, final)
        finally:
            self.in_flight = 0
        if written < len(lines):
            self._buffer.extendleft(reversed(lines[written:]))
            while len(self._buffer) > self.max_buffered:
                self._buffer.popleft()
                self.dropped += 1
            self._retry_at = self.clock.monotonic() + self.retry_interval

    # -- the worker thread ---------------------------------------------------------------------
    def _write_lines(self, events: list[Event], mono: float, wall: float, final: bool) -> int:
        """Write whole lines, rotating between them; returns how many were written."""
        lines = [event.raw for event in events]
        with self._lock:
            done = 0
            try:
                while done < len(lines):
                    if self._file is None or self._should_rotate(mono, len(lines[done]) + 1):
                        self._open(wall, mono)
                    assert self._file is not None
                    # As many lines as fit in the current file, in one write.
                    room = self.rotation_bytes - self.size
                    end, chunk_size = done, 0
                    while end < len(lines):
                        need = len(lines[end]) + 1
                        if chunk_size + need > room and end > done:
                            break
                        chunk_size += need
                        end += 1
                    chunk = b"\n".join(lines[done:end]) + b"\n"
                    self._write_all(chunk)
                    self.lines_written += end - done
                    self.last_seq_written = events[end - 1].seq
                    done = end
                if final and self._file is not None:
                    self._file.flush()
                    os.fsync(self._file.fileno())
                    self.last_seq_synced = self.last_seq_written
                    self._close()
            except OSError as exc:
                self._failed(exc)
                return done
            if self._outage.recovered(f"file export: writing again to {self.path} "
                                      f"({self.dropped} events dropped meanwhile)"):
                self.error = self.error_since = None
            return done

    def _should_rotate(self, mono: float, need: int) -> bool:
        too_big = self.size > 0 and self.size + need > self.rotation_bytes
        too_old = mono - self._opened_at >= self.rotation_seconds
        return too_big or too_old

    def _write_all(self, chunk: bytes) -> None:
        """Write a chunk of whole lines; on failure cut the file back to the last whole line."""
        assert self._file is not None
        start = self.size
        view = memoryview(chunk)
        try:
            while view:
                n = self._file.write(view)
                view = view[n or 0:]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), start)
            raise
        self.size += len(chunk)
        self.bytes_written += len(chunk)

    def _open(self, wall: float, mono: float) -> None:
        """Close the current file (fsynced) and create the next `metrics_YYYYMMDD_HHMMSS.ndjson`."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self.last_seq_synced = self.last_seq_written
            self._close()
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = "metrics_" + datetime.fromtimestamp(wall, UTC).strftime("%Y%m%d_%H%M%S")
        for n in range(1000):
            # Two rotations in one second (or a restart) must not reuse a name: add _001, _002...
            candidate = self.directory / (f"{stem}.ndjson" if n == 0 else f"{stem}_{n:03d}.ndjson")
            try:
                # Unbuffered: every write reaches the OS, so a failure is seen (and undone) at once.
                self._file = open(candidate, "xb", buffering=0)  # noqa: SIM115 - kept open
            except FileExistsError:
                continue
            break
        else:
            raise OSError(f"no free file name for {stem} in {self.directory}")
        self.path = candidate
        self.size = 0
        self._opened_at = mono
        self.files_opened += 1
        log.debug("file export: writing %s", candidate)

    def _close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        self._file = None

    def _failed(self, exc: OSError) -> None:
        """Log once per outage; the next write starts a fresh file."""
        message = describe_os_error(exc)
        if not self._outage.active:
            self.error_since = utc_iso(self.clock.time())
        self._outage.failed(f"file export: cannot write to {self.directory} ({message})", level=logging.ERROR,
                            detail=f"keeping up to {self.max_buffered} events in memory and retrying "
                            f"every {self.retry_interval:.0f} s")
        self.error = message
        if self._file is not None and self.size == 0 and self.path is not None:
            # Nothing reached this file (disk full at its first write): do not leave one empty file
            # behind per retry; the next attempt makes a fresh one.
            self._close()
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.files_opened -= 1
            self.path = None
        self._close()

    @property
    def idle(self) -> bool:
        """No batch is being written right now."""
        return self.in_flight == 0

    # -- status --------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """For `/api/status`: where it writes, how much, and any error."""
        return {
            "enabled": True,
            "directory": str(self.directory),
            "file": str(self.path) if self.path else None,
            "file_bytes": self.size,
            "files": self.files_opened,
            "lines_written": self.lines_written,
            "bytes_written": self.bytes_written,
            "buffered": len(self._buffer) + self.in_flight,
            "last_seq_written": self.last_seq_written,
            "last_seq_synced": self.last_seq_synced,
            "flush_interval_seconds": self.flush_interval,
            "dropped": self.dropped,
            "error": self.error,
            "error_since": self.error_since,
        }


def export_part(bus: Bus) -> Part:
    """The file export (if `[FileExport] EnableFileExport`): a hub listener and a service."""
    section = bus.config.file_export
    if not section.enable_file_export:
        return Part("file_export", status={"file_export": lambda: {"enabled": False}})
    export = FileExport(
        bus.path(section.directory),
        bus.clock,
        rotation_bytes=max(1, int(section.rotation_size_mb * 1024 * 1024)),
        rotation_seconds=section.rotation_minutes * 60.0,
    )
    return Part("file_export", services=[export], listeners=[export.on_event],
                status={"file_export": export.status})


__all__ = ["FileExport", "export_part"]
