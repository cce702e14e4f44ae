"""Text files as OBS reads them: never a partial file, and always the final value in the end."""

from __future__ import annotations

import math
import os
import random
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dxbus.atomic import atomic_write
from dxbus.bus import Bus
from dxbus.clock import ManualClock, settle
from dxbus.config import load_config
from dxbus.text_files import TextFileWriter, text_files_part


def plug_writer(bus: Bus) -> TextFileWriter:
    """The text-files part plugged as build_bus plugs it (the writer and its listener)."""
    part = text_files_part(bus)
    bus.plug(part)
    writer = part.services[0]
    assert isinstance(writer, TextFileWriter)
    return writer



def test_a_reader_never_sees_a_partial_or_empty_file(tmp_path: Path) -> None:
    """A reader thread hammers the file while it is replaced thousands of times."""
    path = tmp_path / "deaths.txt"
    # Values of very different lengths, so a torn read (old tail, new head) would show.
    values = [f"{n}:" + ("é" * (n % 7) + "x" * (n * 37 % 1500)) + f":{n}" for n in range(3000)]
    valid = set(values)
    atomic_write(path, values[0])
    stop = threading.Event()
    reads: list[int] = [0]
    bad: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                with open(path, "rb") as fh:
                    text = fh.read().decode("utf-8")
            except FileNotFoundError:  # would mean the replace was not atomic
                bad.append("<missing>")
                continue
            reads[0] += 1
            if text not in valid:
                bad.append(text[:40])
            time.sleep(0)  # hand the GIL back so the writer is not starved by this loop

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for value in values:
            atomic_write(path, value)
    finally:
        stop.set()
        thread.join()
    assert bad == []
    assert reads[0] > 100  # the reader really ran alongside
    assert path.read_text(encoding="utf-8") == values[-1]
    assert [p.name for p in tmp_path.iterdir()] == ["deaths.txt"]  # no temp files left behind
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's private 0600


class ObsTextSource:
    """OBS's text source reading from a file (obs-text.cpp / text-freetype2 after PR obs-studio#955).

    Once per second of its own tick it stats the file; if the previous check saw a new mtime it reads
    the file now; then it compares the (whole-second) mtime with the last one seen. `read_immediately`
    models the older behaviour (read on the same check that sees the change), which misses a second
    write within the same mtime second unless the writer re-stamps the file.
    """

    def __init__(self, path: Path, read_immediately: bool = False) -> None:
        self.path = path
        self.read_immediately = read_immediately
        self.last_mtime: int | None = None
        self.update_pending = False
        self.shown: str | None = None

    def check(self) -> None:
        mtime = math.floor(os.stat(self.path).st_mtime)
        if self.update_pending:
            self.shown = self.path.read_text(encoding="utf-8")
            self.update_pending = False
        if mtime != self.last_mtime:
            self.last_mtime = mtime
            if self.read_immediately:
                self.shown = self.path.read_text(encoding="utf-8")
            else:
                self.update_pending = True


async def run_obs_imitation(tmp_path: Path, seed: int, read_immediately: bool) -> tuple[str, str | None]:
    clock = ManualClock(start_wall=1_767_225_600.0 + random.Random(seed).random())
    config = load_config(None, {"State": {"File": str(tmp_path / "state.json")},
                                "TextFiles": {"DefaultFiles": False,
                                              "Files": {"deaths.txt": "Deaths: {{ deaths.session }}"}}})
    bus = Bus(config, clock=clock, base_dir=tmp_path)
    writer = plug_writer(bus)
    await writer.start()
    obs = ObsTextSource(writer.directory / "deaths.txt", read_immediately)
    rng = random.Random(seed)
    phase = rng.random()  # where in the second OBS's tick happens to fall
    await clock.advance(phase)
    step = 0.05
    next_check = clock.monotonic()
    # 40 simulated seconds of bursts: several deaths within one second, quiet seconds between.
    deaths = 0
    for _ in range(int(40 / step)):
        if rng.random() < 0.08:
            bus.hub.emit("player_death", {"location": "Bone_05"})
            deaths += 1
            await settle()
        await clock.advance(step)
        if clock.monotonic() >= next_check:
            obs.check()
            next_check += 1.0
    # Quiet afterwards: OBS keeps polling once a second.
    for _ in range(3):
        await clock.advance(1.0)
        obs.check()
    await writer.stop()
    final = writer.directory.joinpath("deaths.txt").read_text(encoding="utf-8")
    assert final == f"Deaths: {deaths}"
    return final, obs.shown


@pytest.mark.parametrize("seed", range(8))
async def test_obs_once_a_second_check_always_ends_on_the_final_value(tmp_path: Path, seed: int) -> None:
    final, shown = await run_obs_imitation(tmp_path, seed, read_immediately=False)
    assert final.startswith("Deaths: ") and final != "Deaths: 0"
    assert shown == final


@pytest.mark.parametrize("seed", range(8))
async def test_even_a_reader_that_reads_on_the_same_check_ends_on_the_final_value(
        tmp_path: Path, seed: int) -> None:
    # Needs the writer's re-stamp when a file changed twice within one mtime second.
    final, shown = await run_obs_imitation(tmp_path, seed, read_immediately=True)
    assert shown == final


async def test_mtime_follows_the_bus_clock(tmp_path: Path) -> None:
    clock = ManualClock(start_wall=2_000_000_000.5)
    config = load_config(None, {"State": {"File": str(tmp_path / "s.json")}})
    bus = Bus(config, clock=clock, base_dir=tmp_path)
    writer = plug_writer(bus)
    await writer.start()
    stamp: Any = os.stat(writer.directory / "deaths.txt").st_mtime
    assert math.floor(stamp) == 2_000_000_000
    await writer.stop()
