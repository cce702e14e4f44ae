"""The largest real content each overlay can show: what a recommended OBS size must leave room for.

Names come from the game data (`server/data/silksong-world.json`), so the sizes follow the real
longest room, area and boss names, not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

MASKS_MAX = 10       # Hornet's masks at most (5 at the start, +1 per 4 shards)
SILK_MAX = 18        # the silk spool at its longest
SPLITS = 8           # splits a route shows at once (the splits overlay's default `visible`)


@dataclass(frozen=True)
class Largest:
    """The longest names of each kind and the scenes that carry them."""

    area: str              # the longest titled area name
    area_scene: str        # a scene in that area
    scene: str             # the longest scene (room) id
    scene_area: str        # the area of that scene ("" if none)
    bosses: tuple[str, ...]  # every distinct boss name, longest first
    splits: tuple[str, ...]  # the longest split names, longest first


@cache
def largest() -> Largest:
    """The longest names in the game data (loaded once)."""
    from dxbus.world import load_world

    world = load_world()
    scenes = list(world.scenes.values())
    by_area = max((s for s in scenes if s.area), key=lambda s: (len(s.area or ""), s.name))
    by_name = max(scenes, key=lambda s: (len(s.name), s.name))
    bosses = sorted({b.name for b in world.bosses}, key=lambda n: (-len(n), n))
    splits = sorted({s.name for s in world.splits}, key=lambda n: (-len(n), n))
    return Largest(by_area.area or "", by_area.name, by_name.name, by_name.area or "", tuple(bosses),
                   tuple(splits[:SPLITS]))
