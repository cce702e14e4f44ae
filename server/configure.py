"""`POST /api/configure`: change the `[DataCollection]` settings of a running bus, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .collection import CollectionPolicy
from .config import DataCollectionSection
from .http_errors import ApiError


@dataclass(frozen=True)
class Setting:
    """One configurable field: the policy attribute and config key it sets, and its check."""

    attribute: str
    config_key: str
    check: Callable[[Any], Any]  # returns the value to store, or raises ValueError(what is allowed)


def _frequency(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ValueError(f"must be a whole number from 1 to 60, got {value!r}")
    if not 1 <= value <= 60:
        raise ValueError(f"must be from 1 to 60, got {value!r}")
    return int(value)


def _switch(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


SETTINGS: dict[str, Setting] = {
    "update_frequency_hz": Setting("update_frequency_hz", "update_frequency_hz", _frequency),
    "export_player_data": Setting("export_player_data", "export_player_data", _switch),
    "export_combat_data": Setting("export_combat_data", "export_combat_data", _switch),
    "export_scene_data": Setting("export_scene_data", "export_scene_data", _switch),
    "export_timing_data": Setting("export_timing_data", "export_timing_data", _switch),
    "enable_advanced_metrics": Setting("advanced_metrics_enabled", "enable_advanced_metrics", _switch),
}
# `/api/status` reports the last one as `advanced_metrics_enabled`; posting that name back works too.
ALIASES = {"advanced_metrics_enabled": "enable_advanced_metrics"}


def apply_configure(
    body: Any, policy: CollectionPolicy, section: DataCollectionSection | None = None
) -> dict[str, Any]:
    """Check every field first, then apply them all at once; the reply of `POST /api/configure`.

    Unknown fields are reported as warnings; a bad value is a 400 naming the field (nothing applied).
    """
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_BODY", "the body must be a JSON object of settings, "
                       f"e.g. {{\"update_frequency_hz\": 5}}; known fields: {', '.join(SETTINGS)}")
    changes: dict[str, tuple[Setting, Any]] = {}
    warnings: list[str] = []
    for key, value in body.items():
        name = ALIASES.get(str(key), str(key))
        setting = SETTINGS.get(name)
        if setting is None:
            warnings.append(f"unknown field {key!r} ignored; known fields: {', '.join(SETTINGS)}")
            continue
        try:
            changes[name] = (setting, setting.check(value))
        except ValueError as exc:
            raise ApiError(400, "INVALID_FIELD", f"{key}: {exc}", field=key) from None
    for setting, value in changes.values():
        setattr(policy, setting.attribute, value)
        if section is not None:
            setattr(section, setting.config_key, value)  # keep the config in step for other readers
    if not body:
        warnings.append("no settings given; nothing changed")
    return {
        "success": True,
        "applied": {name: value for name, (_, value) in changes.items()},
        "warnings": warnings,
        "configuration": policy.as_dict(),
    }
