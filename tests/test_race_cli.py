"""`dxbus race`: a bad race file or an unreachable Redis stops start-up with a line naming it."""

from __future__ import annotations

from pathlib import Path

from dxbus_process import dxbus_process
from redis_server import free_port


def test_bad_race_file_names_the_file_race_and_key(tmp_path: Path) -> None:
    races = tmp_path / "races.toml"
    races.write_text('[[race]]\nid = "w"\n[[race.runner]]\nname = "A"\ntoken = "short"\n'
                     '[[race.runner]]\nname = "B"\npull = "ftp://x"\nbogus = 1\n')
    with dxbus_process(["race", str(races), "--http-port", "0", "--ws-port", "0", "--tcp-port", "0"],
                       tmp_path) as proc:
        rc, out = proc.finish(timeout=60)
    assert rc == 2, out
    assert f"{races}: race.0.runner.0: `token` must be at least 8 characters" in out
    assert f"{races}: race.0.runner.1.bogus: unknown key" in out


def test_unreachable_redis_is_named(tmp_path: Path) -> None:
    races = tmp_path / "races.toml"
    races.write_text('[[race]]\nid = "w"\n[[race.runner]]\nname = "A"\ntoken = "long-enough-token"\n')
    url = f"redis://127.0.0.1:{free_port()}/0"
    with dxbus_process(["race", str(races), "--redis", url, "--http-port", "0", "--ws-port", "0",
                        "--tcp-port", "0"], tmp_path) as proc:
        rc, out = proc.finish(timeout=60)
    assert rc == 1, out
    assert f"Redis at {url}" in out
