"""The usage guide's WebSocket and TCP clients, stored verbatim in tests/usage_guide/, run unchanged
against a bus on the default ports (8080/9090/9091), with the events they react to published on it."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType

import pytest
from conftest import CHROMIUM_ARGS
from waiting import wait_until

from dxbus.bus import Bus

GUIDE = Path(__file__).parent / "usage_guide"
PLAYER = {"health_current": 4, "health_max": 5, "mp_current": 33, "mp_max": 99,
          "position_x": 12.54, "position_y": 3.0}




@pytest.fixture
async def guide_bus(default_ports_lock, bus_factory) -> Bus:
    """A bus on 8080/9090/9091, as the guide's snippets hard-code."""
    bus = await bus_factory(ephemeral=False)
    assert (bus.ports["websocket"], bus.ports["tcp"]) == (9091, 9090)
    return bus


class Snippet:
    """A never-ending snippet run as a subprocess; its output lines are collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode().rstrip("\n"))

    async def wait_for(self, done: Callable[[list[str]], bool], timeout: float = 15.0) -> list[str]:
        """Wait until the output satisfies `done`; fail with what it did print otherwise."""
        try:
            await wait_until(lambda: done(self.lines) or self._reader.done(), timeout)
        except AssertionError:
            raise AssertionError(f"snippet output so far: {self.lines}") from None
        assert done(self.lines), f"the snippet ended early; output: {self.lines}"
        return self.lines

    async def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()
        self._reader.cancel()


@pytest.fixture
async def run_snippet() -> AsyncIterator[Callable[..., object]]:
    """Start snippets (python files from the guide, unchanged); all are killed at the end."""
    running: list[Snippet] = []

    async def start(name: str, cwd: Path = GUIDE) -> Snippet:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(GUIDE / name), cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE,
            start_new_session=True)
        snippet = Snippet(proc)
        running.append(snippet)
        return snippet

    yield start
    for snippet in running:
        await snippet.kill()


def load_snippet(name: str) -> ModuleType:
    """Import a verbatim snippet as a module (its `if __name__ == "__main__"` part does not run)."""
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), GUIDE / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def connected(bus: Bus, kind: str = "websocket", count: int = 1) -> None:
    """Wait for the snippet to connect (it retries nothing, so the bus is up first)."""
    await wait_until(lambda: bus.connections[kind] >= count)


async def test_death_counter(guide_bus: Bus, run_snippet, tmp_path: Path) -> None:
    snippet = await run_snippet("death_counter.py", cwd=tmp_path)
    await connected(guide_bus)
    guide_bus.hub.emit("combat_damage", {"damage": 2, "source": "Skull Tyrant"})  # ignored
    guide_bus.hub.emit("player_death", {"location": "Bone_05", "cause": "Skull Tyrant"})
    guide_bus.hub.emit("player_death", {"location": "Mosstown_02", "cause": "spikes"})
    lines = await snippet.wait_for(lambda out: len(out) >= 2)
    assert lines[:2] == ["Death #1 at Bone_05", "Death #2 at Mosstown_02"]
    await wait_until(lambda: (tmp_path / "death_count.txt").read_text() == "2")


async def test_websocket_streaming_with_processing(guide_bus: Bus, run_snippet) -> None:
    snippet = await run_snippet("websocket_streaming.py")
    await connected(guide_bus)
    guide_bus.hub.emit("player_update", PLAYER)  # no line for it
    guide_bus.hub.emit("combat_damage", {"damage": 13, "source": "Skull Tyrant", "is_player_damage": True})
    guide_bus.hub.emit("scene_transition", {"from_scene": "Bone_01", "to_scene": "Bone_02"})
    lines = await snippet.wait_for(lambda out: len(out) >= 2)
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] Damage: 13 from Skull Tyrant", lines[0])
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] Moved to: Bone_02", lines[1])


async def test_complete_python_client_on_event_handlers_and_stream(guide_bus: Bus, run_snippet) -> None:
    snippet = await run_snippet("complete_python_client.py")  # its __main__: handlers + stream()
    await connected(guide_bus)
    guide_bus.hub.emit("player_update", PLAYER)
    guide_bus.hub.emit("combat_damage", {"damage": 3, "source": "Crawler", "is_player_damage": False})
    guide_bus.hub.emit("combat_damage", {"damage": 2, "source": "Crawler", "is_player_damage": True})
    guide_bus.hub.emit("scene_transition", {"from_scene": "Bone_01", "to_scene": "Bone_02"})
    lines = await snippet.wait_for(lambda out: len(out) >= 3)
    assert lines[:3] == ["Player at (12.5, 3.0)", "Player took 2 damage!", "Entered: Bone_02"]


@pytest.mark.parametrize("compression", ["auto", "on"])
async def test_optimized_client_stream_compressed(default_ports_lock, bus_factory, compression: str) -> None:
    # The client asks for permessage-deflate; over loopback the default ("auto") declines it, "on"
    # accepts it: the snippet works either way.
    guide_bus = await bus_factory({"WebSocket": {"Compression": compression}}, ephemeral=False)
    client = load_snippet("optimized_client.py").OptimizedClient("http://localhost")
    received: list[dict] = []

    async def consume() -> None:
        async for event in client.stream_compressed():
            received.append(event)

    task = asyncio.create_task(consume())
    try:
        await connected(guide_bus)
        (info,) = guide_bus.status_providers["websocket"]()["clients"]
        assert info["compressed"] is (compression == "on")  # compress=15 asks for permessage-deflate
        guide_bus.hub.emit("combat_damage", {"damage": 7, "source": "Moss Mother"})
        guide_bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother", "time": 61.2})
        await wait_until(lambda: len(received) >= 2)
    finally:
        task.cancel()
    # (alerts may follow: the alert engine reacts to the boss on the same bus)
    assert [(e["EventType"], e["Seq"]) for e in received[:2]] == [("combat_damage", 1), ("boss_defeated", 2)]


class LiveSplitServer:
    """A stand-in for LiveSplit Server on 16834 that records the lines it receives."""

    def __init__(self) -> None:
        self.data = b""
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while chunk := await reader.read(4096):
            self.data += chunk
        writer.close()


async def test_livesplit_bridge(guide_bus: Bus, run_snippet) -> None:
    livesplit = LiveSplitServer()
    server = await asyncio.start_server(livesplit.handle, "127.0.0.1", 16834)
    try:
        await run_snippet("livesplit_bridge.py")
        await connected(guide_bus, "tcp")
        await wait_until(lambda: livesplit.connections == 1)
        for command, value in (("start", None), ("split", None), ("time", 12.5), ("reset", None)):
            guide_bus.hub.emit("timer_command", {"command": command, "value": value, "source": "manual"})
        expected = b"split\r\nsetgametime 12.5\r\nreset\r\n"  # the bridge forwards no `start`
        await wait_until(lambda: livesplit.data == expected)
    finally:
        server.close()


@pytest.mark.browser
async def test_damage_overlay_from_a_local_file(guide_bus: Bus, chromium_path: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto((GUIDE / "damage_overlay.html").as_uri())  # Origin: null
            await connected(guide_bus)
            guide_bus.hub.emit("combat_damage", {"damage": 42, "source": "Skull Tyrant",
                                                 "is_player_damage": True})
            number = page.locator(".damage-number.player-damage")
            await number.wait_for(timeout=10_000)
            assert await number.text_content() == "42"
        finally:
            await browser.close()
