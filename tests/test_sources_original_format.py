"""The original mod's real file format and event names come out as documented events."""

from __future__ import annotations

from pathlib import Path

import orjson

from dxbus.sources.ndjson_reader import BadLine, LineBuffer, Record, read_records
from dxbus.sources.original_format import OriginalNormalizer, enemy_type_of, normalize

BOM = b"\xef\xbb\xbf"


def original_line(ts: str, event_type: str, data: dict) -> bytes:
    """One line exactly as FileExporter.cs writes it (snake_case keys, 7 digits, CRLF)."""
    return orjson.dumps({"timestamp": ts, "event_type": event_type, "data": data}) + b"\r\n"


def write_original(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(BOM + b"".join(lines))
    return path


ORIGINAL_SESSION = [
    original_line("2025-09-20T14:30:45.1234567Z", "player_update", {
        "position_x": 12.5, "position_y": 3.0, "velocity_x": 0.0, "velocity_y": 0.0,
        "health_current": 5, "health_max": 5, "soul_current": 0, "soul_max": 0,
        "grounded": True, "dashing": False, "attacking": False, "total_distance": 0.0}),
    original_line("2025-09-20T14:30:45.2234567Z", "timing_update", {
        "session_time": 12.1, "real_time": "2025-09-20T14:30:45.2234567Z", "frame_count": 700,
        "fps": "Infinity"}),
    original_line("2025-09-20T14:30:46.0000000Z", "scene_transition",
                  {"scene_name": "Tut_01", "session_time": 13.0}),
    original_line("2025-09-20T14:30:46.1000000Z", "scene_update", {
        "scene_name": "Tut_01", "time_in_scene": 0.1, "room_position_x": 1.0, "room_position_y": 2.0}),
    original_line("2025-09-20T14:30:47.0000000Z", "player_damaged",
                  {"damage": 1, "health_remaining": 4, "position_x": 14.0, "position_y": 3.0}),
    original_line("2025-09-20T14:30:47.5000000Z", "enemy_damaged", {
        "damage": 5, "enemy_name": "Crawler (3)", "enemy_position_x": 20.0, "enemy_position_y": 3.5}),
    original_line("2025-09-20T14:30:48.0000000Z", "scene_transition",
                  {"scene_name": "Bone_05", "session_time": 15.0}),
    original_line("2025-09-20T14:30:48.5000000Z", "combat_stats",
                  {"total_damage_taken": 1, "total_damage_dealt": 5, "enemies_killed": 0}),
]


def test_original_file_reads_into_documented_events(tmp_path: Path) -> None:
    path = write_original(tmp_path / "metrics_20250920_143045.ndjson", ORIGINAL_SESSION)
    records, bad = read_records(path)
    assert bad == []
    types = [r.draft.type for r in records]
    assert types == ["player_update", "timing_update", "scene_transition", "scene_update",
                     "combat_damage", "combat_damage", "scene_transition", "combat_stats"]
    player = records[0].draft
    assert player.timestamp == "2025-09-20T14:30:45.123Z"
    assert player.data["mp_current"] == 0 and player.data["mp_max"] == 0
    assert player.data["on_ground"] is True and player.data["is_dashing"] is False
    assert player.data["is_attacking"] is False
    assert not {"soul_current", "soul_max", "grounded", "dashing", "attacking"} & player.data.keys()
    assert records[1].draft.data["fps"] is None
    first = records[2].draft.data
    assert first["to_scene"] == "Tut_01" and "from_scene" not in first
    hit = records[4].draft.data
    assert hit == {"damage": 1, "player_health_remaining": 4, "position_x": 14.0, "position_y": 3.0,
                   "is_player_damage": True}
    dealt = records[5].draft.data
    assert dealt["is_player_damage"] is False and dealt["enemy_name"] == "Crawler (3)"
    assert dealt["enemy_type"] == "Crawler" and dealt["position_x"] == 20.0
    second = records[6].draft.data
    assert second["from_scene"] == "Tut_01" and second["to_scene"] == "Bone_05"
    assert second["scene_name"] == "Bone_05"


def test_bad_lines_are_reported_with_file_and_line_and_skipped(tmp_path: Path) -> None:
    lines = [ORIGINAL_SESSION[0], b"{not json\r\n", b"\r\n", b"[1, 2]\r\n",
             original_line("2025-09-20T14:30:46Z", "Bad Type", {}), ORIGINAL_SESSION[4]]
    path = write_original(tmp_path / "metrics_x.ndjson", lines)
    records, bad = read_records(path)
    assert [r.draft.type for r in records] == ["player_update", "combat_damage"]
    assert [b.where for b in bad] == [f"{path}:2", f"{path}:4", f"{path}:5"]
    assert "not JSON" in bad[0].message and "EventType" in bad[2].message
    assert isinstance(bad[0], BadLine) and isinstance(records[0], Record)


def test_both_key_styles_and_recorded_seq(tmp_path: Path) -> None:
    path = tmp_path / "ours.ndjson"
    path.write_bytes(
        b'{"Timestamp":"2026-01-01T00:00:00.000Z","EventType":"player_death","Data":{"location":"Tut_01"},'
        b'"Seq":41}\n'
        b'{"timestamp":"2026-01-01T00:00:01.0000000Z","event_type":"custom_event","data":{"a":1}}\n')
    records, bad = read_records(path)
    assert bad == []
    assert [(r.draft.type, r.recorded_seq) for r in records] == [("player_death", 41), ("custom_event", None)]


def test_normalizer_leaves_documented_events_alone() -> None:
    documented = {"Timestamp": "2026-01-01T00:00:00.000Z", "EventType": "scene_transition",
                  "Data": {"from_scene": "A", "to_scene": "B", "transition_type": "door"}}
    assert normalize(documented) == documented
    update = {"EventType": "player_update", "Data": {"mp_current": 3, "on_ground": False}}
    assert normalize(update)["Data"] == {"mp_current": 3, "on_ground": False}


def test_boss_event_and_mid_session_scene() -> None:
    n = OriginalNormalizer()
    n.normalize({"event_type": "scene_update", "data": {"scene_name": "Ant_19"}})
    moved = n.normalize({"event_type": "scene_transition", "data": {"scene_name": "Ant_20"}})
    assert moved["Data"]["from_scene"] == "Ant_19"
    boss = n.normalize({"event_type": "boss_event", "data": {"boss_name": "Lace", "event_type": "defeat"}})
    assert boss["EventType"] == "boss_encounter"
    assert boss["Data"] == {"boss_name": "Lace", "phase": "defeated"}
    assert enemy_type_of("Mossbone Crawler(Clone)") == "Mossbone Crawler"


def test_line_buffer_waits_for_the_newline() -> None:
    buf = LineBuffer("f")
    assert buf.feed(b'{"a":') == []
    assert buf.feed(b'1}\r\n{"b"') == [(b'{"a":1}\r', "f:1")]
    assert buf.pending == b'{"b"'
    assert buf.finish() == [(b'{"b"', "f:2")]
