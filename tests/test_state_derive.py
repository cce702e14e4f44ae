"""SessionState: what the snapshot derives from a stream of events (ManualClock, no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from dxbus.clock import ManualClock
from dxbus.hub import Hub
from dxbus.state import SessionState, session_on_hub
from dxbus.world import load_world


@pytest.fixture
async def setup() -> AsyncIterator[tuple[ManualClock, Hub, SessionState]]:
    clock = ManualClock()
    hub = Hub(clock)
    state, stream = session_on_hub(hub, clock, load_world())
    await stream.start()  # settles a kill when its pairing window ends
    yield clock, hub, state
    await stream.stop()


def test_snapshot_shape_when_empty(setup: tuple[ManualClock, Hub, SessionState]) -> None:
    _, _, state = setup
    snap = state.snapshot()
    assert set(snap) >= {"player", "deaths", "damage", "enemies_killed", "scene", "session", "boss",
                         "bosses", "death_locations", "abilities", "last_seq"}
    assert set(snap["player"]) >= {"health", "health_max", "mp", "mp_max", "position_x", "position_y"}
    assert set(snap["scene"]) >= {"current", "area", "previous", "time_in_scene", "visited",
                                  "rooms_visited"}
    assert set(snap["boss"]) >= {"current", "active", "phase", "fight_time", "attempts", "best",
                                 "last_time", "last_result"}
    assert snap["deaths"] == {"session": 0, "total": 0}
    assert snap["boss"]["current"] is None and snap["boss"]["active"] is False
    orjson.dumps(snap)  # JSON-ready


async def test_player_scene_damage_and_times(setup: tuple[ManualClock, Hub, SessionState]) -> None:
    clock, hub, state = setup
    hub.emit("player_update", {"health_current": 5, "health_max": 5, "mp_current": 3, "mp_max": 9,
                               "position_x": 10.5, "position_y": -2.0})
    hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Tut_03"})
    await clock.advance(4.0)
    hub.emit("combat_damage", {"damage": 1, "is_player_damage": True, "player_health_remaining": 4})
    hub.emit("combat_damage", {"damage": 13, "is_player_damage": False, "enemy_type": "Mossgrub"})
    hub.emit("enemy_killed", {"enemy_type": "Mossgrub"})
    await clock.advance(1.5)
    snap = state.snapshot()
    assert snap["player"] == {"health": 4.0, "health_max": 5.0, "mp": 3.0, "mp_max": 9.0,
                              "position_x": 10.5, "position_y": -2.0}
    assert snap["damage"] == {"dealt": 13.0, "taken": 1.0}
    assert snap["enemies_killed"] == 1
    assert snap["scene"]["current"] == "Tut_03"
    assert snap["scene"]["area"] == "Moss Grotto"
    assert snap["scene"]["previous"] == "Tut_01"
    assert snap["scene"]["time_in_scene"] == pytest.approx(5.5)
    assert snap["scene"]["visited"] == ["Tut_03"] and snap["scene"]["rooms_visited"] == 1
    assert snap["session"]["time"] == pytest.approx(5.5)  # clock since the first event
    assert snap["session"]["started"].endswith("Z")
    assert snap["last_seq"] == hub.seq


async def test_session_time_follows_the_game(setup: tuple[ManualClock, Hub, SessionState]) -> None:
    clock, hub, state = setup
    hub.emit("timing_update", {"session_time": 100.0, "scene_time": 3.0, "fps": 60})
    await clock.advance(0.5)
    assert state.snapshot()["session"]["time"] == pytest.approx(100.5)
    await clock.advance(60)  # the game went quiet: the session clock stops shortly after
    assert state.snapshot()["session"]["time"] == pytest.approx(102.0)


async def test_combat_stats_totals_are_authoritative(
    setup: tuple[ManualClock, Hub, SessionState],
) -> None:
    _, hub, state = setup
    hub.emit("combat_damage", {"damage": 5, "is_player_damage": False})
    hub.emit("combat_stats", {"total_damage_dealt": 120, "total_damage_taken": 3, "enemies_killed": 7})
    hub.emit("combat_damage", {"damage": 5, "is_player_damage": False})
    snap = state.snapshot()
    assert snap["damage"] == {"dealt": 125.0, "taken": 3.0}
    assert snap["enemies_killed"] == 7


async def test_boss_fight_died_then_defeated(setup: tuple[ManualClock, Hub, SessionState]) -> None:
    clock, hub, state = setup
    hub.emit("scene_transition", {"from_scene": "Tut_01", "to_scene": "Tut_03"})
    hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    await clock.advance(12.0)
    snap = state.snapshot()["boss"]
    assert snap["current"] == "Moss Mother" and snap["active"] is True
    assert snap["phase"] == 1 and snap["fight_time"] == pytest.approx(12.0)
    assert snap["attempts"] == 1
    hub.emit("player_death", {"location": "Tut_03", "cause": "Moss Mother"})
    snap = state.snapshot()
    assert snap["boss"]["active"] is False
    assert snap["boss"]["last_result"] == {"boss": "Moss Mother", "result": "died", "time": 12.0}
    assert snap["deaths"] == {"session": 1, "total": 1}
    assert snap["death_locations"] == {"Tut_03": 1}
    assert snap["player"]["health"] == 0.0

    hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
    await clock.advance(20.0)
    hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "phase_change"})
    assert state.snapshot()["boss"]["phase"] == 2
    await clock.advance(25.0)
    hub.emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "defeated"})
    hub.emit("boss_defeated", {"boss_name": "Moss Mother", "time": 44.8})
    await clock.advance(3.0)
    snap = state.snapshot()
    assert snap["boss"]["active"] is False
    assert snap["boss"]["fight_time"] == pytest.approx(44.8)  # frozen at the result
    assert snap["boss"]["last_result"] == {"boss": "Moss Mother", "result": "defeated", "time": 44.8}
    assert snap["bosses"]["Moss Mother"] == {"attempts": 2, "defeats": 1, "best": 44.8, "last": 44.8}
    assert snap["boss"]["attempts"] == 2 and snap["boss"]["best"] == 44.8


async def test_best_is_the_lowest_defeat_time(setup: tuple[ManualClock, Hub, SessionState]) -> None:
    clock, hub, state = setup
    for seconds in (50.0, 30.0, 40.0):
        hub.emit("boss_encounter", {"boss_name": "Bell Beast", "phase": "start"})
        await clock.advance(seconds)
        hub.emit("boss_encounter", {"boss_name": "Bell Beast", "phase": "defeated"})
        await clock.advance(60)  # well past the pairing window
    record = state.snapshot()["bosses"]["Bell Beast"]
    assert record == {"attempts": 3, "defeats": 3, "best": 30.0, "last": 40.0}


async def test_boss_defeated_alone_counts_one_attempt(
    setup: tuple[ManualClock, Hub, SessionState],
) -> None:
    _, hub, state = setup
    hub.emit("boss_defeated", {"boss_name": "Widow", "time": 71.25})
    snap = state.snapshot()
    assert snap["bosses"]["Widow"] == {"attempts": 1, "defeats": 1, "best": 71.25, "last": 71.25}
    assert snap["boss"]["last_result"]["result"] == "defeated"


async def test_leaving_the_arena_abandons_the_fight(
    setup: tuple[ManualClock, Hub, SessionState],
) -> None:
    clock, hub, state = setup
    hub.emit("scene_transition", {"from_scene": "Bone_04", "to_scene": "Bone_05"})
    hub.emit("boss_encounter", {"boss_name": "Bell Beast", "phase": "start"})
    await clock.advance(5)
    hub.emit("scene_transition", {"from_scene": "Bone_05", "to_scene": "Bone_04"})
    snap = state.snapshot()
    assert snap["boss"]["active"] is False and snap["bosses"]["Bell Beast"]["defeats"] == 0


def test_abilities_from_unlocks_items_and_use(setup: tuple[ManualClock, Hub, SessionState]) -> None:
    _, hub, state = setup
    hub.emit("item_collected", {"item_name": "Swift Step", "quantity": 1})
    hub.emit("item_collected", {"item_name": "Rosary String", "quantity": 1})
    hub.emit("ability_used", {"ability": "Silkspear"})
    hub.emit("ability_used", {"ability": "Swift Step"})
    assert state.snapshot()["abilities"] == ["Swift Step", "Silkspear"]


def test_odd_data_never_breaks_the_state(setup: tuple[ManualClock, Hub, SessionState]) -> None:
    _, hub, state = setup
    hub.emit("player_update", {"health_current": "lots", "position_x": None})
    hub.emit("combat_damage", {"damage": "x", "is_player_damage": "yes"})
    hub.emit("boss_encounter", {"phase": "phase_change"})
    hub.emit("scene_transition", {"to_scene": 42})
    hub.emit("player_death", {})
    snap = state.snapshot()
    assert snap["player"]["health"] == 0.0 and snap["deaths"]["session"] == 1
    assert snap["scene"]["current"] is None
    orjson.dumps(snap)
