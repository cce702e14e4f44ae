"""`dxbus report` as a user runs it (a real process) on sessions whose every number is planted."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from report_sessions import BENCH_ROOM, BOSS_ROOM, ROUTE_ROOM, START, TRUTH, Play, planted_session

from dxbus.report.command import INSTALL_HINT


def dxbus(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dxbus.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=170)


def report_json(*paths: Path, cwd: Path) -> dict[str, Any]:
    done = dxbus("report", *paths, "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def check_planted(session: dict[str, Any], play: Play) -> None:
    """Every number of the planted session (tests/report_sessions.py)."""
    check_numbers(session, play)
    segments = session["segments"]
    if play.original:  # the original's bare first scene_transition is no new save: no run
        assert segments is None
        return
    # The bus's split rules: the menu -> Tut_01 new save started the Act 1 route.
    assert segments["route"]["name"] == "Silksong Act 1: new save to Widow"
    assert segments["run"]["phase"] == "running" and segments["run"]["current_split"] == "Moss Mother"
    assert [s["status"] for s in segments["splits"]][:2] == ["current", "pending"]


def check_numbers(session: dict[str, Any], play: Play) -> None:
    """Every number of the planted session (tests/report_sessions.py)."""
    s = session["summary"]
    assert s["play_seconds"] == pytest.approx(play.t, abs=0.001)
    assert s["deaths"] == 3
    assert s["rooms_visited"] == 3
    assert s["room_entries"] == 18  # 9 x Tut_01, 6 x Tut_02, 3 x Bone_05
    assert s["bosses_beaten"] == ["Bell Beast"]
    assert s["boss_attempts"] == 3
    assert s["total_damage_dealt"] == play.dealt == 330
    assert s["total_damage_taken"] == play.taken == 25
    assert s["avg_damage_dealt"] == round(play.dealt / play.hits_dealt, 2)
    assert s["avg_damage_taken"] == round(play.taken / play.hits_taken, 2)
    assert s["combat_encounters"] == play.hits_dealt + play.hits_taken == 34
    assert s["damage_ratio"] == round(330 / 25, 2)
    assert s["heals"] == 4  # two bench refills after risky passes, two binds in the won fight
    assert s["benches"] == 6

    deaths = session["deaths"]
    assert {d["room"]: d["deaths"] for d in deaths["by_room"]} == TRUTH["deaths_by_room"]
    assert {d["cause"]: d["deaths"] for d in deaths["by_cause"]} == TRUTH["deaths_by_cause"]
    assert [d["area"] for d in deaths["by_room"]] == ["The Marrow", "Moss Grotto"]

    rooms = {r["room"]: r for r in session["rooms"]}
    assert [r["room"] for r in session["rooms"]] == [BOSS_ROOM, ROUTE_ROOM, BENCH_ROOM]  # longest first
    assert rooms[ROUTE_ROOM]["visits"] == 6 and rooms[BOSS_ROOM]["visits"] == 3
    assert rooms[ROUTE_ROOM]["seconds"] == pytest.approx(3 * 5 + 2 * 12 + 15)  # last pass: +3 s dead
    assert rooms[ROUTE_ROOM]["damage_taken"] == 3 * 3 + 2
    assert rooms[BOSS_ROOM]["seconds"] == pytest.approx((1 + 40 + 3) + (1 + 55 + 3) + (1 + 62.5 - 0.5 + 5))
    assert sum(r["seconds"] for r in session["rooms"]) == pytest.approx(play.t)
    assert {a["area"]: a["deaths"] for a in session["areas"]} == {"The Marrow": 2, "Moss Grotto": 1}

    (boss,) = session["bosses"]
    assert boss["boss"] == "Bell Beast" and boss["area"] == "The Marrow"
    assert (boss["attempts"], boss["wins"], boss["losses"]) == (3, 1, 2)
    assert [a["result"] for a in boss["list"]] == TRUTH["boss_results"]
    assert [a["time"] for a in boss["list"]] == TRUTH["boss_times"]
    assert [a["heals"] for a in boss["list"]] == TRUTH["boss_heals"]
    assert [a["damage_taken"] for a in boss["list"]] == [5, 5, 4]
    assert boss["best_time"] == 62.5
    assert boss["average_time"] == pytest.approx((40 + 55 + 62.5) / 3, abs=0.01)
    assert boss["trend"] == pytest.approx(11.25)  # least squares over 40, 55, 62.5
    assert boss["difference"] == [
        "Winning attempts took 1.0 less damage on average",
        "Winning attempts healed 2.0 times more per fight",
        "Winning attempts lasted 15.0 s longer (62.5 s against 47.5 s)"]

    routes = {r["room"]: r for r in session["routes"]}
    route = routes[ROUTE_ROOM]
    assert route["attempts"] == TRUTH["route_attempts"] and route["k"] == 2
    clusters = {c["name"]: c for c in route["clusters"]}
    assert clusters["A"]["attempts"] == [1, 2, 3] and clusters["B"]["attempts"] == [4, 5, 6]
    assert route["best"] == "A"  # the safe one
    assert route["best_description"] == "damage-free, moderate-pace"
    assert clusters["A"]["means"]["damage_taken"] == 0
    assert clusters["B"]["means"]["damage_taken"] == round((3 + 3 + 5) / 3, 2)
    assert clusters["A"]["means"]["avg_speed"] == 8.0
    assert clusters["B"]["means"]["abilities"] == 4.0
    assert route["silhouette"] > 0.5
    assert route["advice"][0] == "Optimal route takes 3.7 less damage on average than your latest attempts"
    assert "Consider conserving abilities - optimal route uses fewer" in route["advice"]
    assert [a["route"] for a in route["list"]] == ["A", "A", "A", "B", "B", "B"]

    series = session["series"]
    assert [d[1] for d in series["deaths"]] == [ROUTE_ROOM, BOSS_ROOM, BOSS_ROOM]
    assert len(series["fights"]) == 3 and len(series["benches"]) == 6
    assert sum(series["damage"]["taken"]) == 25 and sum(series["damage"]["dealt"]) == 330
    assert min(h for _, h in series["health"]) == 0 and series["health_max"] == 5
    assert series["silk"] and series["silk_max"] == 9


def test_report_numbers_of_a_planted_session(tmp_path: Path) -> None:
    play = planted_session()
    path = play.write(tmp_path / "metrics_20260301_180000.ndjson")
    report = report_json(path, cwd=tmp_path)
    (session,) = report["sessions"]
    assert session["session"]["origin"] == "live"
    assert session["session"]["events"] == len(play.lines)
    check_planted(session, play)
    assert report["problems"]["bad_lines"] == 0


def test_report_reads_the_original_mods_format(tmp_path: Path) -> None:
    play = planted_session(original=True)
    folder = tmp_path / "DataExport"
    folder.mkdir()
    path = play.write(folder / "metrics_20260301_180000.ndjson")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n" in path.read_bytes()
    (session,) = report_json(folder, cwd=tmp_path)["sessions"]
    check_planted(session, play)


def test_report_mixes_files_folders_gzip_and_splits_sessions(tmp_path: Path) -> None:
    """An export, the same play's recording (read once), a gzipped original file two hours later
    (a second session) and a demo export (its own session, never mixed into real play)."""
    first = planted_session()
    (tmp_path / "DataExport").mkdir()
    first.write(tmp_path / "DataExport" / "metrics_a.ndjson")
    recording = first.write(tmp_path / "recording.ndjson")
    later = Play(original=True, start=START + timedelta(hours=2))
    later.enter(BENCH_ROOM)
    later.move(30, 4)
    later.hurt(1)
    later.die("Mossgrub")
    gz = later.write(tmp_path / "DataExport" / "metrics_b.ndjson.gz")
    assert gzip.decompress(gz.read_bytes()).startswith(b"\xef\xbb\xbf")
    demo = tmp_path / "DataExport" / "demo"
    demo.mkdir()
    (demo / "metrics_demo.ndjson").write_text(json.dumps(
        {"Timestamp": "2026-03-01T18:00:05.000Z", "EventType": "player_death", "Data": {"location": "Tut_01"},
         "Seq": 1, "Origin": "demo"}) + "\n" + json.dumps(
        {"Timestamp": "2026-03-01T18:00:06.000Z", "EventType": "player_death", "Data": {},
         "Origin": "test"}) + "\n")
    report = report_json(tmp_path / "DataExport", recording, cwd=tmp_path)
    live1, live2, demo_session = report["sessions"]
    check_planted(live1, first)
    assert report["problems"]["duplicates_skipped"] == len(first.lines)
    assert live2["summary"]["deaths"] == 1 and live2["session"]["start"].startswith("2026-03-01T20:00")
    assert live2["summary"]["play_seconds"] == pytest.approx(30)
    assert demo_session["session"]["origin"] == "demo"
    assert demo_session["summary"]["deaths"] == 1  # the test event is not part of any history


def test_report_writes_html_and_names_bad_lines(tmp_path: Path) -> None:
    play = planted_session()
    path = play.write(tmp_path / "s.ndjson")
    with path.open("ab") as handle:
        handle.write(b"{not json\n")
    done = dxbus("report", path, "-o", tmp_path / "out.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"skipped {path}:{len(play.lines) + 1}: not JSON" in done.stderr
    assert "1 session from 1 file -> " in done.stdout
    html = (tmp_path / "out.html").read_text()
    assert "<script src" not in html and "http" not in html.split("<body", 1)[1].split("report-data")[0]


def test_report_errors_name_what_is_wrong(tmp_path: Path) -> None:
    done = dxbus("report", tmp_path / "missing.ndjson", cwd=tmp_path)
    assert done.returncode == 2
    assert f"{tmp_path / 'missing.ndjson'}: no such file or folder" in done.stderr


def test_report_reads_a_broken_gzip_up_to_the_break(tmp_path: Path) -> None:
    """A gzip file that breaks off: what it holds up to there counts, the break is named."""
    broken = tmp_path / "broken.ndjson.gz"
    broken.write_bytes(gzip.compress(planted_session().write(tmp_path / "ok.ndjson").read_bytes())[:5000])
    done = dxbus("report", broken, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"dxbus report: skipped {broken}:" in done.stderr and "the file breaks off here" in done.stderr
    assert json.loads(done.stdout)["sessions"][0]["session"]["events"] > 0


def test_report_names_a_file_that_is_not_gzip(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson.gz"
    bad.write_bytes(b"this is not gzip\n")
    done = dxbus("report", bad, cwd=tmp_path)
    assert done.returncode == 2 and f"dxbus report: {bad}: cannot be read" in done.stderr
    (tmp_path / "empty").mkdir()
    done = dxbus("report", tmp_path / "empty", cwd=tmp_path)
    assert done.returncode == 2 and "no recordings in this folder" in done.stderr


def test_report_without_the_analysis_extra_says_what_to_install(tmp_path: Path) -> None:
    path = planted_session().write(tmp_path / "s.ndjson")
    code = ("import sys; sys.modules['sklearn'] = None; from dxbus.cli import main; "
            f"sys.exit(main(['report', {str(path)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=170)
    assert done.returncode == 2
    assert done.stderr.strip() == INSTALL_HINT
    assert "pip install 'data-export-bus[analysis]'" in done.stderr
