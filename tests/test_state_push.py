"""The state channel (`/ws?state=1`): a full state on connect, then revisions of what changed; timers
as server time references; test events only for the pages that asked; the plain stream unchanged."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from dxbus.bus import Bus
from dxbus.clock import ManualClock
from dxbus.events import TEST
from dxbus.state_channel import StateFeed
from dxbus.state_view import changed_keys


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str | None = None) -> dict[str, Any]:
    """The next message (of `kind`, skipping others), within 5 s."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame = orjson.loads(msg.data)
        if kind is None or frame.get("type") == kind:
            return frame


class Page:
    """What a page does with the channel: apply full states and patches, check the revisions."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.rev = -1

    def apply(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "state":
            self.state, self.rev = dict(frame["state"]), frame["rev"]
        elif frame["type"] == "state_patch":
            assert frame["base"] == self.rev, "a gap: the page would ask for a full state"
            self.state.update(frame["changes"])
            self.rev = frame["rev"]


async def _connect(session: aiohttp.ClientSession, bus: Bus, query: str = "") -> Any:
    return await session.ws_connect(f"{bus.url('http')}/ws?state=1{query}")


@contextlib.asynccontextmanager
async def damage_page(bus_factory: Any) -> AsyncIterator[tuple[Bus, ManualClock, Any, Page]]:
    """A bus on a manual clock and a page like the damage overlay's (`state_every=slow`), its first
    state applied."""
    clock = ManualClock()
    bus: Bus = await bus_factory(clock=clock)
    async with aiohttp.ClientSession() as session, \
            await _connect(session, bus, "&types=combat_damage&state_every=slow") as ws:
        page = Page()
        page.apply(await _next(ws, "state"))
        yield bus, clock, ws, page


async def test_full_state_on_connect_then_revisions_with_server_timers(bus_factory: Any) -> None:
    clock = ManualClock()
    bus: Bus = await bus_factory(clock=clock)
    bus.hub.emit("player_death", {"location": "Bone_05"})
    async with aiohttp.ClientSession() as session, await _connect(session, bus) as ws:
        page = Page()
        first = await _next(ws, "state")
        page.apply(first)
        # What /api/state serves, plus segments, practice and the timers.
        async with session.get(f"{bus.url('http')}/api/state") as r:
            api = await r.json()
        for key in api:
            assert key in first["state"], key
        assert {"segments", "practice", "timers"} <= set(first["state"])
        assert first["state"]["deaths"]["session"] == 1
        assert first["seq"] == bus.hub.seq
        assert first["state"]["timers"]["fight"] == {"running": False, "value": None}

        await clock.advance(3)
        bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
        patch = await _next(ws, "state_patch")
        page.apply(patch)
        fight = page.state["timers"]["fight"]
        assert fight["running"] and fight["since"] == clock.monotonic()
        assert page.state["boss"]["current"] == "Moss Mother" and page.state["boss"]["active"]

        # Time alone changes nothing: the next revision is the next real change.
        await clock.advance(44.7)
        bus.hub.emit("player_death", {"location": "Moss_01"})  # dying ends the fight
        patch = await _next(ws, "state_patch")
        assert patch["rev"] == page.rev + 1
        page.apply(patch)
        # The page draws server_now - since (+ its own time since the message): the state's number.
        assert round(patch["server_now"] - fight["since"], 3) == 44.7
        assert page.state["deaths"]["session"] == 2
        assert page.state["timers"]["fight"] == {"running": False, "value": 44.7}
        async with session.get(f"{bus.url('http')}/api/state") as r:
            assert (await r.json())["boss"]["fight_time"] == 44.7


async def test_a_kill_settles_to_the_game_time_on_the_channel(bus_factory: Any) -> None:
    clock = ManualClock()
    bus: Bus = await bus_factory(clock=clock)
    async with aiohttp.ClientSession() as session, await _connect(session, bus) as ws:
        page = Page()
        page.apply(await _next(ws, "state"))
        bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
        page.apply(await _next(ws, "state_patch"))
        await clock.advance(44.8)  # the bus clock says 44.8, the game says 44.7
        bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "defeated", "time": 44.7})
        await clock.advance(12)  # the second report, inside the pairing window
        bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother", "time": 44.7})
        await clock.advance(60)  # the window ends: the kill settles
        while page.state.get("boss", {}).get("best") is None:
            page.apply(await _next(ws))
        assert page.state["timers"]["fight"] == {"running": False, "value": 44.7}
        assert page.state["boss"]["fight_time"] == 44.7
        assert page.state["bosses"]["Moss Mother"]["defeats"] == 1


async def test_test_events_reach_only_the_channel_that_asked(bus_factory: Any) -> None:
    bus: Bus = await bus_factory(clock=ManualClock())
    async with aiohttp.ClientSession() as session, \
            await _connect(session, bus, "&types=player_death") as real, \
            await _connect(session, bus, "&include_test=1&types=player_death") as preview:
        real_page, preview_page = Page(), Page()
        real_page.apply(await _next(real, "state"))
        first = await _next(preview, "state")
        assert first["feed"] == "test"
        preview_page.apply(first)
        bus.hub.emit("player_death", {"location": "Bone_05"}, origin=TEST)
        event = await _next(preview)
        assert event["EventType"] == "player_death" and event["Origin"] == "test"
        preview_page.apply(await _next(preview, "state_patch"))
        assert preview_page.state["deaths"]["session"] == 1
        # The real page gets the next real event and the real state, never the test one.
        bus.hub.emit("player_death", {"location": "Moss_01"})
        event = await _next(real)
        assert event["EventType"] == "player_death" and "Origin" not in event
        real_page.apply(await _next(real, "state_patch"))
        assert real_page.state["deaths"]["session"] == 1
        assert bus.state is not None and bus.state.deaths_total == 1


async def test_resync_sends_a_full_state(bus_factory: Any) -> None:
    bus: Bus = await bus_factory(clock=ManualClock())
    async with aiohttp.ClientSession() as session, await _connect(session, bus) as ws:
        first = await _next(ws, "state")
        await ws.send_str('{"type":"resync"}')
        bus.hub.emit("player_death", {"location": "Bone_05"})
        again = await _next(ws, "state")
        assert again["rev"] > first["rev"] and again["state"]["deaths"]["session"] == 1
        await ws.send_str('{"type":"ping","id":7}')
        assert (await _next(ws, "pong"))["id"] == 7


async def test_a_page_that_draws_only_events_gets_every_event_and_few_patches(bus_factory: Any) -> None:
    # The damage overlay (`state_every=slow`): every hit at once, the state a few times a second.
    async with damage_page(bus_factory) as (bus, clock, ws, page):
        frames = []
        for i in range(5):
            bus.hub.emit("combat_damage", {"damage": 10 + i, "is_player_damage": False})
            while True:  # this hit's event, and a patch only if one is due
                frame = await _next(ws)
                frames.append(frame)
                if frame.get("EventType") == "combat_damage":
                    break
            await clock.advance(0.01)
        assert [f["Data"]["damage"] for f in frames if "EventType" in f] == [10, 11, 12, 13, 14]
        patches = [f for f in frames if f.get("type") == "state_patch"]
        assert len(patches) <= 1  # 50 ms of hits: one patch at most (SLOW_STATE is 0.25 s)
        for patch in patches:
            page.apply(patch)
        await clock.advance(0.5)  # the idle refresh brings the newest state
        while page.state["damage"]["dealt"] != 60:
            page.apply(await _next(ws, "state_patch"))


async def test_a_patch_says_when_its_oldest_event_was_published(bus_factory: Any) -> None:
    # A page's latency counts from the publish (`event_time`), not from the send (`server_time`).
    async with damage_page(bus_factory) as (bus, clock, ws, page):
        await clock.advance(1.0)  # past the first patch's slow interval
        hit_at = clock.time()
        bus.hub.emit("combat_damage", {"damage": 7, "is_player_damage": False})
        first = await _next(ws, "state_patch")
        assert first["event_time"] == hit_at
        page.apply(first)
        # A hit within `state_every=slow`'s interval is held back and sent by the idle refresh: the
        # patch's event_time is the hit's publish, its server_time the later send.
        await clock.advance(0.05)
        held_at = clock.time()
        bus.hub.emit("combat_damage", {"damage": 1, "is_player_damage": False})
        await clock.advance(0.5)
        patch = await _next(ws, "state_patch")
        page.apply(patch)
        assert page.state["damage"]["dealt"] == 8
        assert patch["event_time"] == held_at and patch["server_time"] > held_at


async def test_a_reader_behind_gets_one_merged_patch(bus_factory: Any) -> None:
    bus: Bus = await bus_factory(clock=ManualClock())
    assert bus.state_channel is not None and bus.state is not None
    feed = StateFeed(bus.state_channel, "live", bus.state)
    feed.refresh(bus.clock.monotonic())
    start = feed.rev
    bus.hub.emit("player_death", {"location": "Bone_05"})
    feed.refresh(bus.clock.monotonic())
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    feed.refresh(bus.clock.monotonic())
    keys = feed.keys_since(start)
    assert keys is not None and {"deaths", "boss", "timers"} <= set(keys)
    assert feed.keys_since(feed.rev) == []
    for _ in range(80):  # further behind than the history: a full state instead
        bus.hub.emit("player_death", {"location": "Bone_05"})
        feed.refresh(bus.clock.monotonic())
    assert feed.keys_since(start) is None


def test_time_alone_is_no_change() -> None:
    running = {"fight": {"running": True, "since": 10.0, "until": None}}
    old = {"boss": {"active": True, "fight_time": 1.0}, "timers": running, "last_seq": 3}
    new = {"boss": {"active": True, "fight_time": 2.5}, "timers": running, "last_seq": 9}
    assert changed_keys(old, new) == []
    ended = {"boss": {"active": False, "fight_time": 2.5},
             "timers": {"fight": {"running": False, "value": 2.5}}, "last_seq": 9}
    assert set(changed_keys(old, ended)) == {"boss", "timers"}
