"""State persistence: counters survive a restart; writes are throttled, atomic, and fail softly."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest
from conftest import BusFactory
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.clock import ManualClock


def play_a_bit(bus: Bus) -> None:
    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Tut_03"})
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    bus.hub.emit("player_death", {"location": "Tut_03", "cause": "Moss Mother"})
    bus.hub.emit("player_update", {"health_current": 5, "position_x": 1.0, "position_y": 2.0})


async def test_counters_survive_a_restart(bus_factory: BusFactory, tmp_path: Path) -> None:
    clock = ManualClock()
    bus = await bus_factory(clock=clock)
    play_a_bit(bus)
    await bus.stop()  # saves on stop
    doc = orjson.loads((tmp_path / "dxbus-state.json").read_bytes())
    assert doc["deaths_total"] == 1
    assert doc["bosses"]["Moss Mother"]["attempts"] == 1
    assert "health" not in str(doc) and "position" not in str(doc)  # fast state is never written

    again = await bus_factory(clock=ManualClock())
    snap = again.state.snapshot()
    assert snap["deaths"] == {"session": 0, "total": 1}
    assert snap["bosses"]["Moss Mother"] == {"attempts": 1, "defeats": 0, "best": None,
                                             "last": 0.0}
    assert snap["death_locations"] == {"Tut_03": 1}
    again.hub.emit("player_death", {"location": "Tut_01"})
    assert again.state.snapshot()["deaths"] == {"session": 1, "total": 2}


async def test_writes_are_throttled(bus_factory: BusFactory, tmp_path: Path) -> None:
    clock = ManualClock()
    bus = await bus_factory(overrides={"State": {"SaveIntervalSeconds": 5}}, clock=clock)
    path = tmp_path / "dxbus-state.json"
    store = next(s for s in bus.services if s.name == "state")
    for _ in range(50):
        bus.hub.emit("player_death", {"location": "Tut_01"})
    await clock.advance(4.0)
    assert not path.exists()  # not before the interval
    await clock.advance(1.0)
    await wait_until(lambda: path.exists() and store.saves == 1)
    assert orjson.loads(path.read_bytes())["deaths_total"] == 50
    await clock.advance(30.0)  # nothing changed: no more writes
    assert store.saves == 1
    assert not (tmp_path / "dxbus-state.json.tmp").exists()


async def test_corrupt_file_is_kept_and_counters_start_at_zero(
    bus_factory: BusFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "dxbus-state.json"
    path.write_bytes(b'{"deaths_total": 3, "bosses": ')
    with caplog.at_level(logging.ERROR, logger="dxbus.state"):
        bus = await bus_factory(clock=ManualClock())
    assert bus.state.snapshot()["deaths"]["total"] == 0
    assert (tmp_path / "dxbus-state.json.bad").read_bytes() == b'{"deaths_total": 3, "bosses": '
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and str(path) in errors[0] and "corrupt" in errors[0]


async def test_wrong_shape_counts_as_corrupt(bus_factory: BusFactory, tmp_path: Path) -> None:
    (tmp_path / "dxbus-state.json").write_bytes(b'{"deaths_total": -4}')
    bus = await bus_factory(clock=ManualClock())
    assert bus.state.snapshot()["deaths"]["total"] == 0
    assert (tmp_path / "dxbus-state.json.bad").exists()


async def test_unwritable_state_file_logs_once_and_keeps_serving(
    bus_factory: BusFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a regular file where a folder should be")
    clock = ManualClock()
    with caplog.at_level(logging.ERROR, logger="dxbus.state"):
        bus = await bus_factory(overrides={"State": {"File": str(blocker / "state.json"),
                                                     "SaveIntervalSeconds": 1}}, clock=clock)
        store = next(s for s in bus.services if s.name == "state")
        for _ in range(3):
            bus.hub.emit("player_death", {"location": "Tut_01"})
            await clock.advance(1.0)
            await wait_until(lambda: store.last_error is not None)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and str(blocker / "state.json") in errors[0]
    assert bus.state.snapshot()["deaths"]["total"] == 3
    assert bus.status_providers["state"]()["error"]
