"""Replay: play NDJSON recordings into the bus with their original spacing, scaled by speed.

Events go through the same path as live ones (`validate` at load, then `Hub.publish`), keep their
original `Timestamp` and get a fresh `Seq`. Time comes from the injected clock, so the same files
and speed always give the same order and spacing. Controls (`pause`, `resume`, `seek`, `speed`,
`step`) are methods here and HTTP routes under `/api/replay`.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ..events import REPLAY, Draft, Event, EventError
from ..http_errors import error_response, json_response
from ..hub import Hub
from .ndjson_reader import BadLine, read_records
from .original_format import OriginalNormalizer

if TYPE_CHECKING:
    from ..bus import Bus

log = logging.getLogger(__name__)

# Gaps longer than this (game paused, menus, appended sessions) are shortened to it.
MAX_GAP_SECONDS = 10.0
# Between two files of one replay: their timestamps may be hours apart.
FILE_GAP_SECONDS = 1.0
# Pause between the end of a loop and its start again.
LOOP_GAP_SECONDS = 1.0
MIN_SPEED, MAX_SPEED = 0.01, 1000.0
# Yield to the loop after this many back-to-back events so a burst never starves the ports.
BURST = 200
# Events one `step` may publish at once (they go out without yielding to the loop).
# Well under the WebSocket client queue limit: a bigger burst would close every overlay as "too far behind".
MAX_STEP = 1_000


@dataclass(frozen=True, slots=True)
class Entry:
    """One event of the timeline: the draft, its offset (s) from the start, and where it came from."""

    draft: Draft
    offset: float
    index: int
    recorded_seq: int | None
    where: str

    @property
    def seq(self) -> int:
        """The recorded Seq, or the 1-based position for files without one (the original's)."""
        return self.recorded_seq if self.recorded_seq is not None else self.index + 1


# Events this bus makes itself from game events (alert queue, hot reload, snapshots): a replay
# derives them again from the replayed events, so the recorded copies are not played.
DERIVED_TYPES = frozenset({"alert", "bus_snapshot", "overlay_reload"})
# `timer_command` sources of the split rules and load remover (manual commands are replayed).
DERIVED_TIMER_SOURCES = frozenset({"rules", "loads"})


def is_derived(draft: Draft) -> bool:
    """Events the bus itself derives from game events (re-derived on replay, so not replayed)."""
    if draft.type in DERIVED_TYPES:
        return True
    return draft.type == "timer_command" and draft.data.get("source") in DERIVED_TIMER_SOURCES


def _epoch(timestamp: str | None) -> float | None:
    if timestamp is None:
        return None
    return datetime.fromisoformat(timestamp).timestamp()


def load_timeline(paths: Sequence[Path]) -> tuple[list[Entry], list[BadLine]]:
    """Read the files in order into one timeline; bad lines are reported and skipped."""
    entries: list[Entry] = []
    bad: list[BadLine] = []
    normalizer = OriginalNormalizer()
    offset = 0.0
    for file_number, path in enumerate(paths):
        records, skipped = read_records(Path(path), normalizer)
        bad.extend(skipped)
        previous: float | None = None
        first_in_file = True
        for record in records:
            if is_derived(record.draft):
                continue
            at = _epoch(record.draft.timestamp)
            if previous is not None and at is not None:
                offset += min(max(0.0, at - previous), MAX_GAP_SECONDS)
            elif first_in_file and file_number > 0 and entries:
                offset += FILE_GAP_SECONDS
            first_in_file = False
            if at is not None:
                previous = at
            entries.append(Entry(record.draft, offset, len(entries), record.recorded_seq, record.where))
    return entries, bad


def publish_replayed(hub: Hub, draft: Draft) -> Event | None:
    """Publish a recorded event through the normal path, without thinning `player_update` again.

    A recording holds what a bus already published (thinned to its rate) or what the game wrote;
    at speed 10 the bus's rate limiter would otherwise drop nine in ten of them.
    """
    return hub.publish(dataclasses.replace(draft, origin=REPLAY), thin=False)


class SeekError(ValueError):
    """A seek target that does not exist in the recording."""


_TIME = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$|^(\d+(?:\.\d+)?)s$")


def parse_start(text: str) -> dict[str, Any]:
    """`--from` value -> a seek target: `123` or `seq:123`; `90s`, `1:30`, `1:02:03`, `time:90`;
    anything else (or `scene:NAME`) is a scene name."""
    text = text.strip()
    kind, sep, rest = text.partition(":")
    if sep and kind in ("seq", "time", "scene"):
        if kind == "seq":
            if not rest.strip().isdigit():
                raise SeekError(f"--from {text!r}: seq: needs a whole number")
            return {"seq": int(rest)}
        if kind == "time":
            target = parse_start(rest)
            if "time" in target:
                return target
            try:
                return {"time": float(rest)}
            except ValueError:
                raise SeekError(f"--from {text!r}: time: needs seconds (90, 90s, 1:30)") from None
        return {"scene": rest}
    if text.isdigit():
        return {"seq": int(text)}
    match = _TIME.match(text)
    if match:
        if match.group(4) is not None:
            return {"time": float(match.group(4))}
        hours = int(match.group(1) or 0)
        return {"time": hours * 3600 + int(match.group(2)) * 60 + float(match.group(3))}
    return {"scene": text}


class ReplaySource:
    """A service that plays a timeline into the bus (`dxbus replay`)."""

    name = "replay"

    def __init__(
        self,
        bus: Bus,
        files: Sequence[Path],
        speed: float = 1.0,
        loop: bool = False,
        start_from: str | dict[str, Any] | None = None,
        paused: bool = False,
    ) -> None:
        self.bus = bus
        self.clock = bus.clock
        self.files = [Path(f) for f in files]
        self.speed = _check_speed(speed)
        self.loop = loop
        self.start_from = parse_start(start_from) if isinstance(start_from, str) else start_from
        self.paused = paused
        self.entries: list[Entry] = []
        self.bad_lines: list[BadLine] = []
        self.loops = 0
        self.published = 0
        self.filtered = 0
        self.errors = 0
        self.finished = asyncio.Event()
        self._index = 0
        self._loop_start = 0
        self._anchor_t = 0.0
        self._anchor_mono = 0.0
        self._task: asyncio.Task[None] | None = None

    # -- service ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the files (off the loop), position at `--from`, and start playing unless paused."""
        for path in self.files:
            if not path.is_file():
                raise OSError(f"replay: {path}: no such file")
        self.entries, self.bad_lines = await asyncio.to_thread(load_timeline, self.files)
        if self.bad_lines:
            log.warning("replay: %d unreadable line(s) skipped", len(self.bad_lines))
        log.info("replay: %d events from %s at speed %g%s", len(self.entries),
                 ", ".join(str(f) for f in self.files), self.speed, " (looping)" if self.loop else "")
        self._anchor(0)
        if self.start_from:
            try:
                self._loop_start = self.seek(**self.start_from).index
            except SeekError as exc:
                # Start-up failures are reported by `dxbus` as one line when they are OSErrors.
                raise OSError(f"replay: --from: {exc}") from None
        self._reschedule()
        # Let the player reach its first wait, so events due at once go out before start returns.
        await asyncio.sleep(0)

    async def stop(self) -> None:
        """Stop playing."""
        await self._cancel()

    # -- controls --------------------------------------------------------------------------------
    def pause(self) -> None:
        """Freeze at the current moment; `resume` continues with the remaining gap."""
        if not self.paused:
            self._anchor_t = self._now_t()
            self.paused = True
            self._reschedule()

    def resume(self) -> None:
        """Continue playing from where it was paused (or from the start after the end)."""
        if self._index >= len(self.entries) and self.entries:
            self._anchor(0)
        self._anchor_mono = self.clock.monotonic()
        self.paused = False
        self._reschedule()

    def set_speed(self, speed: object) -> None:
        """Change the speed from the current moment on (a number in the allowed range, else SeekError)."""
        speed = _check_speed(speed)
        self._anchor_t = self._now_t()
        self._anchor_mono = self.clock.monotonic()
        self.speed = speed
        self._reschedule()

    def seek(self, seq: int | None = None, time: float | None = None, scene: str | None = None) -> Entry:
        """Move to the first event with recorded Seq >= seq, offset >= time, or entering `scene`.

        Skipped events are not published (session state keeps what was played). Raises SeekError.
        """
        if not self.entries:
            raise SeekError("the recording is empty")
        if sum(v is not None for v in (seq, time, scene)) != 1:
            raise SeekError("give exactly one of seq, time, scene")
        if seq is not None:
            index = next((e.index for e in self.entries if e.seq >= seq), None)
            if index is None:
                raise SeekError(f"no event with Seq >= {seq} (last is {self.entries[-1].seq})")
        elif time is not None:
            if time < 0:
                raise SeekError("time must be >= 0 seconds")
            offsets = [e.offset for e in self.entries]
            index = bisect.bisect_left(offsets, time - 1e-9)
            if index >= len(self.entries):
                raise SeekError(f"time {time:g} s is past the end ({offsets[-1]:g} s)")
        else:
            index = self._find_scene(str(scene))
        self._anchor(index)
        self._reschedule()
        return self.entries[index]

    def step(self, count: int = 1) -> list[Event]:
        """Pause, then publish the next `count` events at once (wrapping if looping)."""
        if not 1 <= count <= MAX_STEP:
            raise SeekError(f"count must be from 1 to {MAX_STEP}")
        self.pause()
        out: list[Event] = []
        for _ in range(count):
            if self._index >= len(self.entries):
                if not (self.loop and self.entries):
                    break
                self._wrap()
            entry = self.entries[self._index]
            event = self._publish(entry)
            if event is not None:
                out.append(event)
            self._anchor_t = entry.offset
        self._anchor_mono = self.clock.monotonic()
        return out

    # -- state -----------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """`playing`, `paused` or `finished`."""
        if not self.entries or (self._index >= len(self.entries) and not self.loop):
            return "finished"
        return "paused" if self.paused else "playing"

    def status(self) -> dict[str, Any]:
        """What `/api/replay` and `/api/status` report."""
        nxt = self.entries[self._index] if self._index < len(self.entries) else None
        duration = self.entries[-1].offset if self.entries else 0.0
        return {
            "state": self.state,
            "files": [str(f) for f in self.files],
            "speed": self.speed,
            "loop": self.loop,
            "loops": self.loops,
            "position": {
                "index": self._index,
                "total": len(self.entries),
                "time": round(self._now_t(), 3),
                "duration": round(duration, 3),
                "next_seq": nxt.seq if nxt else None,
                "next_type": nxt.draft.type if nxt else None,
                "next_timestamp": nxt.draft.timestamp if nxt else None,
            },
            "published": self.published,
            "filtered": self.filtered,
            "errors": self.errors,
            "skipped_lines": len(self.bad_lines),
            "skipped": [str(b) for b in self.bad_lines[:20]],
        }

    # -- internals -------------------------------------------------------------------------------
    def _find_scene(self, scene: str) -> int:
        wanted = scene.casefold()
        for entry in self.entries:
            if entry.draft.type == "scene_transition":
                to_scene = entry.draft.data.get("to_scene", entry.draft.data.get("scene_name"))
                if isinstance(to_scene, str) and to_scene.casefold() == wanted:
                    return entry.index
        raise SeekError(f"no scene_transition into {scene!r} in the recording")

    def _anchor(self, index: int) -> None:
        self._index = index
        self._anchor_t = self.entries[index].offset if index < len(self.entries) else 0.0
        self._anchor_mono = self.clock.monotonic()
        if index < len(self.entries):
            self.finished.clear()

    def _wrap(self) -> None:
        # A loop plays from the `--from` point again, after a short breath.
        self.loops += 1
        self._anchor(self._loop_start)
        self._anchor_t -= LOOP_GAP_SECONDS

    def _now_t(self) -> float:
        """The current moment on the recording's timeline."""
        if self.paused or self._index >= len(self.entries):
            return self._anchor_t
        t = self._anchor_t + (self.clock.monotonic() - self._anchor_mono) * self.speed
        return min(t, self.entries[self._index].offset)

    def _publish(self, entry: Entry) -> Event | None:
        self._index = entry.index + 1
        try:
            event = publish_replayed(self.bus.hub, entry.draft)
        except EventError as exc:
            self.errors += 1
            log.warning("replay: %s: %s", entry.where, exc)
            return None
        if event is None:
            self.filtered += 1
        else:
            self.published += 1
        return event

    def _reschedule(self) -> None:
        # Controls are synchronous: cancel the player (it only ever waits in clock.sleep, never
        # mid-publish) and start a fresh one that computes its wait from the new anchor.
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        if not self.paused and self.state == "playing":
            self._task = asyncio.get_running_loop().create_task(self._run(), name="replay")
        elif self.state == "finished":
            self.finished.set()

    async def _cancel(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        burst = 0
        while not self.paused:
            if self._index >= len(self.entries):
                if not (self.loop and self.entries):
                    log.info("replay: finished (%d events published)", self.published)
                    self.finished.set()
                    return
                self._wrap()
            entry = self.entries[self._index]
            elapsed = self.clock.monotonic() - self._anchor_mono
            delay = (entry.offset - self._anchor_t) / self.speed - elapsed
            if delay > 1e-9:
                burst = 0
                await self.clock.sleep(delay)
                continue
            self._publish(entry)
            burst += 1
            if burst >= BURST:
                burst = 0
                await asyncio.sleep(0)


def _check_speed(speed: Any) -> float:
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not (
        MIN_SPEED <= float(speed) <= MAX_SPEED
    ):
        raise SeekError(f"speed must be a number from {MIN_SPEED:g} to {MAX_SPEED:g}, got {speed!r}")
    return float(speed)


# -- HTTP ------------------------------------------------------------------------------------------
def _error(status: int, code: str, message: str) -> web.Response:
    return error_response(status, code, message)


def _ok(body: Any) -> web.Response:
    return json_response(body)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:  # the gate has already read the body (can_read_body is then False)
        return {}
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise SeekError(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise SeekError("body must be a JSON object")
    return body


def install_routes(replay: ReplaySource) -> Any:
    """A route installer for `bus.route_installers`: `/api/replay` status and controls."""

    def install(app: web.Application, bus: Bus) -> None:
        """Add `GET /api/replay` and `POST /api/replay/{action}` to the 8080 app."""

        async def status(request: web.Request) -> web.Response:
            """`GET /api/replay`: the replay status."""
            return _ok(replay.status())

        async def control(request: web.Request) -> web.Response:
            """`POST /api/replay/{pause,resume,seek,speed,step}`: act, then reply with the status."""
            action = request.match_info["action"]
            try:
                body = await _body(request)
                if action == "pause":
                    replay.pause()
                elif action == "resume":
                    replay.resume()
                elif action == "speed":
                    speed = body["speed"] if "speed" in body else request.query.get("speed")
                    replay.set_speed(float(speed) if isinstance(speed, str) else speed)
                elif action == "step":
                    count = body.get("count", 1)
                    if not isinstance(count, int) or isinstance(count, bool):
                        raise SeekError("count must be an integer")
                    stepped = replay.step(count)
                    return _ok(replay.status() | {"stepped": [e.to_dict() for e in stepped]})
                elif action == "seek":
                    target = {k: body[k] for k in ("seq", "time", "scene") if k in body}
                    for key, kind in (("seq", int), ("time", int | float), ("scene", str)):
                        if key in target and (not isinstance(target[key], kind)
                                              or isinstance(target[key], bool)):
                            raise SeekError(f"{key} must be a {'string' if key == 'scene' else 'number'}")
                    replay.seek(**target)
                else:
                    return _error(404, "NOT_FOUND",
                                  f"unknown replay action {action!r} (pause, resume, seek, speed, step)")
            except (SeekError, ValueError) as exc:
                return _error(400, "BAD_REQUEST", f"/api/replay/{action}: {exc}")
            return _ok(replay.status())

        app.router.add_get("/api/replay", status)
        app.router.add_post("/api/replay/{action}", control)

    return install
