"""The split route: which game happenings start, split and reset the timer.

A route is TOML, either a file (`[Timer] Route = "my-route.toml"`, the built-in default is
`dxbus/data/routes/default.toml`) or the `[Timer]` config section itself. Keys may be written
lower case (`boss = "Moss Mother"`) or PascalCase like the rest of the config (`Boss = ...`).

    name = "Act 1"
    game_time = true            # game time excludes load time (scene_transition load_time_ms)
    [start]
    new_game = true             # or: enter = "Tut_01"
    [reset]
    menu = true
    [[splits]]
    name = "Moss Mother"
    boss = "Moss Mother"
    then = "transition"         # split on the first room change after the defeat
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_pascal

from ..world import World, load_world

# The condition keys; a condition uses exactly one of them (plus the `from`/`then` modifiers).
KINDS = ("boss", "enter", "item", "ability", "event", "bench", "death", "menu", "new_game",
         "ending", "manual")

Names = str | list[str]


class RouteError(ValueError):
    """A route that cannot be used; the text names the file, the split and the key."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="forbid",
                              frozen=True)


class Condition(_Model):
    """One game happening. Exactly one of the kind keys is set.

    - `boss`: a boss defeated (display name or autosplitter id: "Moss Mother", "MossMother").
    - `enter`: a room entered (scene name; `Name*` matches a prefix; a list matches any), optionally
      only when coming `from` a given room.
    - `item` / `ability`: an item collected (`item_collected`) / an ability obtained
      (`ability_unlocked`, or an ability picked up as an item).
    - `event`: any event type on the bus (e.g. a mod's `custom_event`).
    - `bench` (true or a scene), `death`, `menu` (back to the title menu), `new_game` (the opening
      cutscene hands over to the first room), `ending` (credits), `manual` (never; split by hand).
    - `then = "transition"`: fire on the first room change after the condition instead (the
      autosplitter's "(Transition)" splits; a death's respawn does not count).
    """

    boss: str | None = None
    enter: Names | None = None
    from_: Names | None = Field(default=None, validation_alias=AliasChoices("From", "from", "from_"))
    item: str | None = None
    ability: str | None = None
    event: str | None = None
    bench: bool | str | None = None
    death: bool | None = None
    menu: bool | None = None
    new_game: bool | None = None
    ending: bool | None = None
    manual: bool | None = None
    then: Literal["transition"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        kinds = [k for k in KINDS if getattr(self, k) not in (None, False)]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            raise ValueError(f"needs exactly one of {', '.join(KINDS)} (found: {found})")
        if self.from_ is not None and kinds[0] != "enter":
            raise ValueError("`from` only goes with `enter`")
        return self

    @property
    def kind(self) -> str:
        """Which of the kind keys this condition uses."""
        return next(k for k in KINDS if getattr(self, k) not in (None, False))

    def describe(self) -> str:
        """A short human text: `boss Moss Mother defeated`, `enter Bonetown from Bone_05`."""
        kind = self.kind
        value = getattr(self, kind)
        if kind == "enter":
            text = f"enter {_names(value)}" + (f" from {_names(self.from_)}" if self.from_ else "")
        elif kind == "bench":
            text = "bench" if value is True else f"bench in {value}"
        else:
            text = {"boss": f"boss {value} defeated", "item": f"item {value} collected",
                    "ability": f"ability {value} obtained", "event": f"event {value}",
                    "death": "death", "menu": "back to the menu", "new_game": "new game",
                    "ending": "ending", "manual": "manual"}[kind]
        return text + (", then the next room change" if self.then else "")


class SplitSpec(Condition):
    """A split of the route: a name for the timer plus its condition."""

    name: str = ""
    # Split at most once per run even if the route is "any order" (the split-once guard).
    once: bool = True


class RouteSpec(_Model):
    """The whole route as written in TOML."""

    name: str = "Route"
    game: str = "Hollow Knight: Silksong"
    # "ordered": only the next split is checked (like LiveSplit). "any": any split not done yet.
    order: Literal["ordered", "any"] = "ordered"
    # Ordered routes: when the next split is a boss, item or ability the runner already has this run,
    # skip it instead of waiting forever.
    skip_passed: bool = True
    # Game time excludes load time: the timer pauses around each load and sends `time:`.
    game_time: bool = False
    # Also send `time:<game time>` every N seconds while running (0: only at loads and splits).
    time_interval: Annotated[float, Field(ge=0, le=3600)] = 0.0
    start: list[Condition] = Field(default_factory=lambda: [Condition(new_game=True)])
    reset: list[Condition] = Field(default_factory=list)
    splits: list[SplitSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _single_tables(cls, raw: Any) -> Any:
        # `[start]` as one table is the common case; a list (`[[start]]`) means "any of these".
        if isinstance(raw, dict):
            raw = dict(raw)
            for key in ("start", "Start", "reset", "Reset"):
                if isinstance(raw.get(key), dict):
                    raw[key] = [raw[key]]
        return raw


def _names(value: Names | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else " or ".join(value)


def name_matches(patterns: Names | None, name: str | None) -> bool:
    """Whether a scene name matches a pattern (`Name`, `Prefix*`) or any pattern in a list."""
    if patterns is None:
        return True
    if name is None:
        return False
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        if pattern.endswith("*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


# -- loading -------------------------------------------------------------------------------------
def default_route_text() -> str:
    """The TOML of the built-in route."""
    return (resources.files("dxbus") / "data" / "routes" / "default.toml").read_text("utf-8")


def parse_route(raw: dict[str, Any], source: str, world: World | None = None) -> RouteSpec:
    """Validate a decoded route; raises RouteError naming the split and key.

    Boss names are checked against the world data and autosplitter ids turned into display names.
    """
    try:
        route = RouteSpec.model_validate(raw)
    except ValidationError as exc:
        raise RouteError(_describe(exc, source, raw)) from None
    return _resolve(route, source, world or load_world())


def load_route(path: Path | None, world: World | None = None) -> RouteSpec:
    """Read a route file (None: the built-in default route)."""
    if path is None:
        text, source = default_route_text(), "default route"
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise RouteError(f"{path}: route file not found") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RouteError(f"{source}: not valid TOML: {exc}") from None
    return parse_route(raw, source, world)


@cache
def builtin_route() -> RouteSpec:
    """The default route (parsed once)."""
    return load_route(None)


def _resolve(route: RouteSpec, source: str, world: World) -> RouteSpec:
    splits = []
    for i, split in enumerate(route.splits):
        updates: dict[str, Any] = {}
        if split.boss is not None:
            boss = world.boss_named(split.boss)
            if boss is None:
                raise RouteError(f"{source}: splits[{i}] boss = {split.boss!r}: not a Silksong boss "
                                 f"(e.g. {', '.join(b.name for b in world.bosses[:4])})")
            updates["boss"] = boss.name
        if not split.name:
            updates["name"] = updates.get("boss") or split.describe()
        splits.append(split.model_copy(update=updates) if updates else split)
    return route.model_copy(update={"splits": splits})


def _describe(exc: ValidationError, source: str, raw: dict[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        where = ""
        for part in loc:
            where += f"[{part}]" if part.isdigit() else (f".{part}" if where else part)
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        message = message.removeprefix("Value error, ")
        lines.append(f"{source}: {where or 'route'}: {message}")
    return "\n".join(lines)
