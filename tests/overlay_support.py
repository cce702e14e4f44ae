"""Helpers for the overlay browser tests: buses on a module loop, pages with console capture, PNG alpha."""

from __future__ import annotations

import asyncio
import re
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from conftest import CHROMIUM, CHROMIUM_ARGS, bus_overrides

from dxbus.assemble import RunOptions, build_bus
from dxbus.bus import Bus
from dxbus.clock import ManualClock
from dxbus.config import load_config


@dataclass
class BusMaker:
    """Starts buses (ManualClock, ephemeral ports unless given) and stops them all at the end."""

    tmp_path: Path
    started: list[Bus] = field(default_factory=list)

    async def make(self, overlays_dir: Path | None = None, ports: dict[str, int] | None = None,
                   overrides: dict | None = None) -> Bus:
        extra: dict[str, dict[str, Any]] = {"DataCollection": {"UpdateFrequencyHz": 60}}
        if ports:
            extra |= {"HTTP": {"Port": ports["http"]}, "WebSocket": {"Port": ports["websocket"]},
                      "TCP": {"Port": ports["tcp"]}}
        for section, values in (overrides or {}).items():
            extra.setdefault(section, {}).update(values)
        config = load_config(None, bus_overrides(self.tmp_path, extra))
        bus = build_bus(config, RunOptions(overlays_dir=overlays_dir), clock=ManualClock(),
                        base_dir=self.tmp_path)
        await bus.start()
        self.started.append(bus)
        return bus

    async def stop(self, bus: Bus) -> None:
        if bus in self.started:
            self.started.remove(bus)
            await bus.stop()

    async def close(self) -> None:
        for bus in reversed(self.started):
            await bus.stop()
        self.started.clear()


async def emit_state(bus: Bus, event_type: str, data: dict[str, Any]) -> None:
    """Publish a high-rate state event past the UpdateFrequencyHz thinning (moves the manual clock)."""
    clock = bus.clock
    assert isinstance(clock, ManualClock)
    await clock.advance(0.05)
    assert bus.hub.emit(event_type, data) is not None


class Console:
    """Console messages of a page, by type."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def __call__(self, msg: Any) -> None:
        self.messages.append((msg.type, msg.text))

    def of(self, kind: str) -> list[str]:
        return [text for t, text in self.messages if t == kind]


async def open_overlay(browser: Any, bus: Bus, name: str, query: str = "",
                       size: tuple[int, int] = (960, 540)) -> tuple[Any, Console]:
    """Open `/overlays/<name>?query` and wait until its snapshot has arrived."""
    page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
    console = Console()
    page.on("console", console)
    page.on("pageerror", lambda exc: console.messages.append(("pageerror", str(exc))))
    url = f"{bus.url('http')}/overlays/{name}" + (f"?{query}" if query else "")
    await page.goto(url)
    await wait_live(page)
    return page, console


async def wait_live(page: Any, snapshots: int = 1) -> None:
    """Until the page's bus client is connected and has applied `snapshots` snapshots."""
    await page.wait_for_function(
        f"window.DXBus && DXBus.client && DXBus.client.stats.snapshots >= {snapshots} "
        "&& document.documentElement.dataset.bus === 'live'", timeout=10_000)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0, what: str = "") -> None:
    """Poll `check` until it is true (deadline, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


def png_alpha(png: bytes) -> Callable[[int, int], int]:
    """Decode an 8-bit RGBA PNG (Chromium's screenshots) and return alpha(x, y)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = color = 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and color == 6, f"expected RGBA8, got depth {depth} color type {color}"
    raw = zlib.decompress(idat)
    stride = width * 4
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 4] if i >= 4 else 0
            b = prev[i]
            c = prev[i - 4] if i >= 4 else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        prev = line
    return lambda x, y: rows[y][x * 4 + 3]


# bus.js warns like this when a query setting is unknown or invalid and falls back to the default.
SETTING_WARNING = re.compile(r"^\[dxbus\] overlay .*(unknown setting|: setting )")
# Setting warnings seen in the current test's pages (checked by `no_setting_warnings`).
setting_warnings: list[str] = []


class WatchedBrowser:
    """The module's Chromium; every page it opens reports setting warnings to `setting_warnings`."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)

    async def new_page(self, **kwargs: Any) -> Any:
        page = await self._browser.new_page(**kwargs)

        def check(msg: Any) -> None:
            if msg.type == "warning" and SETTING_WARNING.search(msg.text):
                setting_warnings.append(f"{page.url}: {msg.text}")

        page.on("console", check)
        return page


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> Any:
    """One Chromium per test module (launching is the slow part)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield WatchedBrowser(chromium)
        await chromium.close()


@pytest.fixture(autouse=True)
def no_setting_warnings(request: pytest.FixtureRequest) -> Any:
    """A browser test fails on any overlay setting warning, unless marked `setting_warnings`.

    A fallen-back setting is a page that looks right by accident: the test meant another value.
    """
    setting_warnings.clear()
    yield
    seen, allowed = list(setting_warnings), request.node.get_closest_marker("setting_warnings")
    setting_warnings.clear()
    if seen and allowed is None:
        pytest.fail("overlay setting warnings in the console:\n" + "\n".join(seen), pytrace=False)


@pytest_asyncio.fixture(loop_scope="module")
async def buses(tmp_path: Path) -> Any:
    """Buses for browser tests, stopped at the end of the test."""
    maker = BusMaker(tmp_path)
    yield maker
    await maker.close()
