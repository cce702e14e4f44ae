"""The event stream's wire protocol (PROTOCOL.md section 4), apart from the service that serves it.

What a connect URL may ask for (`parse_query`), the messages the server sends that are not events
(`error_frame`, close reasons), and RFC 6455 frame headers for the frames the stream writes itself.
Pure functions: nothing here touches a socket or the bus.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .events import EVENT_TYPE_PATTERN

CLOSE_AUTH_FAILED = 4401
CLOSE_POLICY = 1008  # "too far behind" and "not reading": the reason text says what to do
CLOSE_GOING_AWAY = 1001
MAX_SEQ = 2**63 - 1  # Seq is a signed 64-bit number on the wire
MAX_CLOSE_REASON = 123  # bytes: a close frame's payload is at most 125, two of them the code

TEXT = 0x81  # FIN + opcode 1 (text)
TEXT_DEFLATED = 0xC1  # FIN + RSV1 (permessage-deflate, RFC 7692 section 6) + opcode 1


class StreamRequestError(ValueError):
    """A bad query parameter: `where` names it."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True)
class StreamQuery:
    """What the connect URL asks for."""

    types: frozenset[str] | None
    since_seq: int | None
    snapshot: bool
    include_test: bool = False  # `include_test=1`: also the test events (the gallery's previews)


def parse_types(value: Any, where: str) -> frozenset[str] | None:
    """`a,b` (or a list) -> the set of types; empty or `*` -> None (every type)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise StreamRequestError(where, "must be a list of event types")
    out: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise StreamRequestError(where, "event types must be strings")
        name = item.strip()
        if not name:
            continue
        if name == "*":
            return None
        if not EVENT_TYPE_PATTERN.fullmatch(name):
            raise StreamRequestError(where, f"{name[:80]!r} is not an event type ([a-z][a-z0-9_]{{0,63}})")
        out.add(name)
    return frozenset(out) if out else None


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "0").strip().lower()
    if value not in ("", "0", "1", "true", "false", "yes", "no"):
        raise StreamRequestError(name, f"{value[:40]!r} must be 1 or 0")
    return value in ("1", "true", "yes")


def parse_query(query: Mapping[str, str]) -> StreamQuery:
    """Read `types`, `since_seq`, `snapshot` and `include_test` from the connect URL.

    Raises StreamRequestError naming the parameter.
    """
    types = parse_types(query.get("types"), "types")
    since_seq: int | None = None
    raw_since = query.get("since_seq")
    if raw_since not in (None, ""):
        try:
            since_seq = int(raw_since)
        except ValueError:
            raise StreamRequestError("since_seq", f"{raw_since[:40]!r} is not an integer") from None
        if not 0 <= since_seq <= MAX_SEQ:
            raise StreamRequestError("since_seq", f"must be from 0 to {MAX_SEQ}")
    return StreamQuery(types, since_seq, _flag(query, "snapshot"), _flag(query, "include_test"))


def error_frame(code: str, message: str) -> bytes:
    """The stream's error message: `{"type":"error","error":{"code","message"}}`."""
    return orjson.dumps({"type": "error", "error": {"code": code, "message": message}})


def close_reason(text: str) -> bytes:
    """A close reason cut to what fits in a close frame, on a UTF-8 character boundary."""
    raw = text.encode()
    if len(raw) <= MAX_CLOSE_REASON:
        return raw
    return raw[:MAX_CLOSE_REASON].decode("utf-8", "ignore").encode()


_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")


def frame_header(length: int, first: int = TEXT) -> bytes:
    """The header of a final, unmasked frame (RFC 6455 section 5.2) of `length` payload bytes.

    `first` is the first byte: `TEXT`, or `TEXT_DEFLATED` for a permessage-deflate message.
    """
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return _HEADER_16.pack(first, 126, length)
    return _HEADER_64.pack(first, 127, length)


def text_frame_header(length: int) -> bytes:
    """The header of a final, unmasked, uncompressed text frame of `length` bytes."""
    return frame_header(length, TEXT)


def text_frame(payload: bytes) -> bytes:
    """A whole uncompressed text frame: header and payload."""
    return frame_header(len(payload), TEXT) + payload
