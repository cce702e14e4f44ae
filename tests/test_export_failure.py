"""File export when the folder cannot be written: one log line, the bus keeps serving, recovery."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest
from conftest import BusFactory
from waiting import wait_until

from dxbus.clock import ManualClock
from dxbus.events import Draft
from dxbus.export import RETRY_INTERVAL, FileExport
from dxbus.hub import Hub


async def test_unwritable_folder_logs_once_keeps_serving_and_recovers(
    bus_factory: BusFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # A regular file where the folder's parent should be: fails even for root (chmod would not).
    blocker = tmp_path / "blocked"
    blocker.write_text("not a folder")
    directory = blocker / "DataExport"
    clock = ManualClock()
    with caplog.at_level(logging.INFO, logger="dxbus.export"):
        bus = await bus_factory(overrides={"FileExport": {"Directory": str(directory)}}, clock=clock)
        export = next(s for s in bus.services if isinstance(s, FileExport))
        raws = [bus.hub.emit("custom_event", {"n": i}).raw for i in range(20)]  # type: ignore[union-attr]
        await clock.advance(0.1)
        await wait_until(lambda: export.error is not None and export.idle)
        for i in range(20, 40):  # more events and several retries while it is broken
            raws.append(bus.hub.emit("custom_event", {"n": i}).raw)  # type: ignore[union-attr]
            await clock.advance(1.0)
        await wait_until(lambda: export.idle)
        status = bus.status_providers["file_export"]()
        assert status["error"] and status["buffered"] == 40 and status["lines_written"] == 0
        assert str(directory) in str(status["directory"])
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, errors
        assert str(directory) in errors[0] and "Not a directory" in errors[0]

        if "http" in bus.ports:  # the bus keeps serving while the export is broken
            async with aiohttp.ClientSession() as http, \
                    http.get(bus.url("http") + "/api/status") as reply:
                assert reply.status == 200

        blocker.unlink()  # the disk is fixed
        await clock.advance(RETRY_INTERVAL + 0.2)
        await wait_until(lambda: export.lines_written == 40)
        assert export.error is None and bus.status_providers["file_export"]()["error"] is None
        assert any("writing again" in r.getMessage() for r in caplog.records)
        await bus.stop()
    lines = b"".join(p.read_bytes() for p in sorted(directory.glob("*.ndjson"))).splitlines()
    assert lines == raws


async def test_buffer_is_bounded_while_broken(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("")
    clock = ManualClock()
    hub = Hub(clock)
    export = FileExport(blocker / "out", clock, rotation_bytes=1 << 20, rotation_seconds=3600,
                        max_buffered=10)
    hub.add_listener(export.on_event)
    await export.start()
    hub.publish(Draft("custom_event", {"n": 0}))
    await clock.advance(0.1)
    await wait_until(lambda: export.error is not None and export.idle)
    for i in range(1, 25):
        hub.publish(Draft("custom_event", {"n": i}))
    status = export.status()
    assert status["buffered"] == 10 and status["dropped"] == 15
    assert any("dropping" in r.getMessage() for r in caplog.records)
    with caplog.at_level(logging.ERROR, logger="dxbus.export"):
        await export.stop()  # still broken: says how many could not be written
    assert any("could not be written" in r.getMessage() for r in caplog.records)
