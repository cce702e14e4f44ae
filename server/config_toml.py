"""Write a configuration back out as TOML, each key with its allowed values (`dxbus config`)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel


def to_toml(model: BaseModel) -> str:
    """The whole configuration as a TOML document that `load_config` reads back unchanged."""
    lines: list[str] = []
    for name, field in type(model).model_fields.items():
        _section(getattr(model, name), field.alias or name, lines)
    return "\n".join(lines).strip() + "\n"


def _section(model: BaseModel, path: str, lines: list[str], header: str = "[{}]") -> None:
    lines += ["", header.format(path)]
    later: list[tuple[str, Any]] = []
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        value = getattr(model, name)
        if isinstance(value, BaseModel) or _is_models(value):
            later.append((key, value))
            continue
        note = _allowed(field)
        if value is None:
            lines.append(f"# {key} =  (not set){note}")
        else:
            lines.append(f"{key} = {_value(value)}{note}")
    for key, value in later:
        if isinstance(value, BaseModel):
            _section(value, f"{path}.{key}", lines)
        elif isinstance(value, dict):
            for sub, item in value.items():
                _section(item, f"{path}.{key}.{sub}", lines)
        else:
            for item in value:
                _section(item, f"{path}.{key}", lines, "[[{}]]")


def _is_models(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    items = list(items)
    return bool(items) and all(isinstance(i, BaseModel) for i in items)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return orjson.dumps(value).decode()  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{orjson.dumps(str(k)).decode()} = {_value(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, BaseModel):
        return _value(value.model_dump(by_alias=True, exclude_none=True))
    return _value(str(value))


def _allowed(field: Any) -> str:
    bounds = {}
    for meta in field.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            if getattr(meta, attr, None) is not None:
                bounds[attr] = getattr(meta, attr)
    if bounds:
        low = bounds.get("ge", bounds.get("gt"))
        high = bounds.get("le", bounds.get("lt"))
        return f"  # {low} to {high}"
    return f"  # {field.description}" if field.description else ""
