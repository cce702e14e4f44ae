"""Conditions on an event's `Data` fields: `{Field = "damage", Op = ">=", Value = 5}`.

Checked when the config loads (operator known, regex compiles, value fits the operator and the
declared field type) so a broken rule stops start-up instead of silently never firing.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from dxbus.config_base import Section

Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "contains", "regex"]
FieldType = Literal["any", "number", "string", "boolean", "list"]
ORDERING = frozenset({"<", "<=", ">", ">="})
_MISSING = object()


def lookup(fields: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (`boss.best`, `items.0`), or a private MISSING marker."""
    value: Any = fields
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_ok(kind: FieldType, value: Any) -> bool:
    checks = {
        "any": lambda v: True,
        "number": _is_number,
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "list": lambda v: isinstance(v, list),
    }
    return checks[kind](value)


class Condition(Section):
    """One test on a field. `Type` (optional) declares what the field must hold."""

    field: str = Field(min_length=1, max_length=200)
    op: Op = "=="
    value: Any = None
    type: FieldType = "any"

    @model_validator(mode="after")
    def _check(self) -> Condition:
        # Each failure names the field, so the ConfigError points at the right condition.
        where = f"condition on {self.field!r}"
        if self.op in ORDERING and not _is_number(self.value):
            raise ValueError(f"{where}: {self.op} needs a number Value, got {self.value!r}")
        if self.op in ORDERING and self.type not in ("any", "number"):
            raise ValueError(f"{where}: {self.op} compares numbers, but Type is {self.type!r}")
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError(f"{where}: 'in' needs a list Value, e.g. Value = [\"a\", \"b\"]")
        if self.op == "contains" and self.type not in ("any", "string", "list"):
            raise ValueError(f"{where}: 'contains' needs a string or list field, Type is {self.type!r}")
        if self.op == "regex":
            if not isinstance(self.value, str):
                raise ValueError(f"{where}: regex needs a string Value")
            if self.type not in ("any", "string"):
                raise ValueError(f"{where}: regex matches strings, but Type is {self.type!r}")
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"{where}: bad regex {self.value!r}: {exc}") from None
        if self.op in ("==", "!=") and self.type != "any" and not _type_ok(self.type, self.value):
            raise ValueError(f"{where}: Value {self.value!r} is not a {self.type}")
        return self

    def matches(self, fields: dict[str, Any]) -> bool:
        """Whether the field holds; a missing field or a value of the wrong type never matches."""
        actual = lookup(fields, self.field)
        if actual is _MISSING or not _type_ok(self.type, actual):
            return False
        op, expected = self.op, self.value
        if op == "==":
            return bool(actual == expected)
        if op == "!=":
            return bool(actual != expected)
        if op in ORDERING:
            if not _is_number(actual):
                return False
            return {"<": actual < expected, "<=": actual <= expected,
                    ">": actual > expected, ">=": actual >= expected}[op]
        if op == "in":
            return actual in expected
        if op == "contains":
            if isinstance(actual, str):
                return str(expected) in actual
            return isinstance(actual, list) and expected in actual
        # regex: search, so a pattern matches anywhere unless anchored
        return isinstance(actual, str) and _regex(expected).search(actual) is not None


_patterns: dict[str, re.Pattern[str]] = {}


def _regex(pattern: str) -> re.Pattern[str]:
    compiled = _patterns.get(pattern)
    if compiled is None:
        compiled = _patterns[pattern] = re.compile(pattern)
    return compiled


def all_match(conditions: list[Condition], fields: dict[str, Any]) -> bool:
    """True when every condition holds (an empty list always holds)."""
    return all(c.matches(fields) for c in conditions)
