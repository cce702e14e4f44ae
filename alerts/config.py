"""The `[Alerts]` config section: queue settings, built-in detectors, and custom rules.

```toml
[Alerts]
GapSeconds = 0.5

[Alerts.Detectors.Death]
Sound = "death.wav"

[[Alerts.Rules]]
Name = "big_hit"
Event = "combat_damage"
Conditions = [{Field = "is_player_damage", Op = "==", Value = true}, {Field = "damage", Op = ">=", Value = 2}]
Message = "Ouch, {{ data.damage }} masks"
  [[Alerts.Rules.Variations]]
  Conditions = [{Field = "damage", Op = ">=", Value = 5}]
  Message = "MASSIVE HIT: {{ data.damage }}"
  Style = "big"
```
Everything that can be checked without the file system is checked here (templates, regexes,
operators, names); sound files are checked when the alert service is built (`sounds.py`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from dxbus.config_base import Section
from dxbus.events import EVENT_TYPE_PATTERN
from dxbus.text_templates import TemplateProblem, check_template

from .conditions import Condition

Seconds = Annotated[float, Field(ge=0, le=3600)]
Volume = Annotated[float, Field(ge=0, le=1)]
Priority = Annotated[int, Field(ge=0, le=100)]
StalePolicy = Literal["keep", "drop", "merge"]
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
STYLE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
# The icons shipped in `static/alerts/icons/<name>.svg`; "" shows none.
ICONS = ("generic", "death", "boss", "low-health", "item", "milestone", "perfect", "speed", "area")


def _template(value: str | None) -> str | None:
    if value is not None:
        try:
            check_template(value)
        except TemplateProblem as exc:
            raise ValueError(str(exc)) from None
    return value


def _icon(value: str | None) -> str | None:
    if value is not None and value != "" and value not in ICONS:
        raise ValueError(f"{value!r} is not a built-in icon (one of {', '.join(ICONS)}, or \"\" for none)")
    return value


def _style(value: str | None) -> str | None:
    # The style becomes a CSS class on the overlay, so keep it to a safe token.
    if value is not None and not STYLE_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} must be lower-case letters, digits, '-' or '_' (a CSS class)")
    return value


class Variation(Section):
    """Overrides used when all its conditions hold (e.g. a bigger alert for damage >= 5).

    Variations are tried in the order written; the first that matches wins.
    """

    conditions: list[Condition] = Field(default_factory=list)
    title: str | None = None
    message: str | None = None
    merge_message: str | None = None
    icon: str | None = None
    image: str | None = None
    sound: str | None = None
    volume: Volume | None = None
    duration: Annotated[float, Field(gt=0, le=120)] | None = None
    priority: Priority | None = None
    style: str | None = None

    _message = field_validator("title", "message", "merge_message")(_template)
    _icon = field_validator("icon")(_icon)
    _style = field_validator("style")(_style)


class AlertSpec(Section):
    """What an alert looks and sounds like, and how the queue treats it."""

    enabled: bool = True
    # The alert's first line (a Jinja template like `message`); None: the rule's name in words
    # ("big_hit" -> "Big hit"), "" shows no title line.
    title: str | None = None
    message: str = "{{ rule }}"
    # Shown instead of `message` when several triggers were merged into one alert (`count` > 1).
    merge_message: str = ""
    # A built-in icon (ICONS) beside the text, and a picture from `[Alerts] ImagesDirectory` above it.
    icon: str = "generic"
    image: str = ""
    sound: str = ""
    volume: Volume = 0.8
    duration: Annotated[float, Field(gt=0, le=120)] = 4.0
    priority: Priority = 50
    style: str = "default"
    # Seconds after a trigger during which the same rule does not trigger again.
    cooldown: Seconds = 0.0
    # What happens to an alert still waiting in the queue: keep it, drop it once older than
    # StaleAfter, or merge repeats of the same rule into one ("x5 deaths").
    stale: StalePolicy = "drop"
    stale_after: Annotated[float, Field(gt=0, le=3600)] = 30.0
    variations: list[Variation] = Field(default_factory=list)

    _message = field_validator("title", "message", "merge_message")(_template)
    _icon = field_validator("icon")(_icon)
    _style = field_validator("style")(_style)


class BossDefeated(AlertSpec):
    """A boss is beaten: fight time, and whether it beat the previous best."""

    title: str | None = "Boss defeated"
    message: str = ("{{ boss_name }} defeated in {{ fight_time|duration }}"
                    "{% if new_best %} \u2014 NEW BEST!{% endif %}")
    icon: str = "boss"
    sound: str = "victory.wav"
    duration: Annotated[float, Field(gt=0, le=120)] = 6.0
    priority: Priority = 90
    stale: StalePolicy = "keep"


class PerfectRoom(AlertSpec):
    """A room left without damage after a fight in it."""

    title: str | None = "Perfect room"
    message: str = "Perfect room! {{ kills }} down, no damage taken"
    icon: str = "perfect"
    sound: str = "perfect.wav"
    priority: Priority = 60
    # A room counts as a fight when at least this many enemies died in it (a boss fight always does).
    min_kills: Annotated[int, Field(ge=1, le=1000)] = 3


class SpeedRoom(AlertSpec):
    """A room left in under `Seconds`."""

    title: str | None = "Speed room"
    message: str = "Speedy! {{ room_name }} in {{ room_time|duration }}"
    icon: str = "speed"
    sound: str = "speed.wav"
    priority: Priority = 30
    duration: Annotated[float, Field(gt=0, le=120)] = 3.0
    cooldown: Seconds = 60.0
    stale_after: Annotated[float, Field(gt=0, le=3600)] = 10.0
    seconds: Annotated[float, Field(gt=0, le=600)] = 4.0


class Death(AlertSpec):
    """Hornet died: the room, the cause and the streak; bursts merge into one alert."""

    title: str | None = "Death"
    message: str = (
        "Died in {{ area or room_name }}{% if streak > 1 %} ({{ streak }} in a row){% endif %}"
    )
    merge_message: str = "\u00d7{{ count }} deaths"
    icon: str = "death"
    sound: str = "death.wav"
    priority: Priority = 70
    stale: StalePolicy = "merge"
    variations: list[Variation] = Field(default_factory=lambda: [Variation(
        conditions=[Condition(field="streak", op=">=", value=5)],
        message="Death streak: {{ streak }}! ({{ area or room_name }})", style="big")])


class LowHealth(AlertSpec):
    """Health dropped to `Masks` or fewer."""

    title: str | None = "Low health"
    message: str = "{{ health }} mask{% if health != 1 %}s{% endif %} left!"
    icon: str = "low-health"
    sound: str = "low-health.wav"
    priority: Priority = 80
    duration: Annotated[float, Field(gt=0, le=120)] = 3.0
    cooldown: Seconds = 20.0
    stale_after: Annotated[float, Field(gt=0, le=3600)] = 5.0
    masks: Annotated[int, Field(ge=1, le=20)] = 1


class NewArea(AlertSpec):
    """A titled area entered for the first time this session."""

    title: str | None = "Discovered"
    message: str = "New area: {{ area }}"
    icon: str = "area"
    sound: str = "discovery.wav"
    priority: Priority = 60
    stale: StalePolicy = "keep"


class AbilityObtained(AlertSpec):
    """A new ability (or equipment ability) collected."""

    title: str | None = "Ability obtained"
    message: str = "Obtained {{ ability }}!"
    icon: str = "item"
    sound: str = "ability.wav"
    priority: Priority = 85
    duration: Annotated[float, Field(gt=0, le=120)] = 5.0
    stale: StalePolicy = "keep"


class NoDamageStreak(AlertSpec):
    """Every `Rooms` rooms in a row without taking damage."""

    title: str | None = "No-hit streak"
    message: str = "{{ streak }} rooms without a hit!"
    icon: str = "milestone"
    sound: str = "streak.wav"
    priority: Priority = 40
    # Fires at every multiple of this many rooms (5, 10, 15...).
    rooms: Annotated[int, Field(ge=1, le=1000)] = 5


class Detectors(Section):
    """Built-in detectors, each on by default. An unknown name here is a start-up error."""

    boss_defeated: BossDefeated = BossDefeated()
    perfect_room: PerfectRoom = PerfectRoom()
    speed_room: SpeedRoom = SpeedRoom()
    death: Death = Death()
    low_health: LowHealth = LowHealth()
    new_area: NewArea = NewArea()
    ability_obtained: AbilityObtained = AbilityObtained()
    no_damage_streak: NoDamageStreak = NoDamageStreak()

    @model_validator(mode="before")
    @classmethod
    def _known(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            known = {f.alias or n for n, f in cls.model_fields.items()} | set(cls.model_fields)
            unknown = [k for k in raw if k not in known]
            if unknown:
                names = ", ".join(sorted(f.alias or n for n, f in cls.model_fields.items()))
                raise ValueError(f"unknown detector {unknown[0]!r} (known: {names})")
        return raw

    def items(self) -> list[tuple[str, AlertSpec]]:
        """(rule name, spec) for every detector, enabled or not."""
        return [(name, getattr(self, name)) for name in type(self).model_fields]


class Rule(AlertSpec):
    """A custom rule: when an event of type `Event` arrives and all `Conditions` hold."""

    name: str
    event: str
    conditions: list[Condition] = Field(default_factory=list)
    message: str = "{{ rule }}"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(f"rule name {value!r} must be letters, digits, '_' or '-' (max 64)")
        return value

    @field_validator("event")
    @classmethod
    def _event(cls, value: str) -> str:
        if not EVENT_TYPE_PATTERN.fullmatch(value):
            raise ValueError(f"{value!r} is not an event type ([a-z][a-z0-9_]*)")
        if value == "alert":
            # An alert rule on alerts would feed itself forever.
            raise ValueError("a rule cannot trigger on 'alert' events")
        return value


class AlertsSection(Section):
    """`[Alerts]`: the alert engine and its server-side queue."""

    enabled: bool = True
    # Pause between one alert leaving the screen and the next appearing.
    gap_seconds: Annotated[float, Field(ge=0, le=60)] = 0.5
    # Most alerts waiting; beyond it the lowest-priority, oldest one is dropped.
    max_queue: Annotated[int, Field(ge=1, le=1000)] = 20
    history_size: Annotated[int, Field(ge=1, le=1000)] = 50
    # The user's own sounds, served at /static/user-sounds/<file>; a name found here wins over the
    # built-in sound of the same name.
    sounds_directory: str = "sounds"
    # The user's pictures and GIFs for `Image = "file.gif"`, served at /static/user-images/<file>.
    images_directory: str = "images"
    master_volume: Volume = 1.0
    detectors: Detectors = Detectors()
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("rules", mode="before")
    @classmethod
    def _rules(cls, raw: Any) -> Any:
        # Validate rule by rule so an error names the rule, not just its index.
        if not isinstance(raw, list):
            return raw
        out: list[Any] = []
        for index, item in enumerate(raw):
            if isinstance(item, Rule):
                out.append(item)
                continue
            name = item.get("Name", item.get("name")) if isinstance(item, dict) else None
            try:
                out.append(Rule.model_validate(item))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc']) or 'rule'}: "
                    f"{'unknown key' if err['type'] == 'extra_forbidden' else err['msg']}"
                    .replace("Value error, ", "")
                    for err in exc.errors())
                raise ValueError(f"rule {name!r} (#{index + 1}): {problems}") from None
        return out

    @model_validator(mode="after")
    def _unique(self) -> AlertsSection:
        seen = {name for name, _ in self.detectors.items()}
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice (detector names are taken too)")
            seen.add(rule.name)
        return self

    def specs(self) -> dict[str, AlertSpec]:
        """Every detector and rule by name (rules after detectors, in file order)."""
        out: dict[str, AlertSpec] = dict(self.detectors.items())
        out.update((rule.name, rule) for rule in self.rules)
        return out
