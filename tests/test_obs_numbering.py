"""OBS rules are numbered as people count them: from 1, in file order, everywhere, and a rule left
out does not renumber the rules after it (docs/obs.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dxbus.cli import main
from dxbus.config import load_config
from dxbus.obs.scene_rules import Director, RuleSet, compile_rules

# Six rules; the third cannot work (a typo in its key) and is left out.
RULES_TOML = """
[[OBS.Rules]]
Exact = "Tut_01"
Scene = "Tutorial"
[[OBS.Rules]]
Prefix = "Bone_"
Scene = "Bone"
[[OBS.Rules]]
Prefx = "Moss_"
Scene = "Moss"
[[OBS.Rules]]
Suffix = "_Shop"
Scene = "Shop"
[[OBS.Rules]]
Contains = "Dust"
Scene = "Dust"
[[OBS.Rules]]
Prefix = "Boss_"
Scene = "Boss Fight Scene"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "my.toml"
    path.write_text(RULES_TOML, encoding="utf-8")
    return path


def test_the_sixth_rule_is_rule_6_after_a_rule_is_left_out(config_file: Path) -> None:
    obs = load_config(config_file).obs
    assert obs.rule_errors == [
        "[OBS] Rules.3.Prefx: unknown key (did you mean Prefix?); this rule is left out"]
    rules = RuleSet(compile_rules(obs))
    assert rules.explain("Boss_Lace")[-1] == "result: switch to 'Boss Fight Scene' by rule 6 (Prefix 'Boss_')"
    director = Director(rules, obs)
    director.on_connected("Gameplay", 0.0)
    director.on_event("scene_transition", {"from_scene": "Tut_01", "to_scene": "Boss_Lace"}, 1.0)
    switch = director.step(1.0)
    assert switch is not None and switch.scene == "Boss Fight Scene"
    director.done(switch, 1.0)
    assert "rule 6 (Prefix 'Boss_') matched room 'Boss_Lace'" in director.history[-1].reason


def test_explain_and_config_count_the_same_rule_the_same_way(
        config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["obs", "explain", "Moss_01", "--config", str(config_file)]) == 2
    captured = capsys.readouterr()
    assert "[OBS] Rules.3.Prefx: unknown key" in captured.err
    assert "rule 4 (Suffix '_Shop')" in captured.out and "rule 3 " not in captured.out
