"""`dxbus doctor` against a protocol-level stand-in of obs-websocket v5 (browser sources) with the real
obsws-python client: it finds every planted misconfiguration and fixes the ones it offers to fix."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from fakes.obs_websocket import FakeObs

from dxbus.obs.doctor import BusFacts, apply, connect, examine, format_report


async def test_the_doctor_finds_and_fixes_planted_misconfigurations(tmp_path: Path) -> None:
    text_dir = tmp_path / "obs-text"
    text_dir.mkdir()
    (text_dir / "deaths.txt").write_text("12")
    bus = BusFacts(http_port=8080, token="s3cret", text_dir=text_dir)
    ok = "http://127.0.0.1:8080/overlays/{}?token=s3cret"
    obs = FakeObs(inputs={
        "HP small": ("browser_source", {"url": ok.format("hp") + "&mask_size=72&show_numbers=1",
                                        "width": 720, "height": 180}),
        "Alerts mute": ("browser_source", {"url": ok.format("alerts"), "width": 1920, "height": 1080,
                                           "reroute_audio": False}),
        "Boss shutdown": ("browser_source", {"url": ok.format("boss"), "width": 800, "height": 600,
                                             "shutdown": True}),
        "Old port": ("browser_source", {"url": "http://localhost:8081/overlays/deaths?token=s3cret",
                                        "width": 800, "height": 600}),
        "Old token": ("browser_source", {"url": "http://localhost:8080/overlays/deaths?token=old",
                                         "width": 800, "height": 600}),
        "Fine": ("browser_source", {"url": ok.format("deaths"), "width": 800, "height": 600}),
        "Not ours": ("browser_source", {"url": "https://example.com/overlays/hp", "width": 10, "height": 10}),
        "Deaths text": ("text_ft2_source_v2", {"from_file": True,
                                               "text_file": str(text_dir / "deaths.txt")}),
        "Gone text": ("text_gdiplus_v2", {"read_from_file": True, "file": str(text_dir / "pb.txt")}),
        "Webcam": ("v4l2_input", {}),
    }, scenes={"Game": ["HP small", "Alerts mute", "Boss shutdown", "Deaths text"], "BRB": ["Fine"]})
    port = await obs.start()
    try:
        send, close = await asyncio.to_thread(connect, "127.0.0.1", port, "")
        try:
            report = await asyncio.to_thread(examine, send, bus)
            names = {s.name for s in report.sources}
            assert names == {"HP small", "Alerts mute", "Boss shutdown", "Old port", "Old token", "Fine",
                             "Deaths text", "Gone text"}
            hp = next(s for s in report.sources if s.name == "HP small")
            assert hp.overlay == "hp" and hp.scenes == ["Game"]
            problems = {(f.source, f.problem.split(" ")[0]) for f in report.findings}
            assert {f.source for f in report.findings} == {"HP small", "Alerts mute", "Boss shutdown",
                                                           "Old port", "Old token", "Gone text"}
            assert ("HP small", "720x180") in problems
            text = format_report(report)
            assert "HP small: 720x180 cuts content: hp needs 952x236" in text
            assert "Control audio via OBS" in text and "Shutdown source when not visible" in text
            assert "port 8081" in text and "old or no token" in text and "pb.txt" in text
            fixable = [f for f in report.findings if f.fix]
            assert {f.source for f in fixable} == {"HP small", "Alerts mute", "Boss shutdown", "Old port"}
            count = await asyncio.to_thread(apply, send, report)
            assert count == len(fixable)
            assert obs.inputs["HP small"][1]["width"] == 952 and obs.inputs["HP small"][1]["height"] == 236
            assert obs.inputs["Alerts mute"][1]["reroute_audio"] is True
            assert obs.inputs["Boss shutdown"][1]["shutdown"] is False
            assert obs.inputs["Old port"][1]["url"].startswith("http://localhost:8080/overlays/deaths")
            assert {n for n, b in obs.pressed if b == "refreshnocache"} == {
                "HP small", "Alerts mute", "Boss shutdown", "Old port"}
            # a second look finds only what needs a hand
            again = await asyncio.to_thread(examine, send, bus)
            assert {f.source for f in again.findings} == {"Old token", "Gone text"}
        finally:
            await asyncio.to_thread(close)
    finally:
        await obs.stop()


async def test_dxbus_doctor_fix_on_the_command_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from dxbus.cli import main

    obs = FakeObs(inputs={"HP": ("browser_source", {"url": "http://127.0.0.1:9123/overlays/HP/?show_numbers=1",
                                                    "width": 400, "height": 100})}, scenes={"Game": ["HP"]})
    port = await obs.start()
    config = tmp_path / "dxbus.toml"
    config.write_text(f"[HTTP]\nPort = 9123\n\n[OBS]\nHost = \"127.0.0.1\"\nPort = {port}\n")
    try:
        assert await asyncio.to_thread(main, ["doctor", "--config", str(config)]) == 1
        out = capsys.readouterr().out
        assert "HP: 400x100 cuts content: hp needs " in out and "[fixable: dxbus doctor --fix]" in out
        assert await asyncio.to_thread(main, ["doctor", "--config", str(config), "--fix"]) == 0
        assert "[fixed]" in capsys.readouterr().out
        assert obs.inputs["HP"][1]["width"] > 536 and ("HP", "refreshnocache") in obs.pressed
    finally:
        await obs.stop()
    config.write_text("[OBS]\nHost = \"127.0.0.1\"\nPort = 1\n")  # nothing listens there
    assert await asyncio.to_thread(main, ["doctor", "--config", str(config)]) == 2
    assert "cannot reach OBS at 127.0.0.1:1" in capsys.readouterr().err


async def test_the_dashboard_doctor_panel_checks_and_fixes(bus_factory: Any, chromium_path: str) -> None:
    from conftest import CHROMIUM_ARGS
    from playwright.async_api import async_playwright

    obs = FakeObs(inputs={}, scenes={"Game": ["HP small", "Fine"]})
    port = await obs.start()
    try:
        bus = await bus_factory(overrides={"OBS": {"Host": "127.0.0.1", "Port": port}})
        here = f"http://127.0.0.1:{bus.ports['http']}/overlays/"
        obs.inputs["HP small"] = ("browser_source", {"url": here + "hp?mask_size=72&show_numbers=1",
                                                     "width": 720, "height": 180})
        obs.inputs["Fine"] = ("browser_source", {"url": here + "deaths", "width": 800, "height": 600})
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                await page.goto(bus.url() + "/")
                await page.click("#doctor-check")
                finding = page.locator("#doctor-findings li.fixable")
                await finding.wait_for(timeout=10_000)
                assert (await finding.text_content() or "").startswith("HP small: 720x180 cuts content")
                summary = await page.text_content("#doctor-summary") or ""
                assert "2 source(s) show this bus · 1 problem(s)" in summary
                await page.click("#doctor-fix")
                await page.locator("#doctor-findings li.fixed").wait_for(timeout=10_000)
                assert "no problems · 1 fixed" in (await page.text_content("#doctor-summary") or "")
                assert await page.is_hidden("#doctor-fix")
            finally:
                await browser.close()
        assert obs.inputs["HP small"][1]["width"] == 952 and ("HP small", "refreshnocache") in obs.pressed
        async with aiohttp.ClientSession() as http, http.post(
                bus.url() + "/api/obs/doctor/fix", json={"sources": "HP small"}) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["parameter"] == "sources"
    finally:
        await obs.stop()
    async with aiohttp.ClientSession() as http, http.get(bus.url() + "/api/obs/doctor") as resp:
        assert resp.status == 503  # OBS gone: one clear answer, the bus keeps serving
        assert f"cannot reach OBS at 127.0.0.1:{port}" in (await resp.json())["error"]["message"]
