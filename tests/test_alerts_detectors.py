"""Built-in detectors, fed the facts of scripted events on a ManualClock (no hub, no sockets)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from dxbus.alerts.config import AlertsSection
from dxbus.alerts.detectors import DetectorSet, Trigger
from dxbus.clock import ManualClock
from dxbus.events import Draft, make_event
from dxbus.facts import FactDeriver


class Feed:
    """A DetectorSet on a fact deriver, plus a scripted event source on a manual clock."""

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        self.clock = ManualClock()
        self.config = AlertsSection.model_validate({"Detectors": overrides or {}})
        self.facts = FactDeriver(self.clock, 30.0)
        self.detectors = DetectorSet(self.config.detectors, self.facts)
        self._seq = itertools.count(1)

    def __call__(self, event_type: str, **data: Any) -> list[Trigger]:
        clock = self.clock
        event = make_event(Draft(event_type, data), next(self._seq), clock.monotonic(), clock.time())
        return self.settle(self.facts.apply(event))

    def settle(self, facts: list[Any] | None = None) -> list[Trigger]:
        """The triggers of `facts` (default: kills whose pairing window has ended by now)."""
        facts = self.facts.expire() if facts is None else facts
        return [t for fact in facts for t in self.detectors.on_fact(fact)]

    async def wait(self, seconds: float) -> None:
        await self.clock.advance(seconds)

    def enter(self, scene: str, **extra: Any) -> list[Trigger]:
        return self("scene_transition", to_scene=scene, **extra)


def rules(triggers: list[Trigger]) -> list[str]:
    return [t.rule for t in triggers]


@pytest.fixture
def feed() -> Feed:
    return Feed()


async def test_boss_defeated_reports_fight_time_first_kill_and_new_best(feed: Feed) -> None:
    feed.enter("Bone_East_12")
    feed("boss_encounter", boss_name="Lace", phase="start")
    await feed.wait(80)
    [first] = feed("boss_defeated", boss_name="Lace", time=80.0)
    assert first.rule == "boss_defeated"
    assert first.fields["fight_time"] == 80.0
    assert first.fields["first_kill"] is True and first.fields["new_best"] is False
    await feed.wait(60)
    [slower] = feed("boss_defeated", boss_name="Lace", time=90.0)
    assert slower.fields["new_best"] is False and slower.fields["previous_best"] == 80.0
    await feed.wait(60)
    [faster] = feed("boss_defeated", boss_name="Lace", time=70.5)
    assert faster.fields["new_best"] is True and faster.fields["previous_best"] == 80.0


async def test_boss_defeat_reported_twice_alerts_once_with_the_games_time(feed: Feed) -> None:
    feed("boss_encounter", boss_name="Moss Mother", phase="start")
    await feed.wait(42)
    # No alert yet: the kill waits for the boss_defeated that carries the game's time.
    assert feed("boss_encounter", boss_name="Moss Mother", phase="defeated") == []
    await feed.wait(12)
    [trigger] = feed("boss_defeated", boss_name="Moss Mother", time=41.25)
    assert trigger.fields["fight_time"] == 41.25
    await feed.wait(5)  # still inside the 30 s window of the first report: the same kill
    assert feed("boss_defeated", boss_name="Moss Mother", time=41.25) == []
    await feed.wait(40)
    assert feed.settle() == []


async def test_boss_defeat_without_boss_defeated_times_from_the_clock(feed: Feed) -> None:
    feed("boss_encounter", boss_name="Lace", phase="start")
    await feed.wait(30)
    assert feed("boss_encounter", boss_name="Lace", phase="defeated") == []
    await feed.wait(30)  # the pairing window
    [trigger] = feed.settle()
    assert trigger.rule == "boss_defeated" and trigger.fields["fight_time"] == 30.0
    assert trigger.fields["first_kill"] is True


async def test_perfect_room_needs_a_fight_and_no_damage(feed: Feed) -> None:
    feed.enter("Bone_05")
    for _ in range(3):
        feed("enemy_killed", enemy_name="Mossgrub")
    await feed.wait(20)
    triggers = feed.enter("Bone_06")
    assert rules(triggers) == ["perfect_room"]
    assert triggers[0].fields["kills"] == 3 and triggers[0].fields["room"] == "Bone_05"
    # Damage taken: no perfect room.
    for _ in range(3):
        feed("enemy_killed", enemy_name="Mossgrub")
    feed("combat_damage", damage=1, is_player_damage=True, player_health_remaining=4)
    await feed.wait(20)
    assert rules(feed.enter("Bone_07")) == []
    # Too few kills is not a fight.
    feed("enemy_killed", enemy_name="Mossgrub")
    await feed.wait(20)
    assert "perfect_room" not in rules(feed.enter("Bone_08"))


async def test_a_boss_fight_without_damage_is_a_perfect_room(feed: Feed) -> None:
    feed.enter("Tut_03")
    feed("boss_encounter", boss_name="Moss Mother", phase="start")
    await feed.wait(30)
    feed("boss_defeated", boss_name="Moss Mother", time=30.0)
    await feed.wait(5)
    assert "perfect_room" in rules(feed.enter("Tut_04"))


async def test_speed_room_uses_the_clock_or_the_games_scene_time(feed: Feed) -> None:
    feed.enter("Bone_05")
    await feed.wait(2.5)
    [speed] = [t for t in feed.enter("Bone_06") if t.rule == "speed_room"]
    assert speed.fields["room_time"] == 2.5 and speed.fields["room"] == "Bone_05"
    await feed.wait(10)
    assert "speed_room" not in rules(feed.enter("Bone_07"))
    # The game's own scene time wins over the bus clock.
    await feed.wait(1)
    assert "speed_room" not in rules(feed.enter("Bone_08", total_scene_time=9.0))


async def test_the_first_room_and_respawns_are_not_speed_rooms(feed: Feed) -> None:
    assert feed.enter("Bone_05") == []  # first room: nothing to time
    await feed.wait(1)
    feed("player_death", location="Bone_05", cause="spikes")
    assert "speed_room" not in rules(feed.enter("Bone_04"))


async def test_death_carries_room_streak_and_resets_on_progress(feed: Feed) -> None:
    feed.enter("Bone_East_12")
    [one] = feed("player_death", location="Bone_East_12", cause="Lace")
    assert one.rule == "death"
    assert one.fields["streak"] == 1 and one.fields["room"] == "Bone_East_12"
    assert one.fields["area"] == "Deep Docks" and one.fields["cause"] == "Lace"
    await feed.wait(30)
    [two] = feed("player_death", location="Bone_East_12", cause="Lace")
    assert two.fields["streak"] == 2 and two.fields["room_deaths"] == 2
    feed("boss_defeated", boss_name="Lace", time=60.0)
    [three] = feed("player_death", location="Bone_05")
    assert three.fields["streak"] == 1 and three.fields["session_deaths"] == 3


async def test_low_health_fires_once_per_dip_to_one_mask(feed: Feed) -> None:
    assert feed("player_update", health_current=5, health_max=5) == []
    [low] = feed("player_update", health_current=1, health_max=5)
    assert low.rule == "low_health" and low.fields["health"] == 1
    assert feed("player_update", health_current=1, health_max=5) == []
    feed("player_update", health_current=3, health_max=5)
    assert rules(feed("combat_damage", damage=2, is_player_damage=True, player_health_remaining=1)) == [
        "low_health"]
    # A one-mask maximum is not "low".
    feed("player_update", health_current=5, health_max=5)
    assert feed("player_update", health_current=1, health_max=1) == []


async def test_new_area_skips_the_starting_area(feed: Feed) -> None:
    assert feed.enter("Bone_05") == []  # The Marrow: where the session starts
    await feed.wait(30)
    assert "new_area" not in rules(feed.enter("Bone_06"))
    await feed.wait(30)
    [area] = [t for t in feed.enter("Dock_01") if t.rule == "new_area"]
    assert area.fields["area"] == "Deep Docks"
    await feed.wait(30)
    feed.enter("Bone_06")
    await feed.wait(30)
    assert "new_area" not in rules(feed.enter("Dock_01"))


async def test_ability_obtained_from_items_and_unlock_events(feed: Feed) -> None:
    [ability] = feed("item_collected", item_name="swift step", quantity=1)
    assert ability.rule == "ability_obtained" and ability.fields["ability"] == "Swift Step"
    assert feed("item_collected", item_name="Swift Step") == []
    assert feed("item_collected", item_name="Rosary String") == []
    assert rules(feed("ability_unlocked", ability="Clawline")) == ["ability_obtained"]
    assert rules(feed("item_collected", item_name="Mod Thing", kind="ability")) == ["ability_obtained"]


async def test_no_damage_streak_every_n_rooms_reset_by_a_hit(feed: Feed) -> None:
    scenes = iter(f"Bone_{i:02d}" for i in range(1, 40))
    feed.enter(next(scenes))
    fired = []
    for _ in range(5):
        await feed.wait(20)
        fired += [t for t in feed.enter(next(scenes)) if t.rule == "no_damage_streak"]
    assert [t.fields["streak"] for t in fired] == [5]
    feed("combat_damage", damage=1, is_player_damage=True)
    for _ in range(4):
        await feed.wait(20)
        assert "no_damage_streak" not in rules(feed.enter(next(scenes)))
    for _ in range(6):
        await feed.wait(20)
        fired += [t for t in feed.enter(next(scenes)) if t.rule == "no_damage_streak"]
    # The hit room broke the streak; 5 clean rooms after it fire again.
    assert [t.fields["streak"] for t in fired] == [5, 5]


async def test_thresholds_and_switches_come_from_the_config() -> None:
    feed = Feed({"SpeedRoom": {"Seconds": 10}, "Death": {"Enabled": False},
                 "NoDamageStreak": {"Rooms": 2}})
    feed.enter("Bone_05")
    await feed.wait(8)
    assert rules(feed.enter("Bone_06")) == ["speed_room"]
    await feed.wait(20)
    assert rules(feed.enter("Bone_07")) == ["no_damage_streak"]
    assert feed("player_death", location="Bone_07") == []


async def test_seeding_from_the_session_state(feed: Feed) -> None:
    feed.detectors.seed({"bosses": {"Lace": {"best": 75.0}}, "scene": {"visited": ["Dock_01"]},
                         "abilities": ["Swift Step"]})
    [kill] = feed("boss_defeated", boss_name="Lace", time=74.0)
    assert kill.fields["new_best"] is True and kill.fields["previous_best"] == 75.0
    assert feed("item_collected", item_name="Swift Step") == []
    await feed.wait(1)
    assert "new_area" not in rules(feed.enter("Dock_02"))
