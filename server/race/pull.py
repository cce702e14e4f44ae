"""Pull mode: the hub reads a runner's bus it can reach (same LAN), over the bus's WebSocket.

`dxbus.client.BusClient` does the hard part: reconnect with backoff, `since_seq` resume, and the
bus's `instance_id` to tell a restarted bus from a reconnect. The puller starts it at the hub's
resume point for the runner (what the hub already holds, from the store), so a hub restart or a
network drop neither loses nor doubles a split; the model drops any resend by Seq anyway.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..client import BusClient
from ..tasks import cancel_and_wait

if TYPE_CHECKING:
    from .hub import RaceService

log = logging.getLogger(__name__)


def ws_url_of(http_url: str) -> str:
    """The `/ws` stream on a bus's HTTP port: `http://h:8080` -> `ws://h:8080/ws`."""
    base = http_url.rstrip("/")
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws"


class RacePuller:
    """Service: follows one runner's bus and hands its events to the race service."""

    def __init__(self, service: RaceService, race_id: str, runner: str, url: str, token: str = "",
                 backoff_max: float = 5.0) -> None:
        self.name = f"race-pull-{race_id}-{runner}"
        self.service = service
        self.race_id = race_id
        self.runner = runner
        self.url = url
        self.client = BusClient(url, ws_url_of(url), token=token or None, backoff_initial=0.2,
                                backoff_max=backoff_max, clock=service.bus.clock)
        self._task: asyncio.Task[None] | None = None
        self._was_connected = False

    async def start(self) -> None:
        """Resume where the hub's race holds the runner, then follow."""
        track = self.service.lane(self.race_id).race.track(self.runner)
        self.client.instance_id = track.instance
        self.client.last_seq = track.last_seq if track.instance else 0  # a new runner: from its start
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop following (the connection closes)."""
        await self.client.close()
        await cancel_and_wait(self._task)
        self._task = None
        self._mark(False)

    def _mark(self, connected: bool) -> None:
        if connected != self._was_connected:
            self._was_connected = connected
            self.service.connected(self.race_id, self.runner, 1 if connected else -1)

    async def _run(self) -> None:
        async for event in self.client.events():
            self._mark(True)
            _, problems = await self.service.ingest(self.race_id, self.runner, self.client.instance_id,
                                                    [event.to_wire()], self.url)
            for problem in problems:
                log.warning("race %s: runner %s: %s", self.race_id, self.runner, problem)
        self._mark(False)

    @property
    def connected(self) -> bool:
        """Whether the runner's bus is being read right now."""
        return self.client.connected


def pullers_for(service: RaceService) -> list[RacePuller]:
    """A puller for every runner of every race that has `pull = URL` (start them after the service)."""
    return [RacePuller(service, lane.race.id, runner.name, runner.pull, runner.pull_token)
            for lane in service.lanes.values() for runner in lane.settings.runner if runner.pull]


__all__ = ["RacePuller", "pullers_for", "ws_url_of"]
