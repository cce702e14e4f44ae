"""NDJSON file export: every line once, in order, rotation by size and age, flush on stop."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
from conftest import BusFactory
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.clock import ManualClock
from dxbus.export import FileExport

NAME = re.compile(r"metrics_\d{8}_\d{6}(_\d{3})?\.ndjson")
SNIPPET = Path(__file__).parent / "usage_guide" / "file_export_analysis.py"




def exporter(bus: Bus) -> FileExport:
    return next(s for s in bus.services if isinstance(s, FileExport))


def read_export(directory: Path) -> tuple[list[Path], list[bytes]]:
    """The export files in name order and all their lines, checking each file is clean NDJSON."""
    files = sorted(directory.glob("*.ndjson"))
    lines: list[bytes] = []
    for path in files:
        assert NAME.fullmatch(path.name), path.name
        body = path.read_bytes()
        assert not body.startswith(b"\xef\xbb\xbf") and b"\r" not in body
        assert body.endswith(b"\n")
        lines.extend(body.split(b"\n")[:-1])
    return files, lines


def publish(bus: Bus, count: int, start: int = 0) -> list[bytes]:
    raws = []
    for i in range(start, start + count):
        event = bus.hub.emit("custom_event", {"n": i, "text": "é ünïcode"})
        assert event is not None
        raws.append(event.raw)
    return raws


async def test_rotation_by_size_keeps_every_line_once_in_order(
    bus_factory: BusFactory, tmp_path: Path,
) -> None:
    clock = ManualClock()
    limit_mb = 0.002  # about 2 KB per file
    bus = await bus_factory(overrides={"FileExport": {"RotationSizeMB": limit_mb}}, clock=clock)
    export = exporter(bus)
    raws = publish(bus, 150)
    await clock.advance(0.1)
    await wait_until(lambda: export.lines_written == 150)
    raws += publish(bus, 150, 150)
    await bus.stop()
    files, lines = read_export(tmp_path / "DataExport")
    assert lines == raws
    assert len(files) > 10
    assert len({f.name for f in files}) == len(files)  # same second, distinct names
    for path in files:
        assert path.stat().st_size <= limit_mb * 1024 * 1024
    first = orjson.loads(lines[0])
    assert set(first) == {"Timestamp", "EventType", "Data", "Seq"}
    assert first["Data"]["text"] == "é ünïcode"


async def test_rotation_by_time(bus_factory: BusFactory, tmp_path: Path) -> None:
    clock = ManualClock(start_wall=1_767_225_600.0)  # 2026-01-01 00:00:00 UTC
    bus = await bus_factory(overrides={"FileExport": {"RotationMinutes": 1}}, clock=clock)
    export = exporter(bus)
    raws = publish(bus, 5)
    await clock.advance(0.1)
    await wait_until(lambda: export.lines_written == 5)
    await clock.advance(30)
    raws += publish(bus, 5, 5)
    await clock.advance(0.1)
    await wait_until(lambda: export.lines_written == 10)
    assert export.files_opened == 1
    await clock.advance(31)  # the file is now over a minute old
    raws += publish(bus, 5, 10)
    await clock.advance(0.1)
    await wait_until(lambda: export.lines_written == 15)
    await bus.stop()
    files, lines = read_export(tmp_path / "DataExport")
    assert [f.name for f in files] == ["metrics_20260101_000000.ndjson",
                                       "metrics_20260101_000101.ndjson"]
    assert lines == raws


async def test_stop_flushes_everything(bus_factory: BusFactory, tmp_path: Path) -> None:
    bus = await bus_factory(clock=ManualClock())
    raws = publish(bus, 1000)  # no time passes: only stop() can write these
    await bus.stop()
    _, lines = read_export(tmp_path / "DataExport")
    assert lines == raws


async def test_export_can_be_disabled(bus_factory: BusFactory, tmp_path: Path) -> None:
    bus = await bus_factory(overrides={"FileExport": {"EnableFileExport": False}})
    publish(bus, 3)
    await bus.stop()
    assert not (tmp_path / "DataExport").exists()
    assert bus.status_providers["file_export"]() == {"enabled": False}


async def test_usage_guide_file_export_analysis(bus_factory: BusFactory, tmp_path: Path) -> None:
    bus = await bus_factory(clock=ManualClock())
    bus.hub.emit("combat_damage", {"damage": 13, "is_player_damage": False, "source": "needle"})
    bus.hub.emit("combat_stats", {"total_damage_dealt": 13, "total_damage_taken": 0,
                                  "enemies_killed": 0})
    bus.hub.emit("combat_stats", {"total_damage_dealt": 420, "total_damage_taken": 2,
                                  "enemies_killed": 9})
    await bus.stop()
    # The guide's snippet, unchanged, run where `DataExport/` is the export folder.
    result = subprocess.run([sys.executable, str(SNIPPET)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30, check=True)
    assert result.stdout.splitlines() == ["Total damage: 13", "Total damage: 420"]
