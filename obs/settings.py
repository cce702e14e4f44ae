"""The `[OBS]` config section: the obs-websocket connection, automation guards, and the rules.

```toml
[OBS]
Enabled = true
Host = "127.0.0.1"
Port = 4455
Password = "..."

[[OBS.Rules]]
Prefix = "Boss_"
Scene = "Boss Fight Scene"
```

Rules are checked in the order written; the first one that matches decides the scene.
A rule that cannot work (bad regex, two match kinds, unknown keys) is left out with one clear message
naming `[OBS] Rules.N.Key` (N counts from 1 in file order, as logs and `explain` do; a rule left out
does not renumber the ones after it) (logged at start-up, shown in `/api/status` and by `dxbus config` and
`dxbus obs explain`): a typo in one rule must not take the overlays off a live stream. A bad value in
the section itself is still a start-up `ConfigError`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from dxbus.config_base import Section, did_you_mean

Seconds = Annotated[float, Field(ge=0, le=86_400)]

# The ways a rule can compare its pattern with the trigger's subject (room, boss name, ...).
MATCH_KINDS = ("exact", "prefix", "suffix", "contains", "regex", "glob")

# Triggers with a built-in meaning; any other `On` value is an event type (instant trigger).
NAMED_TRIGGERS = ("room", "boss", "boss_end", "death", "menu", "pause")


class RuleSection(Section):
    """One `[[OBS.Rules]]` entry: a trigger, an optional pattern, a target scene and/or actions."""

    name: str = ""
    # room | boss | boss_end | death | menu | pause | <any event type, e.g. item_collected>
    on: str = "room"
    exact: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    contains: str | None = None
    regex: str | None = None
    glob: str | None = None
    ignore_case: bool = False
    # For event-type triggers: the Data field the pattern is matched against (e.g. "item_name").
    field: str = ""
    # The OBS scene to switch to; empty for a rule that only runs actions.
    scene: str = ""
    delay_seconds: Seconds = 0.0
    # Minimum time the scene this rule switched to stays live (None: the section's MinDwellSeconds).
    min_dwell_seconds: Seconds | None = None
    # How long an instant trigger (death, an event type) counts as active after it fires.
    hold_seconds: Seconds = 5.0
    return_to_previous: bool = False
    show: list[str] = Field(default_factory=list)
    hide: list[str] = Field(default_factory=list)
    # Text source name -> template; {room}, {boss}, {scene}, {event} and any Data field are filled in.
    set_text: dict[str, str] = Field(default_factory=dict)
    # Scene holding the Show/Hide sources (default: the rule's Scene, else the current program scene).
    item_scene: str = ""

    @field_validator("on")
    @classmethod
    def _trigger_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", value):
            names = ", ".join(NAMED_TRIGGERS)
            raise ValueError(f"must be one of {names} or an event type like item_collected")
        return value

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_pattern(self) -> RuleSection:
        given = [kind.capitalize() for kind in MATCH_KINDS if getattr(self, kind) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of Exact/Prefix/Suffix/Contains/Regex/Glob, got {given}")
        if not self.scene and not (self.show or self.hide or self.set_text):
            raise ValueError("a rule needs a Scene or an action (Show, Hide, SetText)")
        if self.field and self.on in ("room", "menu", "pause"):
            raise ValueError(f"Field only applies to event-type triggers, not On = {self.on!r}")
        return self

    @property
    def match_kind(self) -> str | None:
        """Which match kind this rule uses (None: the rule matches any subject)."""
        return next((kind for kind in MATCH_KINDS if getattr(self, kind) is not None), None)


class ObsSection(Section):
    """`[OBS]`: where OBS is, how automation behaves, and the rules."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 4455
    # Never logged; the status and dashboard only say whether one is set.
    password: str = Field(default="", repr=False)
    # Run the rules and log what would happen, without connecting to OBS.
    dry_run: bool = False
    # A scene change made by hand in OBS pauses automation this long (0: never pause).
    manual_pause_seconds: Seconds = 60.0
    # While one of these scenes is live, automation never switches away from it.
    protected_scenes: list[str] = Field(default_factory=lambda: ["BRB", "Starting Soon"])
    # In studio mode: switch the preview (the streamer presses Transition) or the program directly.
    studio_mode: Literal["preview", "program"] = "preview"
    # Default minimum time a switched-to scene stays live before automation switches again.
    min_dwell_seconds: Seconds = 0.0
    # Rooms that count as the game's menu for `On = "menu"` rules (prefixes of the room name).
    menu_rooms: list[str] = Field(default_factory=lambda: ["Menu_", "Quit_To_Menu"])
    reconnect_min_seconds: Annotated[float, Field(ge=0.05, le=60)] = 0.5
    reconnect_max_seconds: Annotated[float, Field(ge=0.05, le=600)] = 15.0
    request_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    # Refresh OBS browser sources showing our overlays when an `overlay_reload` event arrives.
    refresh_browser_sources: bool = True
    # Which browser sources are ours: URL contains this (empty: this bus's own HTTP address).
    browser_source_url: str = ""
    # The usage guide's JS scene map as written: room name contains key -> OBS scene, in order,
    # checked after Rules.
    scene_map: dict[str, str] = Field(default_factory=dict)
    rules: list[RuleSection] = Field(default_factory=list)
    # What was wrong with the rules left out, one line each.
    _rule_errors: list[str] = PrivateAttr(default_factory=list)
    # The file position (from 1) of each rule kept, and how many the file had.
    _rule_numbers: list[int] = PrivateAttr(default_factory=list)
    _rules_written: int = PrivateAttr(default=0)

    @property
    def rule_errors(self) -> list[str]:
        """One message per rule that was left out because it cannot work."""
        return self._rule_errors

    @model_validator(mode="wrap")
    @classmethod
    def _leave_out_bad_rules(cls, data: Any, handler: Any) -> ObsSection:
        errors: list[str] = []
        numbers: list[int] = []
        written = 0
        if isinstance(data, dict):
            key = "Rules" if "Rules" in data else "rules"
            raw_rules = data.get(key)
            if isinstance(raw_rules, list):
                good = []
                written = len(raw_rules)
                for number, raw in enumerate(raw_rules, start=1):
                    try:
                        RuleSection.model_validate(raw)
                    except ValidationError as exc:
                        errors += [_rule_error(number, err) for err in exc.errors()]
                    else:
                        good.append(raw)
                        numbers.append(number)
                data = {**data, key: good}
        section = handler(data)
        section._rule_errors = errors
        section._rule_numbers = numbers
        section._rules_written = written
        return section

    @model_validator(mode="after")
    def _backoff_order(self) -> ObsSection:
        if self.reconnect_max_seconds < self.reconnect_min_seconds:
            raise ValueError("ReconnectMaxSeconds must be >= ReconnectMinSeconds")
        return self

    def numbered_rules(self) -> list[tuple[int, RuleSection]]:
        """`all_rules()` with each rule's number as people count it: its place in the file, from 1.

        A rule left out keeps its number taken, so "rule 6" is the sixth `[[OBS.Rules]]` written;
        `SceneMap` entries come after every written rule.
        """
        numbers = self._rule_numbers if len(self._rule_numbers) == len(self.rules) else []
        if not numbers:  # rules given in code, not read from a file
            numbers = list(range(1, len(self.rules) + 1))
        written = max(self._rules_written, len(self.rules))
        mapped = range(written + 1, written + 1 + len(self.scene_map))
        return list(zip([*numbers, *mapped], self.all_rules(), strict=True))

    def all_rules(self) -> list[RuleSection]:
        """Rules in evaluation order: `Rules` as written, then `SceneMap` entries as Contains rules."""
        mapped = [
            RuleSection(name="SceneMap", contains=key, scene=scene)
            for key, scene in self.scene_map.items()
        ]
        return [*self.rules, *mapped]


def _rule_error(number: int, err: Any) -> str:
    """`[OBS] Rules.1.Regex = '(': invalid regular expression ...; the rule is left out` (from 1)."""
    loc = ".".join(str(part + 1 if isinstance(part, int) else part) for part in err["loc"])
    where = f"[OBS] Rules.{number}" + (f".{loc}" if loc else "")
    got = "" if err["type"] in ("extra_forbidden", "missing") else f" = {err.get('input')!r}"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        keys = [f.alias or name for name, f in RuleSection.model_fields.items()]
        message = "unknown key" + (did_you_mean(str(err["loc"][-1]), keys) if len(err["loc"]) == 1 else "")
    return f"{where}{got}: {message}; this rule is left out"
