"""The usage guide's "Complete Python Client" example, run with `dxbus.client.DataExportBusClient`."""

from __future__ import annotations

import asyncio

from dxbus.client import DataExportBusClient


async def test_the_guides_example_usage_works_unchanged(default_ports_lock, bus_factory, capsys) -> None:
    await bus_factory(ephemeral=False)  # the guide hard-codes localhost:8080 and :9091
    capsys.readouterr()  # the bus's start-up banner: only the example's own lines count below

    # ---- the guide's example, verbatim apart from the final `await client.stream()` ----
    client = DataExportBusClient()

    # Register event handlers
    @client.on_event('player_update')
    def handle_player_update(data):
        print(f"Player at ({data['Data']['position_x']:.1f}, {data['Data']['position_y']:.1f})")

    @client.on_event('combat_damage')
    async def handle_damage(data):
        if data['Data']['is_player_damage']:
            print(f"Player took {data['Data']['damage']} damage!")
            # Could trigger external API call here

    @client.on_event('scene_transition')
    def handle_scene_change(data):
        print(f"Entered: {data['Data']['to_scene']}")
    # ---- end of the guide's code ----

    streaming = asyncio.get_running_loop().create_task(client.stream())
    deadline = asyncio.get_running_loop().time() + 10
    while not client.connected:
        assert asyncio.get_running_loop().time() < deadline, "never connected"
        await asyncio.sleep(0.01)
    await client.publish([
        {"EventType": "player_update", "Data": {"position_x": 12.25, "position_y": 3.0}},
        {"EventType": "combat_damage", "Data": {"damage": 2, "is_player_damage": True}},
        {"EventType": "scene_transition", "Data": {"from_scene": "Tut_01", "to_scene": "Bone_01"}},
    ])
    expected = ["Player at (12.2, 3.0)", "Player took 2 damage!", "Entered: Bone_01"]
    out: list[str] = []
    while out[:3] != expected:
        assert asyncio.get_running_loop().time() < deadline, f"got {out}"
        await asyncio.sleep(0.01)
        out += capsys.readouterr().out.splitlines()
    await client.close()
    await asyncio.wait_for(streaming, 5)
