"""The OBS service without OBS: browser-source refresh, dry-run on a bus, CLI flags, `dxbus obs explain`."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dxbus.cli import main, make_parser
from dxbus.clock import ManualClock
from dxbus.obs.actions import RefreshBrowserSources, run
from dxbus.obs.commands import obs_overrides, parse_obs_url


class FakeObs:
    """Answers the requests a browser-source refresh makes, and records them."""

    def __init__(self, inputs: dict[str, str]) -> None:
        self.inputs = inputs
        self.calls: list[tuple[str, dict[str, Any] | None]] = []

    def send(self, param: str, data: dict[str, Any] | None = None, raw: bool = False) -> Any:
        self.calls.append((param, data))
        if param == "GetInputList":
            return {"inputs": [{"inputName": name, "inputKind": "browser_source"} for name in self.inputs]}
        if param == "GetInputSettings":
            return {"inputSettings": {"url": self.inputs[data["inputName"]]}, "inputKind": "browser_source"}
        return None


def test_refresh_presses_refresh_on_our_browser_sources_only() -> None:
    fake = FakeObs({"HP bar": "http://127.0.0.1:8080/overlays/health?theme=dark",
                    "Alerts": "http://localhost:8080/overlays/alerts",
                    "Chat": "https://twitch.tv/popout/chat"})
    done = run(fake, RefreshBrowserSources(":8080/overlays"))
    presses = [d for p, d in fake.calls if p == "PressInputPropertiesButton"]
    assert [d["inputName"] for d in presses] == ["HP bar", "Alerts"]
    assert all(d["propertyName"] == "refreshnocache" for d in presses)
    assert done.startswith("refreshed 2 browser source(s)")


async def wait_for(check: Any, what: str, timeout: float = 5.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if value := check():
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_dry_run_on_a_bus_logs_switches_and_overlay_refresh(
        bus_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dxbus.obs")
    rules = [{"Prefix": "Boss_", "Scene": "Boss Fight Scene"},
             {"On": "player_death", "SetText": {"Deaths": "Died in {location}"}}]
    bus = await bus_factory(overrides={"OBS": {"DryRun": True, "Rules": rules}}, clock=ManualClock())
    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Boss_Lace"})
    bus.hub.emit("player_death", {"location": "Boss_Lace", "cause": "Lace"})
    for path in ("health.html.j2", "overlay.css", "bus.js"):  # one save, several files
        bus.hub.emit("overlay_reload", {"path": path})
    await wait_for(lambda: "refresh browser sources" in caplog.text, "the refresh line")
    text = caplog.text
    assert "OBS dry-run: would switch to 'Boss Fight Scene': rule 1 (Prefix 'Boss_') matched room " \
           "'Boss_Lace' (scene_transition #1) at " in text
    assert "OBS dry-run: would set text of 'Deaths' to 'Died in Boss_Lace'" in text
    assert text.count(f"would refresh browser sources showing ':{bus.ports['http']}/overlays'") == 1
    status = bus.status_providers["obs"]()
    assert status["dry_run"] and status["last_switches"][0]["outcome"] == "dry-run"


async def test_a_bad_rule_is_one_message_and_the_bus_keeps_serving(
        bus_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dxbus.obs")
    rules = [{"Regex": "Boss_(", "Scene": "Boss Fight Scene"}, {"Prefix": "Boss_", "Scene": "Boss"}]
    bus = await bus_factory(overrides={"OBS": {"DryRun": True, "Rules": rules}}, clock=ManualClock())
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["[OBS] Rules.1.Regex = 'Boss_(': invalid regular expression: missing ), "
                      "unterminated subpattern at position 5; this rule is left out"]
    async with aiohttp.ClientSession() as http:
        async with http.get(bus.url("http") + "/overlays/hp") as page:
            assert page.status == 200
        async with http.get(bus.url("http") + "/api/status") as reply:
            assert (await reply.json())["obs"]["rule_errors"] == [errors[0]]
    bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Boss_Lace"})
    await wait_for(lambda: "would switch to 'Boss'" in caplog.text, "the good rule's switch")


async def test_status_when_obs_control_is_off(bus_factory: Any) -> None:
    bus = await bus_factory()
    assert bus.status_providers["obs"]() == {"enabled": False}
    assert not any(getattr(s, "name", "") == "obs" for s in bus.services)


def test_obs_flags_become_config_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DXBUS_OBS_PASSWORD", raising=False)
    args = make_parser().parse_args(["serve", "--obs-url", "ws://10.0.0.5:4460", "--obs-password", "pw",
                                     "--dry-run"])
    assert obs_overrides(args) == {"Enabled": True, "Host": "10.0.0.5", "Port": 4460, "Password": "pw",
                                   "DryRun": True}
    monkeypatch.setenv("DXBUS_OBS_PASSWORD", "from-env")
    assert obs_overrides(make_parser().parse_args(["serve"])) == {"Password": "from-env"}
    assert parse_obs_url("localhost") == ("localhost", 4455)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_obs_url("http://x:1")


def test_obs_explain_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "dxbus.toml"
    config.write_text(
        '[OBS]\nSceneMap = {"MainMenu" = "Menu Scene", "Boss_" = "Boss Fight Scene", '
        '"Cutscene_" = "Cutscene Scene", "_Shop" = "Shop Scene"}\n'
        '[[OBS.Rules]]\nOn = "boss"\nScene = "Boss Fight Scene"\n'
        '[[OBS.Rules]]\nRegex = "Bone_0[0-9]"\nScene = "Gameplay"\n', encoding="utf-8")
    assert main(["obs", "--config", str(config), "explain", "Boss_Shop"]) == 0
    out = capsys.readouterr().out
    assert "rule 1 (On boss): skipped: fires on boss, not on entering a room" in out
    assert "rule 6 'SceneMap' (Contains '_Shop'): matches too, but rule 4 'SceneMap' comes first" in out
    result = "result: switch to 'Boss Fight Scene' by rule 4 'SceneMap' (Contains 'Boss_')"
    assert out.rstrip().endswith(result)
    config.write_text('[[OBS.Rules]]\nRegex = "("\nScene = "A"\n', encoding="utf-8")
    assert main(["obs", "--config", str(config), "explain", "X"]) == 2
    assert "[OBS] Rules.1.Regex = '(': invalid regular expression" in capsys.readouterr().err


EVIL_SCENE = "<img src=x onerror=alert(1)>"


@pytest.mark.browser
async def test_dashboard_obs_card_shows_switches(bus_factory: Any, chromium_path: str) -> None:
    from conftest import CHROMIUM_ARGS
    from playwright.async_api import async_playwright

    rules = [{"Prefix": "Boss_", "Scene": EVIL_SCENE}, {"Scene": "Gameplay"}]
    bus = await bus_factory(overrides={"OBS": {"DryRun": True, "Rules": rules}}, clock=ManualClock())
    bus.hub.emit("scene_transition", {"to_scene": "Boss_Lace"})
    await wait_for(lambda: bus.status_providers["obs"]()["last_switches"], "a dry-run switch")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(bus.url("http") + "/")
            assert await page.text_content("#obs-conn") == "dry-run"
            assert EVIL_SCENE in (await page.text_content("#obs-switches") or "")  # text, not markup
            bus.hub.emit("scene_transition", {"to_scene": "Tut_01"})  # the 2 s refresh picks it up
            await page.wait_for_function(
                "document.querySelector('#obs-switches tr td:nth-child(2)').textContent === 'Gameplay'",
                timeout=8000)
            assert await page.evaluate("document.querySelectorAll('#obs-switches img').length") == 0
        finally:
            await browser.close()
