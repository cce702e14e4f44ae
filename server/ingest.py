"""`POST /api/events`: one event object, a JSON array of them, or NDJSON lines, told apart by content.

Every valid item is published even when others fail; each failure is reported by its place
(`line` for NDJSON, 1-based; `index` for an array or a single object, 0-based).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson

from .events import Event, EventError, validate
from .hub import Hub

MAX_REPORTED_ERRORS = 100
# Publishing is synchronous; yield to the loop now and then so a huge batch never stalls other clients.
YIELD_EVERY = 500
BOM = b"\xef\xbb\xbf"


class BodyError(ValueError):
    """The body as a whole cannot be read (empty, or a broken JSON array)."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One item of the body: its place, and its decoded value or why it could not be decoded."""

    key: str  # "line" or "index"
    pos: int
    value: Any = None
    error: str | None = None


@dataclass
class IngestResult:
    """What `POST /api/events` answers."""

    form: str
    accepted: int = 0
    rejected: int = 0
    filtered: int = 0
    seqs: list[int] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, piece: Piece, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({piece.key: piece.pos, "error": message})

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted, "rejected": self.rejected, "filtered": self.filtered,
            "seqs": self.seqs, "errors": self.errors, "form": self.form,
        }
        if self.rejected > len(self.errors):
            out["errors_truncated"] = True
        return out


def split_body(body: bytes) -> tuple[str, list[Piece]]:
    """Decode a body into pieces; returns the form found: "object", "array" or "ndjson"."""
    text = body.removeprefix(BOM)
    stripped = text.strip()
    if not stripped:
        raise BodyError("the body is empty: send an event object, a JSON array of events, or NDJSON lines")
    if stripped[:1] == b"[":
        try:
            items = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise BodyError(f"the body starts like a JSON array but is not valid JSON: {exc}") from None
        return "array", [Piece("index", i, item) for i, item in enumerate(items)]
    try:
        return "object", [Piece("index", 0, orjson.loads(stripped))]
    except orjson.JSONDecodeError:
        return "ndjson", list(_lines(text))


def _lines(text: bytes) -> list[Piece]:
    pieces = []
    for number, line in enumerate(text.split(b"\n"), start=1):
        line = line.strip()  # also drops the CR of CRLF files
        if not line:
            continue
        try:
            pieces.append(Piece("line", number, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            where = str(exc).replace("line 1 column", "column")  # the line is ours to number
            pieces.append(Piece("line", number, error=f"not valid JSON: {where}"))
    return pieces


def publish_one(hub: Hub, obj: Any, where: str = "event") -> tuple[Event | None, str | None]:
    """Validate and publish one decoded item: (the event or None if filtered, None) or (None, error).

    The same check for every ingest path (POST, the persistent TCP ingest); the error names the field.
    """
    try:
        return hub.publish(validate(obj, where)), None
    except EventError as exc:
        return None, f"{exc.where.removeprefix(where + '.')}: {exc.message}"


async def ingest(hub: Hub, body: bytes) -> IngestResult:
    """Validate and publish every item of `body`; raises BodyError if the body cannot be read at all."""
    if body[:1] == b"{":
        # The game's path: one event per POST. Same checks, without splitting or a Piece.
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # NDJSON lines (or broken JSON): the general path says which
        else:
            result = IngestResult("object")
            event, error = publish_one(hub, obj)
            if error is not None:
                result.reject(Piece("index", 0), error)
            elif event is None:
                result.filtered = 1
            else:
                result.accepted = 1
                result.seqs.append(event.seq)
            return result
    form, pieces = split_body(body)
    result = IngestResult(form)
    for n, piece in enumerate(pieces, start=1):
        if piece.error is not None:
            result.reject(piece, piece.error)
            continue
        event, error = publish_one(hub, piece.value)
        if error is not None:
            result.reject(piece, error)
            continue
        if event is None:
            result.filtered += 1  # valid, but switched off by the [DataCollection] settings
        else:
            result.accepted += 1
            result.seqs.append(event.seq)
        if n % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return result
