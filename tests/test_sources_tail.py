"""Live tail: partial lines, rotation, late files, a missing folder, the original's BOM and CRLF."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.config import load_config
from dxbus.events import Event
from dxbus.sources.tail import TailSource

BOM = b"\xef\xbb\xbf"


def line(n: int, event_type: str = "custom_event", **data: object) -> bytes:
    """A line as the original writes it: snake_case keys, 7 fraction digits, CRLF."""
    return orjson.dumps({"timestamp": f"2025-09-20T14:30:{n % 60:02d}.1234567Z",
                         "event_type": event_type, "data": {"n": n, **data}}) + b"\r\n"




def append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


@pytest.fixture
async def tailing(tmp_path: Path):
    bus = Bus(load_config(None), base_dir=tmp_path)
    seen: list[Event] = []
    bus.hub.add_listener(seen.append)
    sources: list[TailSource] = []

    async def start(directory: Path) -> TailSource:
        tail = TailSource(bus, directory, poll_interval=0.05)
        await tail.start()
        sources.append(tail)
        return tail

    yield start, seen
    for tail in sources:
        await tail.stop()


def ns(seen: list[Event]) -> list[int]:
    return [e.data["n"] for e in seen]


async def test_follows_from_end_partial_lines_and_rotation(tmp_path: Path, tailing, caplog) -> None:
    start, seen = tailing
    first = tmp_path / "metrics_20250920_143000.ndjson"
    first.write_bytes(BOM + line(1) + line(2) + line(3)[:10])  # old lines, then half a line
    tail = await start(tmp_path)
    await wait_until(lambda: tail.state == "following")
    append(first, line(3)[10:])
    await wait_until(lambda: ns(seen) == [3])  # the old complete lines are not re-published
    half = line(4)
    append(first, half[:15])
    await asyncio.sleep(0)  # nothing to wait for: the partial line must stay buffered
    append(first, half[15:] + b"{oops\r\n" + line(5))
    await wait_until(lambda: ns(seen) == [3, 4, 5])
    assert tail.bad_lines == 1  # reported as line 5 of the file, though the tail joined at line 3
    assert f"{first}:5: not JSON" in caplog.text
    # Rotation: the old file gets a last line, then a newer file appears and the old one moves.
    append(first, line(6))
    second = tmp_path / "metrics_20250920_150000.ndjson"
    second.write_bytes(BOM + line(7))
    (tmp_path / "archive").mkdir()
    first.rename(tmp_path / "archive" / first.name)
    await wait_until(lambda: ns(seen) == [3, 4, 5, 6, 7])
    append(second, line(8))
    await wait_until(lambda: ns(seen) == [3, 4, 5, 6, 7, 8])
    assert tail.status()["rotations"] == 1
    assert tail.status()["file"] == str(second)


async def test_missing_folder_then_late_file(tmp_path: Path, tailing) -> None:
    start, seen = tailing
    folder = tmp_path / "DataExport"
    tail = await start(folder)
    await wait_until(lambda: tail.state == "waiting_for_directory")
    folder.mkdir()
    await wait_until(lambda: tail.state == "waiting_for_file")
    (folder / "notes.txt").write_text("not a metrics file")
    path = folder / "metrics_20250920_143000.ndjson"
    path.write_bytes(BOM + line(1, "player_damaged", damage=1, health_remaining=4))
    await wait_until(lambda: len(seen) == 1)
    assert seen[0].type == "combat_damage"
    assert seen[0].data["player_health_remaining"] == 4 and seen[0].data["is_player_damage"] is True
    append(path, b"{broken\r\n" + line(2))
    await wait_until(lambda: len(seen) == 2)
    assert tail.status()["bad_lines"] == 1


async def test_truncated_file_is_read_again(tmp_path: Path, tailing) -> None:
    start, seen = tailing
    tail = await start(tmp_path)
    await wait_until(lambda: tail.state == "waiting_for_file")
    path = tmp_path / "metrics_20250920_143000.ndjson"
    path.write_bytes(line(1) + line(2))
    await wait_until(lambda: ns(seen) == [1, 2])
    path.write_bytes(line(3))
    await wait_until(lambda: ns(seen) == [1, 2, 3])
