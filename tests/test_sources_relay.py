"""Relay from the original mod's WebSocket (a stand-in written from original-bus.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from fakes.original_mod import FakeOriginalMod
from waiting import wait_until

from dxbus.bus import Bus
from dxbus.clock import ManualClock, settle
from dxbus.config import load_config
from dxbus.events import Event
from dxbus.sources.relay import RelaySource, host_header


async def _read_all(ws: aiohttp.ClientWebSocketResponse) -> list[dict]:
    """Every frame until the server closes the socket."""
    return [msg.json() async for msg in ws if msg.type == aiohttp.WSMsgType.TEXT]


@pytest.fixture
async def mod():
    fake = FakeOriginalMod(ping_interval=0.2, pong_timeout=0.1)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def relayed(tmp_path: Path, mod: FakeOriginalMod):
    bus = Bus(load_config(None), base_dir=tmp_path)
    seen: list[Event] = []
    bus.hub.add_listener(seen.append)
    relay = RelaySource(bus, mod.url, backoff_initial=0.05, backoff_max=0.2)
    await relay.start()
    yield bus, relay, seen
    await relay.stop()


async def test_relays_each_metric_once_normalized(mod: FakeOriginalMod, relayed) -> None:
    _, relay, seen = relayed
    await wait_until(lambda: relay.connected and len(mod.clients) == 1)
    await mod.broadcast("player_damaged", {"damage": 1, "health_remaining": 4,
                                           "position_x": 1.0, "position_y": 2.0})
    await mod.broadcast("player_update", {"health_current": 4, "soul_current": 0, "grounded": True})
    await mod.broadcast("enemy_damaged", {"damage": 5, "enemy_name": "Crawler (3)"})
    await wait_until(lambda: relay.duplicates_dropped == 3)
    assert [e.type for e in seen] == ["combat_damage", "player_update", "combat_damage"]
    assert seen[0].data["player_health_remaining"] == 4 and seen[0].data["is_player_damage"] is True
    assert seen[1].data == {"health_current": 4, "mp_current": 0, "on_ground": True}
    assert seen[2].data["enemy_type"] == "Crawler"
    status = relay.status()
    assert status["connected"] is True and status["events_relayed"] == 3
    assert status["url"] == mod.url


async def test_answers_pings_so_the_game_keeps_it(mod: FakeOriginalMod, relayed) -> None:
    _bus, relay, _seen = relayed
    await wait_until(lambda: relay.connected)
    # A client that ignores JSON pings is dropped by the game...
    async with aiohttp.ClientSession() as session, session.ws_connect(
        mod.url, headers={"Host": f"localhost:{mod.port}"}
    ) as lazy:
        frames = await asyncio.wait_for(_read_all(lazy), 5)
    assert frames[0]["type"] == "hello" and any(f["type"] == "ping" for f in frames)
    assert mod.dropped_for_no_pong >= 1
    # ...the relay answers them and stays, connected once.
    await wait_until(lambda: relay.pings_answered >= 3)
    assert relay.connected and relay.connections == 1
    assert any(m.get("type") == "pong" for c in mod.clients for m in c.received)


async def test_the_game_refuses_other_hosts(mod: FakeOriginalMod) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(mod.url)  # Host: 127.0.0.1:port
    assert refused.value.status == 400 and mod.rejected_hosts
    assert host_header("ws://127.0.0.1:9091/") == "localhost:9091"


async def test_recovers_when_the_game_restarts(mod: FakeOriginalMod, relayed) -> None:
    _, relay, seen = relayed
    await wait_until(lambda: relay.connected)
    await mod.broadcast("custom_event", {"n": 0})
    await wait_until(lambda: len(seen) == 1)
    port = mod.port
    await mod.stop()  # the game closes
    await wait_until(lambda: not relay.connected)
    await asyncio.sleep(0)
    await wait_until(lambda: relay.failed_attempts >= 1)  # retries against a closed port
    assert relay.status()["last_error"]
    await mod.start(port=port)  # the game is back
    await wait_until(lambda: relay.connected and len(mod.clients) == 1)
    for n in range(1, 21):
        await mod.broadcast("custom_event", {"n": n})
    await wait_until(lambda: len(seen) == 21)
    assert [e.data["n"] for e in seen] == list(range(21))
    assert relay.reconnects == 1 and relay.status()["connected"] is True


async def test_backoff_doubles_on_the_bus_clock(tmp_path: Path) -> None:
    clock = ManualClock()
    bus = Bus(load_config(None), clock=clock, base_dir=tmp_path)
    mod = FakeOriginalMod()
    await mod.start()
    port = mod.port
    await mod.stop()  # nothing listens there now
    relay = RelaySource(bus, f"ws://127.0.0.1:{port}/", backoff_initial=0.5, backoff_max=4)
    await relay.start()
    try:
        for _ in range(6):
            await wait_until(lambda: clock.pending == 1)
            await clock.advance(relay.next_retry_in or 0)
            await settle()
        await wait_until(lambda: len(relay.delays) >= 6)
        assert relay.delays[:6] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
        assert relay.connected is False and relay.failed_attempts >= 6
    finally:
        await relay.stop()


async def test_token_from_the_url(tmp_path: Path) -> None:
    mod = FakeOriginalMod(token="s3cret")
    await mod.start()
    bus = Bus(load_config(None), base_dir=tmp_path)
    relay = RelaySource(bus, f"ws://127.0.0.1:{mod.port}/?token=s3cret", backoff_initial=0.05)
    await relay.start()
    try:
        assert relay.url == f"ws://127.0.0.1:{mod.port}/" and "s3cret" not in str(relay.status())
        await wait_until(lambda: any(c.authenticated for c in mod.clients))
        await mod.broadcast("custom_event", {"n": 1})
        await wait_until(lambda: relay.events_relayed == 1)
    finally:
        await relay.stop()
        await mod.stop()


async def test_refuses_to_relay_from_itself(bus) -> None:
    relay = RelaySource(bus, f"ws://localhost:{bus.ports['websocket']}/")
    with pytest.raises(OSError, match="own port"):
        await relay.start()


async def test_a_silent_game_counts_as_gone(tmp_path: Path, mod: FakeOriginalMod) -> None:
    mod.ping_interval = 3600  # the game hangs: no pings, no metrics
    bus = Bus(load_config(None), base_dir=tmp_path)
    relay = RelaySource(bus, mod.url, backoff_initial=0.05, silence_timeout=0.3)
    await relay.start()
    try:
        await wait_until(lambda: relay.connections >= 2)  # dropped after 0.3 s of silence, back again
        assert relay.last_error == "no frame from the game for 0.3 s"
    finally:
        await relay.stop()
