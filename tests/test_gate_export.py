"""The export during a real disk outage (the kernel refuses writes: RLIMIT_FSIZE = 0), and how far it is."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from waiting import wait_until

from dxbus.clock import ManualClock
from dxbus.events import Draft
from dxbus.export import FileExport
from dxbus.hub import Hub


@contextmanager
def disk_full() -> Iterator[None]:
    """Every write that grows a file fails with EFBIG, as a full disk fails with ENOSPC."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get the error, not the signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


async def test_a_disk_outage_leaves_no_empty_files_and_nothing_is_lost(tmp_path: Path) -> None:
    clock = ManualClock()
    hub = Hub(clock)
    directory = tmp_path / "DataExport"
    export = FileExport(directory, clock, rotation_bytes=1 << 20, rotation_seconds=3600, retry_interval=5.0)
    hub.add_listener(export.on_event)
    await export.start()
    with disk_full():
        hub.publish(Draft("custom_event", {"n": 1}))
        await clock.advance(0.1)
        await wait_until(lambda: export.error is not None and export.idle)
        for _ in range(5):  # five retries, all refused
            retry_at = export._retry_at
            await clock.advance(5.1)
            await wait_until(lambda r=retry_at: export._retry_at > r and export.idle)
        assert list(directory.glob("*.ndjson")) == []
        assert export.status()["last_seq_written"] == 0
    hub.publish(Draft("custom_event", {"n": 2}))
    await clock.advance(5.1)
    await wait_until(lambda: export.error is None and export.status()["last_seq_written"] == 2)
    await export.stop()
    assert export.status()["last_seq_synced"] == 2
    files = list(directory.glob("*.ndjson"))
    assert len(files) == 1 and len(files[0].read_bytes().splitlines()) == 2
