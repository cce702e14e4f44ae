"""The server-side queue: one at a time, gaps, priority, stale policies, and the hidden-source case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alerts_rig import ALL_DETECTORS_OFF, Rig

from dxbus.alerts.queue import Alert, AlertQueue
from dxbus.clock import ManualClock, settle


def make(rule: str, priority: int = 50, duration: float = 2.0, stale: str = "keep",
         stale_after: float = 30.0, **extra: Any) -> Alert:
    return Alert(rule=rule, message=rule, sound="", volume=1.0, duration=duration, style="default",
                 priority=priority, stale=stale, stale_after=stale_after, **extra)


@pytest.fixture
async def queue() -> Any:
    clock = ManualClock()
    published: list[tuple[float, dict[str, Any]]] = []
    q = AlertQueue(clock, lambda data: published.append((clock.monotonic(), data)), gap=0.5)
    q.start()
    q.published = published
    q.clock_ = clock
    yield q
    await q.stop()


async def test_one_at_a_time_with_a_gap(queue: Any) -> None:
    for name in ("a", "b", "c"):
        queue.offer(make(name, duration=2.0))
    await settle()
    await queue.clock_.advance(20)
    # Each shows for 2 s, then 0.5 s of nothing, then the next.
    assert [(t, d["rule"]) for t, d in queue.published] == [(0.0, "a"), (2.5, "b"), (5.0, "c")]


async def test_higher_priority_goes_first_then_oldest(queue: Any) -> None:
    queue.offer(make("showing", priority=10))
    await settle()
    queue.offer(make("low", priority=10))
    queue.offer(make("high", priority=90))
    queue.offer(make("mid-1", priority=50))
    queue.offer(make("mid-2", priority=50))
    assert [a["rule"] for a in queue.snapshot()["queue"]] == ["high", "mid-1", "mid-2", "low"]
    await queue.clock_.advance(30)
    assert [d["rule"] for _, d in queue.published] == ["showing", "high", "mid-1", "mid-2", "low"]


async def test_stale_alerts_are_dropped_by_policy(queue: Any) -> None:
    queue.offer(make("long", duration=10))
    await settle()
    queue.offer(make("droppable", stale="drop", stale_after=5))
    queue.offer(make("kept", stale="keep", stale_after=5))
    await queue.clock_.advance(30)
    assert [d["rule"] for _, d in queue.published] == ["long", "kept"]
    statuses = {h["rule"]: h["status"] for h in queue.history}
    assert statuses["droppable"] == "dropped_stale"


async def test_repeats_merge_into_one_counted_alert(queue: Any) -> None:
    queue.offer(make("boss", duration=5))
    await settle()
    for _ in range(5):
        assert queue.offer(make("death", stale="merge", remerge=lambda n: f"x{n} deaths")) in (
            "queued", "merged")
    assert len(queue.pending) == 1
    await queue.clock_.advance(20)
    assert [(d["rule"], d["message"], d["count"]) for _, d in queue.published] == [
        ("boss", "boss", 1), ("death", "x5 deaths", 5)]


async def test_a_full_queue_drops_the_least_important(queue: Any) -> None:
    queue.max_queue = 2
    queue.offer(make("showing"))
    await settle()
    assert queue.offer(make("a", priority=40)) == "queued"
    assert queue.offer(make("b", priority=60)) == "queued"
    assert queue.offer(make("c", priority=10)) == "dropped_full"
    assert queue.offer(make("d", priority=70)) == "queued"  # pushes "a" out
    assert [a["rule"] for a in queue.snapshot()["queue"]] == ["d", "b"]


async def test_snapshot_reports_current_remaining_and_waiting(queue: Any) -> None:
    queue.offer(make("a", duration=4))
    queue.offer(make("b"))
    await settle()
    await queue.clock_.advance(1)
    snap = queue.snapshot()
    assert snap["current"]["rule"] == "a" and snap["current"]["remaining"] == 3.0
    assert snap["queue"][0]["rule"] == "b" and snap["queue"][0]["waiting"] == 1.0
    assert [h["status"] for h in snap["history"]] == ["shown"]


async def test_hidden_source_nothing_depends_on_a_page(tmp_path: Path) -> None:
    """OBS pauses hidden browser sources; the queue must neither stall nor burst.

    No page is connected and a subscriber that never reads (a paused page's socket) is attached:
    a burst of deaths and a boss kill are still paced by the server clock alone, merged by policy,
    and nothing piles up for when the source is shown again.
    """
    rig = await Rig(tmp_path, {"GapSeconds": 1.0}).start()
    paused_page = rig.bus.hub.subscribe(types={"alert"}, limit=64, name="hidden overlay")
    await rig.emit("scene_transition", to_scene="Bone_East_12")
    await rig.emit("boss_encounter", boss_name="Lace", phase="start")
    await rig.advance(50)
    await rig.emit("boss_defeated", boss_name="Lace", time=50.0)
    for _ in range(5):
        await rig.emit("player_death", location="Bone_East_12")
    await rig.advance(60)
    times = [round(t, 3) for t, _ in rig.shown]
    # Boss (6 s) + 1 s gap, then one merged death alert, not five.
    assert rig.rules == ["boss_defeated", "death"]
    assert times == [50.0, 57.0]
    assert rig.shown[1][1]["count"] == 5 and rig.shown[1][1]["message"] == "\u00d75 deaths"
    assert rig.service.queue.pending == [] and rig.service.queue.current is None
    # The hidden page's queue holds exactly what was published, nothing more, in order.
    backlog = paused_page.get_nowait()
    assert [e.data["id"] for e in backlog] == [d["id"] for _, d in rig.shown]
    assert paused_page.closed_reason is None
    await rig.stop()


async def test_alerts_keep_flowing_while_nobody_listens(tmp_path: Path) -> None:
    rule = {"Name": "kill", "Event": "enemy_killed", "Message": "kill {{ data.n }}", "Duration": 1,
            "Stale": "keep"}
    rig = await Rig(tmp_path, {"Detectors": ALL_DETECTORS_OFF, "Rules": [rule],
                               "GapSeconds": 0.25}).start()
    for n in range(4):
        await rig.emit("enemy_killed", n=n)
    await rig.advance(10)
    assert [round(t, 2) for t, _ in rig.shown] == [0.0, 1.25, 2.5, 3.75]
    assert rig.messages == ["kill 0", "kill 1", "kill 2", "kill 3"]
    await rig.stop()


async def test_pause_holds_new_alerts_and_clear_forgets_them(queue: Any) -> None:
    queue.offer(make("on-screen", duration=2))
    await settle()
    queue.set_paused(True)
    queue.offer(make("kept"))
    await queue.clock_.advance(10)
    assert [d["rule"] for _, d in queue.published] == ["on-screen"]  # it finished; nothing new
    assert queue.snapshot()["paused"] is True
    queue.set_paused(False)
    await settle()
    assert [d["rule"] for _, d in queue.published] == ["on-screen", "kept"]
    queue.offer(make("a"))
    queue.offer(make("b"))
    assert queue.clear() == 2
    await queue.clock_.advance(10)
    assert [d["rule"] for _, d in queue.published] == ["on-screen", "kept"]
    assert [h["status"] for h in queue.history][-2:] == ["cleared", "cleared"]
