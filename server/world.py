"""Typed access to the real Silksong world data (`dxbus/data/silksong-world.json`).

Scenes with their titled area, map region, bench and exits; bosses and the room each fight is in;
benches; abilities; the player's mask and silk limits; and the autosplitter's split points. Loaded once
per process (`load_world()` is cached) and read-only afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Scene:
    """A room: its Unity scene name, titled area, map region, bench, and the rooms its gates lead to."""

    name: str
    area: str | None
    region: str | None
    bench: bool
    bench_name: str | None
    exits: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Area:
    """A titled area (the name shown on entry) and the map region it belongs to."""

    name: str
    region: str | None
    scene_count: int
    bench_count: int


@dataclass(frozen=True, slots=True)
class Boss:
    """A boss fight: `id` follows the autosplitter's split key; `scene` is the arena room."""

    id: str
    name: str
    scene: str
    area: str | None
    region: str | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Bench:
    """A bench (respawn point) and the room it is in."""

    name: str
    scene: str
    area: str | None
    region: str | None
    menu_area: str | None


@dataclass(frozen=True, slots=True)
class Pickup:
    """Where an item can be collected (fleas, mask shards, spool fragments, abilities, crests...)."""

    name: str
    kind: str
    scene: str
    area: str | None


@dataclass(frozen=True, slots=True)
class Split:
    """An autosplitter split point (silksong-autosplit-wasm keys).

    `scene` is a boss arena, `enter_scene` a room whose entry splits, `transitions` the
    (from_scene, to_scene) pairs that split; all empty for splits driven by other events.
    """

    key: str
    name: str
    category: str
    scene: str | None = None
    enter_scene: str | None = None
    transitions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PlayerLimits:
    """Hornet's health (masks) and silk: at the start and at most."""

    masks_start: int = 5
    masks_max: int = 10
    mask_shards_per_mask: int = 4
    silk_start: int = 9
    silk_max: int = 18
    spool_fragments_per_spool: int = 2


@dataclass(frozen=True)
class World:
    """The whole world, with lookups by scene."""

    scenes: dict[str, Scene]
    areas: dict[str, Area]
    regions: dict[str, tuple[str, ...]]
    bosses: tuple[Boss, ...]
    benches: tuple[Bench, ...]
    abilities: tuple[str, ...]
    abilities_by_kind: dict[str, tuple[str, ...]]
    pickups: tuple[Pickup, ...]
    player: PlayerLimits
    splits: tuple[Split, ...]
    _bosses_by_scene: dict[str, tuple[Boss, ...]] = field(default_factory=dict, repr=False)
    _bosses_by_name: dict[str, Boss] = field(default_factory=dict, repr=False)
    _benches_by_scene: dict[str, Bench] = field(default_factory=dict, repr=False)

    def scene(self, name: str) -> Scene | None:
        """The scene record, or None for a room the data does not know."""
        return self.scenes.get(name)

    def area_of(self, scene: str | None) -> str | None:
        """The titled area of a scene (None if unknown)."""
        record = self.scenes.get(scene) if scene else None
        return record.area if record else None

    def region_of(self, scene: str | None) -> str | None:
        """The map region of a scene (None if unknown)."""
        record = self.scenes.get(scene) if scene else None
        return record.region if record else None

    def boss_in(self, scene: str | None) -> Boss | None:
        """The (first) boss fought in this room, or None. Some arenas host two fights."""
        found = self._bosses_by_scene.get(scene or "")
        return found[0] if found else None

    def bosses_in(self, scene: str | None) -> tuple[Boss, ...]:
        """Every boss fought in this room."""
        return self._bosses_by_scene.get(scene or "", ())

    def boss_named(self, name: str) -> Boss | None:
        """A boss by display name or id (case-insensitive); the first fight if a name repeats."""
        return self._bosses_by_name.get(name.casefold())

    def bench_in(self, scene: str | None) -> Bench | None:
        """The bench in this room, or None."""
        return self._benches_by_scene.get(scene or "")

    def split(self, key: str) -> Split | None:
        """An autosplitter split by key (e.g. `MossMother`, `EnterBoneBottom`)."""
        for split in self.splits:
            if split.key == key:
                return split
        return None


def _scene(raw: dict[str, Any]) -> Scene:
    return Scene(raw["scene"], raw.get("area"), raw.get("region"), bool(raw.get("bench")),
                 raw.get("bench_name"), tuple(raw.get("exits") or ()))


def _split(raw: dict[str, Any]) -> Split:
    pairs = tuple((str(a), str(b)) for a, b in raw.get("transitions") or ())
    return Split(raw["key"], raw["name"], raw["category"], raw.get("scene"),
                 raw.get("enter_scene"), pairs)


def parse_world(doc: dict[str, Any]) -> World:
    """Build a `World` from the decoded JSON document."""
    scenes = {s.name: s for s in map(_scene, doc["scenes"])}
    areas = {a["name"]: Area(a["name"], a.get("region"), a.get("scene_count", 0),
                             a.get("bench_count", 0)) for a in doc.get("areas", ())}
    regions = {r["name"]: tuple(r.get("areas", ())) for r in doc.get("regions", ())}
    bosses = tuple(Boss(b["id"], b["name"], b["scene"], b.get("area"), b.get("region"), b.get("note"))
                   for b in doc.get("bosses", ()))
    benches = tuple(Bench(b["name"], b["scene"], b.get("area"), b.get("region"), b.get("menu_area"))
                    for b in doc.get("benches", ()))
    pickups = tuple(Pickup(p["name"], p["kind"], p["scene"], p.get("area"))
                    for p in doc.get("pickup_locations", ()))
    by_scene: dict[str, tuple[Boss, ...]] = {}
    by_name: dict[str, Boss] = {}
    for boss in bosses:
        by_scene[boss.scene] = (*by_scene.get(boss.scene, ()), boss)
        by_name.setdefault(boss.name.casefold(), boss)
        by_name.setdefault(boss.id.casefold(), boss)
    limits = doc.get("player", {})
    player = PlayerLimits(**{k: int(v) for k, v in limits.items()
                             if k in PlayerLimits.__dataclass_fields__})
    return World(
        scenes=scenes,
        areas=areas,
        regions=regions,
        bosses=bosses,
        benches=benches,
        abilities=tuple(doc.get("abilities", ())),
        abilities_by_kind={k: tuple(v) for k, v in doc.get("abilities_by_kind", {}).items()},
        pickups=pickups,
        player=player,
        splits=tuple(map(_split, doc.get("speedrun_splits", ()))),
        _bosses_by_scene=by_scene,
        _bosses_by_name=by_name,
        _benches_by_scene={b.scene: b for b in benches},
    )


@cache
def load_world() -> World:
    """The packaged Silksong world (parsed once per process)."""
    text = resources.files("dxbus").joinpath("data/silksong-world.json").read_bytes()
    return parse_world(orjson.loads(text))


__all__ = ["Area", "Bench", "Boss", "Pickup", "PlayerLimits", "Scene", "Split", "World",
           "load_world", "parse_world"]
