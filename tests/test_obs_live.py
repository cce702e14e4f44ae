"""Against a REAL OBS Studio (headless under Xvfb, obs-websocket 5.1) on a random port and password.

One OBS per module (tests/obs_harness/obs-ci-up.sh, OBS-TESTING.md): each test starts a real bus with its
[OBS] rules, publishes game events on the bus and asserts the program scene OBS itself reports.
Rule timing (dwell, pause) runs on a ManualClock; waits for OBS poll with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import obsws_python as obsws
import pytest

from dxbus.clock import ManualClock

pytestmark = pytest.mark.obs

HARNESS = Path(__file__).resolve().parent / "obs_harness"
SCENES = ["Gameplay", "Boss Fight Scene", "Menu Scene", "Cutscene Scene", "Shop Scene", "Regex Scene",
          "Scene A", "Scene B", "Just Chatting", "BRB"]
logging.getLogger("obsws_python").setLevel(logging.CRITICAL)  # it logs tracebacks (and the password)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ObsInstance:
    """A running headless OBS started by the harness; `restart()` kills and starts it again."""

    dir: Path
    host: str
    port: int
    password: str
    events: obsws.EventClient | None = None
    last_event_scene: str | None = None  # the last CurrentProgramSceneChanged, seen by the test itself
    last_event_at: float = 0.0

    def _env(self) -> dict[str, str]:
        return dict(os.environ, OBS_CI_DIR=str(self.dir), OBS_WS_PORT=str(self.port),
                    OBS_WS_PASSWORD=self.password, OBS_SCENES="|".join(SCENES))

    def up(self) -> None:
        subprocess.run([str(HARNESS / "obs-ci-up.sh")], env=self._env(), check=True,
                       stdout=subprocess.DEVNULL)
        self.last_event_scene = SCENES[0]  # OBS starts on the first scene of the collection
        self.events = obsws.EventClient(host=self.host, port=self.port, password=self.password, timeout=5,
                                        subs=1 << 2)

        def on_current_program_scene_changed(data: Any) -> None:
            self.last_event_scene, self.last_event_at = data.scene_name, time.monotonic()

        self.events.callback.register(on_current_program_scene_changed)

    def down(self, keep: bool = True) -> None:
        if self.events is not None:
            self.events.disconnect()
            self.events = None
        subprocess.run([str(HARNESS / "obs-ci-down.sh"), str(self.dir), *(["--keep"] if keep else [])],
                       check=False)

    def restart(self) -> None:
        self.down()
        self.up()

    def client(self) -> obsws.ReqClient:
        return obsws.ReqClient(host=self.host, port=self.port, password=self.password, timeout=5)


@pytest.fixture(scope="module")
def obs_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObsInstance]:
    if not (shutil.which("obs") and shutil.which("Xvfb")):
        pytest.fail("needs obs-studio and xvfb (apt-get install obs-studio obs-plugins xvfb)")
    inst = ObsInstance(tmp_path_factory.mktemp("obs-ci"), "127.0.0.1", _free_port(),
                       "pw-" + os.urandom(8).hex())
    try:
        inst.up()
    except subprocess.CalledProcessError:  # most likely a port clash: one retry on a new port
        inst.port = _free_port()
        inst.up()
    yield inst
    inst.down(keep=False)


class Obs:
    """The test's own view of OBS (a separate obs-websocket session), called off the loop."""

    def __init__(self, inst: ObsInstance) -> None:
        self.inst = inst
        self.client = inst.client()

    async def program(self) -> str:
        reply = await asyncio.to_thread(self.client.send, "GetCurrentProgramScene", None, True)
        return reply["currentProgramSceneName"]

    async def set_program(self, scene: str) -> None:
        await asyncio.to_thread(self.client.send, "SetCurrentProgramScene", {"sceneName": scene}, True)

    def reconnect(self) -> None:
        self.client = self.inst.client()


@pytest.fixture
async def obs(obs_instance: ObsInstance) -> Any:
    view = Obs(obs_instance)
    if await view.program() != "Gameplay":  # every test starts from the same live scene
        await view.set_program("Gameplay")
    # OBS sends CurrentProgramSceneChanged when the transition ends (the next frame with Cut, at 10 fps).
    # Let the events of earlier switches go out before a bus connects: a late one would look manual.
    await wait_for(lambda: obs_instance.last_event_scene == "Gameplay"
                   and time.monotonic() - obs_instance.last_event_at > 0.25, "OBS's scene events to settle")
    yield view
    view.client.disconnect()


async def wait_for(check: Callable[[], Awaitable[Any] | Any], what: str, timeout: float = 8.0) -> Any:
    """Poll `check` until it returns something truthy (deadline, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


async def program_is(obs: Obs, scene: str, timeout: float = 8.0) -> None:
    async def check() -> bool:
        return await obs.program() == scene
    await wait_for(check, f"OBS program scene {scene!r}", timeout)


async def switched(bus: Any, obs: Obs, scene: str) -> None:
    """OBS shows `scene` AND the bus has processed OBS's reply (OBS answers our own reads first)."""
    await program_is(obs, scene)
    await wait_for(lambda: bus.status_providers["obs"]()["program_scene"] == scene and
                   bus.status_providers["obs"]()["pending"] is None, f"the bus to record {scene!r}")


def last_outcome(bus: Any) -> str | None:
    """The outcome of the bus's newest OBS decision record."""
    records = bus.status_providers["obs"]()["last_switches"]
    return records[0]["outcome"] if records else None


def obs_overrides(inst: ObsInstance, rules: list[dict], **keys: Any) -> dict[str, Any]:
    base = {"Enabled": True, "Host": inst.host, "Port": inst.port, "Password": inst.password,
            "ReconnectMinSeconds": 0.1, "ReconnectMaxSeconds": 0.5, "ManualPauseSeconds": 0,
            "Rules": rules}
    return {"OBS": base | keys}


async def start_bus(bus_factory: Any, overrides: dict, clock: ManualClock | None = None) -> Any:
    bus = await bus_factory(overrides=overrides, clock=clock or ManualClock())
    await wait_for(lambda: bus.status_providers["obs"]()["connected"], "the bus to connect to OBS")
    return bus


def room(bus: Any, name: str) -> None:
    bus.hub.emit("scene_transition", {"from_scene": "", "to_scene": name, "transition_type": "door"})


MATCH_RULES = [
    {"Exact": "Menu_Title", "Scene": "Menu Scene"},
    {"Prefix": "Boss_", "Scene": "Boss Fight Scene"},
    {"Suffix": "_Shop", "Scene": "Shop Scene"},
    {"Contains": "Cutscene", "Scene": "Cutscene Scene"},
    {"Regex": "Bone_0[0-9]", "Scene": "Regex Scene"},
    {"Prefix": "Bone_", "Scene": "Scene A"},
]


async def test_prefix_suffix_contains_regex_and_first_match_wins(bus_factory: Any, obs: Obs,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    threads: set[str] = set()
    send = obsws.ReqClient.send

    def spy(self: obsws.ReqClient, *args: Any, **kwargs: Any) -> Any:
        if self is not obs.client:
            threads.add(threading.current_thread().name)
        return send(self, *args, **kwargs)

    monkeypatch.setattr(obsws.ReqClient, "send", spy)
    bus = await start_bus(bus_factory, obs_overrides(obs.inst, MATCH_RULES))
    status = bus.status_providers["obs"]
    for name, scene in [
        ("Boss_Lace", "Boss Fight Scene"),      # prefix
        ("Bellhart_Shop", "Shop Scene"),        # suffix
        ("Room_Cutscene_Intro", "Cutscene Scene"),  # contains
        ("Bone_05", "Regex Scene"),             # regex (before the later Prefix 'Bone_')
        ("Bone_East_10", "Scene A"),            # the regex does not match: the next rule does
        ("Boss_Shop", "Boss Fight Scene"),      # prefix and suffix both match: first wins
        ("Menu_Title", "Menu Scene"),           # exact
    ]:
        room(bus, name)
        await program_is(obs, scene)
        await wait_for(lambda: status()["program_scene"] == scene, "the switch to be recorded")  # noqa: B023
    assert threads == {"dxbus-obs_0"}  # every request on the one OBS worker thread, none on the loop
    last = status()["last_switches"][0]
    assert last["outcome"] == "switched"
    assert "rule 1 (Exact 'Menu_Title') matched room 'Menu_Title'" in last["reason"]


async def test_usage_guide_scene_map_as_written(bus_factory: Any, obs: Obs) -> None:
    scene_map = {"MainMenu": "Menu Scene", "Boss_": "Boss Fight Scene", "Cutscene_": "Cutscene Scene",
                 "_Shop": "Shop Scene"}
    bus = await start_bus(bus_factory, obs_overrides(obs.inst, [], SceneMap=scene_map))
    for name, scene in [("Boss_Lace", "Boss Fight Scene"), ("MainMenu", "Menu Scene"),
                        ("Bellhart_Shop", "Shop Scene"), ("Cutscene_Intro", "Cutscene Scene")]:
        room(bus, name)
        await program_is(obs, scene)


async def test_min_dwell_holds_back_flapping_rooms(bus_factory: Any, obs: Obs) -> None:
    clock = ManualClock()
    rules = [{"Prefix": "A_", "Scene": "Scene A"}, {"Prefix": "B_", "Scene": "Scene B"}]
    bus = await start_bus(bus_factory, obs_overrides(obs.inst, rules, MinDwellSeconds=5), clock)
    room(bus, "A_1")
    await switched(bus, obs, "Scene A")  # the dwell counts from here
    for name in ["B_1", "A_1", "B_1"]:  # a player running back and forth through a door
        await clock.advance(0.5)
        room(bus, name)
    st = await wait_for(lambda: (s := bus.status_providers["obs"]())["pending"] and s, "a held switch")
    assert st["pending"]["scene"] == "Scene B"
    assert st["last_switches"][0]["outcome"].startswith("held: minimum dwell")
    assert await obs.program() == "Scene A"  # OBS never saw the flapping
    await clock.advance(3.5)  # dwell over: the latest room decides
    await program_is(obs, "Scene B")


async def test_boss_fight_switches_and_returns(bus_factory: Any, obs: Obs) -> None:
    rules = [{"On": "boss", "Scene": "Boss Fight Scene", "ReturnToPrevious": True}]
    bus = await start_bus(bus_factory, obs_overrides(obs.inst, rules))
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    await program_is(obs, "Boss Fight Scene")
    # OBS answers GetCurrentProgramScene before our own reply is processed: wait for the record, or
    # the fight's end would land while the switch is in flight ("ended during the switch").
    await wait_for(lambda: switched_by(bus, "rule 1 (On boss) matched boss fight"), "the switch recorded")
    bus.hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "phase_change"})
    bus.hub.emit("boss_defeated", {"boss_name": "Moss Mother", "time": 61.5})
    await program_is(obs, "Gameplay")
    await wait_for(lambda: switched_by(bus, "return after rule 1 (On boss) ended (boss_defeated"),
                   "the return recorded")


def switched_by(bus: Any, reason: str) -> bool:
    """Whether the newest switch record is a done switch whose reason starts with `reason`."""
    switches = bus.status_providers["obs"]()["last_switches"]
    newest = switches[0] if switches else {}
    return newest.get("outcome") == "switched" and newest.get("reason", "").startswith(reason)


async def test_manual_switch_pauses_automation(bus_factory: Any, obs: Obs) -> None:
    clock = ManualClock()
    rules = [{"Prefix": "A_", "Scene": "Scene A"}, {"Prefix": "B_", "Scene": "Scene B"}]
    bus = await start_bus(bus_factory, obs_overrides(obs.inst, rules, ManualPauseSeconds=30), clock)
    status = bus.status_providers["obs"]
    room(bus, "A_1")
    await switched(bus, obs, "Scene A")
    await obs.set_program("Just Chatting")  # the streamer takes over in OBS
    await wait_for(lambda: status()["paused_until"], "automation to pause")
    room(bus, "B_1")
    await wait_for(lambda: (last_outcome(bus) or "").startswith("held: automation paused"),
                   "the switch to be held")
    assert await obs.program() == "Just Chatting"
    await clock.advance(30)
    await program_is(obs, "Scene B")


async def test_protected_scene_holds(bus_factory: Any, obs: Obs) -> None:
    rules = [{"Prefix": "A_", "Scene": "Scene A"}]
    bus = await start_bus(bus_factory, obs_overrides(obs.inst, rules, ProtectedScenes=["BRB"]))
    await obs.set_program("BRB")
    await wait_for(lambda: last_outcome(bus) == "noted", "the bus to see BRB")
    room(bus, "A_1")
    await wait_for(lambda: last_outcome(bus) == "held: 'BRB' is a protected scene", "the protected hold")
    assert await obs.program() == "BRB"
    await obs.set_program("Gameplay")  # back from the break
    await wait_for(lambda: bus.status_providers["obs"]()["last_switches"][0]["scene"] == "Gameplay",
                   "the bus to see Gameplay")
    room(bus, "A_2")
    await program_is(obs, "Scene A")


async def test_dry_run_decides_without_touching_obs(bus_factory: Any, obs: Obs,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dxbus.obs")
    overrides = obs_overrides(obs.inst, MATCH_RULES, DryRun=True)
    bus = await bus_factory(overrides=overrides, clock=ManualClock())
    room(bus, "Boss_Lace")
    await wait_for(lambda: bus.status_providers["obs"]()["last_switches"], "a dry-run decision")
    assert bus.status_providers["obs"]()["last_switches"][0]["outcome"] == "dry-run"
    assert "OBS dry-run: would switch to 'Boss Fight Scene': rule 2 (Prefix 'Boss_')" in caplog.text
    assert await obs.program() == "Gameplay"


async def test_missing_scene_is_one_warning_and_the_rest_works(bus_factory: Any, obs: Obs,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dxbus.obs")
    rules = [{"Prefix": "X_", "Scene": "No Such Scene"}, {"Prefix": "A_", "Scene": "Scene A"}]
    bus = await start_bus(bus_factory, obs_overrides(obs.inst, rules))
    assert bus.status_providers["obs"]()["missing_scenes"] == ["No Such Scene"]
    room(bus, "X_1")
    await wait_for(lambda: bus.status_providers["obs"]()["last_switches"], "the failed switch")
    room(bus, "A_1")
    await program_is(obs, "Scene A")
    assert (await http_status(bus))["obs"]["missing_scenes"] == ["No Such Scene"]  # still serving
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["OBS has no scene 'No Such Scene' (rule 1): those rules cannot switch until the "
                        "scene is created in OBS"]


async def test_creating_a_missing_scene_reapplies_the_rules(bus_factory: Any, obs: Obs) -> None:
    rules = [{"Prefix": "Late_", "Scene": "Late Scene"}]
    bus = await start_bus(bus_factory, obs_overrides(obs.inst, rules))
    room(bus, "Late_1")
    await wait_for(lambda: bus.status_providers["obs"]()["last_switches"], "the failed switch")
    assert await obs.program() == "Gameplay"
    await asyncio.to_thread(obs.client.create_scene, "Late Scene")  # the streamer adds it
    # The re-apply waits for OBS's SceneListChanged, which OBS sends from its UI thread: slower than a
    # plain switch on a loaded machine, so a longer deadline than program_is's 8 s.
    await program_is(obs, "Late Scene", timeout=20)
    # What OBS shows can run ahead of what the bus has processed: wait for the bus's own record of the
    # switch, which also proves it was the re-apply (not OBS picking the new scene by itself).
    status = bus.status_providers["obs"]
    await wait_for(lambda: status()["program_scene"] == "Late Scene" and status()["pending"] is None
                   and "its scene was created in OBS" in status()["last_switches"][0]["reason"],
                   "the bus to record the re-apply")
    assert status()["last_switches"][0]["outcome"] == "switched"
    assert status()["missing_scenes"] == []


async def http_status(bus: Any) -> dict:
    async with aiohttp.ClientSession() as session, session.get(bus.url("http") + "/api/status") as resp:
        assert resp.status == 200
        return await resp.json()


async def test_wrong_password_is_one_clear_error_and_the_bus_keeps_serving(
        bus_factory: Any, obs: Obs, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "wrong-" + os.urandom(6).hex()
    overrides = obs_overrides(obs.inst, MATCH_RULES, Password=secret)
    bus = await bus_factory(overrides=overrides, clock=ManualClock())
    status = bus.status_providers["obs"]
    await wait_for(lambda: status()["error"], "the login error")
    assert "rejected the password" in status()["error"] and not status()["connected"]
    room(bus, "Boss_Lace")
    served = await http_status(bus)  # the bus keeps serving
    assert served["status"] == "healthy"
    errors = [r for r in caplog.records if r.name.startswith("dxbus.obs") and r.levelno >= logging.WARNING]
    assert len(errors) == 1 and "rejected the password" in errors[0].getMessage()
    assert secret not in caplog.text and obs.inst.password not in caplog.text
    assert secret not in str(status()) and secret not in repr(bus.config.obs)


async def test_unreachable_obs_is_one_message_and_retries_quietly(
        bus_factory: Any, obs_instance: ObsInstance, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dxbus.obs")
    overrides = obs_overrides(obs_instance, MATCH_RULES, Port=_free_port())
    bus = await bus_factory(overrides=overrides, clock=ManualClock())
    await wait_for(lambda: sum("not reachable" in r.getMessage() for r in caplog.records) >= 3,
                   "three connection attempts")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "OBS not reachable at ws://127.0.0.1:" in warnings[0].getMessage()
    assert "connection refused" in warnings[0].getMessage()
    assert (await http_status(bus))["status"] == "healthy"


async def test_source_actions_show_hide_and_set_text(bus_factory: Any, obs: Obs,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = obs.client
    try:
        await asyncio.to_thread(client.create_input, "Gameplay", "Status Text", "text_ft2_source_v2",
                                {"text": "-"}, False)
    except obsws.error.OBSSDKRequestError as exc:
        assert exc.code == 601  # already there from an earlier run of this test
    rules = [
        {"On": "player_death", "SetText": {"Status Text": "Died in {location} ({cause})"}},
        {"Prefix": "Boss_", "Show": ["Status Text"], "ItemScene": "Gameplay"},
        {"Hide": ["Status Text"], "ItemScene": "Gameplay"},
    ]
    bus = await start_bus(bus_factory, obs_overrides(obs.inst, rules))

    async def text() -> str:
        reply = await asyncio.to_thread(client.send, "GetInputSettings", {"inputName": "Status Text"}, True)
        return reply["inputSettings"].get("text", "")

    async def shown() -> bool:
        item = await asyncio.to_thread(client.send, "GetSceneItemId",
                                       {"sceneName": "Gameplay", "sourceName": "Status Text"}, True)
        reply = await asyncio.to_thread(client.send, "GetSceneItemEnabled",
                                        {"sceneName": "Gameplay", "sceneItemId": item["sceneItemId"]}, True)
        return reply["sceneItemEnabled"]

    room(bus, "Boss_Lace")
    await wait_for(shown, "Status Text to be shown")
    bus.hub.emit("player_death", {"location": "Boss_Lace", "cause": "Lace"})

    async def died_text() -> bool:
        return await text() == "Died in Boss_Lace (Lace)"

    await wait_for(died_text, "the text source to be set")
    room(bus, "Tut_01")

    async def hidden() -> bool:
        return not await shown()

    await wait_for(hidden, "Status Text to be hidden")
    assert obs.inst.password not in caplog.text  # not even at DEBUG, on a successful login


async def test_studio_mode_switches_preview_or_program(bus_factory: Any, obs: Obs) -> None:
    await asyncio.to_thread(obs.client.send, "SetStudioModeEnabled", {"studioModeEnabled": True}, True)
    try:
        rules = [{"Prefix": "A_", "Scene": "Scene A"}, {"Prefix": "B_", "Scene": "Scene B"}]
        bus = await start_bus(bus_factory, obs_overrides(obs.inst, rules))  # StudioMode = "preview"
        status = bus.status_providers["obs"]
        await wait_for(lambda: status()["controls"] == "preview", "the bus to see studio mode")
        room(bus, "A_1")

        async def preview_is_a() -> bool:
            reply = await asyncio.to_thread(obs.client.send, "GetCurrentPreviewScene", None, True)
            return reply["currentPreviewSceneName"] == "Scene A"

        await wait_for(preview_is_a, "the preview to switch")
        assert await obs.program() == "Gameplay"  # the streamer presses Transition
        await bus.stop()  # one bus per folder: the second one starts where this one ran
        other = await start_bus(bus_factory, obs_overrides(obs.inst, rules, StudioMode="program"))
        room(other, "B_1")
        await program_is(obs, "Scene B")
    finally:
        await asyncio.to_thread(obs.client.send, "SetStudioModeEnabled", {"studioModeEnabled": False}, True)


async def test_obs_killed_and_restarted_is_reconnected_to_the_right_scene(
        bus_factory: Any, obs: Obs) -> None:
    # Last in the module: it restarts the shared OBS.
    bus = await start_bus(bus_factory, obs_overrides(obs.inst, MATCH_RULES))
    status = bus.status_providers["obs"]
    room(bus, "Boss_Lace")
    await program_is(obs, "Boss Fight Scene")
    await asyncio.to_thread(obs.inst.down)  # SIGTERM: OBS 29 dies at once
    await wait_for(lambda: not status()["connected"], "the bus to notice OBS is gone")
    room(bus, "Bellhart_Shop")  # the game goes on meanwhile
    assert (await http_status(bus))["status"] == "healthy"
    await asyncio.to_thread(obs.inst.up)  # fresh OBS: program scene is back to "Gameplay"
    obs.reconnect()
    await wait_for(lambda: status()["connected"], "the bus to reconnect")
    await program_is(obs, "Shop Scene")
    await wait_for(lambda: "re-applied on connect" in status()["last_switches"][0]["reason"],
                   "the re-apply to be recorded")


async def test_doctor_checks_text_sources_and_their_scenes_in_real_obs(obs: Obs, tmp_path: Path) -> None:
    """`dxbus doctor` against the real OBS for what Debian's build has: text sources and scenes."""
    from dxbus.obs.doctor import BusFacts, connect, examine

    text_dir = tmp_path / "obs-text"
    text_dir.mkdir()
    (text_dir / "deaths.txt").write_text("Deaths: 3", encoding="utf-8")
    planted = {"Doctor deaths": str(text_dir / "deaths.txt"),        # ours, and the bus writes it
               "Doctor old file": str(text_dir / "old-pb.txt"),      # ours by folder, not written
               "Doctor elsewhere": str(tmp_path / "notes.txt")}     # not this bus's: left alone
    client = obs.client
    for name, path in planted.items():
        with contextlib.suppress(obsws.error.OBSSDKRequestError):  # left from an earlier run
            await asyncio.to_thread(client.remove_input, name)
        await asyncio.to_thread(client.create_input, "Scene A", name, "text_ft2_source_v2",
                                {"from_file": True, "text_file": path}, True)
    try:
        send, close = await asyncio.to_thread(connect, obs.inst.host, obs.inst.port, obs.inst.password)
        try:
            report = await asyncio.to_thread(examine, send, BusFacts(http_port=8080, text_dir=text_dir))
        finally:
            close()
        sources = {s.name: s for s in report.sources}
        assert set(sources) >= {"Doctor deaths", "Doctor old file"} and "Doctor elsewhere" not in sources
        assert sources["Doctor deaths"].scenes == ["Scene A"]
        assert sources["Doctor deaths"].kind == "text_ft2_source_v2"
        problems = {f.source: f.problem for f in report.findings}
        assert "Doctor deaths" not in problems
        assert "old-pb.txt" in problems["Doctor old file"] and str(text_dir) in problems["Doctor old file"]
    finally:
        for name in planted:
            with contextlib.suppress(obsws.error.OBSSDKRequestError):
                await asyncio.to_thread(client.remove_input, name)
