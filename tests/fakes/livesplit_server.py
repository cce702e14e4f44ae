"""A LiveSplit Server stand-in, written from LiveSplit's documented command set.

What it reproduces (LiveSplit >= 1.8.29 built-in server, and the old LiveSplit.Server component):
- TCP, UTF-8, one command per line; `\\n`, `\\r\\n` and `\\r` all end a line (StreamReader.ReadLine).
- Commands are case-sensitive; the argument is everything after the first space.
- Only getters reply, with one line ending in `\\n`; action commands and unknown commands are silent.
- Timer phases NotRunning, Running, Paused, Ended; `split` only works while Running, the last split
  ends the run; `pause`/`resume` are no-ops in the wrong phase; `starttimer` only from NotRunning.
- Game time is "initialized" once loading times are set (`setgametime`, `setloadingtimes`,
  `unpausegametime`); `starttimer` makes it uninitialized again; `getcurrentgametime` falls back to
  real time when it is not initialized. Time input `[-][[d.]h:]m:]s[.fraction]`, output `hh:mm:ss.fffffff`.
- `initgametime` does not exist (it was documented by mistake): it is logged as invalid, no reply.

Every received line is kept in `lines` (and the parsed commands in `commands`) for the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TIME_INPUT = re.compile(r"^(-)?(?:(?:(?:(\d+)\.)?(\d+):)?(\d+):)?(\d+(?:\.\d+)?)$")


def parse_time(text: str) -> float | None:
    """LiveSplit's TimeSpanParser: `[-][[d.]h:]m:]s[.fraction]`; `-` is null."""
    text = text.strip()
    if text == "-":
        return None
    match = TIME_INPUT.match(text)
    if match is None:
        raise ValueError(f"not a time: {text!r}")
    neg, days, hours, minutes, seconds = match.groups()
    total = (int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60
             + float(seconds))
    return -total if neg else total


def format_time(seconds: float | None) -> str:
    """.NET TimeSpan "c" format: `hh:mm:ss.fffffff` (days as `d.` when needed), or `-`."""
    if seconds is None:
        return "-"
    ticks = round(abs(seconds) * 10_000_000)
    sign = "-" if seconds < 0 else ""
    days, rest = divmod(ticks, 86400 * 10_000_000)
    hours, rest = divmod(rest, 3600 * 10_000_000)
    minutes, rest = divmod(rest, 60 * 10_000_000)
    secs, frac = divmod(rest, 10_000_000)
    day = f"{days}." if days else ""
    return f"{sign}{day}{hours:02d}:{minutes:02d}:{secs:02d}.{frac:07d}"


@dataclass
class TimerModel:
    """The parts of LiveSplit's TimerModel the server commands touch."""

    splits: int = 10
    now: Callable[[], float] = time.monotonic
    phase: str = "NotRunning"
    index: int = -1
    started: float = 0.0
    paused_at: float | None = None
    pause_total: float = 0.0
    loading_times: float | None = None  # None: game time not initialized
    game_paused_at: float | None = None
    split_times: list[float | None] = field(default_factory=list)
    attempts: int = 0

    def real(self) -> float:
        if self.phase == "NotRunning":
            return 0.0
        end = self.paused_at if self.paused_at is not None else self.now()
        return end - self.started - self.pause_total

    def game(self) -> float | None:
        if self.loading_times is None:
            return None
        loads = self.loading_times
        if self.game_paused_at is not None:
            loads += self.now() - self.game_paused_at
        return self.real() - loads

    def start(self) -> None:
        if self.phase != "NotRunning":
            return
        self.phase, self.index, self.started = "Running", 0, self.now()
        self.paused_at, self.pause_total = None, 0.0
        self.loading_times, self.game_paused_at = None, None  # uninitialized again
        self.split_times = [None] * self.splits
        self.attempts += 1

    def split(self) -> None:
        if self.phase != "Running":
            return
        self.split_times[self.index] = self.game() if self.game() is not None else self.real()
        self.index += 1
        if self.index >= self.splits:
            self.phase = "Ended"
            self.paused_at = self.now()

    def skip(self) -> None:
        if self.phase in ("Running", "Paused") and self.index < self.splits - 1:
            self.index += 1

    def undo(self) -> None:
        if self.phase != "NotRunning" and self.index > 0:
            if self.phase == "Ended":
                self.phase, self.paused_at = "Running", None
            self.index -= 1
            self.split_times[self.index] = None

    def reset(self) -> None:
        if self.phase != "NotRunning":
            self.phase, self.index = "NotRunning", -1
            self.paused_at, self.loading_times, self.game_paused_at = None, None, None

    def pause(self) -> None:
        if self.phase == "Running":
            self.phase, self.paused_at = "Paused", self.now()

    def resume(self) -> None:
        if self.phase == "Paused" and self.paused_at is not None:
            self.pause_total += self.now() - self.paused_at
            self.phase, self.paused_at = "Running", None

    def set_game_time(self, seconds: float) -> None:
        self.loading_times = self.real() - seconds
        if self.game_paused_at is not None:
            self.game_paused_at = self.now()

    def pause_game_time(self) -> None:
        if self.game_paused_at is None:
            self.game_paused_at = self.now()

    def unpause_game_time(self) -> None:
        if self.loading_times is None:
            self.loading_times = 0.0
        if self.game_paused_at is not None:
            self.loading_times += self.now() - self.game_paused_at
            self.game_paused_at = None


class FakeLiveSplitServer:
    """An asyncio TCP server speaking LiveSplit's server commands; `await start()`, `await stop()`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, splits: int = 10) -> None:
        self.host = host
        self.port = port
        self.timer = TimerModel(splits=splits)
        self.lines: list[str] = []  # every line received, as sent (line end removed)
        self.invalid: list[str] = []
        self.connections = 0
        # Command words after which the connection drops once, before any later line is answered
        # (LiveSplit took the command, then the link failed): `server.hang_up_after.add("split")`.
        self.hang_up_after: set[str] = set()
        # Command words whose line is lost with the connection, which drops once before LiveSplit reads
        # it (the link failed on the way): `server.lose.add("split")`.
        self.lose: set[str] = set()
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Close the listening socket and every connection (like quitting LiveSplit)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._clients):
                writer.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    @property
    def commands(self) -> list[str]:
        """The command words received, in order (`setgametime 12.000` -> `setgametime`)."""
        return [line.split(" ", 1)[0] for line in self.lines]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._clients.add(writer)
        buffer = b""
        try:
            while chunk := await reader.read(4096):
                buffer += chunk
                # ReadLine semantics: \r\n, \n or \r end a line.
                while True:
                    match = re.search(rb"\r\n|\n|\r", buffer)
                    if match is None:
                        break
                    if match.group() == b"\r" and match.end() == len(buffer):
                        break  # maybe the \r of a \r\n still on its way
                    line, buffer = buffer[:match.start()], buffer[match.end():]
                    text = line.decode("utf-8")
                    if text.split(" ", 1)[0] in self.lose:
                        self.lose.discard(text.split(" ", 1)[0])
                        return  # never executed, never recorded; the finally clause closes the link
                    reply = self.execute(text)
                    if text.split(" ", 1)[0] in self.hang_up_after:
                        self.hang_up_after.discard(text.split(" ", 1)[0])
                        return  # the finally clause closes the connection; the rest is never read
                    if reply is not None:
                        writer.write(reply.encode() + b"\n")
                        await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()

    def execute(self, line: str) -> str | None:
        """Run one command line; the reply for getters, None for actions and unknown commands."""
        self.lines.append(line)
        command, _, arg = line.partition(" ")
        t = self.timer
        actions: dict[str, Callable[[], None]] = {
            "starttimer": t.start, "start": t.start, "split": t.split, "skipsplit": t.skip,
            "unsplit": t.undo, "undosplit": t.undo, "reset": t.reset, "pause": t.pause,
            "resume": t.resume, "pausegametime": t.pause_game_time,
            "unpausegametime": t.unpause_game_time,
            "startorsplit": lambda: t.start() if t.phase == "NotRunning" else t.split(),
            "alwayspausegametime": t.pause_game_time,
        }
        if command in actions:
            actions[command]()
            return None
        if command in ("setgametime", "setloadingtimes", "addloadingtimes"):
            try:
                value = parse_time(arg)
            except ValueError:
                self.invalid.append(line)
                return None
            if value is None:
                return None
            if command == "setgametime":
                t.set_game_time(value)
            elif command == "setloadingtimes":
                t.loading_times = value
            else:
                t.loading_times = (t.loading_times or 0.0) + value
            return None
        getters: dict[str, Callable[[], str]] = {
            "getcurrenttimerphase": lambda: t.phase, "gettimerphase": lambda: t.phase,
            "getsplitindex": lambda: str(t.index),
            "getcurrenttime": lambda: format_time(t.game() if t.game() is not None else t.real()),
            "getcurrentrealtime": lambda: format_time(t.real()),
            "getcurrentgametime": lambda: format_time(t.game() if t.game() is not None else t.real()),
            "getattemptcount": lambda: str(t.attempts),
            "ping": lambda: "pong",
        }
        if command in getters:
            return getters[command]()
        self.invalid.append(line)  # LiveSplit logs "Invalid command" and does not reply
        return None
