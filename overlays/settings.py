"""Overlay settings: typed knobs declared by each overlay, filled in from the URL's query string.

A setting has a name, a type, a default and (for numbers and choices) a range. A value in the query
string never breaks the page: a number outside its range is clamped to it, one off its step is rounded
to it, and a value that cannot be read at all falls back to the default; each adjustment comes with a
reason. This module is the ONE implementation of these rules: the overlay page gets the resolved
values rendered into it (`static/bus.js` reads them, it never parses the query itself) and the
gallery's form asks `GET /api/overlays/<name>/resolve` (see `docs/overlays.md`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

TYPES = ("bool", "int", "float", "color", "choice", "string")
_COLOR = re.compile(r"#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# What a number may look like: plain decimal, no `_` separators (Python's int() would take `2_0`),
# no hex, no words like `inf`. A single decimal comma is read as a point (`1,5`).
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Query keys that are not settings: passed through to the WebSocket, never warned about.
RESERVED_KEYS = frozenset({"token", "preview"})  # preview=1: a gallery preview (test events)


class SettingError(ValueError):
    """A manifest declares a setting that cannot work (bad type, default outside its range...)."""


@dataclass(frozen=True)
class Setting:
    """One knob of an overlay: what the gallery shows as a form field and the URL sets."""

    name: str
    type: str
    default: Any
    label: str = ""
    help: str = ""
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int = 80
    group: str = ""

    def parse(self, raw: str) -> Any:
        """The typed value of a query-string value; raises ValueError saying what is allowed."""
        text = raw.strip()
        if self.type == "bool":
            low = text.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("expected true/false (1/0, yes/no, on/off)")
        if self.type in ("int", "float"):
            try:
                number: float = int(text) if self.type == "int" else float(text)
            except ValueError:
                raise ValueError(f"expected {'an integer' if self.type == 'int' else 'a number'}") from None
            if not math.isfinite(number):
                raise ValueError("expected a finite number")
            if (self.min is not None and number < self.min) or (self.max is not None and number > self.max):
                raise ValueError(f"out of range {_fmt(self.min)} to {_fmt(self.max)}")
            return number
        if self.type == "color":
            match = _COLOR.fullmatch(text)
            if not match:
                raise ValueError("expected a hex color like #ff4040 or ff404080")
            return normalize_color(match.group(1))
        if self.type == "choice":
            if text not in self.choices:
                raise ValueError(f"expected one of {', '.join(self.choices)}")
            return text
        if len(text) > self.max_length:
            raise ValueError(f"longer than {self.max_length} characters")
        return text

    def coerce(self, raw: str) -> tuple[Any, str]:
        """The value a query-string value stands for, and why it differs from what was written.

        Never raises: out of range is clamped, off-step is rounded, unreadable is the default. The
        reason is "" when the value was taken as written.
        """
        text = raw.strip()
        if self.type in ("int", "float"):
            return self._coerce_number(text)
        if self.type == "string" and len(text) > self.max_length:
            return text[: self.max_length], f"cut to {self.max_length} characters"
        try:
            return self.parse(text), ""
        except ValueError as exc:
            return self.default, f"{exc}; using the default {_show(self.default)}"

    def _coerce_number(self, text: str) -> tuple[Any, str]:
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        if not text:
            return self.default, f"empty; using the default {_show(self.default)}"
        if not _NUMBER.fullmatch(text):
            return self.default, f"not a number; using the default {_show(self.default)}"
        number = float(text)
        if not math.isfinite(number):
            return self.default, f"too large; using the default {_show(self.default)}"
        value = number
        reasons: list[str] = []
        step = self.step if self.step else (1 if self.type == "int" else None)
        if step:
            # Steps count from the minimum, as an HTML number input's do; half a step rounds up.
            base = self.min if self.min is not None else 0.0
            value = base + math.floor((value - base) / step + 0.5) * step
            value = round(value, _decimals(step) + _decimals(base))
        if self.min is not None and value < self.min:
            value, reasons = self.min, [f"below the minimum {_fmt(self.min)}"]
        elif self.max is not None and value > self.max:
            value, reasons = self.max, [f"above the maximum {_fmt(self.max)}"]
        elif value != number:
            reasons = ["whole numbers only" if step == 1 and self.type == "int" else f"steps of {_fmt(step)}"]
        result: float | int = int(value) if self.type == "int" else float(value)
        if reasons:
            return result, f"{reasons[0]}; using {_show(result)}"
        return result, ""

    def to_json(self) -> dict[str, Any]:
        """The spec as the gallery form and bus.js read it."""
        out = asdict(self)
        out["choices"] = list(self.choices)
        return out


def normalize_color(hex_digits: str) -> str:
    """`f00` -> `#ff0000`, `F008` -> `#ff000088`; 6 and 8 digits are kept (lower case)."""
    digits = hex_digits.lower()
    if len(digits) in (3, 4):
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def _show(value: Any) -> str:
    """A value as the user would type it (no Python quotes or True/False)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return _fmt(value)
    return str(value) if value != "" else "(empty)"


def _decimals(number: float) -> int:
    text = repr(float(number))
    return 0 if "e" in text else len(text.split(".")[1].rstrip("0"))


def _fmt(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else str(value)


def make_setting(name: str, spec: Mapping[str, Any], where: str) -> Setting:
    """Build a Setting from a manifest table; raises SettingError naming `where` if it is wrong."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        raise SettingError(f"{where}: setting name {name!r} must match [a-z][a-z0-9_]*")
    known = {"type", "default", "label", "help", "min", "max", "step", "choices", "max_length", "group"}
    unknown = set(spec) - known
    if unknown:
        raise SettingError(f"{where}.{name}: unknown key(s) {', '.join(sorted(unknown))}")
    kind = spec.get("type")
    if kind not in TYPES:
        raise SettingError(f"{where}.{name}.type: {kind!r} is not one of {', '.join(TYPES)}")
    if "default" not in spec:
        raise SettingError(f"{where}.{name}: a default is required")
    choices = tuple(str(c) for c in spec.get("choices", ()))
    if kind == "choice" and not choices:
        raise SettingError(f"{where}.{name}: a choice needs a non-empty `choices` list")
    setting = Setting(
        name=name, type=kind, default=spec["default"], label=str(spec.get("label", "")),
        help=str(spec.get("help", "")), min=spec.get("min"), max=spec.get("max"), step=spec.get("step"),
        choices=choices, max_length=int(spec.get("max_length", 80)), group=str(spec.get("group", "")),
    )
    # The default must itself be valid, or a fallback could produce a broken page.
    default = setting.default
    raw = ("true" if default else "false") if isinstance(default, bool) else str(default)
    if kind != "bool" and isinstance(default, bool):
        raise SettingError(f"{where}.{name}.default: {default!r} is not a {kind}")
    try:
        value = setting.parse(raw)
    except ValueError as exc:
        raise SettingError(f"{where}.{name}.default: {default!r}: {exc}") from None
    return Setting(**{**asdict(setting), "choices": choices, "default": value})


@dataclass
class Resolved:
    """Settings after reading a query string: every value usable, plus what was changed and why."""

    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # setting -> why its value differs from the URL


def resolve(settings: Mapping[str, Setting], query: Mapping[str, str], overlay: str = "") -> Resolved:
    """Fill every setting from `query`: clamped, rounded or (unreadable) the default, each with a reason."""
    out = Resolved({name: s.default for name, s in settings.items()})
    prefix = f"overlay {overlay}: " if overlay else ""
    for key, raw in query.items():
        if key in RESERVED_KEYS:
            continue
        setting = settings.get(key)
        if setting is None:
            out.warnings.append(f"{prefix}unknown setting {key!r} ignored")
            continue
        value, reason = setting.coerce(raw)
        out.values[key] = value
        if reason:
            shown = raw if len(raw) <= 40 else raw[:40] + "..."
            out.notes[key] = reason
            out.warnings.append(f"{prefix}setting {key}={shown!r}: {reason}")
    return out


def canonical_query(settings: Mapping[str, Setting], values: Mapping[str, Any]) -> dict[str, str]:
    """The query string for `values`: only settings that differ from their default, in manifest order."""
    out: dict[str, str] = {}
    for name, setting in settings.items():
        value = values.get(name, setting.default)
        if value == setting.default and type(value) is type(setting.default):
            continue
        if isinstance(value, bool):
            out[name] = "1" if value else "0"
        elif isinstance(value, float):
            out[name] = _fmt(value)
        else:
            out[name] = str(value)
    return out
