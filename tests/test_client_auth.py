"""The client with `[Security] AuthToken` set: HTTP, WebSocket and errors."""

from __future__ import annotations

import asyncio

import pytest

from dxbus.client import BusClient, BusError, BusEvent


async def test_token_on_every_transport(bus_factory) -> None:
    bus = await bus_factory(overrides={"Security": {"AuthToken": "s3cret"}})
    wrong = BusClient(bus.url("http"), bus.url("websocket"), token="nope")
    with pytest.raises(BusError) as refused:
        await wrong.get_status()
    assert refused.value.status == 401
    await wrong.close()

    client = BusClient(bus.url("http"), bus.url("websocket"), token="s3cret")
    got: list[BusEvent] = []

    async def collect() -> None:
        async for event in client.events():
            got.append(event)

    task = asyncio.get_running_loop().create_task(collect())
    deadline = asyncio.get_running_loop().time() + 5
    while not client.connected:
        assert asyncio.get_running_loop().time() < deadline, "never connected"
        await asyncio.sleep(0.01)
    report = await client.emit("player_death", {"location": "Bone_05"})
    assert report["accepted"] == 1
    while not got:
        assert asyncio.get_running_loop().time() < deadline, "event never arrived"
        await asyncio.sleep(0.01)
    assert got[0].type == "player_death" and got[0].seq == report["seqs"][0]
    await client.close()
    await asyncio.wait_for(task, 5)
