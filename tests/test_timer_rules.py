"""The split engine over scripted runs: right splits, right order, no double split, start and reset."""

from __future__ import annotations

from typing import Any

import pytest

from dxbus.speedrun.route import RouteError, builtin_route, parse_route
from dxbus.speedrun.split_rules import EventFeed, SplitEngine


def route(**raw: Any):
    return parse_route(raw, "test")


def transition(frm: str | None, to: str, load_ms: float = 0) -> tuple[str, dict]:
    data: dict[str, Any] = {"to_scene": to, "load_time_ms": load_ms}
    if frm is not None:
        data["from_scene"] = frm
    return "scene_transition", data


def defeat(boss: str) -> tuple[str, dict]:
    return "boss_defeated", {"boss_name": boss, "time": 40.0}


class Script:
    """Feeds events at scripted times and keeps every command."""

    def __init__(self, engine: SplitEngine) -> None:
        self.engine = engine
        self.feed = EventFeed(engine)  # raw events -> facts -> the engine, as on the bus
        self.out: list[tuple[float, dict]] = []

    def at(self, t: float, event: tuple[str, dict]) -> list[dict]:
        got = [c.to_data() for c in self.feed.feed(event[0], event[1], t)]
        self.out += [(t, c) for c in got]
        return got

    def commands(self, *skip: str) -> list[str]:
        return [c["command"] for _, c in self.out if c["command"] not in skip]

    def splits(self) -> list[tuple[float, str]]:
        return [(t, c["split"]) for t, c in self.out if c["command"] == "split"]


NEW_GAME = transition("Opening_Sequence", "Tut_01", 800)

ACT1 = dict(
    name="act1",
    start={"new_game": True},
    reset={"menu": True},
    splits=[
        {"name": "Moss Mother", "boss": "MossMother"},
        {"name": "Bone Bottom", "enter": "Bonetown"},
        {"name": "Mosshome", "enter": "Mosstown_01", "from": "Bone_05"},
        {"name": "Silkspear", "ability": "Silkspear"},
        {"name": "Bell Beast (Transition)", "boss": "Bell Beast", "then": "transition"},
        {"name": "Widow", "boss": "Widow"},
    ],
)


def test_a_scripted_run_splits_right_in_order_once() -> None:
    s = Script(SplitEngine(route(**ACT1)))
    s.at(1, transition("Menu_Title", "Opening_Sequence"))
    assert s.commands() == []  # the cutscene is not the start
    assert s.at(2, NEW_GAME)[0]["command"] == "start"
    s.at(10, transition("Tut_01", "Tut_03"))
    s.at(30, ("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"}))
    s.at(50, ("boss_encounter", {"boss_name": "Moss Mother", "phase": "defeated"}))
    s.at(51, defeat("Moss Mother"))  # the second report of the same defeat
    s.at(60, transition("Tut_03", "Bonetown"))
    s.at(70, transition("Bonetown", "Bone_01"))
    s.at(75, transition("Bone_01", "Bonetown"))  # back in Bone Bottom: already split
    s.at(80, transition("Bonetown", "Bone_05"))
    s.at(90, transition("Bone_05", "Bone_04"))
    s.at(95, transition("Bone_04", "Mosstown_01"))  # not from Bone_05: no split
    s.at(100, transition("Mosstown_01", "Bone_05"))
    s.at(110, transition("Bone_05", "Mosstown_01"))
    s.at(120, ("ability_unlocked", {"ability": "Silkspear"}))
    s.at(130, transition("Mosstown_01", "Bone_05"))
    s.at(140, defeat("Bell Beast"))
    s.at(141, ("player_death", {"location": "Bone_05"}))
    s.at(145, transition("Bone_05", "Bonetown"))  # the respawn is not "the next room change"
    s.at(150, transition("Bonetown", "Bone_01"))
    s.at(200, defeat("Widow"))
    s.at(210, defeat("Widow"))  # a repeat after the run ended
    assert s.splits() == [(50, "Moss Mother"), (60, "Bone Bottom"), (110, "Mosshome"),
                          (120, "Silkspear"), (150, "Bell Beast (Transition)"), (200, "Widow")]
    assert s.commands() == ["start"] + ["split"] * 6
    assert s.engine.phase == "ended"
    assert [x.index for x in s.engine.run.splits] == list(range(6))


def test_reset_on_menu_and_start_again() -> None:
    s = Script(SplitEngine(route(**ACT1)))
    s.at(0, NEW_GAME)
    s.at(20, defeat("Moss Mother"))
    assert s.at(30, transition("Tut_03", "Menu_Title"))[0]["command"] == "reset"
    assert s.engine.phase == "idle"
    s.at(35, defeat("Moss Mother"))  # not running: nothing
    assert s.at(40, transition("Intro_Cutscene", "Tut_01"))[0]["command"] == "start"
    # A report of the same boss within [Facts] KillPairingSeconds (30 s) of the kill at 20 s is that
    # kill reported again (the one at 35 s was); a new kill comes later.
    s.at(45, defeat("Moss Mother"))
    s.at(55, defeat("Moss Mother"))
    assert s.commands() == ["start", "split", "reset", "start", "split"]
    assert s.engine.run.number == 2 and [x.real for x in s.engine.run.splits] == [15.0]


def test_new_game_while_running_resets_then_starts_when_the_route_says_so() -> None:
    s = Script(SplitEngine(route(**{**ACT1, "reset": {"new_game": True}})))
    s.at(0, NEW_GAME)
    s.at(10, defeat("Moss Mother"))
    assert [c["command"] for c in s.at(20, transition("Menu_Title", "Tut_01"))] == ["reset", "start"]


def test_start_in_a_given_room_and_start_after_an_ended_run() -> None:
    r = route(name="r", start={"enter": "Tut_03", "from": "Tut_01"},
              splits=[{"name": "Moss Mother", "boss": "Moss Mother"}])
    s = Script(SplitEngine(r))
    s.at(0, transition("Bonetown", "Tut_03"))  # wrong way in
    s.at(5, transition("Tut_01", "Tut_03"))
    s.at(9, defeat("Moss Mother"))
    assert s.engine.phase == "ended"
    s.at(30, transition("Tut_01", "Tut_03"))  # a new attempt: LiveSplit needs a reset first
    assert s.commands() == ["start", "split", "reset", "start"]


def test_skip_passed_splits_and_the_any_order_route() -> None:
    raw = dict(name="r", splits=[{"name": "Silkspear", "ability": "Silkspear"},
                                 {"name": "Swift Step", "item": "Swift Step"},
                                 {"name": "Lace", "boss": "Lace"}])
    s = Script(SplitEngine(route(**raw)))
    s.at(0, NEW_GAME)
    s.at(5, ("item_collected", {"item_name": "Swift Step"}))  # out of order: remembered
    s.at(9, ("ability_unlocked", {"ability_name": "Silkspear"}))
    assert [(c["command"], c["split"]) for _, c in s.out[1:]] == [("split", "Silkspear"),
                                                                    ("skip", "Swift Step")]
    s.at(20, defeat("Lace"))
    assert s.engine.phase == "ended" and s.commands() == ["start", "split", "skip", "split"]

    s = Script(SplitEngine(route(**raw, skip_passed=False)))
    s.at(0, NEW_GAME)
    s.at(5, ("item_collected", {"item_name": "Swift Step"}))
    s.at(9, ("ability_unlocked", {"ability_name": "Silkspear"}))
    assert s.commands() == ["start", "split"] and s.engine.index == 1  # waits for Swift Step

    s = Script(SplitEngine(route(**raw, order="any")))
    s.at(0, NEW_GAME)
    s.at(5, ("item_collected", {"item_name": "Swift Step"}))
    s.at(6, ("item_collected", {"item_name": "Swift Step"}))  # split-once guard
    s.at(9, ("ability_unlocked", {"ability_name": "Silkspear"}))
    s.at(20, defeat("Lace"))
    assert s.splits() == [(5, "Swift Step"), (9, "Silkspear"), (20, "Lace")]


def test_game_time_leaves_loads_out_and_brackets_them() -> None:
    raw = dict(name="r", game_time=True, splits=[{"name": "Bone Bottom", "enter": "Bonetown"},
                                                 {"name": "Moss Mother", "boss": "Moss Mother"}])
    s = Script(SplitEngine(route(**raw)))
    assert s.at(100, NEW_GAME) == [{"command": "start", "value": 0.0, "source": "rules",
                                    "reason": "start: new game"}]
    s.at(110, transition("Tut_01", "Tut_03", 1500))
    assert [(c["command"], c["value"], c["source"]) for _, c in s.out[1:]] == [
        ("pause", 8.5, "loads"), ("time", 8.5, "loads"), ("resume", 8.5, "loads")]
    s.at(130.25, transition("Tut_03", "Bonetown", 2000))
    # 30.25 s real, 3.5 s of loads; the split is stamped after the time correction
    assert [(c["command"], c["value"]) for _, c in s.out[4:]] == [
        ("pause", 26.75), ("time", 26.75), ("resume", 26.75), ("split", None)]
    s.at(140, defeat("Moss Mother"))
    assert [(c["command"], c["value"]) for _, c in s.out[8:]] == [("time", 36.5), ("split", None)]
    assert [(x.real, x.game) for x in s.engine.run.splits] == [(30.25, 26.75), (40.0, 36.5)]
    assert s.engine.game_time(500) == 36.5  # frozen at the end


def test_manual_commands_keep_the_engine_in_step() -> None:
    e = SplitEngine(route(**ACT1))
    feed = EventFeed(e)
    e.manual("start", 0.0)
    e.manual("split", 12.0)
    assert e.phase == "running" and e.index == 1 and e.run.splits[0].source == "manual"
    assert feed.feed(*defeat("Moss Mother"), 13.0) == []  # Moss Mother was split by hand
    assert [c.split for c in feed.feed(*transition("Tut_03", "Bonetown"), 20.0)] == ["Bone Bottom"]
    e.manual("pause", 30.0)
    e.manual("resume", 40.0)
    assert e.game_time(50.0) == 40.0
    e.manual("reset", 60.0)
    assert e.phase == "idle" and feed.feed(*defeat("Widow"), 61.0) == []


def test_the_default_route_uses_real_silksong_names() -> None:
    r = builtin_route()
    assert r.start[0].new_game and r.game_time
    names = [s.name for s in r.splits]
    assert names[0] == "Moss Mother" and names[-1] == "Widow" and len(names) >= 10
    assert {s.boss for s in r.splits if s.boss} <= {"Moss Mother", "Bell Beast", "Lace", "Fourth Chorus",
                                                   "Moorwing", "Sister Splinter", "Widow"}


@pytest.mark.parametrize("raw, message", [
    ({"splits": [{"boss": "Radiance"}]}, "splits[0] boss = 'Radiance': not a Silksong boss"),
    ({"splits": [{"name": "x"}]}, "splits[0]: needs exactly one of"),
    ({"splits": [{"boss": "Widow", "enter": "Bonetown"}]}, "(found: boss, enter)"),
    ({"splits": [{"boss": "Widow", "from": "Tut_01"}]}, "`from` only goes with `enter`"),
    ({"splits": [{"boss": "Widow", "colour": "red"}]}, "splits[0].colour: unknown key"),
    ({"order": "random"}, "order: Input should be 'ordered' or 'any'"),
])
def test_bad_routes_are_named_clearly(raw: dict, message: str) -> None:
    with pytest.raises(RouteError) as info:
        parse_route(raw, "my-route.toml")
    assert message in str(info.value) and str(info.value).startswith("my-route.toml: ")


def test_the_timer_section_overrides_the_route_file(tmp_path) -> None:
    from dxbus.config import load_config

    (tmp_path / "r.toml").write_text('name = "file"\n[[splits]]\nboss = "Widow"\n')
    config = load_config(None, {"Timer": {
        "Route": "r.toml", "GameTime": True, "Reset": [{"Menu": True}],
        "Splits": [{"Name": "Mosshome", "Enter": "Mosstown_01", "From": "Bone_05"},
                   {"Boss": "SisterSplinter", "Then": "transition"}]}})
    r = config.timer.build_route(tmp_path)
    assert r.name == "file" and r.game_time and r.reset[0].menu
    assert [(s.name, s.enter, s.from_, s.boss, s.then) for s in r.splits] == [
        ("Mosshome", "Mosstown_01", "Bone_05", None, None),
        ("Sister Splinter", None, None, "Sister Splinter", "transition")]
    assert load_config(None, {}).timer.build_route(tmp_path) == builtin_route()


def test_one_event_makes_one_split_even_if_two_splits_match_it() -> None:
    r = route(name="r", splits=[{"name": "Any transition", "event": "scene_transition"},
                                {"name": "Bone Bottom", "enter": "Bonetown"}])
    s = Script(SplitEngine(r))
    s.at(0, NEW_GAME)
    s.at(5, transition("Tut_01", "Bonetown"))
    assert s.splits() == [(5, "Any transition")]
    s.at(9, transition("Bonetown", "Bone_01"))
    s.at(12, transition("Bone_01", "Bonetown"))
    assert s.splits() == [(5, "Any transition"), (12, "Bone Bottom")]


def test_a_load_longer_than_the_time_since_the_last_room_change_cannot_turn_time_back() -> None:
    r = route(name="r", game_time=True, splits=[{"name": "A", "enter": "Tut_03"},
                                                {"name": "B", "enter": "Bonetown"}])
    s = Script(SplitEngine(r))
    s.at(0, NEW_GAME)
    s.at(1, transition("Tut_01", "Tut_03", 2000))     # 2 s "load" in 1 s: only 1 s can be a load
    s.at(1.5, transition("Tut_03", "Bonetown", 400))  # 0.4 of 0.5 s
    assert [(x.real, x.game) for x in s.engine.run.splits] == [(1.0, 0.0), (1.5, 0.1)]
