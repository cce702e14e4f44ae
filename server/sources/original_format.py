"""The original C# mod's spellings, normalized into the documented protocol in ONE place.

Every ingest path ends in `dxbus.events.validate`, which calls `normalize_object` on the decoded
object (the key spellings) and `normalize_fields` on its type and Data: `POST /api/events`, the
WebSocket and relay, tail and replay alike, so nothing deeper in the bus ever sees
`player_damaged`, `soul_current` or snake_case keys (PROTOCOL.md section 9). Both are stateless
and cheap when there is nothing to change (the usual case). The one stateful part, filling
`from_scene` on the original's bare `scene_transition`, is `OriginalNormalizer` for a stream
(replay, tail, relay); on any other path the facts layer fills it from the room it knows.

What changes (everything else passes through untouched):
- keys `timestamp` / `event_type` / `data` (files) and `eventType` (WS envelopes) become
  `Timestamp` / `EventType` / `Data`; a recorded `Seq` is kept as `RecordedSeq` only for seeking;
- `player_damaged` -> `combat_damage` with `is_player_damage: true` and
  `health_remaining` -> `player_health_remaining`;
- `enemy_damaged` -> `combat_damage` with `is_player_damage: false`, `enemy_name` kept,
  `enemy_type` = the name without Unity's clone suffix (`"Crawler (3)"` -> `"Crawler"`),
  `enemy_position_x/_y` -> `position_x/_y`;
- `scene_transition` with only `scene_name` gains `to_scene` (= scene_name) and `from_scene`
  (the previous scene this stream saw; absent for the first one);
- `scene_update` stays `scene_update` (it is periodic state, not a transition); it only tells the
  normalizer the current scene when a stream starts mid-session;
- `player_update`: `soul_current`/`soul_max` -> `mp_current`/`mp_max`, `grounded` -> `on_ground`,
  `dashing` -> `is_dashing`, `attacking` -> `is_attacking`;
- `timing_update`: `fps` written as the strings "Infinity"/"NaN" becomes null;
- `boss_event` (defined by the mod, never emitted) -> `boss_encounter` with
  `phase` start/phase_change/defeated;
- `enemy_killed`: gains `enemy_type` like `enemy_damaged`;
- `combat_damage`: an `is_player_damage` that is not a JSON boolean becomes one (`player_damage_flag`:
  only the string "true", any case, is true).
"""

from __future__ import annotations

import math
import re
from typing import Any

# Unity names clones "Crawler (3)"; the type is the name without that suffix.
_CLONE_SUFFIX = re.compile(r"\s*\(\d+\)$|\(Clone\)$")

_PLAYER_RENAMES = {
    "soul_current": "mp_current",
    "soul_max": "mp_max",
    "grounded": "on_ground",
    "dashing": "is_dashing",
    "attacking": "is_attacking",
}
_BOSS_PHASES = {"start": "start", "phase_change": "phase_change", "defeat": "defeated"}


def player_damage_flag(value: Any) -> bool:
    """The one reading of `is_player_damage`: JSON `true`, or the string "true" in any case (spaces
    around it ignored), means the player was hit; anything else (`"false"`, `1`, null) does not."""
    if value is True:
        return True
    return isinstance(value, str) and value.strip().casefold() == "true"


def enemy_type_of(name: Any) -> Any:
    """`"Crawler (3)"` -> `"Crawler"`; anything that is not a string is returned as is."""
    if not isinstance(name, str):
        return name
    return _CLONE_SUFFIX.sub("", name).strip() or name


def wire_keys(obj: dict[str, Any]) -> dict[str, Any]:
    """Map either key style (`timestamp`/`event_type`/`data`, `eventType`) onto the wire's PascalCase.

    The result has `Timestamp` (if any), `EventType`, `Data` and, if the object carried a `Seq`,
    `RecordedSeq`. Keys already in wire style win over the other spellings.
    """
    out: dict[str, Any] = {}
    for wire, alternatives in (
        ("Timestamp", ("timestamp",)),
        ("EventType", ("event_type", "eventType")),
        ("Data", ("data",)),
    ):
        if wire in obj:
            out[wire] = obj[wire]
        else:
            for alt in alternatives:
                if alt in obj:
                    out[wire] = obj[alt]
                    break
    seq = obj.get("Seq", obj.get("seq"))
    if isinstance(seq, int) and not isinstance(seq, bool):
        out["RecordedSeq"] = seq
    return out


class OriginalNormalizer:
    """Normalizes one stream of objects (one file sequence, one relay connection).

    It is stateful only to fill `from_scene` on the original's bare `scene_transition`; use one
    instance per stream and `reset()` it when the stream starts over (replay loop, seek).
    """

    def __init__(self) -> None:
        self.current_scene: str | None = None

    def reset(self) -> None:
        """Forget the scene seen so far."""
        self.current_scene = None

    def normalize(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Return the wire-style object for `obj` (a new dict; `obj` is not modified).

        Objects that are not dicts or have no usable `Data` dict are returned key-mapped only;
        validation (`dxbus.events.validate`) reports what is wrong with them.
        """
        out = wire_keys(obj)
        data = out.get("Data")
        event_type = out.get("EventType")
        if not isinstance(data, dict) or not isinstance(event_type, str):
            return out
        data = dict(data)
        handler = _HANDLERS.get(event_type)
        if handler is not None:
            event_type, data = handler(self, data)
        out["EventType"] = event_type
        out["Data"] = data
        return out

    # -- per type ------------------------------------------------------------------------------
    def _player_damaged(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if "health_remaining" in data and "player_health_remaining" not in data:
            data["player_health_remaining"] = data.pop("health_remaining")
        data.setdefault("is_player_damage", True)
        return "combat_damage", data

    def _enemy_damaged(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        for axis in ("x", "y"):
            key = f"enemy_position_{axis}"
            if key in data and f"position_{axis}" not in data:
                data[f"position_{axis}"] = data.pop(key)
        if "enemy_name" in data:
            data.setdefault("enemy_type", enemy_type_of(data["enemy_name"]))
        data.setdefault("is_player_damage", False)
        return "combat_damage", data

    def _enemy_killed(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if "enemy_name" in data:
            data.setdefault("enemy_type", enemy_type_of(data["enemy_name"]))
        return "enemy_killed", data

    def _scene_transition(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        scene = data.get("scene_name")
        if "to_scene" not in data and isinstance(scene, str):
            data["to_scene"] = scene
            if "from_scene" not in data and self.current_scene is not None:
                data["from_scene"] = self.current_scene
        to_scene = data.get("to_scene")
        if isinstance(to_scene, str):
            self.current_scene = to_scene
        return "scene_transition", data

    def _scene_update(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        scene = data.get("scene_name")
        # Only a stream that starts mid-session learns its scene here; transitions are authoritative.
        if self.current_scene is None and isinstance(scene, str):
            self.current_scene = scene
        return "scene_update", data

    def _player_update(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        for old, new in _PLAYER_RENAMES.items():
            if old in data and new not in data:
                data[new] = data.pop(old)
        return "player_update", data

    def _timing_update(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        fps = data.get("fps")
        if isinstance(fps, str) or (isinstance(fps, float) and not math.isfinite(fps)):
            # Newtonsoft writes 1/0 as "Infinity": not a frame rate anyone can plot.
            data["fps"] = None
        return "timing_update", data

    def _boss_event(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kind = data.pop("event_type", None)
        data["phase"] = _BOSS_PHASES.get(kind, kind) if isinstance(kind, str) else kind
        return "boss_encounter", data


_HANDLERS = {
    "player_damaged": OriginalNormalizer._player_damaged,
    "enemy_damaged": OriginalNormalizer._enemy_damaged,
    "enemy_killed": OriginalNormalizer._enemy_killed,
    "scene_transition": OriginalNormalizer._scene_transition,
    "scene_update": OriginalNormalizer._scene_update,
    "player_update": OriginalNormalizer._player_update,
    "timing_update": OriginalNormalizer._timing_update,
    "boss_event": OriginalNormalizer._boss_event,
}


_STATELESS = OriginalNormalizer()  # never asked to fill from_scene (see normalize_fields)
_WIRE_KEYS = ("EventType", "Data", "Timestamp")
_OTHER_KEYS = ("event_type", "eventType", "data", "timestamp")


def normalize_object(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with the wire's key spellings (`event_type`/`eventType`/`data`/`timestamp` mapped);
    the same object when it already uses them."""
    if "EventType" in obj or not any(key in obj for key in _OTHER_KEYS):
        return obj
    out = wire_keys(obj)
    out.pop("RecordedSeq", None)  # a posted event's Seq is the bus's to give
    return out


def normalize_fields(event_type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The documented type and Data for one of the original's (a new dict only when one changes).

    Stateless: a bare `scene_transition` gains `to_scene` but not `from_scene`. A `combat_damage`
    whose `is_player_damage` is not a JSON boolean gets the boolean of `player_damage_flag`, so
    every reader (a truthy check in a guide client, an overlay, a custom alert rule) agrees.
    """
    if event_type == "combat_damage":
        flag = data.get("is_player_damage", False)
        if flag is True or flag is False:
            return event_type, data
        return event_type, {**data, "is_player_damage": player_damage_flag(flag)}
    if event_type not in _HANDLERS or not _needs_change(event_type, data):
        return event_type, data
    handler = _HANDLERS[event_type]
    data = dict(data)
    if event_type == "scene_transition":
        scene = data.get("scene_name")
        if "to_scene" not in data and isinstance(scene, str):
            data["to_scene"] = scene
        return event_type, data
    return handler(_STATELESS, data)


def _needs_change(event_type: str, data: dict[str, Any]) -> bool:
    # High-rate types come through here at every tick: look before copying anything.
    if event_type == "player_update":
        return any(key in data for key in _PLAYER_RENAMES)
    if event_type == "timing_update":
        fps = data.get("fps")
        return isinstance(fps, str) or (isinstance(fps, float) and not math.isfinite(fps))
    if event_type == "scene_transition":
        return "to_scene" not in data and isinstance(data.get("scene_name"), str)
    if event_type == "scene_update":
        return False
    if event_type == "enemy_killed":
        return "enemy_name" in data and "enemy_type" not in data
    return True  # player_damaged, enemy_damaged, boss_event: renamed types


def normalize(obj: dict[str, Any], normalizer: OriginalNormalizer | None = None) -> dict[str, Any]:
    """Normalize one object (a fresh, stateless normalizer unless one is given)."""
    return (normalizer or OriginalNormalizer()).normalize(obj)
