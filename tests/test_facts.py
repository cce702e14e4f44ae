"""The facts layer: raw events in, game facts out (ManualClock, no sockets)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

from dxbus.clock import ManualClock
from dxbus.events import Draft, Event, make_event
from dxbus.facts import (
    AbilityGained,
    DamageDealt,
    DamageTaken,
    Death,
    Fact,
    FactDeriver,
    FactStream,
    FightEnded,
    FightResult,
    FightStarted,
    Healed,
    MenuEntered,
    NewSave,
    RoomEntered,
    SaveLoaded,
    is_player_damage,
)
from dxbus.hub import Hub

WINDOW = 30.0


class Script:
    """A deriver fed scripted events on a manual clock."""

    def __init__(self, window: float = WINDOW) -> None:
        self.clock = ManualClock()
        self.deriver = FactDeriver(self.clock, window)
        self._seq = itertools.count(1)

    def __call__(self, event_type: str, **data: Any) -> list[Fact]:
        clock = self.clock
        event = make_event(Draft(event_type, data), next(self._seq), clock.monotonic(), clock.time())
        return self.deriver.apply(event)

    async def wait(self, seconds: float) -> None:
        await self.clock.advance(seconds)


def kinds(facts: list[Fact]) -> list[str]:
    return [f.kind for f in facts]


@pytest.fixture
def game() -> Script:
    return Script()


@pytest.mark.parametrize("value, hit", [
    (True, True), ("true", True), ("TRUE", True), (" True ", True),
    (False, False), ("false", False), ("False", False), (1, False), (0, False), (None, False),
    ("yes", False), ("", False),
])
def test_one_reading_of_is_player_damage(value: Any, hit: bool) -> None:
    assert is_player_damage(value) is hit


def test_the_string_false_is_damage_dealt(game: Script) -> None:
    [fact] = game("combat_damage", damage=3, is_player_damage="false", enemy_type="Mossgrub")
    assert isinstance(fact, DamageDealt) and fact.amount == 3 and fact.enemy == "Mossgrub"
    facts = game("combat_damage", damage=1, is_player_damage="true", player_health_remaining=4)
    assert isinstance(facts[0], DamageTaken) and facts[0].health_remaining == 4


async def test_rooms_carry_from_area_load_and_respawn(game: Script) -> None:
    [first] = game("scene_transition", to_scene="Tut_01")
    assert isinstance(first, RoomEntered) and first.first and first.from_room is None
    await game.wait(4)
    # The original mod's bare transition: `from` is the room the stream was in.
    [second] = game("scene_transition", scene_name="Tut_03", load_time_ms=1250, total_scene_time=3.5)
    assert isinstance(second, RoomEntered)
    assert (second.from_room, second.room, second.area) == ("Tut_01", "Tut_03", "Moss Grotto")
    assert second.load_seconds == 1.25 and second.room_seconds == 4 and second.game_room_seconds == 3.5
    assert not second.respawn and not second.first
    assert game.deriver.room == "Tut_03"
    [death] = game("player_death", cause="spikes")[:1]
    assert isinstance(death, Death) and death.room == "Tut_03" and not death.in_fight
    [respawn] = game("scene_transition", to_scene="Tut_03")
    assert isinstance(respawn, RoomEntered) and respawn.respawn and respawn.same_room


def test_new_save_menu_and_load(game: Script) -> None:
    assert kinds(game("scene_transition", to_scene="Menu_Title")) == ["room_entered", "menu_entered"]
    facts = game("scene_transition", to_scene="Opening_Sequence")
    assert kinds(facts) == ["room_entered"]
    facts = game("scene_transition", to_scene="Tut_01")
    assert isinstance(facts[1], NewSave)
    facts = game("scene_transition", to_scene="Quit_To_Menu")
    assert isinstance(facts[1], MenuEntered)
    facts = game("scene_transition", from_scene="Menu_Title", to_scene="Bone_05")
    assert isinstance(facts[1], SaveLoaded) and facts[1].room == "Bone_05"


async def test_fight_died_and_left_end_with_bus_time(game: Script) -> None:
    game("scene_transition", to_scene="Tut_03")
    [start] = game("boss_encounter", boss_name="Moss Mother", phase="start")
    assert isinstance(start, FightStarted) and start.room == "Tut_03"
    await game.wait(12)
    assert game.deriver.fight_time() == 12
    facts = game("player_death", location="Tut_03", cause="Moss Mother")
    assert kinds(facts) == ["death", "fight_ended", "fight_result", "health_changed"]
    assert isinstance(facts[0], Death) and facts[0].in_fight and facts[0].boss == "Moss Mother"
    assert isinstance(facts[2], FightResult)
    assert (facts[2].result, facts[2].time, facts[2].time_source) == ("died", 12.0, "bus")
    game("scene_transition", to_scene="Tut_03")
    game("boss_encounter", boss_name="Moss Mother", phase="start")
    await game.wait(5)
    facts = game("scene_transition", to_scene="Tut_02")
    assert kinds(facts) == ["fight_ended", "fight_result", "room_entered"]
    assert isinstance(facts[1], FightResult) and facts[1].result == "left" and facts[1].time == 5.0
    assert game.deriver.fight is None


@pytest.mark.parametrize("spacing", [0, 5, 12, 29])
async def test_a_kill_reported_twice_inside_the_window_is_one_kill_with_the_games_time(
    game: Script, spacing: float
) -> None:
    game("boss_encounter", boss_name="Lace", phase="start")
    await game.wait(45)
    [ended] = game("boss_encounter", boss_name="Lace", phase="defeated")
    assert isinstance(ended, FightEnded) and ended.result == "defeated"
    assert (ended.time, ended.time_source, ended.final) == (45.0, "bus", False)
    assert game.deriver.fight is None  # the fight is over at the first report
    await game.wait(spacing)
    [result] = game("boss_defeated", boss_name="Lace", time=44.7)
    assert isinstance(result, FightResult)
    assert (result.result, result.time, result.time_source) == ("defeated", 44.7, "game")
    await game.wait(WINDOW)
    assert game("boss_defeated", boss_name="Lace", time=44.7) != []  # a new kill after the window


async def test_a_kill_without_the_games_time_settles_when_the_window_ends(game: Script) -> None:
    game("boss_encounter", boss_name="Lace", phase="start")
    await game.wait(40)
    game("boss_encounter", boss_name="Lace", phase="defeated")
    assert game.deriver.due() == 70.0
    await game.wait(WINDOW - 0.001)
    assert game.deriver.expire() == []
    await game.wait(0.001)
    [result] = game.deriver.expire()
    assert isinstance(result, FightResult) and (result.time, result.time_source) == (40.0, "bus")
    assert result.at == 70.0 and game.deriver.due() is None


async def test_outside_the_window_a_report_is_a_new_kill_with_no_start_seen(game: Script) -> None:
    game("boss_encounter", boss_name="Lace", phase="start")
    await game.wait(40)
    game("boss_encounter", boss_name="Lace", phase="defeated")
    await game.wait(31)
    facts = game("boss_defeated", boss_name="Lace", time=39.5)
    # The first kill settles with the bus time, then the late report is a kill of its own.
    assert kinds(facts) == ["fight_result", "fight_ended", "fight_result"]
    assert isinstance(facts[0], FightResult) and facts[0].time == 40.0
    assert isinstance(facts[2], FightResult) and facts[2].time == 39.5 and not facts[2].started_seen


async def test_a_game_timed_first_report_settles_at_once_and_the_second_is_ignored(game: Script) -> None:
    game("boss_encounter", boss_name="Lace", phase="start")
    await game.wait(40)
    assert kinds(game("boss_defeated", boss_name="Lace", time=39.9)) == ["fight_ended", "fight_result"]
    await game.wait(3)
    assert game("boss_encounter", boss_name="Lace", phase="defeated") == []


def test_health_heal_abilities_and_items(game: Script) -> None:
    game("player_update", health_current=5, health_max=5)
    game("combat_damage", damage=2, is_player_damage=True, player_health_remaining=3)
    facts = game("player_update", health_current=4, health_max=5)
    assert isinstance(facts[0], Healed) and facts[0].amount == 1
    assert game("player_update", health_current=4) == []
    [gained] = game("ability_unlocked", ability="swift step")
    assert isinstance(gained, AbilityGained) and gained.name == "Swift Step" and gained.known
    assert kinds(game("item_collected", item_name="Rosary String")) == ["item_collected"]
    assert kinds(game("item_collected", item_name="Swift Step")) == ["item_collected", "ability_gained"]


async def test_the_stream_derives_once_and_settles_on_its_own_timer() -> None:
    clock = ManualClock()
    hub = Hub(clock)
    stream = FactStream(hub, FactDeriver(clock, WINDOW))
    seen: list[Fact] = []
    stream.add_listener(seen.append)
    await stream.start()
    try:
        hub.emit("boss_encounter", {"boss_name": "Lace", "phase": "start"})
        await clock.advance(20)
        hub.emit("boss_encounter", {"boss_name": "Lace", "phase": "defeated"})
        assert kinds(seen) == ["fight_started", "fight_ended"]
        await clock.advance(WINDOW)
        assert kinds(seen) == ["fight_started", "fight_ended", "fight_result"]
        assert isinstance(seen[-1], FightResult) and seen[-1].time == 20.0
        assert seen[-1].as_dict()["kind"] == "fight_result"
    finally:
        await stream.stop()


def test_stream_listeners_are_called_in_order_until_removed_and_one_failing_stops_none() -> None:
    hub = Hub(ManualClock())
    stream = FactStream(hub, FactDeriver(hub.clock, WINDOW))
    calls: list[str] = []

    def failing(fact: Fact) -> None:
        calls.append("failing")
        raise RuntimeError("a broken part")

    def second(fact: Fact) -> None:
        calls.append(f"second {fact.kind}")

    stream.add_listener(failing)
    stream.add_listener(second)
    hub.emit("combat_damage", {"damage": 3, "is_player_damage": False})
    assert calls == ["failing", "second damage_dealt"]
    stream.remove_listener(failing)
    hub.emit("combat_damage", {"damage": 2, "is_player_damage": True, "health_remaining": 4})
    assert calls[2:] == ["second damage_taken", "second health_changed"]
    stream.remove_listener(second)
    hub.emit("combat_damage", {"damage": 1})
    assert len(calls) == 4


def test_facts_and_events_made_by_the_quick_init_behave_as_dataclasses() -> None:
    """Facts, drafts and events keep their dataclass contract: keyword-only facts, defaults, equality
    and hashing by value, and no field can be changed afterwards."""
    hit = DamageDealt(seq=3, timestamp="2026-01-01T00:00:00.000Z", at=1.0, amount=2, enemy="Crawler",
                      in_fight=False)
    assert hit.event is None
    assert hit == DamageDealt(seq=3, timestamp="2026-01-01T00:00:00.000Z", at=1.0, amount=2,
                              enemy="Crawler", in_fight=False)
    assert len({hit, dataclasses.replace(hit)}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        hit.amount = 5  # type: ignore[misc]
    with pytest.raises(TypeError, match="keyword-only"):
        DamageDealt(seq=3, timestamp="t", at=1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional"):
        DamageDealt(3, "t", 1.0, None, 2, None, False)  # type: ignore[misc]
    room = RoomEntered(seq=1, timestamp="t", at=0.0, room="Tut_01", from_room=None, area=None, region=None)
    assert (room.load_seconds, room.respawn, room.first) == (0.0, False, False)
    assert Draft("combat_damage", {}).origin == "live"
    event = Event(1, "combat_damage", {}, "t", 0.0, b"{}")
    assert event.origin == "live"
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.seq = 2  # type: ignore[misc]
