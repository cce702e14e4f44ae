"""Several hub processes sharing one race through Redis Streams (a real redis-server).

Two `dxbus race --redis` processes: the runners push to hub A, the viewers watch hub B. Hub A is
killed (SIGKILL) mid-race and started again on the same port: the runners resume where the race left
off, and every viewer on B sees every split exactly once; B's board matches the runners' own timers.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from dxbus_process import DxbusProcess
from race_rig import SEEDS, TOKENS, Rig, finished, truth, write_race_file
from redis_server import free_port, redis_server
from waiting import wait_until

from dxbus.race.store import RedisStore

pytestmark = pytest.mark.timeout(240)


def start_hub(races: Path, folder: Path, redis_url: str, port: int) -> tuple[DxbusProcess, str]:
    """`dxbus race RACES --redis URL` on a given HTTP port; returns the process and its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = DxbusProcess(["race", str(races), "--redis", redis_url, "--http-port", str(port),
                         "--ws-port", "0", "--tcp-port", "0", "--export-dir", str(folder / "DataExport")],
                        folder)
    lines = proc.wait_for_line("Press Ctrl+C")
    match = re.search(r"http://127\.0\.0\.1:(\d+)", "\n".join(lines))
    assert match and int(match.group(1)) == port, lines
    return proc, f"http://127.0.0.1:{port}"


class Viewer:
    """A viewer's WebSocket on a hub's `/ws`, collecting race_split events."""

    def __init__(self) -> None:
        self.splits: list[tuple[str, str]] = []
        self.task: asyncio.Task[None] | None = None

    async def run(self, session: aiohttp.ClientSession, url: str, ready: asyncio.Event) -> None:
        stream = url.replace("http://", "ws://") + "/ws?types=race_split,race_finish"
        async with session.ws_connect(stream) as ws:
            ready.set()
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                event = msg.json()
                if event.get("EventType") == "race_split":
                    self.splits.append((event["Data"]["runner"], event["Data"]["split"]))


async def board(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/api/race/test") as resp:
        assert resp.status == 200
        return await resp.json()


async def test_two_hub_processes_share_a_race_and_survive_a_kill(tmp_path: Path) -> None:
    races = write_race_file(tmp_path / "cfg")
    rig = Rig(tmp_path)
    with redis_server(tmp_path / "redis") as redis_url:
        port_a, port_b = free_port(), free_port()
        hub_a, url_a = start_hub(races, tmp_path / "hub-a", redis_url, port_a)
        hub_b, url_b = start_hub(races, tmp_path / "hub-b", redis_url, port_b)
        viewers = [Viewer() for _ in range(3)]
        try:
            async with aiohttp.ClientSession() as session:
                for viewer in viewers:
                    ready = asyncio.Event()
                    viewer.task = asyncio.create_task(viewer.run(session, url_b, ready))
                    await asyncio.wait_for(ready.wait(), 10)
                for name in SEEDS:
                    await rig.runner(name, {"race": f"{url_a}/api/race/test", "runner": name,
                                            "token": TOKENS[name]})
                killed = False
                for second in range(400):
                    await rig.clock.advance(1.0)
                    if second % 10 == 0:
                        await asyncio.sleep(0.05)  # let the sockets breathe (real I/O, not a timer)
                    if second == 60 and not killed:
                        await wait_until(lambda: all(v.splits for v in viewers), timeout=30,
                                         what="a first split on every viewer")
                        before = len(viewers[0].splits)
                        hub_a.kill()  # SIGKILL mid-race: no goodbye, nothing flushed
                        killed = True
                        await rig.clock.advance(3.0)  # the runners notice and back off
                        hub_a, _ = start_hub(races, tmp_path / "hub-a", redis_url, port_a)
                    if all(finished(bus) for bus in rig.runners.values()):
                        break
                expected = sorted((name, split) for name, bus in rig.runners.items()
                                  for split, _ in truth(bus))

                async def all_seen() -> bool:
                    await rig.clock.advance(1.0)  # pusher backoff and batches run on the runners' clock
                    return all(sorted(v.splits) == expected for v in viewers) and len(
                        (await board(session, url_b))["finish_order"]) == len(SEEDS)

                await wait_until(all_seen, timeout=60, what="every viewer saw every split")
                assert 0 < before < len(expected)  # the kill really was mid-race
                for viewer in viewers:
                    assert len(viewer.splits) == len(set(viewer.splits)) == 2 * len(SEEDS)
                state_b = await board(session, url_b)
                rows = {row["runner"]: row for row in state_b["runners"]}
                for name, bus in rig.runners.items():
                    hub_splits = [(s["name"], s["game"]) for s in rows[name]["splits"]]
                    own = truth(bus)
                    assert [n for n, _ in hub_splits] == [n for n, _ in own]
                    assert all(abs(a[1] - b[1]) < 0.01 for a, b in zip(hub_splits, own, strict=True))
                finals = {name: truth(bus)[-1][1] for name, bus in rig.runners.items()}
                assert state_b["finish_order"] == sorted(finals, key=lambda n: finals[n])
                # The restarted hub A rebuilt the same board from the stream.
                state_a = await board(session, url_a)
                assert state_a["finish_order"] == state_b["finish_order"]
                # Redis holds the race (thinned player_update: far fewer records than events).
                store = RedisStore(redis_url)
                assert int((await store.last_id("test")).split("-")[0]) > 0
                await store.close()
        finally:
            for viewer in viewers:
                if viewer.task is not None:
                    viewer.task.cancel()
            await rig.stop()
            hub_a.kill()
            hub_b.kill()
