"""The race hub with three simulated runner buses (127.0.0.2, .3, .4), in pull and in push mode.

Standings, deltas and finish order are checked against the runners' own timers (the ground truth of
the simulated runs); one runner drops off for 20 s (on the injected clock) and comes back: stale,
then resumed with no split lost or doubled.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from race_rig import SEEDS, TOKENS, Rig, caught_up, finished, truth, write_race_file
from waiting import wait_until

from dxbus.race.hub import RaceService
from dxbus.race.pull import RacePuller

pytestmark = pytest.mark.timeout(180)
DROPPED = "Moss Knight"


@pytest.fixture
async def rig(tmp_path: Path):
    rig = Rig(tmp_path)
    yield rig
    await rig.stop()


def expected_board(rig: Rig) -> list[str]:
    """Finish order from the runners' own timers: by final game time."""
    finals = {name: truth(bus)[-1][1] for name, bus in rig.runners.items()}
    return sorted(finals, key=lambda n: finals[n])


def check_against_truth(rig: Rig, state: dict) -> None:
    """Every runner's hub splits equal its own timer's, once each; deltas to the best at each split."""
    rows = {row["runner"]: row for row in state["runners"]}
    best: dict[str, float] = {}
    for name, bus in rig.runners.items():
        own = truth(bus)
        hub = [(s["name"], s["game"]) for s in rows[name]["splits"]]
        assert [n for n, _ in hub] == [n for n, _ in own], name
        for (_, mine), (_, theirs) in zip(hub, own, strict=True):
            assert abs(mine - theirs) < 0.01, (name, hub, own)
        for split, game in own:
            best[split] = min(best.get(split, game), game)
    for name, bus in rig.runners.items():
        for split, row_split in zip(truth(bus), rows[name]["splits"], strict=True):
            assert abs(row_split["delta"] - (split[1] - best[split[0]])) < 0.02
    assert state["finish_order"] == expected_board(rig)
    assert [row["runner"] for row in state["runners"]] == expected_board(rig)
    leader = state["runners"][0]
    assert leader["delta"] is None and leader["status"] == "finished"
    second = state["runners"][1]
    assert second["delta_text"] == f"+{second['splits'][-1]['delta']:.1f} s"


async def run_race(rig: Rig, service: RaceService, drop=None, back=None) -> None:
    """Advance the shared clock second by second until every runner finished the route."""
    for second in range(400):
        await rig.clock.advance(1.0)
        live = [n for n in rig.runners if drop is None or n != DROPPED or not drop.active]
        await caught_up(service, rig.runners, live)
        if drop is not None:
            await drop.step(second)
        if all(finished(bus) for bus in rig.runners.values()) and (drop is None or drop.done):
            await caught_up(service, rig.runners)
            return
    raise AssertionError("the race did not finish within 400 game seconds")


class Drop:
    """Cut one runner off from second `at` for 20 s of the clock; check stale, then resume."""

    def __init__(self, rig: Rig, service: RaceService, cut, restore, at: int = 30) -> None:
        self.rig, self.service, self.cut, self.restore, self.at = rig, service, cut, restore, at
        self.active = False
        self.done = False
        self.saw_stale = False

    async def step(self, second: int) -> None:
        if second == self.at:
            await self.cut()
            self.active = True
        elif self.active:
            row = next(r for r in self.service.view("test")["runners"] if r["runner"] == DROPPED)
            if second >= self.at + 11:
                assert row["stale"] and row["status"] == "stale", row
                self.saw_stale = True
            if second == self.at + 20:
                assert row["stale_for"] >= 19
                await self.restore()
                self.active = False
                await caught_up(self.service, self.rig.runners)
                row = next(r for r in self.service.view("test")["runners"] if r["runner"] == DROPPED)
                assert not row["stale"]
                self.done = True


async def test_pull_race_standings_deltas_and_a_runner_dropping_off(rig: Rig, tmp_path: Path) -> None:
    for name in SEEDS:
        await rig.runner(name)
    urls = {name: bus.url() for name, bus in rig.runners.items()}
    assert sorted(urls.values())[0].startswith("http://127.0.0.2:")
    hub, service = await rig.hub(write_race_file(tmp_path / "cfg", pull=urls))
    puller = next(s for s in hub.services if isinstance(s, RacePuller) and s.runner == DROPPED)

    async def cut() -> None:
        await puller.stop()

    async def restore() -> None:
        await puller.start()

    drop = Drop(rig, service, cut, restore)
    await run_race(rig, service, drop)
    assert drop.saw_stale
    state = service.view("test")
    check_against_truth(rig, state)
    # Over HTTP, as a restream tool reads it.
    async with aiohttp.ClientSession() as http, http.get(f"{hub.url()}/api/race/test") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["finish_order"] == state["finish_order"]
    # The race events on the hub's own bus: each split once, finishes in order.
    recent = hub.hub.recent(10_000)
    splits = [(e.data["runner"], e.data["split"]) for e in recent if e.type == "race_split"]
    assert len(splits) == len(set(splits)) == 2 * len(SEEDS)
    finishes = {e.data["runner"]: e.data["place"] for e in recent if e.type == "race_finish"}
    assert sorted(finishes) == sorted(state["finish_order"])
    assert finishes[state["finish_order"][0]] == 1  # the winner by game time is told #1
    leads = [e.data["text"] for e in recent if e.type == "race_lead_change"]
    assert leads and all(t.endswith(" takes the lead") for t in leads)
    # The race text files for OBS text sources.
    await rig.clock.advance(1.0)  # the last race_state (4 per second at most)
    text = hub.path(hub.config.text_files.directory)
    standings = (text / "race-test-standings.txt").read_text().splitlines()
    assert [line.split("  ")[0] for line in standings] == [
        f"{i}. {name}" for i, name in enumerate(state["finish_order"], 1)]
    assert (text / "race-test-leader.txt").read_text() == state["finish_order"][0] + "\n"
    assert " at Enter Bone Bottom" in (text / "race-test-last-split.txt").read_text()


LEAD_ALERT = {"Alerts": {"Rules": [{"Name": "lead", "Event": "race_lead_change",
                                   "Message": "{{ data.text }}"}]}}


async def test_push_race_with_tokens_and_a_runner_dropping_off(rig: Rig, tmp_path: Path) -> None:
    hub, service = await rig.hub(write_race_file(tmp_path / "cfg"), overrides=LEAD_ALERT)
    race_url = f"{hub.url()}/api/race/test"
    for name in SEEDS:
        await rig.runner(name, {"race": race_url, "runner": name, "token": TOKENS[name]})
    from dxbus.race.push import RacePusher
    pusher = next(s for s in rig.runners[DROPPED].services if isinstance(s, RacePusher))
    await wait_until(lambda: all(next(s for s in b.services if isinstance(s, RacePusher)).connected
                                 for b in rig.runners.values()), what="every runner pushing")

    async def cut() -> None:
        await pusher.stop()

    async def restore() -> None:
        await pusher.start()

    drop = Drop(rig, service, cut, restore)
    await run_race(rig, service, drop)
    assert drop.saw_stale
    check_against_truth(rig, service.view("test"))
    assert pusher.connections == 2
    # An alert rule on the hub's race events: "Hornet123 takes the lead" on stream.
    alerts = [e.data.get("message") for e in hub.hub.recent(10_000) if e.type == "alert"]
    leads = [e.data["text"] for e in hub.hub.recent(10_000) if e.type == "race_lead_change"]
    assert alerts and alerts[0] == leads[0] and leads[0].endswith(" takes the lead")


async def test_push_refuses_a_wrong_or_anothers_token(rig: Rig, tmp_path: Path) -> None:
    hub, service = await rig.hub(write_race_file(tmp_path / "cfg"))
    url = hub.url("http").replace("http://", "ws://") + "/api/race/test/push?runner=Hornet123"
    async with aiohttp.ClientSession() as http:
        for token in ("wrong-token-xxxx", TOKENS["Moss Knight"]):
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await http.ws_connect(url, headers={"X-Runner-Token": token})
            assert err.value.status == 401
        async with http.get(url.replace("ws://", "http://").replace("runner=Hornet123", "runner=Nobody"),
                            headers={"X-Runner-Token": "x" * 10}) as resp:
            assert resp.status == 401
            assert "Nobody" in (await resp.json())["error"]["message"]
        ws = await http.ws_connect(url, headers={"X-Runner-Token": TOKENS["Hornet123"]})
        await ws.send_json({"type": "hello", "instance": "abc"})
        assert (await ws.receive_json())["since_seq"] == 0
        # Bad input: each bad event is named and skipped, the good ones are kept.
        await ws.send_str('[{"EventType": "player_death", "Data": [1]}, '
                          '{"EventType": "player_death", "Data": {"cause": "spikes"}, "Seq": 7}]')
        error = await ws.receive_json()
        assert error["type"] == "error" and error["rejected"] == 1
        assert error["error"] == "frame[0].Data: must be a JSON object, got array"
        await ws.send_str("not json")
        assert (await ws.receive_json())["error"] == "frame: not valid JSON"
        await ws.close()
    lane = service.lanes["test"]
    await wait_until(lambda: service.view("test")["runners"][0]["seq"] == 7 or
                     any(r["seq"] == 7 for r in service.view("test")["runners"]), what="the good event")
    assert lane.stored == 1 and lane.rejected == 1


async def test_a_hub_with_its_own_token_still_takes_runner_tokens(rig: Rig, tmp_path: Path) -> None:
    hub, _ = await rig.hub(write_race_file(tmp_path / "cfg"),
                           overrides={"Security": {"AuthToken": "organiser-secret"}})
    url = hub.url("http").replace("http://", "ws://") + "/api/race/test/push?runner=Hornet123"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{hub.url()}/api/race") as resp:
            assert resp.status == 401  # the organiser's token guards the rest of the hub
        ws = await http.ws_connect(url, headers={"X-Runner-Token": TOKENS["Hornet123"]})
        await ws.send_json({"type": "hello", "instance": "abc"})
        assert (await ws.receive_json())["since_seq"] == 0
        await ws.close()
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(url, headers={"Authorization": "Bearer organiser-secret"})
        assert err.value.status == 401  # the organiser's token is no runner's token
