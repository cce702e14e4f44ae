"""The one reconnect backoff, the one "log once per outage" rule and the one atomic write."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from pathlib import Path
from typing import Any

import pytest

from dxbus import atomic
from dxbus.atomic import atomic_write, stale_temporaries
from dxbus.backoff import Backoff
from dxbus.clock import ManualClock, settle
from dxbus.outage import Outage


def test_backoff_doubles_to_its_cap_and_starts_over_after_a_success() -> None:
    backoff = Backoff(0.5, 4, jitter=0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.attempts == 6
    backoff.reset()
    assert backoff.next() == 0.5 and backoff.attempts == 1


def test_backoff_jitter_spreads_each_wait_within_its_band_from_an_injected_rng() -> None:
    waits = [Backoff(1, 8, jitter=0.1, rng=random.Random(seed)).next() for seed in range(50)]
    assert all(0.9 <= w <= 1.1 for w in waits)
    assert len(set(waits)) > 40  # spread, not one instant for every client
    one, two = (Backoff(1, 8, rng=random.Random(7)) for _ in range(2))
    assert [one.next() for _ in range(5)] == [two.next() for _ in range(5)]  # reproducible


def test_backoff_refuses_nonsense() -> None:
    for initial, maximum, jitter in ((0, 1, 0), (-1, 1, 0), (1, 2, 1.5)):
        with pytest.raises(ValueError, match="backoff"):
            Backoff(initial, maximum, jitter)
    assert Backoff(2, 1, jitter=0).next() == 2  # a cap below the first wait: the first wait it is


async def test_backoff_waits_on_the_injected_clock() -> None:
    clock = ManualClock()
    backoff = Backoff(2, 10, jitter=0)
    task = asyncio.ensure_future(backoff.wait(clock))
    await settle()
    assert not task.done()
    await clock.advance(1.9)
    assert not task.done()
    await clock.advance(0.1)
    assert await task == 2


def test_an_outage_logs_once_then_quietly_and_says_when_it_is_over(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("dxbus.test.outage")
    outage = Outage(log)
    with caplog.at_level(logging.DEBUG, logger="dxbus.test.outage"):
        assert outage.failed("link down (refused)", detail="retrying") is True
        assert outage.failed("link down (refused)") is False
        assert outage.failed("link down (refused)") is False
        assert outage.failed("link down (timed out)") is True  # a different problem is news
        assert outage.active and outage.error == "link down (timed out)" and outage.failures == 4
        assert outage.recovered("link up again") is True
        assert outage.recovered("link up again") is False  # no outage: nothing to say
    loud = [(r.levelno, r.getMessage()) for r in caplog.records if r.levelno > logging.DEBUG]
    assert loud == [(logging.WARNING, "link down (refused); retrying"),
                    (logging.WARNING, "link down (timed out)"), (logging.INFO, "link up again")]
    assert not outage.active and outage.total == 4


def test_atomic_write_replaces_in_one_step_keeps_the_mode_and_stamps_the_time(tmp_path: Path) -> None:
    target = tmp_path / "deaths.txt"
    atomic_write(target, "Deaths: 3\n", mtime=2_000_000_000)
    assert target.read_bytes() == b"Deaths: 3\n"  # UTF-8, newline as given (no \r\n on any system)
    assert int(target.stat().st_mtime) == 2_000_000_000
    assert target.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    os.chmod(target, 0o640)
    atomic_write(target, b"\xe6\xad\xbb 4", durable=True)
    assert target.read_bytes() == "死 4".encode() and target.stat().st_mode & 0o777 == 0o640
    assert not stale_temporaries(target)


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")

    def refuse(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        atomic_write(target, "new")
    assert target.read_text() == "old" and not stale_temporaries(target)


def test_on_windows_a_file_a_reader_holds_open_is_replaced_once_it_lets_go(
        tmp_path: Path, monkeypatch: Any) -> None:
    """Windows: os.replace raises PermissionError while OBS has the file open; it is retried."""
    target = tmp_path / "deaths.txt"
    real_replace = os.replace
    held = {"for": 2}
    pauses: list[float] = []

    def held_open(src: Any, dst: Any) -> None:
        if held["for"] > 0:
            held["for"] -= 1
            raise PermissionError(13, "The process cannot access the file because it is being used")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", held_open)
    src = tmp_path / "new.tmp"
    src.write_text("1")
    atomic.replace(src, target, platform="win32", pause=pauses.append)
    assert target.read_text() == "1" and len(pauses) == 2
    # Elsewhere a PermissionError is a real permission problem: no retry, the caller sees it.
    held["for"] = 1
    src.write_text("2")
    with pytest.raises(PermissionError):
        atomic.replace(src, target, platform="linux", pause=pauses.append)
    assert len(pauses) == 2
    # A reader that never lets go: give up after a few tries (the caller retries at its next write).
    held["for"] = 99
    with pytest.raises(PermissionError):
        atomic.replace(src, target, platform="win32", pause=pauses.append)
    assert len(pauses) == 2 + atomic.REPLACE_ATTEMPTS - 1


async def test_a_stop_lands_even_when_a_task_swallows_its_first_cancellation(monkeypatch: Any) -> None:
    """As Python 3.11's wait_for does when a connect fails just as the stop arrives."""
    from dxbus import tasks

    monkeypatch.setattr(tasks, "RECANCEL_SECONDS", 0.01)
    swallowed = 0

    async def reconnect_loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # lost, as wait_for loses it: the loop goes on

    task = asyncio.ensure_future(reconnect_loop())
    await settle()
    await asyncio.wait_for(tasks.cancel_and_wait(task), 5)
    assert task.cancelled() and swallowed == 1
