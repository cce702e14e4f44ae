"""Configuration: one TOML file with the original mod's sections, validated at start-up.

Keys keep the original's PascalCase spelling (`[DataCollection] UpdateFrequencyHz`); a bad value
stops start-up with a `ConfigError` naming the section, the key and what is allowed.
"""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator

from dxbus.alerts.config import AlertsSection
from dxbus.obs.settings import ObsSection
from dxbus.overlays.config import OverlaysSection
from dxbus.speedrun.settings import LiveSplitSection, TimerSection

# Section, Port and ConfigError live in a leaf module so the features can subclass Section without
# importing this one (which imports them); they are re-exported here.
from .config_base import ConfigError, Port, Section, did_you_mean
from .text_files import TextFilesSection

__all__ = ["Config", "ConfigError", "Port", "Section", "describe_errors", "load_config"]


class GeneralSection(Section):
    enabled: bool = True


class HttpSection(Section):
    port: Port = 8080
    bind_address: str = "127.0.0.1"
    enable_http_server: bool = True
    max_body_mb: Annotated[float, Field(gt=0, le=100)] = 10.0


class WebSocketSection(Section):
    port: Port = 9091
    enable_web_socket_server: bool = True
    client_queue_limit: Annotated[int, Field(ge=16, le=1_000_000)] = 4096
    # permessage-deflate: "auto" accepts it from clients on other machines only (over loopback it
    # costs CPU and saves nothing), "on" from every client that offers it, "off" from none.
    compression: Literal["off", "auto", "on"] = "auto"


class IngestSection(Section):
    """`[Ingest]`: the persistent NDJSON-over-TCP ingest for the game and mods (docs/ingest.md)."""

    enable_tcp_ingest: bool = False
    port: Port = 9092


class TcpSection(Section):
    port: Port = 9090
    enable_tcp_server: bool = True


class DataCollectionSection(Section):
    update_frequency_hz: Annotated[int, Field(ge=1, le=60)] = 10
    export_player_data: bool = True
    export_combat_data: bool = True
    export_scene_data: bool = True
    export_timing_data: bool = True
    enable_advanced_metrics: bool = False
    ring_buffer_size: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000


class SecuritySection(Section):
    """The one gate (`dxbus.gate`): who may reach which port, and the resource bounds of each."""

    auth_token: str = ""
    # Browser pages (besides the bus's own) that may read and write; "*" = every page (unsafe).
    allowed_origins: str = ""
    # Browser pages that may read (GET routes, the stream) but never write; "null" = file:// pages.
    read_only_origins: str = "null"
    # Extra names the Host header may carry (localhost, IP addresses and BindAddress always may).
    allowed_hosts: str = ""
    enable_rate_limiting: bool = False
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 1200
    # The original spells it `MaxConnectionsPerIP` (to_pascal would give ...PerIp).
    max_connections_per_ip: Annotated[int, Field(ge=1, le=10_000, alias="MaxConnectionsPerIP")] = 64
    max_connections_per_port: Annotated[int, Field(ge=8, le=100_000)] = 512
    header_timeout_seconds: Annotated[float, Field(ge=0.1, le=3600)] = 10.0
    body_timeout_seconds: Annotated[float, Field(ge=0.1, le=3600)] = 30.0
    max_ring_buffer_mb: Annotated[float, Field(ge=1, le=65_536)] = 64.0

    @property
    def origins(self) -> frozenset[str]:
        """The read-and-write origins, split on commas and trimmed."""
        return frozenset(o.strip() for o in self.allowed_origins.split(",") if o.strip())


class FileExportSection(Section):
    enable_file_export: bool = True
    directory: str = "DataExport"
    format: str = "NDJSON"
    # The original spells it "MB" (the alias generator would make it "Mb").
    rotation_size_mb: Annotated[float, Field(gt=0, le=1024, alias="RotationSizeMB")] = 10.0
    rotation_minutes: Annotated[float, Field(ge=1, le=1440)] = 30.0

    @field_validator("format")
    @classmethod
    def _ndjson_only(cls, value: str) -> str:
        if value.upper() != "NDJSON":
            raise ValueError("only NDJSON is supported")
        return "NDJSON"


class StateSection(Section):
    """Where persistent counters (deaths, boss attempts) live between runs."""

    file: str = "dxbus-state.json"
    save_interval_seconds: Annotated[float, Field(ge=0.1, le=3600)] = 5.0


class FactsSection(Section):
    """How raw events become game facts (`dxbus.facts`, docs/state.md)."""

    # Reports of one boss kill this close together (bus clock) are one kill: the original mod sends
    # `boss_encounter` defeated and, seconds later, `boss_defeated` with the game's fight time.
    kill_pairing_seconds: Annotated[float, Field(ge=0.5, le=300)] = 30.0


class Config(Section):
    """The whole file."""

    general: GeneralSection = GeneralSection()
    http: HttpSection = Field(default_factory=HttpSection, alias="HTTP")
    web_socket: WebSocketSection = WebSocketSection()
    tcp: TcpSection = Field(default_factory=TcpSection, alias="TCP")
    ingest: IngestSection = IngestSection()
    data_collection: DataCollectionSection = DataCollectionSection()
    security: SecuritySection = SecuritySection()
    file_export: FileExportSection = FileExportSection()
    state: StateSection = StateSection()
    facts: FactsSection = FactsSection()
    alerts: AlertsSection = AlertsSection()
    text_files: TextFilesSection = TextFilesSection()
    overlays: OverlaysSection = OverlaysSection()
    obs: ObsSection = Field(default_factory=ObsSection, alias="OBS")
    timer: TimerSection = Field(default_factory=TimerSection)
    live_split: LiveSplitSection = Field(default_factory=LiveSplitSection)


def load_config(path: Path | None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Read and validate `path` (None: defaults), then apply `{Section: {Key: value}}` overrides."""
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for section, values in (overrides or {}).items():
        raw.setdefault(section, {}).update(values)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, source)) from None


def describe_errors(exc: ValidationError, source: str) -> str:
    """One line per problem: `file: [Section] Key = value: what is wrong (allowed ...)`."""
    lines = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        # List items count from 1, as people (and `dxbus obs explain`) count: `[OBS] Rules.1.Scene`.
        shown = [str(part + 1) if isinstance(part, int) else str(part) for part in err["loc"]]
        where = f"[{shown[0]}] {'.'.join(shown[1:])}" if len(shown) > 1 else f"[{shown[0]}]" if shown else ""
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = ("unknown section" if len(loc) == 1 else "unknown key") + _nearest(loc)
        got = "" if err["type"] in ("extra_forbidden", "missing") else f" = {_clip(err.get('input'))}"
        lines.append(f"{source}: {where}{got}: {message}{_allowed(loc)}")
    return "\n".join(lines)


def _clip(value: Any, limit: int = 80) -> str:
    """The offending value, shortened: a whole [[Rules]] table would drown the message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...)"


def _model_in(annotation: Any) -> Any:
    """The section model inside `X`, `X | None` or `list[X]`; None for plain values."""
    while annotation is not None and not hasattr(annotation, "model_fields"):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        annotation = args[0] if args else None
    return annotation


def _field_at(loc: list[str]) -> tuple[Any, Any]:
    """(the model holding the last part of `loc`, that field or None); (None, None) off the map."""
    model: Any = Config
    field = None
    for n, part in enumerate(loc):
        if part.isdigit() and field is not None:  # an item of a list of sections ([[OBS.Rules]])
            continue
        model = _model_in(field.annotation) if field is not None else model
        if model is None:
            return None, None
        field = {f.alias or name: f for name, f in model.model_fields.items()}.get(part)
        if field is None:
            return (model, None) if n == len(loc) - 1 else (None, None)
    return model, field


def _nearest(loc: list[str]) -> str:
    """For an unknown key or section: the known name nearest to it (`did you mean Port?`)."""
    model, _ = _field_at(loc)
    if model is None:
        return ""
    return did_you_mean(loc[-1], [f.alias or name for name, f in model.model_fields.items()])


def _allowed(loc: list[str]) -> str:
    """The documented range of the field at `loc`, if it has one."""
    _, field = _field_at(loc)
    if field is None:
        return ""
    bounds = {}
    for meta in field.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            if getattr(meta, attr, None) is not None:
                bounds[attr] = getattr(meta, attr)
    if not bounds:
        return ""
    low = bounds.get("ge", bounds.get("gt"))
    high = bounds.get("le", bounds.get("lt"))
    return f" (allowed: {low} to {high})"
