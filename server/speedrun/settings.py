"""The `[Timer]` and `[LiveSplit]` config sections."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from ..config_base import Port, Section
from .route import Condition, RouteSpec, SplitSpec, load_route, parse_route


class TimerSection(Section):
    """Split rules and segment stats. Route keys set here override the route file's."""

    enabled: bool = True
    # A route TOML file; empty: the built-in route (dxbus/data/routes/default.toml).
    route: str = ""
    # Best segments and personal bests, per route name, kept between runs.
    bests_file: str = "dxbus-splits.json"
    # Start practising this room (scene name) or boss at start-up.
    practice_room: str = ""
    practice_boss: str = ""
    # Route overrides (same keys as a route file, PascalCase here).
    name: str | None = None
    order: Literal["ordered", "any"] | None = None
    skip_passed: bool | None = None
    game_time: bool | None = None
    time_interval: Annotated[float, Field(ge=0, le=3600)] | None = None
    start: list[Condition] | None = None
    reset: list[Condition] | None = None
    splits: list[SplitSpec] | None = None

    @field_validator("start", "reset", mode="before")
    @classmethod
    def _one_table(cls, value: Any) -> Any:
        """`[Timer.Reset]` as one table is one condition, as `[reset]` is in a route file."""
        return [value] if isinstance(value, dict) else value

    def build_route(self, base_dir: Path) -> RouteSpec:
        """The route file (or the default) with this section's keys laid over it."""
        path = Path(self.route).expanduser() if self.route else None
        if path is not None and not path.is_absolute():
            path = base_dir / path
        route = load_route(path)
        overrides: dict[str, Any] = {
            key: getattr(self, key)
            for key in ("name", "order", "skip_passed", "game_time", "time_interval", "start", "reset",
                        "splits")
            if getattr(self, key) is not None
        }
        if not overrides:
            return route
        raw = route.model_dump(by_alias=False)
        raw.update({k: (v.model_dump() if hasattr(v, "model_dump") else
                        [c.model_dump() for c in v] if isinstance(v, list) else v)
                    for k, v in overrides.items()})
        # Drop the unset kind keys so a split keeps exactly one kind.
        for key in ("start", "reset", "splits"):
            raw[key] = [{k: v for k, v in c.items() if v is not None} for c in raw[key]]
        return parse_route(raw, "[Timer]")


class LiveSplitSection(Section):
    """The bridge to LiveSplit's server (Control > Start TCP Server; default port 16834)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 16834
    # Reconnect backoff: doubles from the first to the cap.
    reconnect_min_seconds: Annotated[float, Field(gt=0, le=60)] = 0.5
    reconnect_max_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    # How often the connection is checked with `getcurrenttimerphase` when idle.
    health_interval_seconds: Annotated[float, Field(gt=0, le=600)] = 5.0
    # A command that could not be sent within this many seconds is dropped, never replayed late.
    command_expiry_seconds: Annotated[float, Field(ge=0, le=60)] = 3.0
    # Send `startorsplit` instead of `split` (starts the timer if it is not running).
    start_or_split: bool = False
    # Two identical split/skip commands closer than this are one (manual + rules firing together).
    dedupe_seconds: Annotated[float, Field(ge=0, le=10)] = 0.3
