"""Reading NDJSON recordings: ours, the original mod's export files, and files still being written.

Accepts a UTF-8 BOM, CRLF or LF line ends, blank lines, and both key styles. A line that cannot
be read is reported as `file:line: what is wrong` and skipped; the rest of the file still plays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..events import Draft, EventError, validate
from .original_format import OriginalNormalizer

log = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Record:
    """One readable line: the validated event, where it came from, and its recorded Seq if any."""

    draft: Draft
    where: str
    recorded_seq: int | None = None


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be read, with the reason."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def parse_object(line: bytes, where: str) -> dict[str, Any] | BadLine | None:
    """One line's JSON object (a BOM and line end allowed); None for a blank line."""
    line = line.rstrip(b"\r\n")
    if line.startswith(BOM):
        line = line[len(BOM):]
    if not line.strip():
        return None
    try:
        obj: Any = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return BadLine(where, f"not JSON ({exc})")
    if not isinstance(obj, dict):
        return BadLine(where, "a line must hold one JSON object")
    return obj


def decode_line(
    line: bytes, where: str, normalizer: OriginalNormalizer
) -> Record | BadLine | None:
    """Parse one line (without its newline); None for a blank line."""
    obj = parse_object(line, where)
    if obj is None or isinstance(obj, BadLine):
        return obj
    wire = normalizer.normalize(obj)
    try:
        draft = validate(wire, "line")
    except EventError as exc:
        return BadLine(where, str(exc))
    return Record(draft, where, wire.get("RecordedSeq"))


def read_file(path: Path, normalizer: OriginalNormalizer | None = None) -> Iterator[Record | BadLine]:
    """Every line of a finished file, in order (blank lines skipped)."""
    normalizer = normalizer or OriginalNormalizer()
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            result = decode_line(line.rstrip(b"\n"), f"{path}:{number}", normalizer)
            if result is not None:
                yield result


def read_records(
    path: Path, normalizer: OriginalNormalizer | None = None
) -> tuple[list[Record], list[BadLine]]:
    """Read a whole file; bad lines are logged as warnings and returned separately."""
    records: list[Record] = []
    bad: list[BadLine] = []
    for item in read_file(path, normalizer):
        if isinstance(item, BadLine):
            log.warning("skipped %s", item)
            bad.append(item)
        else:
            records.append(item)
    return records, bad


class LineBuffer:
    """Splits a growing file's bytes into complete lines; a partial last line waits for its newline."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.line_number = 0
        self._pending = b""

    def feed(self, chunk: bytes) -> list[tuple[bytes, str]]:
        """Add bytes; return the complete lines with their `file:line` labels."""
        data = self._pending + chunk
        *complete, self._pending = data.split(b"\n")
        out = []
        for line in complete:
            self.line_number += 1
            out.append((line, f"{self.name}:{self.line_number}"))
        return out

    @property
    def pending(self) -> bytes:
        """Bytes of a line whose newline has not arrived yet."""
        return self._pending

    def finish(self) -> list[tuple[bytes, str]]:
        """The file is done (rotated away): a last line without a newline is still a line."""
        if not self._pending.strip():
            self._pending = b""
            return []
        self.line_number += 1
        line, self._pending = self._pending, b""
        return [(line, f"{self.name}:{self.line_number}")]
