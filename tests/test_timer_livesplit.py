"""LiveSplit bridging against a LiveSplit Server stand-in (tests/fakes/livesplit_server.py):
the usage guide's own bridge snippet reading port 9090, the built-in bridge (in the bus, and
standalone reading port 9090), reconnecting after LiveSplit restarts, and stale commands dropped."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fakes.livesplit_server import FakeLiveSplitServer, format_time, parse_time
from timer_route import ROUTE

from dxbus.bus import Bus
from dxbus.clock import ManualClock
from dxbus.config import load_config
from dxbus.speedrun.cli import parse_address
from dxbus.speedrun.livesplit import (
    LiveSplitBridge,
    PendingCommand,
    TimerPortFeed,
    delivered_prefix,
    livesplit_lines,
    parse_timer_line,
)

# The getters the bridge asks (on connecting, and as the acknowledgement of each batch).
QUERIES = ("getcurrenttimerphase", "getsplitindex")
SNIPPET = Path(__file__).parent / "usage_guide" / "livesplit_bridge.py"


async def wait_until(condition, timeout: float = 10.0, clock: ManualClock | None = None) -> None:
    """Poll with a deadline; with a ManualClock, move it on meanwhile so backoff sleeps can end."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met within the deadline")
        if clock is not None:
            await clock.advance(0.25)
        await asyncio.sleep(0.01)


def scene(bus: Bus, frm: str, to: str, load_ms: float = 0.0) -> None:
    bus.hub.emit("scene_transition", {"from_scene": frm, "to_scene": to, "load_time_ms": load_ms})


async def play_run(bus: Bus, clock: ManualClock) -> None:
    """New game; a load at 12 s; Moss Mother at 42 s; Bone Bottom at 50 s (load 2 s)."""
    scene(bus, "Opening_Sequence", "Tut_01", 900)
    await clock.advance(12)
    scene(bus, "Tut_01", "Tut_03", 1000)
    await clock.advance(30)
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother"})
    await clock.advance(8)
    scene(bus, "Tut_03", "Bonetown", 2000)


@contextlib.asynccontextmanager
async def running_bridge(port: int, **settings: Any) -> AsyncIterator[tuple[LiveSplitBridge, ManualClock]]:
    """A started bridge to LiveSplit on `port` (`[LiveSplit]` keys in `settings`), on a manual clock."""
    clock = ManualClock()
    bridge = LiveSplitBridge(load_config(None, {"LiveSplit": {"Port": port, **settings}}).live_split, clock)
    await bridge.start()
    try:
        yield bridge, clock
    finally:
        await bridge.stop()


async def started_run(bridge: LiveSplitBridge) -> None:
    """Once connected, start the timer and wait until LiveSplit has it."""
    await wait_until(lambda: bridge.state == "connected")
    bridge.submit({"command": "start"})
    await wait_until(lambda: bridge.status()["commands_sent"] == 1)


@pytest.fixture
async def livesplit() -> AsyncIterator[FakeLiveSplitServer]:
    server = FakeLiveSplitServer(splits=3)
    await server.start()
    yield server
    await server.stop()


def test_stand_in_speaks_livesplit_time_formats() -> None:
    assert parse_time("83.5") == 83.5 and parse_time("1:23.5") == 83.5
    assert parse_time("1.02:03:04.5") == 93784.5 and parse_time("-") is None
    assert format_time(83.45) == "00:01:23.4500000" and format_time(None) == "-"
    server = FakeLiveSplitServer(splits=2)
    assert server.execute("getcurrenttimerphase") == "NotRunning"
    assert server.execute("initgametime") is None and server.invalid == ["initgametime"]
    assert server.execute("Split") is None and "Split" in server.invalid  # case-sensitive
    server.execute("starttimer")
    assert server.execute("getsplitindex") == "0"
    server.execute("split")
    server.execute("split")
    assert server.execute("gettimerphase") == "Ended" and server.execute("ping") == "pong"


@pytest.mark.parametrize(("data", "lines"), [
    ({"command": "start", "value": None}, ["starttimer"]),
    ({"command": "start", "value": 0.0}, ["starttimer", "setgametime 0.000"]),
    ({"command": "split"}, ["split"]),
    ({"command": "skip"}, ["skipsplit"]),
    ({"command": "reset"}, ["reset"]),
    ({"command": "pause", "source": "manual"}, ["pause"]),
    ({"command": "pause", "source": "loads"}, ["pausegametime"]),
    ({"command": "resume", "source": "loads"}, ["unpausegametime"]),
    ({"command": "time", "value": 1e-7}, ["setgametime 0.000"]),
    ({"command": "time", "value": 83.4567}, ["setgametime 83.457"]),
    ({"command": "time", "value": None}, []),
    ({"command": "initgametime"}, []),
])
def test_command_mapping(data: dict, lines: list[str]) -> None:
    assert livesplit_lines(data) == lines


def test_timer_port_lines_parse() -> None:
    assert parse_timer_line("time:12.5\n") == {"command": "time", "value": 12.5, "source": "tcp"}
    assert parse_timer_line("pause")["source"] == "loads"
    assert parse_timer_line("AUTH:OK") is None and parse_timer_line("time:nan") is None
    assert parse_address("10.0.0.5:9090") == ("10.0.0.5", 9090) and parse_address(":9") == ("127.0.0.1", 9)
    with pytest.raises(ValueError, match="port"):
        parse_address("host:http")


async def test_usage_guide_snippet_forwards_splits_to_livesplit(bus_factory, default_ports_lock,
                                                                tmp_path) -> None:
    """The guide's bridge, unchanged, on the default ports 9090 and 16834."""
    livesplit = FakeLiveSplitServer(port=16834, splits=3)
    await livesplit.start()
    (tmp_path / "route.toml").write_text(ROUTE)
    clock = ManualClock()
    bus = await bus_factory(overrides={"Timer": {"Route": "route.toml"}}, clock=clock, ephemeral=False)
    proc = subprocess.Popen([sys.executable, str(SNIPPET)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        await wait_until(lambda: (bus.connections["tcp"] == 1 and livesplit.connections == 1)
                         or proc.poll() is not None)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        livesplit.execute("starttimer")  # the snippet forwards no start: the runner starts by hand
        await play_run(bus, clock)
        scene(bus, "Bonetown", "Menu_Title")
        await wait_until(lambda: "reset" in livesplit.lines)
    finally:
        proc.kill()
        proc.wait()
        await livesplit.stop()
    assert livesplit.lines == ["starttimer", "setgametime 11.0", "setgametime 41.0", "split",
                               "setgametime 47.0", "split", "reset"]
    assert livesplit.invalid == []


async def test_builtin_bridge_drives_livesplit_and_survives_a_restart(bus_factory, livesplit,
                                                                      tmp_path) -> None:
    (tmp_path / "route.toml").write_text(ROUTE)
    clock = ManualClock()
    bus = await bus_factory(clock=clock, overrides={
        "Timer": {"Route": "route.toml"},
        "LiveSplit": {"Enabled": True, "Port": livesplit.port, "ReconnectMinSeconds": 0.25,
                      "ReconnectMaxSeconds": 1.0, "CommandExpirySeconds": 5.0}})
    await wait_until(lambda: bus.status_providers["livesplit"]()["state"] == "connected", clock=clock)
    assert livesplit.lines == ["getcurrenttimerphase", "getsplitindex"]
    await play_run(bus, clock)
    await wait_until(lambda: livesplit.timer.index == 2)
    sent = [line for line in livesplit.lines if line not in QUERIES]
    assert sent == ["starttimer", "setgametime 0.000",
                    "pausegametime", "setgametime 11.000", "unpausegametime", "setgametime 41.000",
                    "split", "pausegametime", "setgametime 47.000", "unpausegametime", "split"]
    assert livesplit.timer.phase == "Running" and livesplit.invalid == []
    assert livesplit.timer.split_times[:2] == pytest.approx([41.0, 47.0], abs=0.05)

    # LiveSplit is closed and opened again: the bridge notices, reconnects, and the split made
    # while it was away (within CommandExpirySeconds) still arrives; LiveSplit keeps its own timer.
    port, timer = livesplit.port, livesplit.timer
    await livesplit.stop()
    await wait_until(lambda: bus.status_providers["livesplit"]()["state"] != "connected", clock=clock)
    await clock.advance(10)
    bus.hub.emit("boss_defeated", {"boss_name": "Bell Beast"})
    restarted = FakeLiveSplitServer(port=port, splits=3)
    restarted.timer = timer
    await restarted.start()
    try:
        await wait_until(lambda: restarted.timer.phase == "Ended", clock=clock)
        status = bus.status_providers["livesplit"]()
        assert status["state"] == "connected" and status["connects"] == 2
        assert status["timer_phase"] == "Ended" and status["commands_dropped"] == 0
        # The Bell Beast split's game time: 47 s at Bone Bottom plus the time the clock moved since.
        last = next(s for s in bus.services if s.name == "timer").engine.run.splits[-1]
        assert last.game > 57
        assert [line for line in restarted.lines if line not in QUERIES] == [
            f"setgametime {last.game:.3f}", "split"]
    finally:
        await restarted.stop()


async def test_commands_older_than_the_expiry_are_dropped_not_sent_late(livesplit) -> None:
    port = livesplit.port
    await livesplit.stop()
    async with running_bridge(port, CommandExpirySeconds=2, ReconnectMinSeconds=1) as (bridge, clock):
        bridge.submit({"command": "split"})
        bridge.submit({"command": "split"})  # within DedupeSeconds of the first: one split
        await wait_until(lambda: bridge.state == "disconnected")
        await clock.advance(3)  # LiveSplit still away: the split is stale now
        back = FakeLiveSplitServer(port=port)
        await back.start()
        try:
            await wait_until(lambda: bridge.state == "connected", clock=clock)
            bridge.submit({"command": "reset"})
            await wait_until(lambda: "reset" in back.lines)
            assert "split" not in back.lines
            assert bridge.status()["commands_dropped"] == 1 and bridge.status()["commands_sent"] == 1
        finally:
            await back.stop()


async def test_standalone_bridge_reads_port_9090_like_the_snippet(bus_factory, livesplit,
                                                                   tmp_path) -> None:
    """`dxbus livesplit --bus`: the built-in bridge fed by the timer port, over real sockets."""
    (tmp_path / "route.toml").write_text(ROUTE)
    clock = ManualClock()
    bus = await bus_factory(overrides={"Timer": {"Route": "route.toml"}}, clock=clock)
    # The bus runs on a ManualClock, this bridge on the real one: the scripted splits arrive
    # within milliseconds, so the repeat guard (meant for manual + rules firing together) is off.
    settings = load_config(None, {"LiveSplit": {"Port": livesplit.port, "DedupeSeconds": 0}}).live_split
    bridge = LiveSplitBridge(settings)
    host, port = bus.url("tcp").rsplit(":", 1)
    feed = TimerPortFeed(bridge, host, int(port))
    await bridge.start()
    await feed.start()
    try:
        await wait_until(lambda: feed.connected and bridge.state == "connected")
        await wait_until(lambda: bus.connections["tcp"] == 1)
        await play_run(bus, clock)
        await wait_until(lambda: livesplit.timer.index == 2)
    finally:
        with contextlib.suppress(Exception):
            await feed.stop()
        await bridge.stop()
    assert [line for line in livesplit.lines if line not in QUERIES] == [
        "starttimer", "pausegametime", "setgametime 11.000", "unpausegametime", "setgametime 41.000",
        "split", "pausegametime", "setgametime 47.000", "unpausegametime", "split"]


async def test_bus_starts_without_livesplit_and_says_so(bus_factory) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    bus = await bus_factory(overrides={"LiveSplit": {"Enabled": True, "Port": free}})
    await wait_until(lambda: bus.status_providers["livesplit"]()["last_error"] is not None)
    status = bus.status_providers["livesplit"]()
    assert status["state"] == "disconnected" and "cannot connect" in status["last_error"]
    bus.hub.emit("timer_command", {"command": "split", "value": None, "source": "manual"})
    assert bus.status_providers["livesplit"]()["queued"] == 1  # kept for CommandExpirySeconds


async def bridge_waiting(bridge: LiveSplitBridge, clock: ManualClock) -> None:
    """Until the bridge's loop sleeps on the clock again (a connect attempt takes real time)."""
    await wait_until(lambda: clock.pending >= 1 and bridge.state != "connecting")


async def test_a_split_livesplit_took_before_the_link_dropped_is_not_sent_again(livesplit) -> None:
    """LiveSplit takes the split, then the connection fails before it answers: one split, not two."""
    async with running_bridge(livesplit.port) as (bridge, clock):
        await started_run(bridge)
        await wait_until(lambda: livesplit.timer.phase == "Running" and bridge.status()["queued"] == 0)
        livesplit.hang_up_after.add("split")
        bridge.submit({"command": "split"})
        await wait_until(lambda: livesplit.connections == 2, clock=clock)  # reconnected
        await wait_until(lambda: bridge.state == "connected" and bridge.status()["queued"] == 0)
        bridge.submit({"command": "reset"})
        await wait_until(lambda: "reset" in livesplit.lines)
        assert [line for line in livesplit.lines if line not in QUERIES] == ["starttimer", "split", "reset"]
        assert livesplit.timer.split_times[0] is not None and livesplit.timer.split_times[1] is None
        assert bridge.status()["commands_dropped"] == 0


async def test_a_split_lost_with_the_link_is_sent_once_after_asking_the_split_index(livesplit) -> None:
    """The link fails before LiveSplit reads the split: on reconnecting the bridge asks getsplitindex
    before sending anything, sees the split missing, and sends it again, once."""
    async with running_bridge(livesplit.port) as (bridge, clock):
        await started_run(bridge)
        livesplit.lose.add("split")
        bridge.submit({"command": "split"})
        await wait_until(lambda: livesplit.connections == 2, clock=clock)  # reconnected
        await wait_until(lambda: bridge.state == "connected" and bridge.status()["queued"] == 0)
        assert livesplit.timer.index == 1 and livesplit.timer.split_times[0] is not None
        # The second connection: the getters first, then the split LiveSplit never had, then its check.
        assert livesplit.lines[-5:] == ["getcurrenttimerphase", "getsplitindex", "split",
                                        "getsplitindex", "getcurrenttimerphase"]
        assert livesplit.commands.count("split") == 1
        assert bridge.status()["commands_sent"] == 2 and bridge.status()["commands_dropped"] == 0


async def test_a_split_made_as_livesplit_goes_away_arrives_after_a_short_outage(livesplit) -> None:
    """LiveSplit gone for 2.2 s, expiry 3 s: the bridge keeps retrying and the split still arrives."""
    port, timer = livesplit.port, livesplit.timer
    back = FakeLiveSplitServer(port=port)
    back.timer = timer
    async with running_bridge(port) as (bridge, clock):
        settings = bridge.settings
        assert (settings.reconnect_min_seconds, settings.command_expiry_seconds) == (0.5, 3.0)  # defaults
        await started_run(bridge)
        await livesplit.stop()
        await wait_until(lambda: bridge.state == "disconnected")
        bridge.submit({"command": "split"})  # t = 0: the start of the outage
        for _ in range(22):
            await bridge_waiting(bridge, clock)
            await clock.advance(0.1)
        await back.start()  # t = 2.2
        for _ in range(8):  # up to t = 3.0, the split's expiry
            await bridge_waiting(bridge, clock)
            await clock.advance(0.1)
        await wait_until(lambda: "split" in back.lines)
        assert timer.index == 1 and bridge.status()["commands_dropped"] == 0
    await back.stop()


@pytest.mark.parametrize(("before", "labels", "observed", "taken"), [
    (0, ["split"], 1, 1),  # LiveSplit took it
    (0, ["split"], 0, 0),  # it missed it: send again
    (0, ["time", "split", "split"], 1, 2),  # the first split landed, the second did not
    (-1, ["start", "split", "reset", "start"], 0, 4),  # ambiguous: assume more landed, never double
    (2, ["split"], 7, None),  # someone moved LiveSplit's timer: drop, never guess
])
def test_unacknowledged_commands_are_settled_by_the_split_index(before, labels, observed, taken) -> None:
    lines = {"start": ["starttimer"], "split": ["split"], "reset": ["reset"], "time": ["setgametime 1.000"]}
    batch = [PendingCommand(0.0, lines[label], label) for label in labels]
    assert delivered_prefix(before, batch, observed) == taken
