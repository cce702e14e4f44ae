"""The hub: Seq, ring buffer, latest-by-type, subscriptions, coalescing and slow readers."""

from __future__ import annotations

from itertools import pairwise

import orjson
import pytest

from dxbus.clock import ManualClock
from dxbus.collection import CollectionPolicy
from dxbus.events import EventError, validate
from dxbus.hub import Hub
from dxbus.subscription import SubscriptionClosed


def make_hub(**kw) -> Hub:
    return Hub(ManualClock(), policy=CollectionPolicy(update_frequency_hz=60), **kw)


def test_seq_increases_and_raw_is_the_wire_form():
    hub = make_hub()
    a = hub.emit("player_death", {"location": "Tut_01"})
    b = hub.emit("custom_event", {"event": "x"})
    assert (a.seq, b.seq) == (1, 2)
    assert a.raw.startswith(b'{"Timestamp":"2026-01-01T00:00:00.000Z","EventType":"player_death"')
    assert b'"Seq":1' in a.raw


@pytest.mark.parametrize(
    ("obj", "where"),
    [
        ([], "event"),
        ({"EventType": "Bad-Type"}, "event.EventType"),
        ({"EventType": 3}, "event.EventType"),
        ({"EventType": "x", "Data": [1]}, "event.Data"),
        ({"EventType": "x", "Timestamp": "yesterday"}, "event.Timestamp"),
        ({"EventType": "x", "Timestamp": "2024-01-15T14:30:45"}, "event.Timestamp"),
    ],
)
def test_validation_names_the_field(obj, where):
    with pytest.raises(EventError) as err:
        validate(obj)
    assert err.value.where == where


def test_too_deep_and_too_big_are_refused():
    deep: dict = {}
    cur = deep
    for _ in range(20):
        cur["x"] = {}
        cur = cur["x"]
    with pytest.raises(EventError, match="nested deeper"):
        validate({"EventType": "x", "Data": deep})
    with pytest.raises(EventError, match="bytes"):
        make_hub().publish_obj({"EventType": "x", "Data": {"s": "a" * 70_000}})


@pytest.mark.parametrize(("data", "where"), [
    ({"hp": 1e30}, "event.Data.hp"),  # a flat object: the quick check finds it, the walk names it
    ({"ok": 1, "name": "Moss", "hit": True, "none": None, "big": -1e20}, "event.Data.big"),
    ({"a": {"b": [1, 2.5, 1e30]}}, "event.Data.a.b[2]"),
])
def test_numbers_beyond_64_bits_are_named_by_their_path(data, where):
    with pytest.raises(EventError, match="out of range") as err:
        validate({"EventType": "x", "Data": data})
    assert err.value.where == where


def test_flat_data_of_every_json_kind_is_accepted_as_sent():
    data = {"i": 2**63, "f": 2.5, "s": "Moss", "t": True, "n": None, "l": [1, {"k": 1e10}], "o": {}}
    assert validate({"EventType": "x", "Data": dict(data)}).data == data


def test_original_seven_digit_timestamp_is_normalized():
    draft = validate({"EventType": "x", "Timestamp": "2025-09-07T12:00:01.1234567Z"})
    assert draft.timestamp == "2025-09-07T12:00:01.123Z"


def test_metrics_keeps_latest_of_each_type_and_chronological_order():
    hub = make_hub()
    hub.emit("scene_transition", {"to_scene": "Tut_01"})
    for i in range(50):
        hub.emit("combat_damage", {"damage": i})
    got = hub.metrics(10)
    assert got[0].type == "scene_transition"
    assert [e.seq for e in got] == sorted(e.seq for e in got)
    assert len(got) == 11


async def test_reader_that_keeps_up_gets_every_state_sample():
    hub = make_hub()
    sub = hub.subscribe()
    for fps in range(5):  # five timing_updates in one go: a prompt reader is not behind
        hub.emit("timing_update", {"fps": 60 - fps})
    got = sub.get_nowait(100)
    assert [e.data["fps"] for e in got] == [60, 59, 58, 57, 56]
    assert sub.coalesced == 0


async def test_paused_reader_gets_state_coalesced_but_keeps_discrete():
    clock = ManualClock()
    hub = Hub(clock, policy=CollectionPolicy(update_frequency_hz=60))
    sub = hub.subscribe()
    sub.paused = True  # what the WebSocket writer sets while the socket cannot take more
    for hp in range(5):
        await clock.advance(0.1)
        hub.emit("player_update", {"health_current": hp})
        hub.emit("combat_damage", {"damage": hp})
    got = sub.get_nowait(100)
    assert [e.data["damage"] for e in got if e.type == "combat_damage"] == [0, 1, 2, 3, 4]
    assert [e.data["health_current"] for e in got if e.type == "player_update"] == [4]
    assert [e.seq for e in got] == sorted(e.seq for e in got)


async def test_reader_over_its_mark_is_behind_and_gets_state_coalesced():
    hub = make_hub()
    sub = hub.subscribe()
    sub.coalesce_mark = 3
    for fps in range(6):
        hub.emit("timing_update", {"fps": fps})
    # Three queued while under the mark; from then on only the newest unread one is kept.
    assert [e.data["fps"] for e in sub.get_nowait(100)] == [0, 1, 5]
    hub.emit("timing_update", {"fps": 9})
    assert [e.data["fps"] for e in sub.get_nowait(100)] == [9]  # caught up: not behind any more


async def test_reader_too_far_behind_is_closed_with_resume_point():
    hub = make_hub(queue_limit=16)
    sub = hub.subscribe()
    for i in range(20):
        hub.emit("combat_damage", {"damage": i})
    with pytest.raises(SubscriptionClosed, match="since_seq=0"):
        await sub.get()
    assert sub not in hub.subscriptions
    resumed = hub.subscribe(since_seq=0)
    assert [e.seq for e in resumed.get_nowait(100)] == list(range(1, 21))


async def test_events_published_by_listeners_follow_in_order():
    hub = make_hub()
    seen: list[str] = []

    def derive(event):
        seen.append(event.type)
        if event.type == "boss_defeated":
            hub.emit("alert", {"message": "win"})

    hub.add_listener(derive)
    sub = hub.subscribe()
    hub.emit("boss_defeated", {"boss_name": "Lace"})
    assert seen == ["boss_defeated", "alert"]
    assert [e.type for e in sub.get_nowait()] == ["boss_defeated", "alert"]


async def test_configure_switch_gates_collection():
    hub = make_hub()
    hub.policy.export_combat_data = False
    assert hub.emit("combat_damage", {"damage": 1}) is None
    assert hub.metrics_collected == 0


async def test_metrics_newest_state_only_fills_limit_with_discrete_events():
    clock = ManualClock()
    hub = Hub(clock, policy=CollectionPolicy(update_frequency_hz=60))
    for i in range(30):
        hub.emit("combat_damage", {"damage": i})
        await clock.advance(0.1)
        hub.emit("player_update", {"health_current": i})
    got = hub.metrics(10, newest_state_only=True)
    assert len(got) == 10
    assert [e.data["health_current"] for e in got if e.type == "player_update"] == [29]
    assert [e.data["damage"] for e in got if e.type == "combat_damage"] == list(range(21, 30))


# -- UpdateFrequencyHz thinning: leading and trailing edge ---------------------------------------

def hp_values(events) -> list[int]:
    return [e.data["health_current"] for e in events if e.type == "player_update"]


async def test_burst_ends_at_its_last_sample_when_the_interval_ends():
    clock = ManualClock()
    hub = Hub(clock, policy=CollectionPolicy(update_frequency_hz=10))
    sub = hub.subscribe()
    assert hub.emit("player_update", {"health_current": 5}) is not None  # leading edge: at once
    await clock.advance(0.03)
    assert hub.emit("player_update", {"health_current": 4}) is None  # held...
    await clock.advance(0.03)
    assert hub.emit("player_update", {"health_current": 3}) is None  # ...replaced by the newer one
    assert hp_values(sub.get_nowait()) == [5]
    await clock.advance(0.04)  # the interval ends: the held sample goes out on the bus clock
    [last] = sub.get_nowait()
    assert last.data["health_current"] == 3
    assert hub.latest("player_update") is last
    # It keeps the time it was taken at (60 ms into the interval), not the time it went out.
    assert last.timestamp == "2026-01-01T00:00:00.060Z"
    await clock.advance(1)
    assert sub.get_nowait() == []  # nothing else was held


async def test_thinning_keeps_at_most_one_sample_per_interval_and_the_newest():
    clock = ManualClock()
    hub = Hub(clock, policy=CollectionPolicy(update_frequency_hz=10))
    sub = hub.subscribe()
    for hp in range(20):  # 50 Hz for 400 ms
        hub.emit("player_update", {"health_current": hp})
        await clock.advance(0.02)
    await clock.advance(0.2)
    got = sub.get_nowait()
    assert hp_values(got)[-1] == 19
    assert len(got) <= 6  # 0.6 s of bus time at 10 Hz
    times = [e.received for e in got]
    assert all(b - a >= 0.09 for a, b in pairwise(times))


async def test_timestamped_samples_are_thinned_by_their_timestamp():
    clock = ManualClock()
    hub = Hub(clock, policy=CollectionPolicy(update_frequency_hz=10))
    sub = hub.subscribe()
    batch = [{"EventType": "player_update", "Timestamp": f"2025-09-07T12:00:00.{i}00Z",
              "Data": {"health_current": i}} for i in range(5)]
    accepted = [hub.publish_obj(obj) for obj in batch]  # one POST: all arrive at the same instant
    assert all(e is not None for e in accepted)
    assert hp_values(sub.get_nowait()) == [0, 1, 2, 3, 4]
    # Five samples 20 ms apart by Timestamp span one interval: the first, then the last of them.
    dense = [{"EventType": "player_update", "Timestamp": f"2025-09-07T12:00:01.{i * 20:03d}Z",
              "Data": {"health_current": 10 + i}} for i in range(5)]
    for obj in dense:
        hub.publish_obj(obj)
    await clock.advance(0.1)
    assert hp_values(sub.get_nowait()) == [10, 14]


async def test_test_events_reach_only_subscriptions_that_asked():
    hub = make_hub()
    seen: list[str] = []
    tested: list[str] = []
    hub.add_listener(lambda e: seen.append(e.type))
    hub.add_test_listener(lambda e: tested.append(e.type))
    live, preview = hub.subscribe(), hub.subscribe(include_test=True)
    hub.emit("player_death", {"location": "Tut_01"})
    test = hub.emit("player_death", {"location": "Bone_05"}, origin="test")
    assert test is not None and test.is_test
    assert b'"Seq"' not in test.raw and b'"Origin":"test"' in test.raw
    assert (seen, tested, hub.seq, len(hub.recent(10))) == (["player_death"], ["player_death"], 1, 1)
    assert [e.data["location"] for e in live.get_nowait()] == ["Tut_01"]
    got = preview.get_nowait()
    assert [e.data["location"] for e in got] == ["Tut_01", "Bone_05"]
    assert preview.last_seq == 1  # the resume point is the last real event
    assert hub.latest("player_death").data["location"] == "Tut_01"


def test_live_wire_form_is_unchanged_and_other_origins_are_marked():
    hub = make_hub()
    live = hub.emit("custom_event", {})
    assert set(orjson.loads(live.raw)) == {"Timestamp", "EventType", "Data", "Seq"}
    demo = hub.emit("custom_event", {}, origin="demo")
    assert orjson.loads(demo.raw)["Origin"] == "demo" and demo.origin == "demo"
    # Origin is decided by the path an event came in by, never by its payload.
    assert validate({"EventType": "x", "Origin": "test"}).origin == "live"
    with pytest.raises(ValueError, match="origin"):
        hub.emit("x", {}, origin="bogus")


async def test_derived_events_take_the_origin_of_their_cause():
    hub = make_hub()

    def derive(event):
        if event.type == "boss_defeated":
            hub.emit("alert", {"message": "win"})

    hub.add_listener(derive)
    sub = hub.subscribe()
    hub.emit("boss_defeated", {"boss_name": "Lace"}, origin="demo")
    hub.emit("boss_defeated", {"boss_name": "Lace"})
    assert [(e.type, e.origin) for e in sub.get_nowait()] == [
        ("boss_defeated", "demo"), ("alert", "demo"), ("boss_defeated", "live"), ("alert", "live")]
