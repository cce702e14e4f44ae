"""OBS text files: placeholders, templates over the state, change-only coalesced writes, retries."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dxbus.bus import Bus
from dxbus.clock import ManualClock, settle
from dxbus.config import ConfigError, load_config
from dxbus.text_files import DEFAULT_FILES, TextFileWriter, text_files_part


def plug_writer(bus: Bus) -> TextFileWriter:
    """The text-files part plugged as build_bus plugs it (the writer and its listener)."""
    part = text_files_part(bus)
    bus.plug(part)
    writer = part.services[0]
    assert isinstance(writer, TextFileWriter)
    return writer



class Rig:
    def __init__(self, tmp_path: Path, text_files: dict[str, Any] | None = None) -> None:
        self.clock = ManualClock()
        config = load_config(None, {"State": {"File": str(tmp_path / "state.json")},
                                    "TextFiles": text_files or {}})
        self.bus = Bus(config, clock=self.clock, base_dir=tmp_path)
        self.writer = plug_writer(self.bus)
        self.dir = self.writer.directory

    def read(self, name: str) -> str:
        return (self.dir / name).read_bytes().decode("utf-8")

    def emit(self, event_type: str, **data: Any) -> None:
        self.bus.hub.emit(event_type, data)


@pytest.fixture
async def rig(tmp_path: Path) -> Any:
    rig = Rig(tmp_path, {"Files": {"pb.txt": "Best {{ boss.best|duration }}",
                                   "ünïcode.txt": "Tod in {{ scene.area }} ♥ {{ deaths.session }}"}})
    yield rig
    await rig.writer.stop()


async def test_every_file_exists_with_a_placeholder_at_start_up(rig: Rig) -> None:
    rig.dir.mkdir(parents=True)
    (rig.dir / ".deaths.txt.k2j4l1.tmp").write_text("left by a crash")
    await rig.writer.start()
    names = sorted(p.name for p in rig.dir.iterdir())
    assert names == sorted([*DEFAULT_FILES, "pb.txt", "ünïcode.txt"])
    assert rig.read("deaths.txt") == "0"
    assert rig.read("health.txt") == "-/-"
    assert rig.read("pb.txt") == "Best -"
    assert rig.read("alert.txt") == ""
    assert not [p for p in rig.dir.iterdir() if p.name.endswith(".tmp")]


async def test_values_follow_the_session_state(rig: Rig) -> None:
    await rig.writer.start()
    rig.emit("scene_transition", from_scene="Tut_03", to_scene="Bone_East_12")
    rig.emit("player_update", health_current=4.0, health_max=5, mp_current=9, mp_max=18)
    rig.emit("boss_encounter", boss_name="Lace", phase="start")
    await rig.clock.advance(65.25)
    assert rig.read("boss.txt") == "Lace"
    assert rig.read("boss-timer.txt") == "1:05"
    rig.emit("player_death", location="Bone_East_12", cause="Lace")
    rig.emit("combat_damage", damage=2, is_player_damage=True, player_health_remaining=2)
    await rig.clock.advance(0.25)
    assert rig.read("deaths.txt") == "1"
    assert rig.read("room.txt") == "Bone_East_12"
    assert rig.read("area.txt") == "Deep Docks"
    assert rig.read("health.txt") == "2/5"
    assert rig.read("silk.txt") == "9/18"
    assert rig.read("damage-taken.txt") == "2"
    assert rig.read("last-boss.txt").startswith("Lace: died in 1:05")
    assert rig.read("boss-timer.txt") == ""
    assert rig.read("session-time.txt") == "1:05"
    # UTF-8 without BOM, exactly the rendered text.
    raw = (rig.dir / "ünïcode.txt").read_bytes()
    assert raw == "Tod in Deep Docks ♥ 1".encode()
    assert not raw.startswith(b"\xef\xbb\xbf")


async def test_current_alert_is_cleared_after_its_duration(rig: Rig) -> None:
    await rig.writer.start()
    rig.emit("alert", id="alert-1", rule="death", message="x3 deaths", sound="", volume=1, duration=3,
             style="default", priority=70, count=3)
    await rig.clock.advance(0.25)
    assert rig.read("alert.txt") == "x3 deaths"
    await rig.clock.advance(2.5)
    assert rig.read("alert.txt") == "x3 deaths"
    await rig.clock.advance(0.5)
    assert rig.read("alert.txt") == ""


async def test_writes_only_on_change_and_at_most_once_per_interval(rig: Rig) -> None:
    await rig.writer.start()
    start_writes = rig.writer.writes
    await rig.clock.advance(5)
    assert rig.writer.writes == start_writes  # nothing changed: nothing written (session time: no events)
    mtimes = {p.name: p.stat().st_mtime_ns for p in rig.dir.iterdir()}
    for n in range(200):  # 200 deaths inside one interval
        rig.emit("player_death", location="Bone_05")
        if n % 50 == 0:
            await settle()
    await rig.clock.advance(0.25)
    assert rig.read("deaths.txt") == "200"
    changed = {p.name for p in rig.dir.iterdir() if p.stat().st_mtime_ns != mtimes[p.name]}
    assert "deaths.txt" in changed and "silk.txt" not in changed
    # One write per changed file, however many events arrived in the interval.
    assert rig.writer.writes - start_writes == len(changed)


async def test_the_final_value_is_written_on_stop(rig: Rig) -> None:
    await rig.writer.start()
    rig.emit("player_death", location="Bone_05")
    rig.emit("alert", message="Died", duration=5)
    await rig.writer.stop()  # before the next tick
    assert rig.read("deaths.txt") == "1"
    assert rig.read("alert.txt") == ""  # an alert does not outlive the bus


async def test_a_locked_target_is_retried_on_the_next_tick(rig: Rig, monkeypatch: Any) -> None:
    await rig.writer.start()
    real_replace = os.replace
    failures = {"left": 3}

    def flaky_replace(src: Any, dst: Any) -> None:
        # Windows: another program holds the file open without delete sharing.
        if str(dst).endswith("deaths.txt") and failures["left"] > 0:
            failures["left"] -= 1
            raise PermissionError(13, "The process cannot access the file")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    rig.emit("player_death", location="Bone_05")
    await rig.clock.advance(0.25)
    assert rig.read("deaths.txt") == "0" and rig.writer.last_error
    await rig.clock.advance(0.75)
    assert rig.read("deaths.txt") == "1"
    assert not [p for p in rig.dir.iterdir() if p.name.endswith(".tmp")]


async def test_existing_files_with_the_same_text_are_left_alone(tmp_path: Path) -> None:
    first = Rig(tmp_path)
    await first.writer.start()
    await first.writer.stop()
    before = (first.dir / "deaths.txt").stat().st_mtime_ns
    second = Rig(tmp_path)
    await second.writer.start()
    await second.writer.stop()
    assert (second.dir / "deaths.txt").stat().st_mtime_ns == before


async def test_switches_folder_and_default_files(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"Directory": "stream/text", "DefaultFiles": False,
                         "Files": {"deaths.txt": "Deaths: {{ deaths.session }}"}})
    await rig.writer.start()
    assert [p.name for p in (tmp_path / "stream" / "text").iterdir()] == ["deaths.txt"]
    assert rig.read("deaths.txt") == "Deaths: 0"
    await rig.writer.stop()
    disabled = Rig(tmp_path / "off", {"Enabled": False})
    await disabled.writer.start()
    assert not disabled.dir.exists()


@pytest.mark.parametrize(("files", "words"), [
    ({"../evil.txt": "x"}, "a file name only"),
    ({"sub/dir.txt": "x"}, "a file name only"),
    ({"pb.txt": "{{ boss.best "}, "bad template"),
    ({"pb.txt": "{{ boss.best|nope }}"}, "No filter named 'nope'"),
])
def test_bad_files_config(files: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {"TextFiles": {"Files": files}})
    assert "[TextFiles] Files" in str(info.value) and words in str(info.value)


async def test_an_unwritable_folder_is_not_fatal_and_is_retried(tmp_path: Path) -> None:
    (tmp_path / "obs-text").write_text("a file where the folder should be")
    rig = Rig(tmp_path)
    await rig.writer.start()  # the bus keeps running
    assert rig.writer.last_error and "obs-text" in rig.writer.last_error
    (tmp_path / "obs-text").unlink()
    rig.emit("player_death", location="Bone_05")
    await rig.clock.advance(0.25)
    assert rig.read("deaths.txt") == "1"
    # Removed while running: recreated on the next ticks.
    for path in rig.dir.iterdir():
        path.unlink()
    rig.dir.rmdir()
    rig.emit("player_death", location="Bone_05")
    await rig.clock.advance(0.5)
    assert rig.read("deaths.txt") == "2"
    assert sorted(p.name for p in rig.dir.iterdir()) == sorted(DEFAULT_FILES)
    await rig.writer.stop()
