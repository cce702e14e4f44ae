"""The `dxbus` command as a user meets it: help, config mistakes, a busy port, Ctrl+C."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest
from dxbus_process import dxbus_process

from dxbus.assemble import apart
from dxbus.cli import main
from dxbus.config import ConfigError, load_config
from dxbus.events import DEMO
from dxbus.folder_lock import LOCK_NAME

ROOT = Path(__file__).resolve().parent.parent
EPHEMERAL = ["--http-port", "0", "--ws-port", "0", "--tcp-port", "0"]


def test_bare_dxbus_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: dxbus") and "serve" in out and "demo" in out and "COMMAND" in out


@pytest.mark.parametrize(("overrides", "message"), [
    ({"HTTP": {"Prot": 8081}}, "[HTTP] Prot: unknown key (did you mean Port?)"),
    ({"Htp": {"Port": 8081}}, "[Htp]: unknown section (did you mean HTTP?)"),
    ({"DataCollection": {"UpdateFrequencyHZ": 5}}, "unknown key (did you mean UpdateFrequencyHz?)"),
    ({"Timer": {"Splits": [{"Nmae": "x"}]}}, "[Timer] Splits.1.Nmae: unknown key (did you mean Name?)"),
    ({"OBS": {"Rules": [{"Scene": "A"}, {"Scne": "A"}]}}, "[OBS] Rules.2.Scne: unknown key"),
])
def test_an_unknown_key_or_section_suggests_the_nearest(overrides: dict, message: str) -> None:
    if "OBS" in overrides:  # a bad rule is left out with its message, not a start-up error
        errors = load_config(None, overrides).obs.rule_errors
        assert errors == ["[OBS] Rules.2.Scne: unknown key (did you mean Scene?); this rule is left out"]
        return
    with pytest.raises(ConfigError) as caught:
        load_config(None, overrides)
    assert message in str(caught.value)


def test_a_key_nothing_is_near_gets_no_guess() -> None:
    with pytest.raises(ConfigError, match=r"\[WebSocket\] Zzzz: unknown key$"):
        load_config(None, {"WebSocket": {"Zzzz": 1}})


def test_timer_reset_as_one_table_is_one_condition(tmp_path: Path) -> None:
    path = tmp_path / "dxbus.toml"
    path.write_text('[Timer.Reset]\nMenu = true\n[Timer.Start]\nNewGame = true\n', encoding="utf-8")
    timer = load_config(path).timer
    route = timer.build_route(tmp_path)
    assert [c.menu for c in route.reset] == [True] and [c.new_game for c in route.start] == [True]


def test_the_files_dxbus_writes_are_ignored_by_git() -> None:
    """Everything `dxbus serve` or `dxbus demo` run in the checkout writes there by default."""
    ignored = set((ROOT / ".gitignore").read_text(encoding="utf-8").split())
    config = load_config(None)
    files = [config.state.file, config.timer.bests_file, LOCK_NAME]
    files += [apart(name, DEMO) for name in (config.state.file, config.timer.bests_file)]
    folders = [config.file_export.directory, config.text_files.directory]
    assert "/dxbus-splits.json" in ignored and "/dxbus-demo-splits.json" in ignored
    assert {f"/{name}" for name in files} <= ignored
    assert {f"/{name}/" for name in folders} <= ignored


def test_a_busy_port_held_by_dxbus_says_it_is_already_running(tmp_path: Path) -> None:
    with dxbus_process(["serve", *EPHEMERAL], tmp_path) as first:
        lines = first.wait_for_line("Press Ctrl+C")
        dashboard = next(line.split()[-1] for line in lines if line.strip().startswith("Dashboard"))
        port = dashboard.rsplit(":", 1)[1].rstrip("/")
        second_dir = tmp_path / "second"
        second_dir.mkdir()
        with dxbus_process(["serve", "--http-port", port, "--ws-port", "0", "--tcp-port", "0"],
                           second_dir) as second:
            rc, out = second.finish()
        assert rc == 1
        assert out.strip().endswith(f"dxbus is already running at http://127.0.0.1:{port}/ (stop it first, "
                                    "or start this one with other ports: --http-port, --ws-port, --tcp-port)")
        rc, _ = first.finish(signal.SIGTERM)
        assert rc == 0


def test_a_busy_port_held_by_something_else_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with dxbus_process(["serve", "--http-port", str(port), "--ws-port", "0", "--tcp-port", "0"],
                           tmp_path) as proc:
            rc, out = proc.finish()
    assert rc == 1
    assert f"127.0.0.1:{port} is not available" in out and "[HTTP] Port or use --http-port" in out
    assert "already running" not in out


def test_ctrl_c_says_what_was_saved(tmp_path: Path) -> None:
    with dxbus_process(["demo", *EPHEMERAL, "--seed", "3", "--speed", "20"], tmp_path) as proc:
        proc.wait_for_line("Press Ctrl+C")
        rc, out = proc.finish(signal.SIGINT)
    assert rc == 0
    last = out.strip().splitlines()[-1]
    assert last.startswith("dxbus stopped; saved ")
    # A demo keeps its files apart from real play's.
    assert f"export file in {tmp_path / 'DataExport' / 'demo'}" in last
    assert f"splits and best segments in {tmp_path / 'dxbus-demo-splits.json'}" in last
    # The counters file is written once there is something to keep (a death, a boss attempt).
    state = tmp_path / "dxbus-demo-state.json"
    assert not (tmp_path / "dxbus-state.json").exists()
    assert (f"session counters (deaths, boss attempts) in {state}" in last) == state.exists()
