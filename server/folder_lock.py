"""One bus per folder: a lock file naming the bus that owns the folder's state and text files.

`dxbus.lock` (in the bus's base folder) holds the owner's pid, host and URL as JSON. It is created
with `O_CREAT | O_EXCL`, which is atomic on POSIX and Windows alike, so no `fcntl`. A lock whose process
is gone (a crash, a killed terminal) is stale and taken over; a lock held by a live process stops the
second bus at start-up with a message naming the first one.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import atomic_write
from .parts import Part

if TYPE_CHECKING:
    from .bus import Bus

log = logging.getLogger(__name__)

LOCK_NAME = "dxbus.lock"
_STILL_ACTIVE = 259  # GetExitCodeProcess: the process has not exited
_QUERY_LIMITED_INFORMATION = 0x1000
# Locks held by buses of this process (a lock with our own pid is stale unless it is in here).
_HELD: set[Path] = set()


class FolderInUse(OSError):
    """Another live bus holds this folder; the message names it and says what to do."""


def pid_alive(pid: int, windows: bool | None = None, kernel32: Any = None) -> bool:
    """Whether a process with this id is running (never signals it)."""
    if pid <= 0:
        return False
    if windows if windows is not None else sys.platform == "win32":
        # os.kill(pid, 0) would terminate the process on Windows: ask the kernel instead.
        k32 = kernel32 if kernel32 is not None else ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = k32.OpenProcess(_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            if not k32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True  # it exists; we may just not read its state
            return code.value == _STILL_ACTIVE
        finally:
            k32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class FolderLock:
    """Service (first in start order): takes the folder's lock at start, releases it at stop."""

    name = "folder-lock"

    def __init__(self, bus: Bus, path: Path) -> None:
        self.bus = bus
        self.path = path.absolute()
        self.held = False

    def _record(self) -> dict[str, Any]:
        urls = {kind: self.bus.url(kind) for kind in ("http", "websocket", "tcp") if kind in self.bus.ports}
        return {"pid": os.getpid(), "host": socket.gethostname(), "mode": self.bus.mode,
                "url": urls.get("http") or next(iter(urls.values()), None), "urls": urls}

    def _owner(self) -> dict[str, Any] | None:
        """The live owner's record, or None if the lock is missing or stale."""
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            owner = {}
        if not isinstance(owner, dict):
            owner = {}
        pid = owner.get("pid")
        if not isinstance(pid, int):
            # Half-written by a bus that is starting this very moment, or garbage: unreadable either
            # way; a lock we cannot read is treated as held only while it is fresh.
            return owner if _younger_than(self.path, 5.0) else None
        if owner.get("host") not in (None, socket.gethostname()):
            return owner  # another machine (a shared folder): we cannot tell, so it wins
        if pid == os.getpid():
            return owner if self.path in _HELD else None
        return owner if pid_alive(pid) else None

    async def start(self) -> None:
        """Create the lock, taking over a stale one; raise FolderInUse if a live bus has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None:
                    raise FolderInUse(self._refusal(owner)) from None
                log.info("taking over the stale lock %s (its bus is gone)", self.path)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._record(), fh)
            self.held = True
            _HELD.add(self.path)
            return
        raise FolderInUse(f"{self.path}: could not take the lock (another bus keeps starting here)")

    def announce(self) -> None:
        """Rewrite the lock with the bound URLs (once the ports are up), so a second bus can name us."""
        if not self.held:
            return
        try:
            atomic_write(self.path, json.dumps(self._record()))
        except OSError as exc:
            log.warning("lock file %s could not be updated: %s", self.path, exc)

    async def stop(self) -> None:
        """Remove the lock if it is still ours."""
        if not self.held:
            return
        self.held = False
        _HELD.discard(self.path)
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(owner, dict) and owner.get("pid") == os.getpid():
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def _refusal(self, owner: dict[str, Any]) -> str:
        pid = owner.get("pid", "?")
        where = owner.get("url") or "its URL is not known yet"
        mode = owner.get("mode")
        what = f"a dxbus {mode}" if mode and mode != "live" else "another dxbus"
        return (f"{what} (pid {pid}, {where}) is already running in {self.path.parent} and owns its "
                f"state and text files. Stop it first, or start this bus in another folder. "
                f"(If no bus is running, delete {self.path}.)")

    def status(self) -> dict[str, Any]:
        """For `/api/status`."""
        return {"file": str(self.path), "held": self.held}


class _Announce:
    """Service registered after the ports: writes their URLs into the lock."""

    name = "folder-lock-urls"

    def __init__(self, lock: FolderLock) -> None:
        self.lock = lock

    async def start(self) -> None:
        self.lock.announce()

    async def stop(self) -> None:
        """Nothing to undo (the lock itself goes at its own stop)."""


def _younger_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False


def folder_lock_parts(bus: Bus) -> tuple[Part, Part]:
    """The lock (plug it first) and the service that writes the bound URLs into it (plug it after
    every port), so a second bus in this folder can name this one."""
    lock = FolderLock(bus, bus.base_dir / LOCK_NAME)
    return (Part("folder_lock", services=[lock], status={"folder_lock": lock.status}),
            Part("announce_urls", services=[_Announce(lock)]))


__all__ = ["FolderInUse", "FolderLock", "folder_lock_parts", "pid_alive"]
