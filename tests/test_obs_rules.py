"""Scene rules and the director, pure: no OBS, no bus, time passed in as numbers."""

from __future__ import annotations

import pytest

from dxbus.config import ConfigError, load_config
from dxbus.obs.actions import SetItemEnabled, SetText, actions_for, render
from dxbus.obs.scene_rules import Director, RuleSet, compile_rules
from dxbus.obs.settings import ObsSection

GUIDE_SCENE_MAP = {"MainMenu": "Menu Scene", "Boss_": "Boss Fight Scene",
                   "Cutscene_": "Cutscene Scene", "_Shop": "Shop Scene"}


def section(rules: list[dict] | None = None, **keys) -> ObsSection:
    """An [OBS] section as a config file would give it (PascalCase keys), validated."""
    return load_config(None, {"OBS": {"Rules": rules or [], **keys}}).obs


def director(rules: list[dict], live: str = "Gameplay", **keys) -> Director:
    sec = section(rules, **keys)
    d = Director(RuleSet(compile_rules(sec), sec.menu_rooms), sec)
    d.on_connected(live, 0.0)
    return d


def room(d: Director, name: str, now: float) -> None:
    d.on_event("scene_transition", {"from_scene": "x", "to_scene": name}, now)


def run(d: Director, now: float) -> list[str]:
    """Perform every switch due at `now` (as the service would, OBS answering OK)."""
    done = []
    while (switch := d.step(now)) is not None:
        d.done(switch, now)
        done.append(switch.scene)
    return done


MATCH_RULES = [
    {"Exact": "Menu_Title", "Scene": "Menu Scene"},
    {"Prefix": "Boss_", "Scene": "Boss Fight Scene"},
    {"Suffix": "_Shop", "Scene": "Shop Scene"},
    {"Contains": "Cutscene", "Scene": "Cutscene Scene"},
    {"Regex": "Bone_0[0-9]", "Scene": "Regex Scene"},
    {"Glob": "Bone_*", "Scene": "Glob Scene"},
    {"Prefix": "greymoor", "IgnoreCase": True, "Scene": "Greymoor Scene"},
]


@pytest.mark.parametrize(("name", "scene"), [
    ("Menu_Title", "Menu Scene"),
    ("Menu_Title2", None),             # exact means exact
    ("Boss_Lace", "Boss Fight Scene"),
    ("Boss_Shop", "Boss Fight Scene"),  # prefix comes before suffix: first match wins
    ("Bellhart_Shop", "Shop Scene"),
    ("Room_Cutscene_Intro", "Cutscene Scene"),
    ("Bone_05", "Regex Scene"),         # regex before glob: first match wins
    ("Bone_05b", "Glob Scene"),         # regex matches the whole name only
    ("Bone_East_10", "Glob Scene"),
    ("Greymoor_03", "Greymoor Scene"),  # IgnoreCase
    ("Tut_01", None),
])
def test_match_kinds_and_first_match_wins(name: str, scene: str | None) -> None:
    rules = RuleSet(compile_rules(section(MATCH_RULES)))
    rules.observe("scene_transition", {"to_scene": name}, 0.0)
    winner = rules.winner(0.0)
    assert (winner.scene if winner else None) == scene


def test_usage_guide_scene_map_works_as_written() -> None:
    # The guide's JS loops over the map and uses scene.includes(pattern): contains, in order.
    rules = RuleSet(compile_rules(section(SceneMap=GUIDE_SCENE_MAP)))
    expected = {"MainMenu": "Menu Scene", "Boss_Lace": "Boss Fight Scene", "Boss_Shop": "Boss Fight Scene",
                "Cutscene_Intro": "Cutscene Scene", "Bellhart_Shop": "Shop Scene",
                "Pre_Boss_Room": "Boss Fight Scene", "Tut_01": None}
    for name, scene in expected.items():
        rules.observe("scene_transition", {"to_scene": name}, 0.0)
        winner = rules.winner(0.0)
        assert (winner.scene if winner else None) == scene, name


def test_bad_rules_are_left_out_with_a_message_naming_the_key() -> None:
    bad = section([{"Regex": "(", "Scene": "A"}, {"Prefix": "a", "Suffix": "b", "Scene": "A"},
                   {"Prefix": "a"}, {"Scne": "A", "Scene": "A"}, {"Prefix": "Boss_", "Scene": "Boss"}])
    assert [r.scene for r in bad.rules] == ["Boss"]  # the good rule still works
    errors = bad.rule_errors
    assert len(errors) == 4
    assert errors[0].startswith("[OBS] Rules.1.Regex = '(': invalid regular expression")
    assert "Rules.2" in errors[1] and "at most one of" in errors[1]
    assert "Rules.3" in errors[2] and "needs a Scene or an action" in errors[2]
    assert errors[3] == "[OBS] Rules.4.Scne: unknown key (did you mean Scene?); this rule is left out"
    with pytest.raises(ConfigError, match="preview"):  # the section itself is still checked strictly
        section(StudioMode="both")


def test_switches_only_when_the_winner_changes_and_never_to_the_live_scene() -> None:
    d = director([{"Prefix": "Boss_", "Scene": "Boss Fight Scene"}, {"Scene": "Gameplay"}])
    room(d, "Tut_01", 1)
    assert run(d, 1) == []  # Gameplay is already live
    assert not d.history
    room(d, "Boss_Lace", 2)
    assert run(d, 2) == ["Boss Fight Scene"]
    assert "rule 1 (Prefix 'Boss_') matched room 'Boss_Lace'" in d.history[-1].reason
    room(d, "Boss_Lace_2", 3)  # same scene: nothing to do
    assert run(d, 3) == [] and d.pending is None
    room(d, "Tut_02", 4)
    assert run(d, 4) == ["Gameplay"]


def test_min_dwell_holds_back_flapping_rooms() -> None:
    d = director([{"Prefix": "A_", "Scene": "Scene A", "MinDwellSeconds": 3},
                  {"Prefix": "B_", "Scene": "Scene B", "MinDwellSeconds": 3}])
    room(d, "A_1", 0)
    assert run(d, 0) == ["Scene A"]
    for t, name in [(0.5, "B_1"), (1.0, "A_1"), (1.5, "B_1"), (2.0, "A_1")]:
        room(d, name, t)
        assert run(d, t) == []  # flapping: held by the dwell, or back on the live scene
    assert d.pending is None  # ended in A_: nothing left to do
    room(d, "B_1", 2.5)
    assert run(d, 2.5) == [] and d.next_wakeup(2.5) == 3.0
    assert any(r.outcome.startswith("held: minimum dwell") for r in d.history)
    assert run(d, 3.0) == ["Scene B"]


def test_delay_is_cancelled_when_the_trigger_ends_first() -> None:
    d = director([{"On": "boss", "Scene": "Boss Fight Scene", "DelaySeconds": 2}])
    d.on_event("boss_encounter", {"boss_name": "Lace", "phase": "start"}, 0)
    assert run(d, 0) == [] and d.next_wakeup(0) == 2
    d.on_event("boss_defeated", {"boss_name": "Lace", "time": 1.0}, 1)  # over before the delay
    assert run(d, 2) == []
    assert d.history[-1].outcome == "cancelled: trigger ended first"
    d.on_event("boss_encounter", {"boss_name": "Lace", "phase": "start"}, 10)
    assert run(d, 11) == [] and run(d, 12) == ["Boss Fight Scene"]


def test_boss_fight_switches_and_returns_to_the_previous_scene() -> None:
    d = director([{"On": "boss", "Scene": "Boss Fight Scene", "ReturnToPrevious": True},
                  {"Prefix": "Boss_", "Scene": "Arena Scene"}], live="Just Gameplay")
    d.on_event("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"}, 0)
    assert run(d, 0) == ["Boss Fight Scene"]
    assert d.return_target == "Just Gameplay"
    d.on_event("boss_encounter", {"boss_name": "Moss Mother", "phase": "phase_change"}, 5)
    assert run(d, 5) == []
    d.on_event("boss_defeated", {"boss_name": "Moss Mother", "time": 42.0}, 9)
    assert run(d, 9) == ["Just Gameplay"]
    assert d.history[-1].reason.startswith("return after rule 1 (On boss) ended")
    # A death also ends the fight.
    d.on_event("boss_encounter", {"boss_name": "Lace", "phase": "start"}, 20)
    assert run(d, 20) == ["Boss Fight Scene"]
    d.on_event("player_death", {"location": "Boss_Lace", "cause": "Lace"}, 25)
    assert run(d, 25) == ["Just Gameplay"]


def test_fight_ending_while_the_switch_is_in_flight_still_returns() -> None:
    d = director([{"On": "boss", "Scene": "Boss Fight Scene", "ReturnToPrevious": True}])
    d.on_event("boss_encounter", {"boss_name": "Lace", "phase": "start"}, 0)
    switch = d.step(0)
    assert switch is not None and switch.scene == "Boss Fight Scene"
    d.on_event("boss_defeated", {"boss_name": "Lace"}, 0.001)  # before OBS answered
    d.done(switch, 0.002)
    assert run(d, 0.002) == ["Gameplay"]
    assert "cancelled" not in " ".join(r.outcome for r in d.history)


def test_room_rule_returns_when_the_player_leaves_the_room() -> None:
    d = director([{"Suffix": "_Shop", "Scene": "Shop Scene", "ReturnToPrevious": True},
                  {"Prefix": "Tut_", "Scene": "Tutorial"}], live="Just Gameplay")
    room(d, "Bellhart_Shop", 0)
    assert run(d, 0) == ["Shop Scene"]
    room(d, "Bellhart_01", 1)  # no other rule matches: back to what was live
    assert run(d, 1) == ["Just Gameplay"]
    room(d, "Bellhart_Shop", 2)
    assert run(d, 2) == ["Shop Scene"]
    room(d, "Tut_01", 3)  # a later rule matches, but the return comes first
    assert run(d, 3) == ["Just Gameplay"]


def test_leaving_the_arena_ends_the_fight() -> None:
    d = director([{"On": "boss", "Scene": "Boss Fight Scene", "ReturnToPrevious": True}])
    room(d, "Bone_05", 0)
    d.on_event("boss_encounter", {"boss_name": "Bell Beast", "phase": "start"}, 1)
    assert run(d, 1) == ["Boss Fight Scene"]
    room(d, "Bone_04", 2)  # ran away
    assert run(d, 2) == ["Gameplay"]


def test_return_waits_for_an_earlier_rule_that_took_over() -> None:
    d = director([{"On": "death", "Scene": "Death Cam", "HoldSeconds": 4},
                  {"On": "boss", "Scene": "Boss Fight Scene", "ReturnToPrevious": True}])
    d.on_event("boss_encounter", {"boss_name": "Lace", "phase": "start"}, 0)
    assert run(d, 0) == ["Boss Fight Scene"]
    d.on_event("player_death", {"location": "Boss_Lace"}, 5)  # ends the fight, death cam first
    assert run(d, 5) == ["Death Cam"]
    assert d.next_wakeup(5) == 9
    d.reevaluate(9)
    assert run(d, 9) == ["Gameplay"]


def test_manual_change_pauses_automation_then_the_latest_decision_applies() -> None:
    d = director([{"Prefix": "A_", "Scene": "Scene A"}, {"Prefix": "B_", "Scene": "Scene B"}],
                 ManualPauseSeconds=30)
    room(d, "A_1", 0)
    assert run(d, 0) == ["Scene A"]
    assert d.on_obs_scene("Scene A", 0.05) is False  # our own switch echoed back
    assert d.on_obs_scene("Just Chatting", 1) is True
    room(d, "B_1", 5)
    assert run(d, 5) == []
    assert "paused" in d.history[-1].outcome
    assert d.next_wakeup(5) == 31
    assert run(d, 31) == ["Scene B"]


def test_manual_change_cancels_a_pending_switch() -> None:
    d = director([{"Prefix": "A_", "Scene": "Scene A", "DelaySeconds": 5}], ManualPauseSeconds=0)
    room(d, "A_1", 0)
    d.on_obs_scene("Other", 1)
    assert d.pending is None and run(d, 5) == []


def test_protected_scene_holds() -> None:
    d = director([{"Prefix": "A_", "Scene": "Scene A"}], live="BRB", ManualPauseSeconds=0)
    room(d, "A_1", 0)
    assert run(d, 0) == [] and d.next_wakeup(0) is None
    assert d.history[-1].outcome == "held: 'BRB' is a protected scene"
    room(d, "A_2", 1)
    assert run(d, 1) == []
    d.on_obs_scene("Gameplay", 2)  # the streamer leaves BRB
    room(d, "A_3", 3)
    assert run(d, 3) == ["Scene A"]


def test_reconnect_reapplies_what_the_rules_want() -> None:
    d = director([{"Prefix": "A_", "Scene": "Scene A", "DelaySeconds": 9}])
    room(d, "A_1", 0)
    d.on_disconnected()
    assert run(d, 10) == []
    d.on_connected("Scene", 11)  # OBS restarted on its default scene; no delay on re-apply
    assert run(d, 11) == ["Scene A"]
    assert "re-applied on connect" in d.history[-1].reason


def test_menu_pause_and_event_triggers() -> None:
    d = director([{"On": "pause", "Scene": "Paused"}, {"On": "menu", "Scene": "Menu Scene"},
                  {"On": "item_collected", "Field": "item_name", "Contains": "Mask", "Scene": "Loot",
                   "HoldSeconds": 3},
                  {"Scene": "Gameplay"}])
    room(d, "Menu_Title", 0)
    assert run(d, 0) == ["Menu Scene"]
    room(d, "Tut_01", 1)
    assert run(d, 1) == ["Gameplay"]
    d.on_event("game_paused", {}, 2)
    assert run(d, 2) == ["Paused"]
    d.on_event("game_resumed", {}, 3)
    assert run(d, 3) == ["Gameplay"]
    d.on_event("item_collected", {"item_name": "Rosary"}, 4)
    assert run(d, 4) == []
    d.on_event("item_collected", {"item_name": "Mask Shard"}, 5)
    assert run(d, 5) == ["Loot"]
    d.reevaluate(8)
    assert run(d, 8) == ["Gameplay"]


def test_action_rules_first_match_and_templates() -> None:
    sec = section([
        {"On": "death", "SetText": {"Status": "Died in {room} ({cause})"}},
        {"Prefix": "Boss_", "Show": ["Boss HP"], "ItemScene": "Game"},
        {"Hide": ["Boss HP"], "ItemScene": "Game"},
    ])
    rules = RuleSet(compile_rules(sec))
    fired = rules.observe("scene_transition", {"to_scene": "Boss_Lace"}, 0)
    assert [a for f in fired for a in actions_for(f, "Game")] == [SetItemEnabled("Game", "Boss HP", True)]
    fired = rules.observe("scene_transition", {"to_scene": "Tut_01"}, 1)
    assert [a for f in fired for a in actions_for(f, "Game")] == [SetItemEnabled("Game", "Boss HP", False)]
    fired = rules.observe("player_death", {"location": "Tut_01", "cause": "spikes"}, 2)
    expected = [SetText("Status", "Died in Tut_01 (spikes)")]
    assert [a for f in fired for a in actions_for(f, "Game")] == expected
    assert render("{room} {nope}", {"room": "R"}) == "R {nope}"


def test_explain_names_the_winner_and_the_shadowed_rules() -> None:
    rules = RuleSet(compile_rules(section(MATCH_RULES)))
    lines = rules.explain("Boss_Shop")
    assert lines[-1] == "result: switch to 'Boss Fight Scene' by rule 2 (Prefix 'Boss_')"
    assert any("rule 3 (Suffix '_Shop'): matches too, but rule 2 comes first" in line for line in lines)
    assert rules.explain("Tut_01")[-1] == "result: no rule matches; the scene stays as it is"
