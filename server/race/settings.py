"""The race file an organiser writes (`dxbus race --races races.toml`): races, their routes, runners.

    [[race]]
    id = "weekly"                 # in URLs: /api/race/weekly, /overlays/race-board?race=weekly
    name = "Weekly Act 1 race"
    route = "act1.toml"           # a speedrun route file (docs/speedrun.md); default: the built-in one
    stale_after = 10              # seconds without news before a runner shows as stale

    [[race.runner]]
    name = "Hornet123"
    token = "a-long-random-secret"          # this runner pushes: dxbus serve --race ... --token

    [[race.runner]]
    name = "LanRunner"
    pull = "http://192.168.1.100:8080"      # the hub pulls this runner's bus (same LAN)
    pull_token = ""                          # that bus's [Security] AuthToken, if it has one
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..speedrun.route import RouteError, RouteSpec, builtin_route, load_route

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class RaceSettingsError(ValueError):
    """A race file that cannot be used; the text names the file, the race and the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunnerSettings(_Model):
    """One runner: a name, and either a push token or a bus to pull from."""

    name: Annotated[str, Field(min_length=1, max_length=60)]
    token: str = ""
    pull: str = ""
    pull_token: str = ""

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.strip() or any(ord(c) < 32 for c in value):
            raise ValueError("a runner name must be printable and not blank")
        return value.strip()

    @model_validator(mode="after")
    def _one_way(self) -> RunnerSettings:
        if bool(self.token) == bool(self.pull):
            raise ValueError("give either `token` (the runner pushes) or `pull` (the hub pulls), not both")
        if self.token and len(self.token) < 8:
            raise ValueError("`token` must be at least 8 characters")
        if self.pull and not self.pull.startswith(("http://", "https://")):
            raise ValueError("`pull` must be the runner bus's http:// URL")
        return self


class RaceSettings(_Model):
    """One race of the file."""

    id: str
    name: str = ""
    route: str = ""
    stale_after: Annotated[float, Field(gt=0, le=3600)] = 10.0
    runner: list[RunnerSettings] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("an id is 1-40 letters, digits, `_`, `.` or `-`")
        return value

    @model_validator(mode="after")
    def _unique(self) -> RaceSettings:
        names = [r.name.casefold() for r in self.runner]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"runner names must be unique (twice: {', '.join(dupes)})")
        return self


class RaceFile(_Model):
    """The whole file: one or more races."""

    race: list[RaceSettings] = Field(default_factory=list)


def load_races(path: Path) -> tuple[list[RaceSettings], dict[str, RouteSpec]]:
    """Read a race file and each race's route; raises RaceSettingsError naming what and where."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise RaceSettingsError(f"{path}: race file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise RaceSettingsError(f"{path}: not valid TOML: {exc}") from None
    try:
        races = RaceFile.model_validate(raw).race
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"{path}: {where}: {message.removeprefix('Value error, ')}")
        raise RaceSettingsError("\n".join(lines)) from None
    if not races:
        raise RaceSettingsError(f"{path}: no [[race]] in the file")
    ids = [r.id for r in races]
    if len(set(ids)) != len(ids):
        raise RaceSettingsError(f"{path}: race ids must be unique")
    routes: dict[str, RouteSpec] = {}
    for race in races:
        try:
            routes[race.id] = load_route(path.parent / race.route) if race.route else builtin_route()
        except RouteError as exc:
            raise RaceSettingsError(f"{path}: race {race.id!r}: {exc}") from None
    return races, routes


__all__ = ["RaceFile", "RaceSettings", "RaceSettingsError", "RunnerSettings", "load_races"]
