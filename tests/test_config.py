"""Configuration: validation messages, `dxbus config`, and the documented defaults."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dxbus.config import Config, ConfigError, load_config
from dxbus.config_toml import to_toml

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[DataCollection]\nUpdateFrequencyHz = 99", "[DataCollection] UpdateFrequencyHz = 99: "),
        ("[HTTP]\nPort = 70000", "(allowed: 0 to 65535)"),
        ("[HTTP]\nPort = \"eighty\"", "[HTTP] Port = 'eighty'"),
        ("[HTTP]\nPrt = 8080", "[HTTP] Prt: unknown key"),
        ("[Nope]\nX = 1", "[Nope]: unknown section"),
        ("[FileExport]\nFormat = \"CSV\"", "only NDJSON is supported"),
        ("[Security\n", "not valid TOML"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "dxbus.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_printed_config_reads_back_unchanged() -> None:
    config = load_config(None, {"Security": {"AuthToken": 'a "quoted" token'}, "HTTP": {"Port": 1234}})
    assert Config.model_validate(tomllib.loads(to_toml(config))) == config


def test_docs_show_the_current_defaults() -> None:
    docs = (ROOT / "docs" / "configuration.md").read_text()
    assert to_toml(load_config(None)) in docs, "regenerate docs/configuration.md with `dxbus config`"


def test_cli_reports_a_bad_file_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "dxbus.toml").write_text("[DataCollection]\nUpdateFrequencyHz = 0\n")
    result = subprocess.run([sys.executable, "-m", "dxbus.cli", "config"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "[DataCollection] UpdateFrequencyHz = 0" in result.stderr
    assert "allowed: 1 to 60" in result.stderr
    ok = subprocess.run([sys.executable, "-m", "dxbus.cli", "config", "--http-port", "8181"],
                        cwd=tmp_path / "..", capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "Port = 8181" in ok.stdout


async def test_a_port_in_use_names_the_setting_to_change(bus_factory) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=r"127\.0\.0\.1:\d+ is not available .*\[WebSocket\] Port"):
            await bus_factory({"WebSocket": {"Port": port}})
        with pytest.raises(OSError, match=r"change \[HTTP\] Port or use --http-port"):
            await bus_factory({"HTTP": {"Port": port}})
