"""Bad `[Alerts]` config stops start-up with a message naming the rule or key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dxbus.assemble import build_bus
from dxbus.config import ConfigError, load_config


def load_toml(tmp_path: Path, text: str) -> None:
    """Load the file and build the bus (sound files are checked there)."""
    path = tmp_path / "dxbus.toml"
    path.write_text(text, encoding="utf-8")
    build_bus(load_config(path), base_dir=tmp_path)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_toml(tmp_path, text)
    return str(info.value)


def test_defaults_load_and_every_default_sound_ships(tmp_path: Path) -> None:
    load_toml(tmp_path, "")


def test_unknown_detector(tmp_path: Path) -> None:
    text = error_of(tmp_path, "[Alerts.Detectors.BossSlain]\nSound = 'victory.wav'\n")
    assert "unknown detector 'BossSlain'" in text and "BossDefeated" in text and "[Alerts]" in text


def test_bad_template_names_the_rule(tmp_path: Path) -> None:
    text = error_of(tmp_path, """
[[Alerts.Rules]]
Name = "hit"
Event = "combat_damage"
Message = "{{ data.damage "
""")
    assert "rule 'hit'" in text and "Message" in text and "bad template" in text


def test_unknown_filter_is_a_bad_template(tmp_path: Path) -> None:
    text = error_of(tmp_path, "[Alerts.Detectors.Death]\nMessage = '{{ streak | shout }}'\n")
    assert "Detectors.Death.Message" in text and "No filter named 'shout'" in text


def test_bad_regex_names_rule_and_field(tmp_path: Path) -> None:
    text = error_of(tmp_path, """
[[Alerts.Rules]]
Name = "dock_death"
Event = "player_death"
Conditions = [{Field = "location", Op = "regex", Value = "Dock_(\\\\d+"}]
""")
    assert "rule 'dock_death'" in text and "bad regex" in text and "'location'" in text


def test_unknown_field_type_and_operator(tmp_path: Path) -> None:
    text = error_of(tmp_path, """
[[Alerts.Rules]]
Name = "typed"
Event = "combat_damage"
Conditions = [{Field = "damage", Op = ">=", Value = 2, Type = "integer"}]
""")
    assert "rule 'typed'" in text and "Type" in text and "'number'" in text
    text = error_of(tmp_path, """
[[Alerts.Rules]]
Name = "ops"
Event = "combat_damage"
Conditions = [{Field = "damage", Op = "=~", Value = 2}]
""")
    assert "rule 'ops'" in text and "Op" in text


def test_operator_value_mismatches(tmp_path: Path) -> None:
    for cond, words in [("{Field = 'damage', Op = '>', Value = 'five'}", "needs a number"),
                        ("{Field = 'boss', Op = 'in', Value = 'Lace'}", "needs a list"),
                        ("{Field = 'boss', Op = '==', Value = 3, Type = 'string'}", "is not a string")]:
        text = error_of(tmp_path, f"[[Alerts.Rules]]\nName = 'r'\nEvent = 'x'\nConditions = [{cond}]\n")
        assert words in text, text


def test_missing_sound_file_names_the_key(tmp_path: Path) -> None:
    text = error_of(tmp_path, """
[[Alerts.Rules]]
Name = "hit"
Event = "combat_damage"
Sound = "airhorn.mp3"
""")
    assert "[Alerts] rule 'hit' Sound = 'airhorn.mp3'" in text and "not found" in text
    assert "victory.wav" in text  # lists what is shipped
    text = error_of(tmp_path, "[Alerts.Detectors.Death]\nSound = 'sad.ogg'\n")
    assert "Detectors.Death Sound = 'sad.ogg'" in text
    text = error_of(tmp_path, "[Alerts.Detectors.Death]\nSound = '../secret.wav'\n")
    assert "not a plain audio file name" in text


def test_user_sounds_folder_is_found_and_wins(tmp_path: Path) -> None:
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "airhorn.mp3").write_bytes(b"ID3")
    load_toml(tmp_path, "[Alerts.Detectors.Death]\nSound = 'airhorn.mp3'\n")


def test_disabled_rules_are_not_checked_for_sounds(tmp_path: Path) -> None:
    load_toml(tmp_path, "[Alerts.Detectors.Death]\nEnabled = false\nSound = 'gone.wav'\n")


def test_duplicate_names_and_alert_loops(tmp_path: Path) -> None:
    text = error_of(tmp_path, "[[Alerts.Rules]]\nName = 'death'\nEvent = 'player_death'\n")
    assert "'death' is used twice" in text
    text = error_of(tmp_path, "[[Alerts.Rules]]\nName = 'loop'\nEvent = 'alert'\n")
    assert "rule 'loop'" in text and "cannot trigger on 'alert'" in text


def test_bad_style_and_ranges(tmp_path: Path) -> None:
    text = error_of(tmp_path, "[Alerts.Detectors.Death]\nStyle = 'big red'\n")
    assert "CSS class" in text
    text = error_of(tmp_path, "[Alerts]\nGapSeconds = -1\n")
    assert "GapSeconds" in text and "allowed" in text
