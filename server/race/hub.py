"""The race service: runners' events into the store, the store into the race model, race events out.

One code path for one process and many: what a runner sends (pushed over `/api/race/<id>/push`, or
pulled by `pull.py`) is appended to the race's store; a reader task per race reads the store back
and applies every record to the `Race` model, publishing what it derives on this hub's own bus:
`race_split`, `race_lead_change`, `race_finish`, `race_forfeit` at once, and `race_state` (the whole
board, for the overlays) at most `STATE_HZ` times a second. With Redis several processes read the
same stream, so each derives the same board for its own viewers; a restarted process reads the
backlog quietly (no race event is published twice) and goes on live.

High-rate `player_update` is stored only when the runner box would change (HP, max HP, room) or
once a second (so a runner standing still never looks stale).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..events import EventError, validate
from ..http_api import read_json
from ..http_errors import ApiError, json_response
from ..parts import Part
from ..tasks import cancel_and_wait
from .model import RACE_STATE, Race, RaceOutput
from .settings import RaceSettings, RunnerSettings
from .store import START, MemoryStore, RaceStore, Record, before

if TYPE_CHECKING:
    from ..bus import Bus
    from ..speedrun.route import RouteSpec

log = logging.getLogger(__name__)

STATE_HZ = 4.0
STALE_CHECK_SECONDS = 1.0
PLAYER_KEEP_SECONDS = 1.0
PUSH_PATH = "/api/race/{race}/push"


@dataclass
class Lane:
    """One race in this process: its settings, model, and where the reader is in the store."""

    settings: RaceSettings
    race: Race
    position: str = START
    live: bool = False  # caught up with the backlog: publish what is derived from now on
    connections: dict[str, int] = field(default_factory=dict)  # open runner connections by runner
    kept: dict[str, tuple[Any, float]] = field(default_factory=dict)  # last stored player_update key
    received: int = 0
    stored: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # highest Seq received per runner (this process)
    rejected: int = 0  # events refused by validation

    def runner(self, name: str) -> RunnerSettings | None:
        """The runner's settings (exact name)."""
        return next((r for r in self.settings.runner if r.name == name), None)


class RaceService:
    """`dxbus race`: every race of the race file, on this bus (service and route installer)."""

    name = "race"

    def __init__(self, bus: Bus, races: list[RaceSettings], routes: dict[str, RouteSpec],
                 store: RaceStore | None = None) -> None:
        self.bus = bus
        self.store: RaceStore = store or MemoryStore()
        self.lanes: dict[str, Lane] = {}
        for settings in races:
            race = Race(settings.id, routes[settings.id], [r.name for r in settings.runner],
                        settings.name or settings.id, settings.stale_after)
            self.lanes[settings.id] = Lane(settings, race)
        self._tasks: list[asyncio.Task[None]] = []
        self._state_due: dict[str, asyncio.Task[None]] = {}
        self._state_sent: dict[str, float] = {}
        self._stale_seen: dict[str, frozenset[str]] = {}
        self.published = 0
        self.sockets: set[web.WebSocketResponse] = set()

    # -- service --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Read each race's backlog (quietly), then follow it live."""
        check = getattr(self.store, "check", None)
        if check is not None:
            await check()  # an unreachable Redis stops start-up with a clear line
        for lane in self.lanes.values():
            await self._catch_up(lane)
            self._tasks.append(asyncio.create_task(self._follow(lane), name=f"race-{lane.race.id}"))
        self._tasks.append(asyncio.create_task(self._stale_watch(), name="race-stale"))
        if "http" in self.bus.ports:
            for race_id, lane in self.lanes.items():
                url = self.bus.url()
                log.info("race %s (%d runners): board %s/api/race/%s, overlays %s/overlays/race-board?"
                         "race=%s", race_id, len(lane.settings.runner), url, race_id, url, race_id)

    async def stop(self) -> None:
        """Stop reading; close runner sockets and the store."""
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"race hub shutting down")
        for task in [*self._tasks, *self._state_due.values()]:
            await cancel_and_wait(task)
        self._tasks.clear()
        self._state_due.clear()
        await self.store.close()

    async def _catch_up(self, lane: Lane) -> None:
        last = await self.store.last_id(lane.race.id)
        while before(lane.position, last):
            batch = await self.store.read(lane.race.id, lane.position, block=0)
            if not batch:
                break
            self._apply(lane, batch)
        lane.live = True
        if lane.race.version:
            log.info("race %s: rebuilt from %s stored records", lane.race.id, lane.position)

    async def _follow(self, lane: Lane) -> None:
        while True:
            try:
                batch = await self.store.read(lane.race.id, lane.position, block=1.0)
            except (ConnectionError, OSError) as exc:
                log.warning("race %s: store unreachable (%s); retrying", lane.race.id, exc)
                await asyncio.sleep(0.5)  # a real outage wait, not a game timer
                continue
            except Exception as exc:  # redis raises its own ConnectionError type
                if "Connection" not in type(exc).__name__:
                    raise
                log.warning("race %s: store unreachable (%s); retrying", lane.race.id, exc)
                await asyncio.sleep(0.5)
                continue
            if batch:
                self._apply(lane, batch)

    def _apply(self, lane: Lane, batch: list[tuple[str, Record]]) -> None:
        now = self.bus.clock.monotonic()
        race = lane.race
        before_version = race.version
        for position, record in batch:
            lane.position = position
            runner = record.get("r")
            if not isinstance(runner, str) or lane.runner(runner) is None:
                continue
            if record.get("k") == "forfeit":
                outputs = race.forfeit(runner)
            else:
                wire = record.get("e")
                outputs = race.apply(runner, record.get("i"), wire, now) if isinstance(wire, dict) else []
            if lane.live:
                self._publish(outputs)
        if lane.live and race.version != before_version:
            self.state_changed(lane)

    def _publish(self, outputs: list[RaceOutput]) -> None:
        for out in outputs:
            if self.bus.hub.emit(out.type, out.data) is not None:
                self.published += 1

    # -- race_state, throttled (leading and trailing edge on the bus clock) ----------------------
    def state_changed(self, lane: Lane) -> None:
        """The board changed: send `race_state` now, or at the end of the current interval."""
        race_id = lane.race.id
        if race_id in self._state_due:
            return
        now = self.bus.clock.monotonic()
        wait = self._state_sent.get(race_id, -1e9) + 1 / STATE_HZ - now
        if wait <= 0:
            self._send_state(lane)
        else:
            self._state_due[race_id] = asyncio.create_task(self._later(lane, wait))

    async def _later(self, lane: Lane, wait: float) -> None:
        await self.bus.clock.sleep(wait)
        self._state_due.pop(lane.race.id, None)
        self._send_state(lane)

    def _send_state(self, lane: Lane) -> None:
        now = self.bus.clock.monotonic()
        self._state_sent[lane.race.id] = now
        state = lane.race.state(now)
        self.bus.hub.emit(RACE_STATE, state)

    async def _stale_watch(self) -> None:
        """Once a second: a runner turning stale (or fresh) changes the board."""
        while True:
            await self.bus.clock.sleep(STALE_CHECK_SECONDS)
            now = self.bus.clock.monotonic()
            for lane in self.lanes.values():
                stale = frozenset(t.name for t in lane.race.runners.values() if lane.race.is_stale(t, now))
                if stale != self._stale_seen.get(lane.race.id, frozenset()):
                    self._stale_seen[lane.race.id] = stale
                    lane.race.version += 1
                    self.state_changed(lane)

    # -- input ----------------------------------------------------------------------------------
    def lane(self, race_id: str) -> Lane:
        """The race by id; 404 naming the known ones."""
        lane = self.lanes.get(race_id)
        if lane is None:
            raise ApiError(404, "RACE_NOT_FOUND", f"no race {race_id[:60]!r} on this hub (races: "
                           f"{', '.join(self.lanes) or 'none'})", race=race_id[:60])
        return lane

    def resume_point(self, race_id: str, runner: str, instance: str | None) -> int:
        """The runner bus's Seq after which the hub needs events (0: from the start)."""
        track = self.lane(race_id).race.track(runner)
        return track.last_seq if instance is not None and track.instance == instance else 0

    async def ingest(self, race_id: str, runner: str, instance: str | None,
                     events: list[Any], where: str = "events") -> tuple[int, list[str]]:
        """Validate and store a runner's events (thinning `player_update`).

        Returns how many were stored and a problem per bad event (`events[3].Data: must be a JSON
        object`); a bad event is skipped, never stored, and never stops the good ones.
        """
        lane = self.lane(race_id)
        now = self.bus.clock.monotonic()
        records: list[Record] = []
        problems: list[str] = []
        for i, raw in enumerate(events):
            if (isinstance(raw, dict) and raw.get("EventType") == "player_update"
                    and isinstance(raw.get("Data"), dict) and not self._keep(lane, runner, raw, now)):
                # The 60 Hz case, first: a sample the race would not store is not worth validating.
                lane.received += 1
                self._saw(lane, runner, raw)
                continue
            try:
                draft = validate(raw, f"{where}[{i}]")
            except EventError as exc:
                problems.append(str(exc))
                continue
            if isinstance(raw, dict) and raw.get("Origin") == "test":
                continue  # a runner's gallery tests are not part of the race
            lane.received += 1
            seq = self._saw(lane, runner, raw)
            wire: dict[str, Any] = {"EventType": draft.type, "Data": draft.data}
            if draft.timestamp is not None:
                wire["Timestamp"] = draft.timestamp
            if seq is not None:
                wire["Seq"] = seq
            records.append({"k": "ev", "r": runner, "i": instance, "e": wire})
        await self.store.append(race_id, records)
        lane.stored += len(records)
        lane.rejected += len(problems)
        return len(records), problems

    @staticmethod
    def _saw(lane: Lane, runner: str, raw: Any) -> int | None:
        """The event's Seq (a positive int, else None), remembered as the highest seen."""
        seq = raw.get("Seq") if isinstance(raw, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool) or seq <= 0:
            return None
        if seq > lane.seen.get(runner, 0):
            lane.seen[runner] = seq
        return seq

    def _keep(self, lane: Lane, runner: str, wire: dict[str, Any], now: float) -> bool:
        data = wire.get("Data")
        if not isinstance(data, dict):
            return False
        key = (data.get("health_current"), data.get("health_max"), data.get("scene"))
        last = lane.kept.get(runner)
        if last is not None and last[0] == key and now - last[1] < PLAYER_KEEP_SECONDS:
            return False
        lane.kept[runner] = (key, now)
        return True

    async def forfeit(self, race_id: str, runner: str) -> None:
        """Record a forfeit (every process sees it through the store)."""
        lane = self.lane(race_id)
        if lane.runner(runner) is None:
            raise ApiError(404, "RUNNER_NOT_FOUND", f"no runner {runner[:60]!r} in race {race_id!r}")
        await self.store.append(race_id, [{"k": "forfeit", "r": runner}])

    def connected(self, race_id: str, runner: str, delta: int) -> None:
        """Count a runner's open connection (push or pull)."""
        lane = self.lane(race_id)
        lane.connections[runner] = max(0, lane.connections.get(runner, 0) + delta)
        lane.race.track(runner).connected = lane.connections[runner] > 0

    # -- reading --------------------------------------------------------------------------------
    def view(self, race_id: str) -> dict[str, Any]:
        """One race's board as JSON."""
        lane = self.lane(race_id)
        state = lane.race.state(self.bus.clock.monotonic())
        for row in state["runners"]:
            row["connected"] = lane.race.runners[row["runner"]].connected
        return state

    def status(self) -> dict[str, Any]:
        """For `/api/status`."""
        return {"races": {rid: {"runners": len(lane.race.runners), "received": lane.received,
                                "stored": lane.stored, "rejected": lane.rejected,
                                "position": lane.position, "live": lane.live}
                          for rid, lane in self.lanes.items()},
                "store": type(self.store).__name__, "published": self.published}

    # -- HTTP ------------------------------------------------------------------------------------
    def install(self, app: web.Application, bus: Bus) -> None:
        """Route installer: `/api/race`, `/api/race/<id>`, forfeit, and the runners' push socket."""
        app.router.add_get("/api/race", self._get_all)
        app.router.add_get("/api/race/{race}", self._get_one)
        app.router.add_post("/api/race/{race}/forfeit", self._post_forfeit)
        app.router.add_get(PUSH_PATH, self._push)

    async def _get_all(self, request: web.Request) -> web.Response:
        return json_response({"races": [self.view(rid) for rid in self.lanes]})

    async def _get_one(self, request: web.Request) -> web.Response:
        return json_response(self.view(request.match_info["race"]))

    async def _post_forfeit(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        runner = body.get("runner") if isinstance(body, dict) else None
        if not isinstance(runner, str) or not runner:
            raise ApiError(400, "INVALID_PARAMETER",
                           'runner: give the runner\'s name, {"runner": "Hornet123"}',
                           parameter="runner")
        await self.forfeit(request.match_info["race"], runner)
        return json_response({"success": True})

    async def _push(self, request: web.Request) -> web.StreamResponse:
        """A runner's bus pushing its events (see push.py for the other end)."""
        from .push import serve_push
        return await serve_push(self, request)


def race_hub_part(bus: Bus, races: list[RaceSettings], routes: dict[str, RouteSpec],
                  store: RaceStore | None = None) -> tuple[Part, RaceService]:
    """The race text files, the race service, its pullers (after it), its routes and its status."""
    from .pull import pullers_for
    from .text_files import RaceTextFiles
    service = RaceService(bus, races, routes, store)
    files = RaceTextFiles(bus)  # before the race service: its first race_state is written too
    part = Part("race", services=[files, service, *pullers_for(service)],
                listeners=[files.on_event] if files.enabled else [], routes=[service.install],
                status={"race": service.status})
    return part, service


__all__ = ["PUSH_PATH", "Lane", "RaceService", "race_hub_part"]
