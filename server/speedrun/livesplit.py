"""The LiveSplit Server bridge: timer commands to LiveSplit's TCP server (default port 16834).

LiveSplit's server reads UTF-8 command lines (we end them with `\\r\\n`, which every version accepts)
and only getter commands reply, so the bridge follows every batch of commands with
`getcurrenttimerphase`: the reply proves the connection is alive and tells where the timer stands.
When LiveSplit is gone the bridge reconnects with a doubling backoff, and every `ReconnectMinSeconds`
while a command waits; a command that could not be delivered within `CommandExpirySeconds` is dropped
(logged), never sent late.

Nothing written is sent twice blindly: a doubled split is worse than a missed one. Commands written
but not yet acknowledged are held apart; after a reconnect the bridge asks `getsplitindex` and
compares it with the index those commands lead to: what LiveSplit took is done, only what it
provably missed is sent again, and if the index fits neither (someone used LiveSplit meanwhile) the
unacknowledged commands are dropped and logged.

Mapping (ours -> LiveSplit): start -> `starttimer` (+ `setgametime 0.000` when the route keeps game
time), split -> `split` (or `startorsplit`), skip -> `skipsplit`, reset -> `reset`, pause/resume ->
`pause`/`resume`, or `pausegametime`/`unpausegametime` when they bracket a load, time:X ->
`setgametime X`. `initgametime` is not a LiveSplit command and is never sent.

Two feeds: inside the bus (a hub listener on `timer_command` events, `[LiveSplit] Enabled = true`),
or standalone from a running bus's timer port (`dxbus livesplit --bus 127.0.0.1:9090`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..backoff import Backoff
from ..clock import Clock, SystemClock
from ..outage import Outage
from ..tasks import cancel_and_wait
from .settings import LiveSplitSection

log = logging.getLogger(__name__)

PHASE_QUERY = "getcurrenttimerphase"
INDEX_QUERY = "getsplitindex"
PHASES = frozenset({"NotRunning", "Running", "Ended", "Paused"})
REPLY_TIMEOUT = 3.0  # seconds LiveSplit gets to answer a getter
CONNECT_TIMEOUT = 5.0


def seconds_text(value: float) -> str:
    """LiveSplit's time input: plain seconds with a fixed number of decimals, never exponent form."""
    return f"{max(0.0, value):.3f}"


def livesplit_lines(data: Mapping[str, Any], start_or_split: bool = False) -> list[str]:
    """The LiveSplit command lines (without line ends) for one `timer_command` Data; [] if none."""
    command = data.get("command")
    value = data.get("value")
    number = (float(value) if isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value) else None)
    loads = data.get("source") == "loads"
    if command == "start":
        return ["starttimer"] + ([f"setgametime {seconds_text(number)}"] if number is not None else [])
    if command == "split":
        return ["startorsplit" if start_or_split else "split"]
    if command == "skip":
        return ["skipsplit"]
    if command == "reset":
        return ["reset"]
    if command == "pause":
        return ["pausegametime" if loads else "pause"]
    if command == "resume":
        return ["unpausegametime" if loads else "resume"]
    if command == "time" and number is not None:
        return [f"setgametime {seconds_text(number)}"]
    return []


def parse_timer_line(line: str) -> dict[str, Any] | None:
    """A line of the bus's timer port (9090) as `timer_command` Data; None for other lines.

    Over TCP the bus sends pause/resume only around loads, so they become game-time pauses.
    """
    text = line.strip()
    if text in ("start", "split", "reset"):
        return {"command": text, "value": None, "source": "tcp"}
    if text in ("pause", "resume"):
        return {"command": text, "value": None, "source": "loads"}
    if text.startswith("time:"):
        try:
            value = float(text[5:])
        except ValueError:
            return None
        if math.isfinite(value) and value >= 0:
            return {"command": "time", "value": value, "source": "tcp"}
    return None


@dataclass(slots=True)
class PendingCommand:
    """One `timer_command` as LiveSplit lines, and when it was submitted (for the expiry)."""

    at: float
    lines: list[str]
    label: str


def index_after(index: int, lines: list[str]) -> int:
    """LiveSplit's split index after `lines` starting from `index` (-1: the timer is not running)."""
    for line in lines:
        word = line.split(" ", 1)[0]
        if word == "starttimer" and index < 0:
            index = 0
        elif word == "startorsplit":
            index = 0 if index < 0 else index + 1
        elif word in ("split", "skipsplit") and index >= 0:
            index += 1
        elif word == "reset":
            index = -1
    return index


def delivered_prefix(before: int, batch: list[PendingCommand], observed: int) -> int | None:
    """How many of `batch` (written from split index `before`) LiveSplit took, seeing `observed`.

    The longest prefix that leads to `observed` (a missed split beats a doubled one); None when no
    prefix does (LiveSplit's timer was moved by someone else, or LiveSplit restarted).
    """
    indexes = [before]
    for item in batch:
        indexes.append(index_after(indexes[-1], item.lines))
    matches = [n for n, index in enumerate(indexes) if index == observed]
    return matches[-1] if matches else None


class LiveSplitBridge:
    """One connection to LiveSplit Server, kept alive; `submit` queues a command for it."""

    name = "livesplit"

    def __init__(self, settings: LiveSplitSection, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.state = "stopped"
        self.timer_phase: str | None = None
        self.last_error: str | None = None
        # One LiveSplit on this machine: no crowd to spread, so exact waits (docs/reconnect.md).
        self.backoff = Backoff(settings.reconnect_min_seconds, settings.reconnect_max_seconds, jitter=0)
        self._outage = Outage(log)
        self.connects = 0
        self.sent = 0
        self.dropped = 0
        self.last_command: str | None = None
        self.connected_since: float | None = None
        self.split_index: int | None = None  # LiveSplit's, as of the last answer
        self._queue: deque[PendingCommand] = deque()
        # Written to LiveSplit, not acknowledged yet: (split index before them, commands).
        self._unacked: tuple[int | None, list[PendingCommand]] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_split: tuple[str, float] | None = None

    # -- input ------------------------------------------------------------------------------------
    def submit(self, data: Mapping[str, Any]) -> None:
        """Queue the LiveSplit lines for one `timer_command` Data (from the loop thread)."""
        lines = livesplit_lines(data, self.settings.start_or_split)
        if not lines:
            return
        now = self.clock.monotonic()
        command = str(data.get("command"))
        if command in ("split", "skip"):
            last = self._last_split
            if last is not None and last[0] == command and now - last[1] < self.settings.dedupe_seconds:
                log.info("LiveSplit: dropped a repeated %s (%.3fs after the last)", command, now - last[1])
                return
            self._last_split = (command, now)
        self._queue.append(PendingCommand(now, lines, command))
        self._wake.set()

    def listener(self, event: Any) -> None:
        """Hub listener: every `timer_command` event goes to LiveSplit."""
        if event.type == "timer_command":
            self.submit(event.data)

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        self.state = "connecting"
        self._task = asyncio.create_task(self._run(), name="livesplit-bridge")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self._close()
        self.state = "stopped"

    def status(self) -> dict[str, Any]:
        """For /api/status: where the link to LiveSplit stands."""
        since = self.connected_since
        return {
            "enabled": True, "state": self.state, "host": self.settings.host, "port": self.settings.port,
            "timer_phase": self.timer_phase, "last_error": self.last_error, "connects": self.connects,
            "commands_sent": self.sent, "commands_dropped": self.dropped,
            "queued": len(self._queue) + (len(self._unacked[1]) if self._unacked else 0),
            "last_command": self.last_command,
            "connected_for": None if since is None else round(self.clock.monotonic() - since, 1),
        }

    # -- the connection loop ------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                reader, writer = await self._connect()
            except (OSError, TimeoutError, ConnectionError, ValueError) as exc:
                self._lost(exc, "cannot connect")
            else:
                self.backoff.reset()
                try:
                    await self._serve(reader, writer)
                except (OSError, TimeoutError, ConnectionError, ValueError) as exc:
                    self._lost(exc, "connection lost")
                await self._close()
            self._expire()
            if self._queue or self._unacked:
                # Something waits to be delivered: keep trying at the shortest interval until it expires.
                self.backoff.reset()
            await self.backoff.wait(self.clock)

    def _lost(self, exc: BaseException, what: str) -> None:
        text = f"{what}: {type(exc).__name__}: {exc}".rstrip(": ")
        if self.state == "connected":
            self._outage.recovered()  # it was up: this is a new outage, worth a warning
        self._outage.failed(f"LiveSplit {self.settings.host}:{self.settings.port} {text}")
        self.last_error = text
        self.state = "disconnected"
        self.connected_since = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.state = "connecting"
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a stop's cancellation (tasks.py).
        async with asyncio.timeout(CONNECT_TIMEOUT):
            reader, writer = await asyncio.open_connection(self.settings.host, self.settings.port)
        self._writer = writer
        await self._ask(reader, writer, PHASE_QUERY)  # only a getter proves someone is listening
        await self._ask(reader, writer, INDEX_QUERY)
        self._reconcile()
        self.state = "connected"
        self.connects += 1
        self.connected_since = self.clock.monotonic()
        self.last_error = None
        self._outage.recovered()
        log.info("LiveSplit %s:%d connected (timer %s)", self.settings.host, self.settings.port,
                 self.timer_phase)
        return reader, writer

    async def _close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def _ask(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, query: str) -> str:
        writer.write(f"{query}\r\n".encode())
        await writer.drain()
        async with asyncio.timeout(REPLY_TIMEOUT):
            line = await reader.readline()
        if not line:
            raise ConnectionError("LiveSplit closed the connection")
        reply = line.decode("utf-8", "replace").strip()
        if query == PHASE_QUERY:
            if reply not in PHASES:
                raise ValueError(f"unexpected reply to {query}: {reply[:40]!r}")
            self.timer_phase = reply
        elif query == INDEX_QUERY:
            try:
                self.split_index = int(reply)
            except ValueError:
                raise ValueError(f"unexpected reply to {query}: {reply[:40]!r}") from None
        return reply

    def _reconcile(self) -> None:
        """After a reconnect: settle the unacknowledged commands by LiveSplit's split index."""
        if self._unacked is None or self.split_index is None:
            return
        (before, batch), self._unacked = self._unacked, None
        taken = None if before is None else delivered_prefix(before, batch, self.split_index)
        if taken is None:
            self.dropped += len(batch)
            log.warning("LiveSplit: split index %d fits none of %s sent before the link dropped; "
                        "not sending them again", self.split_index, ", ".join(i.label for i in batch))
            return
        self.sent += taken
        if taken:
            self.last_command = batch[taken - 1].label
        missed = batch[taken:]
        if missed:
            log.info("LiveSplit missed %s; sending again", ", ".join(i.label for i in missed))
            self._queue.extendleft(reversed(missed))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            self._expire()
            if self._queue:
                batch = list(self._queue)
                self._queue.clear()
                # Held apart until acknowledged; a reconnect settles them by the split index.
                self._unacked = (self.split_index, batch)
                for item in batch:
                    writer.write("".join(f"{line}\r\n" for line in item.lines).encode())
                await writer.drain()
                await self._ask(reader, writer, INDEX_QUERY)  # the acknowledgement
                await self._ask(reader, writer, PHASE_QUERY)
                self._unacked = None
                self.sent += len(batch)
                self.last_command = batch[-1].label
                continue
            await self._idle(reader, writer)

    async def _idle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Wait for a command, LiveSplit closing the socket, or the next health check."""
        self._wake.clear()
        if self._queue:
            return
        woken = asyncio.ensure_future(self._wake.wait())
        closed = asyncio.ensure_future(reader.read(1))  # LiveSplit never speaks unasked: b"" = gone
        health = asyncio.ensure_future(self.clock.sleep(self.settings.health_interval_seconds))
        try:
            await asyncio.wait({woken, closed, health}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (woken, closed, health):
                task.cancel()
            await asyncio.gather(woken, closed, health, return_exceptions=True)
        if closed.done() and not closed.cancelled():
            if closed.exception() is not None:
                raise closed.exception()  # type: ignore[misc]
            if closed.result() == b"":
                raise ConnectionError("LiveSplit closed the connection")
        if health.done() and not health.cancelled() and not self._queue:
            await self._ask(reader, writer, PHASE_QUERY)

    def _expire(self) -> None:
        """Drop queued commands older than `CommandExpirySeconds`: late is worse than never."""
        limit = self.settings.command_expiry_seconds
        now = self.clock.monotonic()
        while self._queue and now - self._queue[0].at > limit:
            stale = self._queue.popleft()
            self.dropped += 1
            log.warning("LiveSplit: dropped %s (%.1fs old, LiveSplit not reachable)",
                        stale.label, now - stale.at)


class TimerPortFeed:
    """Reads a running bus's timer port (9090) and hands each command to a bridge; reconnects."""

    name = "timer-port-feed"

    def __init__(self, bridge: LiveSplitBridge, host: str, port: int, token: str = "",
                 clock: Clock | None = None) -> None:
        self.bridge = bridge
        self.host, self.port, self.token = host, port, token
        self.clock: Clock = clock or SystemClock()
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="timer-port-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        settings = self.bridge.settings
        backoff = Backoff(settings.reconnect_min_seconds, settings.reconnect_max_seconds, jitter=0)
        outage = Outage(log)
        while True:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except (OSError, TimeoutError) as exc:
                outage.failed(f"timer port {self.host}:{self.port}: {exc}", detail="retrying")
            else:
                backoff.reset()
                outage.recovered()
                self.connected = True
                log.info("reading timer commands from %s:%d", self.host, self.port)
                try:
                    if self.token:
                        writer.write(f"AUTH:{self.token}\n".encode())
                    while line := await reader.readline():
                        data = parse_timer_line(line.decode("utf-8", "replace"))
                        if data is not None:
                            self.bridge.submit(data)
                        elif line.startswith(b"ERROR:"):
                            log.warning("timer port says %s", line.decode("utf-8", "replace").strip())
                except (OSError, ConnectionError) as exc:
                    log.warning("timer port %s:%d: %s", self.host, self.port, exc)
                finally:
                    self.connected = False
                    writer.close()
            await backoff.wait(self.clock)


async def run_standalone(settings: LiveSplitSection, bus_host: str, bus_port: int, token: str = "") -> None:
    """`dxbus livesplit --bus HOST:PORT`: bridge a running bus's timer port to LiveSplit until cancelled."""
    bridge = LiveSplitBridge(settings)
    feed = TimerPortFeed(bridge, bus_host, bus_port, token)
    await bridge.start()
    await feed.start()
    try:
        await asyncio.Event().wait()
    finally:
        await feed.stop()
        await bridge.stop()
