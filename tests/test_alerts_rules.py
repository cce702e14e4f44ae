"""Custom rules: conditions, templates over event + session state, variations, cooldowns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alerts_rig import ALL_DETECTORS_OFF, Rig

from dxbus.alerts.conditions import Condition

BIG_HIT = {
    "Name": "big_hit", "Event": "combat_damage",
    "Conditions": [{"Field": "is_player_damage", "Op": "==", "Value": True},
                   {"Field": "damage", "Op": ">=", "Value": 2, "Type": "number"}],
    "Message": "Ouch: {{ data.damage }} from {{ data.source }} ({{ deaths.session }} deaths)",
    "Sound": "alert.wav", "Volume": 0.5, "Duration": 2.5, "Priority": 10, "Style": "hit",
    "Variations": [{"Conditions": [{"Field": "damage", "Op": ">=", "Value": 5}],
                    "Message": "MASSIVE HIT {{ data.damage }}", "Style": "big", "Priority": 95},
                   {"Conditions": [{"Field": "damage", "Op": ">=", "Value": 3}],
                    "Message": "Big hit {{ data.damage }}"}],
}


async def rig_with(tmp_path: Path, *rules: dict[str, Any], **alerts: Any) -> Rig:
    return await Rig(tmp_path, {"Detectors": ALL_DETECTORS_OFF, "Rules": list(rules), **alerts}).start()


async def test_rule_fires_with_its_sound_volume_duration_and_template(tmp_path: Path) -> None:
    rig = await rig_with(tmp_path, BIG_HIT)
    await rig.emit("player_death", location="Bone_05")
    await rig.emit("combat_damage", damage=2, source="Lace", is_player_damage=True)
    [(_, alert)] = rig.shown
    assert alert["message"] == "Ouch: 2 from Lace (1 deaths)"
    assert alert["rule"] == "big_hit" and alert["sound"] == "/static/sounds/alert.wav"
    assert alert["volume"] == 0.5 and alert["duration"] == 2.5
    assert alert["style"] == "hit" and alert["priority"] == 10 and alert["count"] == 1
    assert set(alert) >= {"id", "rule", "message", "sound", "volume", "duration", "style", "priority",
                          "count"}
    await rig.stop()


async def test_conditions_that_fail_do_not_fire(tmp_path: Path) -> None:
    rig = await rig_with(tmp_path, BIG_HIT)
    await rig.emit("combat_damage", damage=1, is_player_damage=True)  # too small
    await rig.emit("combat_damage", damage=9, is_player_damage=False)  # the enemy's damage
    await rig.emit("combat_damage", damage="9", is_player_damage=True)  # wrong type
    await rig.emit("enemy_killed", damage=9, is_player_damage=True)  # other event type
    assert rig.shown == []
    await rig.stop()


async def test_variations_by_threshold_first_match_wins(tmp_path: Path) -> None:
    rig = await rig_with(tmp_path, {**BIG_HIT, "Cooldown": 0}, GapSeconds=0)
    for damage in (2, 3, 6):
        await rig.emit("combat_damage", damage=damage, source="x", is_player_damage=True)
        await rig.advance(3)
    assert rig.messages == ["Ouch: 2 from x (0 deaths)", "Big hit 3", "MASSIVE HIT 6"]
    styles = [(a["style"], a["priority"]) for _, a in rig.shown]
    assert styles == [("hit", 10), ("hit", 10), ("big", 95)]
    await rig.stop()


async def test_cooldown_suppresses_repeats_until_it_passes(tmp_path: Path) -> None:
    rig = await rig_with(tmp_path, {**BIG_HIT, "Cooldown": 10, "Duration": 1}, GapSeconds=0)
    await rig.emit("combat_damage", damage=2, is_player_damage=True)
    await rig.advance(5)
    await rig.emit("combat_damage", damage=2, is_player_damage=True)  # in cooldown
    await rig.advance(5.5)
    await rig.emit("combat_damage", damage=2, is_player_damage=True)  # 10.5 s later
    await rig.advance(2)
    assert [t for t, _ in rig.shown] == [0.0, 10.5]
    statuses = [h["status"] for h in rig.service.queue.history]
    assert statuses == ["shown", "cooldown", "shown"]
    await rig.stop()


async def test_templates_see_session_state_and_nested_fields(tmp_path: Path) -> None:
    rule = {"Name": "pb", "Event": "custom_event",
            "Conditions": [{"Field": "info.kind", "Op": "in", "Value": ["pb", "gold"]},
                           {"Field": "info.tags", "Op": "contains", "Value": "any%"},
                           {"Field": "runner", "Op": "regex", "Value": "^[A-Z]"}],
            "Message": "{{ data.runner }}: {{ data.info.kind|upper }} in {{ data.time|duration }}"}
    rig = await rig_with(tmp_path, rule)
    await rig.emit("custom_event", runner="Hornet", time=3725.25, info={"kind": "pb", "tags": ["any%"]})
    await rig.emit("custom_event", runner="hornet", time=1, info={"kind": "pb", "tags": ["any%"]})
    assert rig.messages == ["Hornet: PB in 1:02:05.2"]
    await rig.stop()


@pytest.mark.parametrize(("op", "value", "actual", "expected"), [
    ("==", 3, 3, True), ("==", 3, 4, False), ("!=", "a", "b", True), ("!=", "a", "a", False),
    ("<", 5, 4, True), ("<", 5, 5, False), ("<=", 5, 5, True), ("<=", 5, 6, False),
    (">", 5, 6, True), (">", 5, 5, False), (">=", 5, 5, True), (">=", 5, 4.9, False),
    (">", 5, "6", False), (">", 5, True, False),
    ("in", ["Lace", "Moss Mother"], "Lace", True), ("in", ["Lace"], "Widow", False),
    ("contains", "Bone", "Bone_East_12", True), ("contains", "Dock", "Bone_05", False),
    ("contains", "b", ["a", "b"], True), ("contains", "c", ["a", "b"], False),
    ("regex", r"^Bone_\d+$", "Bone_05", True), ("regex", r"^Bone_\d+$", "Bone_East_12", False),
    ("regex", "x", 5, False),
])
def test_every_operator(op: str, value: Any, actual: Any, expected: bool) -> None:
    condition = Condition.model_validate({"Field": "f", "Op": op, "Value": value})
    assert condition.matches({"f": actual}) is expected
    assert condition.matches({}) is False  # a missing field never matches


def test_declared_field_types_filter_values() -> None:
    number = Condition.model_validate({"Field": "f", "Op": "!=", "Value": 0, "Type": "number"})
    assert number.matches({"f": 2}) and not number.matches({"f": "2"})
    flag = Condition.model_validate({"Field": "f", "Value": True, "Type": "boolean"})
    assert flag.matches({"f": True}) and not flag.matches({"f": 1})


async def test_test_fire_uses_the_latest_event_and_skips_cooldown(tmp_path: Path) -> None:
    rig = await rig_with(tmp_path, {**BIG_HIT, "Cooldown": 60, "Duration": 1}, GapSeconds=0)
    await rig.emit("combat_damage", damage=4, source="Lace", is_player_damage=True)
    outcome, _ = rig.service.fire_test("big_hit")
    assert outcome == "queued"
    await rig.advance(1.5)
    assert rig.messages == ["Big hit 4", "Big hit 4"]
    assert rig.shown[1][1]["test"] is True
    outcome, alert = rig.service.fire_test("BigHit", {"damage": 7})
    assert alert.message == "MASSIVE HIT 7"
    with pytest.raises(KeyError):
        rig.service.fire_test("nope")
    await rig.stop()


async def test_every_detector_can_be_test_fired(tmp_path: Path) -> None:
    rig = await Rig(tmp_path).start()
    for name in ("boss_defeated", "perfect_room", "speed_room", "death", "low_health", "new_area",
                 "ability_obtained", "no_damage_streak"):
        _, alert = rig.service.fire_test(name)
        assert alert.message and alert.message != "-", name
        assert alert.sound.startswith("/static/sounds/"), name
    _, boss = rig.service.fire_test("BossDefeated")
    assert boss.message == "Lace defeated in 1:23.4 \u2014 NEW BEST!"
    await rig.stop()


async def test_a_boss_kill_reported_only_by_boss_encounter_still_alerts(tmp_path: Path) -> None:
    rig = await Rig(tmp_path).start()
    await rig.emit("boss_encounter", boss_name="Lace", phase="start")
    await rig.advance(65)
    await rig.emit("boss_encounter", boss_name="Lace", phase="defeated")
    assert rig.shown == []  # waits for a boss_defeated with the game's time
    await rig.advance(29.9)
    assert rig.shown == []
    await rig.advance(0.1)  # the [Facts] KillPairingSeconds window: the bus clock's time stands
    assert rig.messages == ["Lace defeated in 1:05.0"]
    assert rig.shown[0][0] == 95.0
    await rig.stop()


async def test_a_boss_kill_reported_twice_alerts_once_with_the_games_time(tmp_path: Path) -> None:
    rig = await Rig(tmp_path).start()
    await rig.emit("boss_encounter", boss_name="Lace", phase="start")
    await rig.advance(65)
    await rig.emit("boss_encounter", boss_name="Lace", phase="defeated")
    await rig.emit("boss_defeated", boss_name="Lace", time=64.5)
    await rig.advance(30)
    assert rig.messages == ["Lace defeated in 1:04.5"]
    await rig.stop()


async def test_master_volume_and_merge_without_a_merge_message(tmp_path: Path) -> None:
    rule = {"Name": "kill", "Event": "enemy_killed", "Message": "{{ data.enemy_name }} down",
            "Stale": "merge", "Volume": 0.5, "Duration": 2}
    rig = await rig_with(tmp_path, rule, MasterVolume=0.5)
    await rig.emit("player_death", location="Bone_05")  # detectors are off: nothing
    await rig.emit("enemy_killed", enemy_name="Mossgrub")
    for name in ("Mossgrub", "Mossmir", "Pilgrim"):
        await rig.emit("enemy_killed", enemy_name=name)
    await rig.advance(10)
    assert rig.messages == ["Mossgrub down", "Pilgrim down (\u00d73)"]
    assert [a["volume"] for _, a in rig.shown] == [0.25, 0.25]
    assert [a["count"] for _, a in rig.shown] == [1, 3]
    await rig.stop()


async def test_a_template_that_fails_at_run_time_falls_back_to_the_rule_name(tmp_path: Path) -> None:
    rule = {"Name": "odd", "Event": "custom_event", "Message": "{{ data.n / 0 }}"}
    rig = await rig_with(tmp_path, rule)
    await rig.emit("custom_event", n=1)
    assert rig.messages == ["odd"]
    await rig.stop()
