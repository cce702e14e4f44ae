"""Reading recordings into sessions: our NDJSON exports and `--record` files, the original mod's
files, any mix, whole folders, gzip too.

Files are read one line at a time (a 3-hour session never sits in memory). Each file is read with
its own `OriginalNormalizer`, so the original's spellings come out as documented events through the
same `events.validate` every ingest path uses. Files are played in order of their first event,
separately per origin (a demo's or replay's export never mixes into real play), and a stretch that
a second file holds again (an export and a recording of the same play) is read once. A gap of more
than `gap_seconds` without events starts a new session. Test-origin events are skipped.
"""

from __future__ import annotations

import gzip
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..events import EVENT_TYPE_PATTERN, LIVE, ORIGINS, TEST, Event, EventError, validate
from ..sources.ndjson_reader import BadLine, parse_object
from ..sources.original_format import OriginalNormalizer, normalize_fields

# A timestamp as the bus writes it (already normalized): the fast path may skip re-parsing it.
BUS_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
PATTERNS = ("*.ndjson", "*.ndjson.gz", "*.jsonl", "*.jsonl.gz")
DEFAULT_GAP_SECONDS = 30 * 60.0
MAX_PROBLEMS = 50  # bad lines listed one by one; the rest are counted


class LoadError(Exception):
    """A path that cannot be read at all (missing, not a recording)."""


@dataclass
class Problems:
    """What could not be read, line by line (`file:line: why`), and what was read twice."""

    bad_lines: list[str] = field(default_factory=list)
    bad_count: int = 0
    duplicates: int = 0
    files: list[str] = field(default_factory=list)

    def bad(self, where: str, message: str) -> None:
        """Note one unreadable line."""
        self.bad_count += 1
        if len(self.bad_lines) < MAX_PROBLEMS:
            self.bad_lines.append(f"{where}: {message}")


def expand(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the recordings in the folders named (recursively), each once."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted({p for pattern in PATTERNS for p in path.rglob(pattern) if p.is_file()})
            if not found:
                raise LoadError(f"{path}: no recordings in this folder ({', '.join(PATTERNS)})")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise LoadError(f"{path}: no such file or folder")
    return list(dict.fromkeys(out))


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile is a binary IO
    return path.open("rb")


class EpochParser:
    """Normalized timestamps (`2026-01-01T12:00:01.123Z`) to epoch seconds, quickly: the minute's
    start is computed once and cached, the seconds added as a number."""

    def __init__(self) -> None:
        self._minutes: dict[str, float] = {}
        self._last: tuple[str | None, float] = (None, 0.0)  # an event and its facts share one stamp

    def __call__(self, stamp: str) -> float:
        last, at = self._last
        if stamp is last:
            return at
        minute = stamp[:16]
        base = self._minutes.get(minute)
        if base is None:
            base = datetime.fromisoformat(minute + ":00+00:00").astimezone(UTC).timestamp()
            self._minutes[minute] = base
        at = base + float(stamp[17:-1])
        self._last = (stamp, at)
        return at


@dataclass
class _File:
    path: Path
    first: float
    origin: str


def _decode(line: bytes, where: str, normalizer: OriginalNormalizer,
            problems: Problems) -> tuple[str, str, dict[str, Any], str] | None:
    """(origin, type, data, timestamp) of one line, or None (blank, unreadable, no timestamp)."""
    obj = parse_object(line, where)
    if obj is None:
        return None
    if isinstance(obj, BadLine):
        problems.bad(where, obj.message)
        return None
    origin = obj.get("Origin", LIVE)
    if origin not in ORIGINS:
        origin = LIVE
    # The bus's own lines (exports, recordings) passed `validate` when they were written: only the
    # cheap checks again, and the type spellings through the one normalizer. Anything else (the
    # original mod's files, hand-written lines) takes the full path.
    event_type, data, stamp = obj.get("EventType"), obj.get("Data"), obj.get("Timestamp")
    if (isinstance(event_type, str) and isinstance(data, dict) and isinstance(stamp, str)
            and BUS_STAMP.fullmatch(stamp) and EVENT_TYPE_PATTERN.fullmatch(event_type)):
        event_type, data = normalize_fields(event_type, data)
        return origin, event_type, data, stamp
    try:
        draft = validate(normalizer.normalize(obj), "line")
    except EventError as exc:
        problems.bad(where, str(exc))
        return None
    if draft.timestamp is None:
        problems.bad(where, "no Timestamp: a report needs to know when each event happened")
        return None
    return origin, draft.type, draft.data, draft.timestamp


def _first(path: Path, problems: Problems) -> _File | None:
    """The file's first readable event's time and origin (None for a file with none)."""
    parse = EpochParser()
    normalizer = OriginalNormalizer()
    try:
        with _open(path) as handle:
            for number, line in enumerate(handle, start=1):
                decoded = _decode(line, f"{path}:{number}", normalizer, Problems())
                if decoded is not None:
                    return _File(path, parse(decoded[3]), decoded[0])
    except (OSError, EOFError) as exc:  # unreadable, or not gzip after all
        raise LoadError(f"{path}: cannot be read ({exc})") from None
    problems.bad(str(path), "no readable events")
    return None


def read_events(paths: Iterable[Path], problems: Problems | None = None) -> Iterator[Event]:
    """Every event of the files, one stream per origin (live first), each in time order of files.

    `Event.received` holds the event's own time (epoch seconds); `seq` counts from 1 per origin.
    """
    problems = problems if problems is not None else Problems()
    try:
        files = [f for p in expand(paths) if (f := _first(p, problems)) is not None]
    except OSError as exc:
        raise LoadError(str(exc)) from exc
    order = {LIVE: 0, "demo": 1, "replay": 2}
    files.sort(key=lambda f: (order.get(f.origin, 3), f.first, str(f.path)))
    for origin, group in itertools.groupby(files, key=lambda f: f.origin):
        if origin == TEST:
            continue
        yield from _stream(list(group), problems)


def _numbered(handle: IO[bytes], path: Path, problems: Problems) -> Iterator[tuple[int, bytes]]:
    """(line number, line); a file that breaks off (a truncated .gz) ends there, named as a problem:
    what was read before still counts."""
    number = 0
    try:
        for number, line in enumerate(handle, start=1):
            yield number, line
    except (OSError, EOFError) as exc:
        problems.bad(f"{path}:{number + 1}", f"the file breaks off here ({exc}); the rest is missing")


def _stream(files: list[_File], problems: Problems) -> Iterator[Event]:
    parse = EpochParser()
    seq = 0
    last = float("-inf")  # the newest event time of the files read so far
    for file in files:
        problems.files.append(str(file.path))
        normalizer = OriginalNormalizer()
        overlapping = file.first <= last
        try:
            handle = _open(file.path)
        except OSError as exc:
            raise LoadError(f"{file.path}: cannot be read ({exc})") from None
        with handle:
            for number, line in _numbered(handle, file.path, problems):
                decoded = _decode(line, f"{file.path}:{number}", normalizer, problems)
                if decoded is None:
                    continue
                origin, event_type, data, stamp = decoded
                if origin == TEST:
                    continue
                at = parse(stamp)
                if overlapping:
                    if at <= last:  # this stretch was read from an earlier file already
                        problems.duplicates += 1
                        continue
                    overlapping = False
                last = max(last, at)
                seq += 1
                yield Event(seq, event_type, data, stamp, at, b"", origin)


def sessions(events: Iterable[Event], gap_seconds: float = DEFAULT_GAP_SECONDS) -> Iterator[Iterator[Event]]:
    """Split a stream into sessions: another origin, or no event for more than `gap_seconds`.

    Each session must be consumed before asking for the next (like `itertools.groupby`).
    """
    splitter = _Splitter(gap_seconds)
    for _, group in itertools.groupby(events, key=splitter):
        yield group


class _Splitter:
    """groupby key: the session number, moved on by a gap or another origin."""

    def __init__(self, gap_seconds: float) -> None:
        self.gap = gap_seconds
        self.n = 0
        self.last: float | None = None
        self.origin: str | None = None

    def __call__(self, event: Event) -> int:
        if self.last is not None and (event.received - self.last > self.gap or event.origin != self.origin):
            self.n += 1
        self.last, self.origin = event.received, event.origin
        return self.n
