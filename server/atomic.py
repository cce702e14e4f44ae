"""The one atomic file replace: state, split bests, text files and the folder lock all write through it.

A reader (OBS reading a text file, an editor, a backup tool) sees the old file or the new one, never a
part. The data goes to a temporary file in the same folder (same file system, so the rename is
atomic), then `os.replace` puts it in place. On Windows, replacing a file that another program holds
open fails with PermissionError for as long as it is open (OBS reads its text files often, briefly);
`replace` retries that a few times, a few milliseconds apart, before giving up, and the callers retry
at their next write.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Windows sharing violations last as long as a reader keeps the file open: a few milliseconds for OBS.
REPLACE_ATTEMPTS = 5
REPLACE_PAUSE_SECONDS = 0.01


def replace(tmp: str | Path, path: str | Path, *, platform: str | None = None,
            pause: Callable[[float], None] = time.sleep) -> None:
    """`os.replace(tmp, path)`, retrying PermissionError on Windows (a reader holds `path` open)."""
    on_windows = (platform or sys.platform) == "win32"
    for attempt in range(REPLACE_ATTEMPTS):
        try:
            os.replace(tmp, path)
            return
        except PermissionError:
            if not on_windows or attempt == REPLACE_ATTEMPTS - 1:
                raise
            pause(REPLACE_PAUSE_SECONDS)


def atomic_write(path: Path, data: bytes | str, *, mtime: float | None = None, durable: bool = False,
                 mode: int | None = None) -> None:
    """Replace `path` with `data` (str: UTF-8, no BOM, newlines as given) in one step.

    Raises OSError if it cannot (the temporary file is removed). `mtime` stamps the new file (e.g. the
    bus clock's wall time); `durable` fsyncs it first (survives a machine crash, for state the user
    cannot recreate); `mode` defaults to the replaced file's, or 0644 for a new one (mkstemp makes
    0600, which another user's OBS or a backup tool could not read).
    """
    body = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is None:
            try:
                mode = stat.S_IMODE(os.stat(path).st_mode)
            except OSError:
                mode = 0o644
        os.chmod(tmp, mode)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def stale_temporaries(path: Path) -> list[Path]:
    """Temporary files a crash mid-write left next to `path` (the name pattern `atomic_write` uses)."""
    import glob
    return list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))


__all__ = ["atomic_write", "replace", "stale_temporaries"]
