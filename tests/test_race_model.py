"""The race model alone: position, deltas, finish, forfeit, stale, and resends dropped by Seq."""

from __future__ import annotations

from dxbus.clock import utc_iso
from dxbus.race.model import Race, format_delta
from dxbus.speedrun.route import parse_route

ROUTE = parse_route({"name": "r", "start": {"new_game": True},
                     "splits": [{"name": "Moss Mother", "boss": "Moss Mother"},
                                {"name": "Bone Bottom", "enter": "Bonetown"}]}, "test")
T0 = 1_767_225_600.0


class Runner:
    """Feeds one runner's events with its own PC clock (an arbitrary offset from the others)."""

    def __init__(self, race: Race, name: str, offset: float) -> None:
        self.race, self.name, self.offset, self.seq = race, name, offset, 0

    def send(self, t: float, event_type: str, data: dict, now: float = 0.0, seq: int | None = None) -> list:
        if seq is None:
            self.seq += 1
            seq = self.seq
        wire = {"Timestamp": utc_iso(T0 + self.offset + t), "EventType": event_type, "Data": data, "Seq": seq}
        return [o.type for o in self.race.apply(self.name, "inst", wire, now)]

    def enter(self, t: float, frm: str, to: str, now: float = 0.0) -> list:
        return self.send(t, "scene_transition", {"from_scene": frm, "to_scene": to}, now)

    def kill(self, t: float, now: float = 0.0) -> list:
        return self.send(t, "boss_defeated", {"boss_name": "Moss Mother"}, now)


def test_position_is_by_splits_then_rooms_then_own_game_time() -> None:
    race = Race("r", ROUTE, ["A", "B", "C"], stale_after=10)
    a, b, c = Runner(race, "A", 0), Runner(race, "B", 3600.0), Runner(race, "C", -77.7)  # PC clocks differ
    for r in (a, b, c):
        r.enter(0, "Opening_Sequence", "Tut_01")
    assert a.kill(50.0) == ["race_split", "race_lead_change"]
    assert b.kill(62.3) == ["race_split"]
    c.enter(20, "Tut_01", "Tut_02")
    order = [t.name for t in race.order()]
    assert order == ["A", "B", "C"]
    c.kill(55.0)
    state = race.state(1.0)
    rows = {r["runner"]: r for r in state["runners"]}
    assert [r["runner"] for r in state["runners"]] == ["A", "C", "B"]
    assert rows["B"]["delta_text"] == "+12.3 s" and rows["C"]["delta_text"] == "+5.0 s"
    b.enter(63, "Tut_01", "Tut_02")  # B is a room further into the next segment: rooms come first
    assert [t.name for t in race.order()] == ["B", "A", "C"]


def test_finish_forfeit_stale_and_resends() -> None:
    race = Race("r", ROUTE, ["A", "B", "C"], stale_after=10)
    a, b, c = Runner(race, "A", 0), Runner(race, "B", 0), Runner(race, "C", 0)
    for r in (a, b, c):
        r.enter(0, "Opening_Sequence", "Tut_01")
        r.kill(10.0)
    assert b.enter(20.0, "Bone_05", "Bonetown") == ["race_split", "race_finish", "race_lead_change"]
    assert a.enter(25.0, "Bone_05", "Bonetown", now=5.0) == ["race_split", "race_finish"]
    assert [o.type for o in race.forfeit("C")] == ["race_forfeit"]
    assert race.finish_order == ["B", "A"]
    rows = race.state(5.0)["runners"]
    assert [(r["runner"], r["status"]) for r in rows] == [("B", "finished"), ("A", "finished"),
                                                         ("C", "forfeit")]
    assert rows[1]["finish_text"] == "0:25.0"
    # A resend of an old Seq is dropped: no doubled split.
    d = Race("r", ROUTE, ["D"], stale_after=10)
    runner = Runner(d, "D", 0)
    runner.enter(0, "Opening_Sequence", "Tut_01", now=0)
    runner.kill(10.0, now=1)
    assert runner.send(10.0, "boss_defeated", {"boss_name": "Moss Mother"}, now=2, seq=2) == []
    assert len(d.runners["D"].splits) == 1 and d.runners["D"].duplicates == 1
    assert d.state(12.0)["runners"][0]["stale"]
    assert not d.state(11.9)["runners"][0]["stale"]
    assert format_delta(0.01) == "±0.0 s" and format_delta(-1.25) == "-1.2 s"
