"""`dxbus overlay new NAME`: the scaffolded user overlay renders the bus's state in Debian's Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from overlay_support import BusMaker, open_overlay

from dxbus.cli import main
from dxbus.clock import ManualClock


def test_scaffold_writes_three_files_and_never_overwrites(tmp_path: Path, capsys: Any) -> None:
    folder = tmp_path / "mine"
    assert main(["overlay", "new", "my-hud", "--dir", str(folder)]) == 0
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert written == ["my-hud.html.j2", "my-hud.toml", "static/overlays/my-hud.js"]
    out = capsys.readouterr().out
    assert f"dxbus serve --overlays {folder}" in out and "/overlays/my-hud" in out
    before = (folder / "my-hud.toml").read_text()
    assert main(["overlay", "new", "my-hud", "--dir", str(folder)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (folder / "my-hud.toml").read_text() == before
    assert main(["overlay", "new", "My HUD", "--dir", str(folder)]) == 2
    assert "lower-case letters" in capsys.readouterr().err


def test_scaffold_uses_the_configured_overlay_folder(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    (tmp_path / "dxbus.toml").write_text('[Overlays]\nDirectory = "my-overlays"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["overlay", "new", "hud"]) == 0
    assert (tmp_path / "my-overlays" / "hud.html.j2").is_file()
    assert "open it: dxbus serve," in capsys.readouterr().out


@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="module")
async def test_the_scaffolded_overlay_renders_server_state(
        browser: Any, buses: BusMaker, tmp_path: Path) -> None:
    folder = tmp_path / "user-overlays"
    assert main(["overlay", "new", "my-hud", "--dir", str(folder)]) == 0
    bus = await buses.make(overlays_dir=folder)
    clock = bus.clock
    assert isinstance(clock, ManualClock)
    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bonetown"})
    bus.hub.emit("player_death", {"location": "Bonetown"})
    page, console = await open_overlay(browser, bus, "my-hud", "label=Falls")
    assert await page.text_content("#mine-deaths") == "1"
    assert await page.text_content("#mine-room") == "Bonetown"
    assert "Falls" in (await page.text_content("#mine") or "")
    # A fight, ended by a death after 12.5 s of bus time: the state's fight time, frozen.
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    await page.wait_for_function("document.getElementById('mine-boss').textContent === 'Moss Mother'")
    await clock.advance(12.5)
    bus.hub.emit("player_death", {"location": "Bonetown"})
    await page.wait_for_function("document.getElementById('mine-deaths').textContent === '2'")
    assert await page.text_content("#mine-fight") == "0:12.5"
    assert bus.state is not None and bus.state.snapshot()["boss"]["fight_time"] == 12.5
    # Its script is its own file, served from the user's folder.
    assert await page.evaluate("Array.from(document.scripts, s => s.src).some("
                               "u => u.includes('/static/overlays/my-hud.js'))")
    assert not console.of("pageerror") and not console.of("error")
    await page.close()
