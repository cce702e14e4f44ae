"""The usage guide's HTTP clients, verbatim in tests/usage_guide/, run unchanged on the default ports."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import orjson
import pytest
from conftest import CHROMIUM_ARGS

from dxbus.bus import Bus
from dxbus.events import Draft

GUIDE = Path(__file__).parent / "usage_guide"
PLAYER = {"health_current": 4, "health_max": 5, "mp_current": 33, "mp_max": 99,
          "position_x": 12.5, "position_y": 3.0}


@pytest.fixture
async def guide_bus(default_ports_lock, bus_factory) -> Bus:
    """A bus on 8080/9090/9091, as the guide's snippets hard-code."""
    bus = await bus_factory(ephemeral=False)
    assert bus.ports["http"] == 8080
    return bus


def load_snippet(name: str) -> ModuleType:
    """Import a verbatim snippet as a module (its `if __name__ == "__main__"` part does not run)."""
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), GUIDE / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run_until(argv: list[str], done: Callable[[list[str]], bool], timeout: float = 15) -> list[str]:
    """Run a never-ending snippet, collect its output lines until `done(lines)`, then kill it."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=GUIDE, env=env, stdout=asyncio.subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            while not done(lines):
                line = await proc.stdout.readline()
                assert line, f"{argv} ended early; output so far: {lines}"
                lines.append(line.decode().rstrip("\n"))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the loop and its curl/jq children
        await proc.wait()
    return lines


async def test_basic_http_polling_with_curl_and_jq(guide_bus: Bus) -> None:
    guide_bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bone_01"})
    guide_bus.hub.emit("player_update", PLAYER)
    lines = await run_until(["bash", "http_polling.sh"], lambda out: bool(out) and out[-1] == "}")
    shown = orjson.loads("\n".join(lines))
    assert shown["EventType"] == "player_update"
    assert shown["Data"] == PLAYER
    assert shown["Seq"] == 2


async def test_segment_time_analysis(guide_bus: Bus) -> None:
    guide_bus.hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Bone_01"})
    guide_bus.hub.emit("scene_transition", {"from_scene": "Bone_01", "to_scene": "Bone_02"})
    lines = await run_until([sys.executable, "segment_time_analysis.py"],
                            lambda out: any(line.startswith("Bone_01:") for line in out))
    first = next(line for line in lines if line.startswith("Bone_01:"))
    assert re.fullmatch(r"Bone_01: \d+\.\d\ds \(Total: \d+\.\d\ds\)", first)


async def test_complete_python_client_status_metrics_configure(guide_bus: Bus) -> None:
    client = load_snippet("complete_python_client.py").DataExportBusClient()
    guide_bus.hub.emit("player_death", {"location": "Bone_01", "cause": "Skull Tyrant"})
    guide_bus.hub.emit("player_update", PLAYER)

    status = await client.get_status()
    assert status["status"] == "healthy"
    assert status["metrics_collected"] == guide_bus.hub.metrics_collected >= 2
    assert status["configuration"]["update_frequency_hz"] == 10

    metrics = await client.get_metrics("player_update")
    assert [m["EventType"] for m in metrics] == ["player_update"]
    assert metrics[-1]["Data"]["health_current"] == 4
    everything = [m["EventType"] for m in await client.get_metrics()]
    # other parts may add derived events (alerts...); ours come in order
    assert everything.index("player_death") < everything.index("player_update")

    reply = await client.configure(update_frequency_hz=5, export_combat_data=False)
    assert reply["success"] is True
    assert reply["applied"] == {"update_frequency_hz": 5, "export_combat_data": False}
    assert guide_bus.policy.update_frequency_hz == 5
    assert guide_bus.hub.emit("combat_damage", {"damage": 1}) is None  # gated from now on


async def test_optimized_client_batch_and_cache(guide_bus: Bus) -> None:
    client = load_snippet("optimized_client.py").OptimizedClient("http://localhost:8080")
    guide_bus.hub.emit("player_death", {"location": "Bone_01"})
    for damage in (1, 2, 3):
        guide_bus.hub.emit("combat_damage", {"damage": damage, "is_player_damage": True})
    guide_bus.hub.emit("scene_transition", {"from_scene": "Bone_01", "to_scene": "Bone_02"})

    deaths, hits, both = await client.get_metrics_batch(
        [{"type": "player_death"}, {"type": "combat_damage", "limit": 2}, {}])
    assert [m["Data"]["location"] for m in deaths] == ["Bone_01"]
    assert [m["Data"]["damage"] for m in hits] == [1, 2]
    assert [m["EventType"] for m in both] == ["player_death"] + ["combat_damage"] * 3  # no scene

    cached = await client.get_cached_or_fetch("combat_damage")
    assert [m["Data"]["damage"] for m in cached] == [1, 2, 3]


async def test_reduce_update_frequency_snippet(guide_bus: Bus) -> None:
    guide_bus.policy.advanced_metrics_enabled = True
    proc = await asyncio.create_subprocess_exec(sys.executable, "reduce_update_frequency.py", cwd=GUIDE)
    assert await asyncio.wait_for(proc.wait(), 15) == 0
    assert guide_bus.policy.update_frequency_hz == 5
    assert guide_bus.policy.advanced_metrics_enabled is False


@pytest.mark.browser
async def test_health_mp_display_from_a_local_file(
    guide_bus: Bus, chromium_path: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    page_file = tmp_path / "overlay.html"
    page_file.write_text(
        '<!DOCTYPE html><html><body><div id="health">-</div><div id="mp">-</div>'
        f'<script src="{(GUIDE / "health_mp_display.js").as_uri()}"></script></body></html>')
    guide_bus.hub.emit("player_update", PLAYER)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            await page.goto(page_file.as_uri())
            await page.wait_for_function(
                "document.getElementById('health').textContent === '4/5'", timeout=10_000)
            assert await page.text_content("#mp") == "33/99"
            # later updates show up on the next poll (10 Hz)
            hurt = {**PLAYER, "health_current": 2, "mp_current": 66}
            # not thinned by the 10 Hz collection rate, so no waiting for its interval to pass
            assert guide_bus.hub.publish(Draft("player_update", hurt), thin=False) is not None
            await page.wait_for_function(
                "document.getElementById('health').textContent === '2/5'", timeout=10_000)
            assert await page.text_content("#mp") == "66/99"
            assert not errors, errors

            # "Missing Events": the configuration check from a local page logs the settings
            check = tmp_path / "check.html"
            check.write_text(f'<script src="{(GUIDE / "check_configuration.js").as_uri()}"></script>')
            page2 = await browser.new_page()
            async with page2.expect_console_message(lambda m: m.text.startswith("Enabled features:")) as msg:
                await page2.goto(check.as_uri())
            logged = await (await msg.value).args[1].json_value()
            assert logged["export_player_data"] is True and logged["update_frequency_hz"] == 10
        finally:
            await browser.close()
