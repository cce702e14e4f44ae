"""The one event model: validation, the `Event` record, and its single serialization."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from .clock import utc_iso
from .quick_init import quick_init
from .sources.original_format import normalize_fields, normalize_object

EVENT_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_EVENT_BYTES = 64 * 1024
MAX_DATA_DEPTH = 16
# orjson reads integers from -2**63 to 2**64-1 exactly; a longer one becomes a float that has lost digits.
INT_RANGE = (-(2**63), 2**64 - 1)

# High-rate state: latest value wins, so a slow reader may get it coalesced.
STATE_TYPES = frozenset({"player_update", "timing_update"})

# Where an event comes from (docs/architecture.md, "Origins"). Set by the path it came in by, never
# read from the payload. Live events keep the guide's wire form; the others carry `"Origin"` on the
# wire, and test events carry no `Seq` (they are not part of the bus's history).
LIVE, DEMO, REPLAY, TEST = "live", "demo", "replay", "test"
ORIGINS = frozenset({LIVE, DEMO, REPLAY, TEST})


class EventError(ValueError):
    """An event that cannot be accepted; `where` names the offending field."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@quick_init
@dataclass(frozen=True, slots=True)
class Draft:
    """A validated event before the bus gives it a `Seq`."""

    type: str
    data: dict[str, Any]
    timestamp: str | None = None
    origin: str = LIVE


@quick_init
@dataclass(frozen=True, slots=True)
class Event:
    """An accepted event. `raw` is its wire form, serialized once and reused everywhere."""

    seq: int
    type: str
    data: dict[str, Any]
    timestamp: str
    received: float
    raw: bytes
    origin: str = LIVE

    @property
    def is_state(self) -> bool:
        return self.type in STATE_TYPES

    @property
    def is_test(self) -> bool:
        return self.origin == TEST

    def to_dict(self) -> dict[str, Any]:
        """The wire object (what `raw` holds)."""
        return wire_dict(self.timestamp, self.type, self.data, self.seq, self.origin)


def wire_dict(timestamp: str, event_type: str, data: dict[str, Any], seq: int,
              origin: str = LIVE) -> dict[str, Any]:
    """The wire object: live events exactly as the guide reads them, others marked with `Origin`."""
    wire: dict[str, Any] = {"Timestamp": timestamp, "EventType": event_type, "Data": data}
    if origin != TEST:
        wire["Seq"] = seq
    if origin != LIVE:
        wire["Origin"] = origin
    return wire


def make_event(draft: Draft, seq: int, received_mono: float, received_wall: float) -> Event:
    """Stamp a draft with its `Seq` and serialize it; raises EventError if it is too large."""
    timestamp = draft.timestamp or utc_iso(received_wall)
    raw = orjson.dumps(wire_dict(timestamp, draft.type, draft.data, seq, draft.origin))
    if len(raw) > MAX_EVENT_BYTES:
        raise EventError("Data", f"event is {len(raw)} bytes, the limit is {MAX_EVENT_BYTES}")
    return Event(seq, draft.type, draft.data, timestamp, received_mono, raw, draft.origin)


def validate(obj: Any, where: str = "event") -> Draft:
    """Check a decoded JSON value against section 1 of the protocol and return a Draft.

    The original mod's spellings are normalized here, the one place every ingest path goes through
    (`dxbus.sources.original_format`).
    """
    if not isinstance(obj, dict):
        raise EventError(where, f"an event must be a JSON object, got {_json_type(obj)}")
    obj = normalize_object(obj)
    event_type = obj.get("EventType")
    if not isinstance(event_type, str):
        raise EventError(f"{where}.EventType", "required, must be a string")
    if not EVENT_TYPE_PATTERN.fullmatch(event_type):
        raise EventError(f"{where}.EventType", f"{event_type[:80]!r} must match [a-z][a-z0-9_]{{0,63}}")
    data = obj.get("Data", {})
    if not isinstance(data, dict):
        raise EventError(f"{where}.Data", f"must be a JSON object, got {_json_type(data)}")
    _check_depth(data, f"{where}.Data", 1)
    event_type, data = normalize_fields(event_type, data)
    timestamp = obj.get("Timestamp")
    if timestamp is not None:
        timestamp = normalize_timestamp(timestamp, f"{where}.Timestamp")
    return Draft(event_type, data, timestamp)


def normalize_timestamp(value: Any, where: str = "Timestamp") -> str:
    """Accept ISO 8601 with a zone (any fraction digits); return UTC with milliseconds and `Z`."""
    if not isinstance(value, str) or len(value) > 64:
        raise EventError(where, "must be an ISO 8601 string")
    text = value.strip()
    head, dot, frac = text.partition(".")
    zone = ""
    if dot:
        digits = len(frac) - len(frac.lstrip("0123456789"))
        frac, zone = frac[:digits], frac[digits:]
        text = f"{head}.{(frac + '000000')[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise EventError(where, f"{value[:40]!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise EventError(where, f"{value[:40]!r} has no time zone (end it with Z)")
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # year 1 in a zone east of UTC, year 9999 west of it
        raise EventError(where, f"{value[:40]!r} is out of range (years 1 to 9999 in UTC)") from None
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def _check_depth(value: Any, where: str, depth: int) -> None:
    """Nesting depth, and numbers that do not fit 64 bits (named by their path, e.g. `Data.hp`)."""
    if depth > MAX_DATA_DEPTH:
        raise EventError(where, f"nested deeper than {MAX_DATA_DEPTH} levels")
    # Most events are flat objects of strings, ints and bools: check their values by exact type
    # first (no key paths built, no union isinstance), and walk item by item only when needed.
    children = value.values() if type(value) is dict else value
    for child in children:
        kind = type(child)
        if kind is dict or kind is list or (kind is float and not _LOW <= child <= _HIGH) or (
                kind is not str and kind is not int and kind is not bool and kind is not float
                and child is not None):
            break
    else:
        return
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        if isinstance(child, dict | list):
            _check_depth(child, f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]", depth + 1)
        elif isinstance(child, float) and not INT_RANGE[0] <= child <= INT_RANGE[1]:
            path = f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]"
            raise EventError(path, f"{child:g} is out of range: numbers must fit in 64 bits "
                             f"({INT_RANGE[0]} to {INT_RANGE[1]}); send larger values as strings")


_LOW, _HIGH = INT_RANGE


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
             float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
