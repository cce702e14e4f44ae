"""Text files for OBS text sources, rendered from the session state and written the way OBS reads.

OBS's text source (GDI+ and FreeType2) `stat`s its file about once a second, compares the mtime (whole
seconds), and reads the file on the *next* check after a change. So each file here is:

- written atomically (a temporary file in the same folder, then `os.replace`), so a reader never sees
  a half-written or empty file; on Windows a replace fails while another program has the target open
  without delete sharing, so a failed replace is simply retried on the next tick, never by blocking;
- UTF-8 without BOM, and only written when its text changes;
- coalesced: rendered and written at most once per `IntervalSeconds` (250 ms), always ending with
  the final value (a last flush on stop);
- re-stamped once the wall-clock second has passed if it was rewritten twice within one second, so
  a reader that compares whole-second mtimes and read between the two writes notices the second;
- present from start-up with its rendered value, so OBS never shows "file not found".

Templates are sandboxed Jinja over `bus.state.snapshot()` plus `alert` (the message of the alert on
screen, "" once its duration is over) and `state` (the whole snapshot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, field_validator

from dxbus.atomic import atomic_write, stale_temporaries
from dxbus.clock import Clock
from dxbus.config_base import Section
from dxbus.events import Event
from dxbus.outage import Outage
from dxbus.parts import Part
from dxbus.tasks import cancel_and_wait
from dxbus.text_templates import TemplateProblem, check_template, render

if TYPE_CHECKING:
    from dxbus.bus import Bus

log = logging.getLogger(__name__)

FILE_NAME = re.compile(r"\w[\w. -]{0,99}")  # \w: any letter, so "muertes.txt" or "死亡.txt" work

DEFAULT_FILES: dict[str, str] = {
    "deaths.txt": "{{ deaths.session }}",
    "deaths-total.txt": "{{ deaths.total }}",
    "health.txt": "{{ player.health }}/{{ player.health_max }}",
    "silk.txt": "{{ player.mp }}/{{ player.mp_max }}",
    "room.txt": "{{ scene.current }}",
    "area.txt": "{{ scene.area }}",
    "boss.txt": "{{ boss.current if boss.active else '' }}",
    # Whole seconds: OBS only looks once a second, so tenths would be rewritten for nothing.
    "boss-timer.txt": "{{ boss.fight_time|duration(0) if boss.active else '' }}",
    "last-boss.txt": (
        "{% set r = boss.last_result %}{% if r %}{{ r.boss }}: {{ r.result }} in "
        "{{ r.time|duration }}{% endif %}"),
    "session-time.txt": "{{ session.time|duration(0) }}",
    "damage-dealt.txt": "{{ damage.dealt }}",
    "damage-taken.txt": "{{ damage.taken }}",
    "alert.txt": "{{ alert }}",
}

# The shape of `bus.state.snapshot()` before anything happened, for a bus without session state.
EMPTY_STATE: dict[str, Any] = {
    "player": {"health": None, "health_max": None, "mp": None, "mp_max": None},
    "deaths": {"session": 0, "total": 0}, "damage": {"dealt": 0, "taken": 0}, "enemies_killed": 0,
    "scene": {"current": None, "area": None, "previous": None, "time_in_scene": 0.0, "visited": [],
              "rooms_visited": 0},
    "session": {"time": 0.0, "started": None},
    "boss": {"current": None, "active": False, "phase": None, "fight_time": None, "attempts": 0,
             "best": None, "last_time": None, "last_result": None},
    "bosses": {}, "death_locations": {}, "abilities": [], "last_seq": 0,
}


class TextFilesSection(Section):
    """`[TextFiles]`: `Files = {"pb.txt" = "Best {{ boss.best|duration }}"}` adds or replaces files."""

    enabled: bool = True
    directory: str = "obs-text"
    # Render and write at most this often (per file); OBS itself only looks once a second.
    interval_seconds: Annotated[float, Field(ge=0.05, le=10)] = 0.25
    # Write the built-in files (deaths.txt, health.txt...) as well as `Files`.
    default_files: bool = True
    files: dict[str, str] = Field(default_factory=dict)

    @field_validator("files")
    @classmethod
    def _files(cls, files: dict[str, str]) -> dict[str, str]:
        for name, source in files.items():
            if not FILE_NAME.fullmatch(name) or ".." in name:
                raise ValueError(
                    f"{name!r}: a file name only (letters, digits, '.', '-', '_', space; no folders)")
            try:
                check_template(source)
            except TemplateProblem as exc:
                raise ValueError(f"{name!r}: {exc}") from None
        return files

    def templates(self) -> dict[str, str]:
        """File name -> template source, built-in ones first unless switched off."""
        return {**(DEFAULT_FILES if self.default_files else {}), **self.files}


@dataclass
class _File:
    name: str
    source: str
    path: Path
    written: str | None = None  # what the file holds (None: not written yet)
    wanted: str = ""
    second: int | None = None  # whole wall second of the last write
    restamp: bool = False  # written twice within `second`: bump the mtime once it has passed
    outage: Outage = field(default_factory=lambda: Outage(log))


class TextFileWriter:
    """The service: renders every file each tick and writes those whose text changed."""

    name = "text-files"

    def __init__(self, bus: Bus, config: TextFilesSection | None = None) -> None:
        self.bus = bus
        self.clock: Clock = bus.clock
        self.config = config or bus.config.text_files
        self.directory = bus.path(self.config.directory)
        self.files = [_File(name, source, self.directory / name)
                      for name, source in self.config.templates().items()]
        self.writes = 0
        self.last_error: str | None = None
        self._alert: tuple[str, float, object] | None = None  # (message, monotonic end, id)
        self._task: asyncio.Task[None] | None = None
        self._directory_ok = False
        self._folder = Outage(log)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Create the folder and every file (rendered from the current state), then tick."""
        if not self.config.enabled:
            return
        self._make_directory()
        for item in self.files:
            with contextlib.suppress(OSError):
                item.written = item.path.read_text(encoding="utf-8")  # unchanged files stay untouched
            # Temporary files left by a crash mid-write.
            for stale in stale_temporaries(item.path):
                with contextlib.suppress(OSError):
                    stale.unlink()
        self.flush()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="text-files")
        await asyncio.sleep(0)  # let the ticker take its first sleep, so the first interval counts

    async def stop(self) -> None:
        """Stop ticking and write the final values."""
        if self._task is None:
            return
        await cancel_and_wait(self._task)
        self._task = None
        self._alert = None  # no alert outlives the bus on stream
        self.flush()

    def on_event(self, event: Event) -> None:
        """Hub listener: remember the alert on screen until its duration is over (or it is skipped)."""
        if event.type == "alert":
            message = event.data.get("message")
            duration = event.data.get("duration")
            if isinstance(message, str) and isinstance(duration, int | float):
                self._alert = (message, self.clock.monotonic() + float(duration), event.data.get("id"))
        elif event.type == "alert_end" and self._alert is not None and event.data.get("id") == self._alert[2]:
            self._alert = None  # the operator skipped it (POST /api/alerts/skip)

    async def _run(self) -> None:
        while True:
            await self.clock.sleep(self.config.interval_seconds)
            self.flush()

    # -- rendering and writing -------------------------------------------------------------------
    def context(self) -> dict[str, Any]:
        """What templates see: the state snapshot's keys, `state`, and `alert`."""
        snapshot = EMPTY_STATE
        try:
            snapshot = self.bus.state.snapshot()
        except Exception:
            log.exception("session state snapshot failed")
        alert = ""
        if self._alert is not None:
            message, until, _ = self._alert
            if self.clock.monotonic() < until:
                alert = message
            else:
                self._alert = None
        return {**snapshot, "state": snapshot, "alert": alert}

    def _make_directory(self) -> bool:
        # Not fatal: the bus keeps running and the next tick tries again (e.g. a drive plugged in later).
        if self._directory_ok:
            return True
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._folder.failed(f"[TextFiles] Directory {self.directory} cannot be created "
                                f"({exc.strerror or exc})", level=logging.ERROR, detail="retrying")
            self.last_error = f"{self.directory}: {exc.strerror or exc}"
            return False
        self._folder.recovered(f"[TextFiles] Directory {self.directory} created")
        self._directory_ok = True
        for item in self.files:
            item.written = None  # a new folder is empty: every file gets written again
        return True

    def flush(self) -> None:
        """Render every file; write those whose text changed (or that need a new mtime)."""
        if not self._make_directory():
            return
        context = self.context()
        wall = self.clock.time()
        second = math.floor(wall)
        for item in self.files:
            item.wanted = render(item.source, context, fallback=item.wanted)
            if item.wanted != item.written:
                self._write(item, wall, second)
            elif item.restamp and item.second is not None and second > item.second:
                self._touch(item, wall)

    def _write(self, item: _File, wall: float, second: int) -> None:
        try:
            atomic_write(item.path, item.wanted, mtime=wall)
        except OSError as exc:
            # Typically Windows: OBS or an editor has the file open. Keep it dirty; next tick retries.
            if isinstance(exc, FileNotFoundError):
                self._directory_ok = False  # the folder was removed under us: recreate it
            self.last_error = f"{item.path}: {exc}"
            item.outage.failed(f"cannot replace {item.path} ({exc})", detail="retrying at every change")
            return
        item.restamp = item.second == second
        item.written, item.second = item.wanted, second
        item.outage.recovered(f"{item.path} written again")
        self.writes += 1

    def _touch(self, item: _File, wall: float) -> None:
        try:
            os.utime(item.path, (wall, wall))
        except OSError:
            return
        item.second, item.restamp = math.floor(wall), False

    def status(self) -> dict[str, Any]:
        """For `/api/status`."""
        return {"enabled": self.config.enabled, "directory": str(self.directory),
                "files": len(self.files), "writes": self.writes, "error": self.last_error}


def text_files_part(bus: Bus) -> Part:
    """The text-file writer and its listener (the alert on screen), rendering `bus.state`."""
    writer = TextFileWriter(bus)
    return Part("text_files", services=[writer], listeners=[writer.on_event] if writer.config.enabled else [],
                status={"text_files": writer.status})
