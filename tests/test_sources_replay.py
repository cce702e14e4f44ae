"""Replay: original spacing scaled by speed, deterministic on a ManualClock, seek/step/pause/loop."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from dxbus.bus import Bus
from dxbus.clock import ManualClock, settle
from dxbus.config import load_config
from dxbus.events import Event
from dxbus.sources.replay import ReplaySource, SeekError, load_timeline, parse_start

T0 = 1_767_225_600.0


def iso(offset: float) -> str:
    from dxbus.clock import utc_iso
    return utc_iso(T0 + offset)


def write_recording(path: Path, items: list[tuple[float, str, dict]]) -> Path:
    with path.open("wb") as f:
        for seq, (offset, kind, data) in enumerate(items, start=1):
            f.write(orjson.dumps({"Timestamp": iso(offset), "EventType": kind, "Data": data, "Seq": seq}))
            f.write(b"\n")
    return path


SESSION = [
    (0.0, "scene_transition", {"from_scene": "Tut_01", "to_scene": "Bone_01"}),
    (0.5, "player_update", {"health_current": 5}),
    (1.0, "combat_damage", {"damage": 1, "is_player_damage": True}),
    (3.0, "scene_transition", {"from_scene": "Bone_01", "to_scene": "Bone_05"}),
    (3.5, "player_update", {"health_current": 4}),
    (4.0, "alert", {"id": "a1"}),  # derived: not replayed, the bus makes it again
    (6.0, "player_death", {"location": "Bone_05"}),
]


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = ManualClock(start_wall=T0 + 86_400)
        self.bus = Bus(load_config(None), clock=self.clock, base_dir=tmp_path)
        self.seen: list[tuple[float, Event]] = []
        self.bus.hub.add_listener(lambda e: self.seen.append((self.clock.monotonic(), e)))
        self.path = write_recording(tmp_path / "rec.ndjson", SESSION)

    def replay(self, **kw) -> ReplaySource:
        return ReplaySource(self.bus, [self.path], **kw)

    def times(self) -> list[tuple[float, str]]:
        return [(round(t, 3), e.type) for t, e in self.seen]


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


async def test_original_spacing_and_timestamps(h: Harness) -> None:
    r = h.replay()
    await r.start()
    await h.clock.advance(10)
    assert h.times() == [(0, "scene_transition"), (0.5, "player_update"), (1.0, "combat_damage"),
                         (3.0, "scene_transition"), (3.5, "player_update"), (6.0, "player_death")]
    # Original timestamps are kept; Seq is the live bus's own.
    assert [e.timestamp for _, e in h.seen][:2] == [iso(0), iso(0.5)]
    assert [e.seq for _, e in h.seen] == [1, 2, 3, 4, 5, 6]
    assert r.finished.is_set() and r.status()["state"] == "finished"
    await r.stop()


async def test_speed_10_is_ten_times_faster_same_order(h: Harness) -> None:
    r = h.replay(speed=10)
    await r.start()
    await h.clock.advance(1)
    assert h.times() == [(0, "scene_transition"), (0.05, "player_update"), (0.1, "combat_damage"),
                         (0.3, "scene_transition"), (0.35, "player_update"), (0.6, "player_death")]
    await r.stop()


async def test_deterministic(tmp_path: Path) -> None:
    runs = []
    for n in range(2):
        (tmp_path / str(n)).mkdir()
        h = Harness(tmp_path / str(n))
        r = h.replay(speed=2)
        await r.start()
        for _ in range(8):
            await h.clock.advance(0.4)
        runs.append([(t, e.type, e.data) for t, e in h.seen])
        await r.stop()
    assert runs[0] == runs[1] and len(runs[0]) == 6


async def test_pause_resume_and_speed_change(h: Harness) -> None:
    r = h.replay()
    await r.start()
    await h.clock.advance(0.75)
    r.pause()
    await h.clock.advance(100)
    assert len(h.seen) == 2 and r.status()["state"] == "paused"
    assert r.status()["position"]["time"] == 0.75
    r.resume()
    await settle()
    await h.clock.advance(0.25)  # the remaining 0.25 s of the gap
    assert h.times()[-1] == (100.75 + 0.25, "combat_damage")
    r.set_speed(2)
    await settle()
    await h.clock.advance(1.0)  # 2 s of recording: 1.0 -> 3.0
    assert h.times()[-1] == (102.0, "scene_transition")
    await r.stop()


async def test_seek_and_step(h: Harness) -> None:
    r = h.replay(paused=True)
    await r.start()
    await h.clock.advance(5)
    assert h.seen == []
    r.seek(scene="bone_05")
    stepped = r.step()
    assert [e.data for e in stepped] == [{"from_scene": "Bone_01", "to_scene": "Bone_05"}]
    assert r.status()["position"]["next_type"] == "player_update"
    stepped = r.step(2)
    assert [e.type for e in stepped] == ["player_update", "player_death"]
    assert r.step() == [] and r.status()["state"] == "finished"
    r.seek(seq=3)
    assert [e.type for e in r.step()] == ["combat_damage"]
    r.seek(time=0.5)
    assert [e.type for e in r.step()] == ["player_update"]
    r.resume()
    await settle()
    await h.clock.advance(0.49)
    assert h.seen[-1][1].type == "player_update"
    await h.clock.advance(0.01)
    assert h.seen[-1][1].type == "combat_damage"
    with pytest.raises(SeekError, match="Nowhere"):
        r.seek(scene="Nowhere")
    with pytest.raises(SeekError):
        r.seek(time=99)
    await r.stop()


async def test_from_and_loop(h: Harness) -> None:
    r = h.replay(start_from="scene:Bone_05", loop=True)
    await r.start()
    await h.clock.advance(3.0)  # Bone_05 @0, update @0.5, death @3.0
    assert [e.type for _, e in h.seen] == ["scene_transition", "player_update", "player_death"]
    assert r.loops == 1
    await h.clock.advance(1.0)  # the loop's breath, then Bone_05 again (not the file's start)
    assert h.times()[3:] == [(4.0, "scene_transition")]
    await h.clock.advance(0.5)
    assert h.times()[4:] == [(4.5, "player_update")]
    assert r.status()["loops"] == 1
    await r.stop()


async def test_player_updates_not_thinned_at_speed(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.path = write_recording(tmp_path / "fast.ndjson",
                             [(i * 0.1, "player_update", {"i": i}) for i in range(50)])
    r = h.replay(speed=10)
    await r.start()
    await h.clock.advance(1)
    await settle()
    assert [e.data["i"] for _, e in h.seen] == list(range(50))
    await r.stop()


def test_parse_start() -> None:
    assert parse_start("120") == {"seq": 120}
    assert parse_start("seq:7") == {"seq": 7}
    assert parse_start("90s") == {"time": 90.0}
    assert parse_start("1:30") == {"time": 90.0}
    assert parse_start("1:02:03.5") == {"time": 3723.5}
    assert parse_start("time:12") == {"time": 12.0}
    assert parse_start("Bone_05") == {"scene": "Bone_05"}
    assert parse_start("scene:12") == {"scene": "12"}


def test_multiple_files_and_gaps(tmp_path: Path) -> None:
    a = write_recording(tmp_path / "a.ndjson", [(0, "x_a", {}), (100, "x_b", {})])
    b = write_recording(tmp_path / "b.ndjson", [(5000, "x_c", {})])
    entries, _bad = load_timeline([a, b])
    assert [(e.draft.type, e.offset) for e in entries] == [("x_a", 0), ("x_b", 10.0), ("x_c", 11.0)]


async def test_replays_the_original_mods_files(tmp_path: Path) -> None:
    from test_sources_original_format import ORIGINAL_SESSION, write_original

    h = Harness(tmp_path)
    h.path = write_original(tmp_path / "metrics_20250920_143045.ndjson",
                            [*ORIGINAL_SESSION[:3], b"garbage\r\n", *ORIGINAL_SESSION[3:]])
    r = h.replay(start_from="seq:3")  # no Seq in the original's files: events count from 1
    await r.start()
    await h.clock.advance(5)
    assert [e.type for _, e in h.seen] == ["scene_transition", "scene_update", "combat_damage",
                                           "combat_damage", "scene_transition", "combat_stats"]
    assert h.times()[:3] == [(0, "scene_transition"), (0.1, "scene_update"), (1.0, "combat_damage")]
    assert h.seen[-2][1].data["from_scene"] == "Tut_01"
    assert r.status()["skipped_lines"] == 1
    assert r.status()["skipped"][0].startswith(f"{h.path}:4: not JSON")
    await r.stop()


def test_derived_events_are_not_replayed(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "d.ndjson", [
        (0, "alert", {"id": "x"}),
        (0, "timer_command", {"command": "split", "source": "rules"}),
        (0, "timer_command", {"command": "pause", "source": "loads"}),
        (0, "timer_command", {"command": "start", "source": "manual"}),
        (0, "timer_command", {"command": "split", "source": "stream_deck"}),
        (0, "overlay_reload", {"path": "x"}),
        (0, "player_death", {"location": "Bone_05"}),
    ])
    entries, _ = load_timeline([path])
    assert [(e.draft.type, e.draft.data.get("source")) for e in entries] == [
        ("timer_command", "manual"), ("timer_command", "stream_deck"), ("player_death", None)]
