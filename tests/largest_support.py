"""Drive a real bus to each overlay's largest real content (overlays/largest.py), through real events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from dxbus.bus import Bus
from dxbus.clock import ManualClock
from dxbus.overlays.largest import MASKS_MAX, SILK_MAX, largest
from dxbus.state_model import STATE_FILE_VERSION

# Overlays that fill a 1920x1080 canvas: their size is the canvas, not their content.
CANVAS = {"alerts", "damage"}


def route_toml() -> str:
    """A route of the longest real split names (for the splits overlay's largest content)."""
    lines = ["name = 'Any% No Major Glitches (Act 3 Ending) Route'"]
    for i, name in enumerate(largest().splits):
        lines += ["[[splits]]", f"name = {name!r}", f'enter = "Scene_{i}"']
    return "\n".join(lines) + "\n"


async def _advance(bus: Bus, seconds: float) -> None:
    clock = bus.clock
    assert isinstance(clock, ManualClock)
    await clock.advance(seconds)


async def fill(bus: Bus, name: str, values: dict[str, Any]) -> None:
    """Publish what makes overlay `name` show its largest content (before the page opens)."""
    big = largest()
    emit = bus.hub.emit
    if name == "hp":
        await _advance(bus, 0.1)
        emit("player_update", {"health_current": MASKS_MAX - 1, "health_max": MASKS_MAX,
                               "mp_current": SILK_MAX - 1, "mp_max": SILK_MAX})
    elif name == "room":
        # the longest scene id, whose row also holds the time; the longest area is checked separately
        emit("scene_transition", {"from_scene": "Tut_01", "to_scene": big.scene})
        await _advance(bus, 3599)
    elif name == "room-area":
        emit("scene_transition", {"from_scene": "Tut_01", "to_scene": big.area_scene})
    elif name in ("boss", "practice"):
        # (every boss's record comes from the state file `prepare` wrote; this adds a last result)
        if name == "practice":
            async with aiohttp.ClientSession() as http, \
                    http.post(bus.url() + "/api/practice", json={"boss": big.bosses[0]}) as resp:
                assert resp.status == 200, await resp.text()
        for result in ("died", "defeated") * (3 if name == "practice" else 1):  # 5 attempts listed
            emit("boss_encounter", {"boss_name": big.bosses[0], "phase": "start"})
            await _advance(bus, 75.3)
            emit("combat_damage", {"damage": 9999, "is_player_damage": True})
            if result == "died":
                emit("player_death", {"location": "Tut_03"})
            else:
                emit("boss_defeated", {"boss_name": big.bosses[0]})
    elif name in ("deaths", "stats"):
        for _ in range(1234):
            emit("player_death", {"location": big.scene})  # (the all-time count comes from `prepare`)
        for _ in range(40):
            emit("combat_damage", {"damage": 99999.9, "is_player_damage": False})
            emit("combat_damage", {"damage": 999.9, "is_player_damage": True})
        emit("scene_transition", {"from_scene": "Tut_01", "to_scene": big.scene})
        await _advance(bus, 3661)  # an hour in: h:mm:ss
    elif name == "splits":
        for i in range(len(big.splits) - 1):
            emit("scene_transition", {"from_scene": "Tut_01", "to_scene": f"Scene_{i}"})
            await _advance(bus, 75)  # (the manual clock wakes every timer tick: keep it short)


def prepare(folder: Path, name: str) -> dict[str, dict[str, Any]]:
    """Before the bus starts: a state file with every boss fought (longest names, two-digit attempts,
    hour-long bests) and a five-digit death count; returns config overrides (the splits route, and no
    text files: `fill` moves the manual clock an hour, which would wake their 250 ms ticker 14,400
    times, minutes of file writes on a loaded machine for a test that reads only the overlay)."""
    import json

    record = {"attempts": 99, "defeats": 98, "best": 3599.9, "last": 3599.9}
    bosses = {boss: dict(record) for boss in largest().bosses}
    doc = {"version": STATE_FILE_VERSION, "deaths_total": 98765, "bosses": bosses, "death_locations": {}}
    (folder / "dxbus-state.json").write_text(json.dumps(doc), encoding="utf-8")
    overrides: dict[str, dict[str, Any]] = {"TextFiles": {"Enabled": False}}
    return overrides | (splits_overrides(folder) if name == "splits" else {})


def splits_overrides(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Bus config for the splits overlay's largest content: a route of the longest split names."""
    path = tmp_path / "largest-route.toml"
    path.write_text(route_toml(), encoding="utf-8")
    return {"Timer": {"Route": str(path)}}
