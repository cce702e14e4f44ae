"""The hub: Seq, ring buffer, latest-by-type, subscriptions, coalescing and slow readers."""

from __future__ import annotations

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


async def test_subscription_coalesces_state_but_keeps_discrete():
    clock = ManualClock()
    hub = Hub(clock, policy=CollectionPolicy(update_frequency_hz=60))
    sub = hub.subscribe()
    for hp in range(5):
        await clock.advance(0.1)
        hub.emit("player_update", {"health_current": hp})
        hub.emit("combat_damage", {"damage": hp})
    got = sub.get_nowait(100)
    assert [e.data["damage"] for e in got if e.type == "combat_damage"] == [0, 1, 2, 3, 4]
    assert [e.data["health_current"] for e in got if e.type == "player_update"] == [4]
    assert [e.seq for e in got] == sorted(e.seq for e in got)


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
