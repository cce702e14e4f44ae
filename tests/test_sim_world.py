"""The typed world data the simulator, the state and the split rules read."""

from __future__ import annotations

from dxbus.world import load_world


def test_world_is_loaded_once_and_consistent() -> None:
    world = load_world()
    assert load_world() is world
    assert len(world.scenes) > 500 and len(world.bosses) > 40
    for scene in world.scenes.values():
        for exit_ in scene.exits:
            assert exit_ in world.scenes, (scene.name, exit_)
    for boss in world.bosses:
        assert boss.scene in world.scenes, boss
    for bench in world.benches:
        assert world.scenes[bench.scene].bench, bench
    assert world.player.masks_start == 5 and world.player.silk_start == 9


def test_lookups() -> None:
    world = load_world()
    assert world.area_of("Tut_01") == "Moss Grotto" and world.region_of("Tut_01") == "Mosslands"
    assert world.area_of("No_Such_Room") is None and world.area_of(None) is None
    boss = world.boss_in("Tut_03")
    assert boss is not None and boss.name == "Moss Mother" and boss.id == "MossMother"
    assert [b.id for b in world.bosses_in("Library_13")] == ["Trobbio", "TormentedTrobbio"]
    assert world.boss_in("Tut_01") is None
    assert world.boss_named("bell beast") is world.boss_named("BellBeast")
    bench = world.bench_in("Tut_03")
    assert bench is not None and bench.name == "Ruined Chapel"
    assert "Swift Step" in world.abilities and "Silkspear" in world.abilities_by_kind["silk_skills"]


def test_autosplitter_split_points() -> None:
    world = load_world()
    mosshome = world.split("EnterMosshome")
    assert mosshome is not None and mosshome.transitions == (("Bone_05", "Mosstown_01"),)
    moss = world.split("MossMother")
    assert moss is not None and moss.category == "Boss" and moss.scene == "Tut_03"
    assert world.split("EnterBoneBottom").enter_scene == "Bonetown"  # type: ignore[union-attr]
    assert world.split("NoSuchSplit") is None
