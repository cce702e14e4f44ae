"""What the state channel pushes to overlays: the session state as one document, plus live timers.

`state_document(state, sections, now)` is `GET /api/state` (the `SessionState` snapshot) plus the
sections other parts register (`segments`, `practice`: what `/api/segments` and `/api/practice`
serve) plus `timers`. A timer is drawn by the page from a server time reference, never counted there:

    {"running": true,  "since": 1234.5, "until": null}   # seconds = min(server_now, until) - since
    {"running": false, "value": 44.7}                    # frozen (the game's time when it sent one)

`since` and `until` are readings of the bus's monotonic clock, and every channel message carries
`server_now` (the same clock), so a page computes `server_now - since` once per message and adds its
own elapsed time since. `stable(key, value)` strips the fields that change every instant (the
timers' live readings) so two documents compare equal when nothing but time went by.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .state_model import MAX_SESSION_EXTRAPOLATION, SessionState

if TYPE_CHECKING:
    from .speedrun.timer_service import TimerService

# A section: name -> function of the monotonic `now` returning JSON (registered by parts).
Section = Callable[[float], Any]
# Timer references closer than this (seconds) are the same reference (rounding in the views).
SAME_REFERENCE = 0.01


def running(since: float, until: float | None = None) -> dict[str, Any]:
    """A running timer: its reading is `min(now, until) - since` on the bus's monotonic clock."""
    return {"running": True, "since": round(since, 4), "until": None if until is None else round(until, 4)}


def frozen(value: float | None) -> dict[str, Any]:
    """A stopped timer showing `value` seconds (None: nothing to show)."""
    return {"running": False, "value": value}


def state_timers(state: SessionState, now: float) -> dict[str, dict[str, Any]]:
    """The session's live timers: `fight`, `room`, `session`."""
    facts = state.facts
    fight = facts.fight
    timers: dict[str, dict[str, Any]] = {}
    if fight is not None:
        timers["fight"] = running(fight.started)
    else:
        # The last fight's time: the game's reported `time` once the kill settled (facts.FightResult).
        last = state.last_result
        timers["fight"] = frozen(last["time"] if last else None)
    entered = facts.room_entered
    if entered is None or facts.room is None:
        timers["room"] = frozen(0.0)
    elif state.game_scene_time is not None:  # the game's scene_time, extrapolated for a while only
        base, at = state.game_scene_time
        timers["room"] = running(at - base, at + MAX_SESSION_EXTRAPOLATION)
    else:
        timers["room"] = running(entered)
    if state.game_session_time is not None:
        base, at = state.game_session_time
        # The game sends session_time at 1 Hz; between two, the bus extrapolates for a while only.
        timers["session"] = running(at - base, at + MAX_SESSION_EXTRAPOLATION)
    elif state.first_event is not None:
        timers["session"] = running(state.first_event)
    else:
        timers["session"] = frozen(0.0)
    return timers


def speedrun_sections(service: TimerService) -> dict[str, Section]:
    """`segments` and `practice` of the timer service, and their timers (`run`, `split_room`, `practice`)."""
    book, engine, practice = service.book, service.engine, service.practice

    def segments(now: float) -> Any:
        view = book.view(engine, now)
        clock = engine.clock
        moving = (engine.phase == "running" and clock.stopped is None
                  and (book.timing == "real" or clock.paused_since is None))
        run_time = view["run"]["time"] or 0.0
        if moving:  # the unrounded reading: the reference must not wobble with rounding
            run_time = engine.game_time(now) if book.timing == "game" else engine.real_time(now)
        timers = {"run": running(now - run_time) if moving else frozen(run_time)}
        rooms = view["rooms"]
        if rooms and rooms[-1]["current"]:
            took = rooms[-1]["time"] or 0.0
            timers["split_room"] = running(now - took) if moving else frozen(took)
        view["timers"] = timers
        return view

    def practice_view(now: float) -> Any:
        view = practice.view(now)
        live = practice.live
        view["timers"] = {"attempt": running(live.started) if live is not None else frozen(
            (view["last"] or {}).get("time"))}
        return view

    return {"segments": segments, "practice": practice_view}


def state_document(state: SessionState, sections: Mapping[str, Section], now: float) -> dict[str, Any]:
    """The channel's document: the state snapshot, the registered sections, and `timers`."""
    doc = state.snapshot()
    for name, section in sections.items():
        try:
            doc[name] = section(now)
        except Exception as exc:  # one broken part must not blank every overlay
            doc[name] = {"error": f"{type(exc).__name__}: {exc}"}
    doc["timers"] = state_timers(state, now)
    return doc


# Fields that move with time alone (their timer says how): left out when comparing documents.
_LIVE_FIELDS: dict[str, tuple[str, ...]] = {
    "boss": ("fight_time",), "scene": ("time_in_scene",), "session": ("time",),
}


def stable(key: str, value: Any) -> Any:
    """`value` of top-level `key` without the readings that change with time alone."""
    if key == "last_seq":
        return None  # every event moves it; it is sent along with any real change
    if key == "timers":
        return {name: _reference(t) for name, t in value.items()}
    if not isinstance(value, dict):
        return value
    if key in _LIVE_FIELDS:
        out = dict(value)
        for field in _LIVE_FIELDS[key]:
            out.pop(field, None)
        if key == "boss" and not value.get("active"):
            out["fight_time"] = value.get("fight_time")  # a finished fight's time is a real change
        return out
    if key == "segments" and "run" in value:
        out = {**value, "run": {k: v for k, v in value["run"].items() if k not in ("real", "game", "time")},
               "rooms": [{**r, "time": None} if r.get("current") else r for r in value.get("rooms", [])],
               "timers": {n: _reference(t) for n, t in value.get("timers", {}).items()}}
        return out
    if key == "practice" and "current" in value:
        current = value["current"]
        return {**value, "current": None if current is None else {**current, "time": None},
                "timers": {n: _reference(t) for n, t in value.get("timers", {}).items()}}
    return value


def _reference(timer: Mapping[str, Any]) -> Any:
    # A running timer's reference, rounded to SAME_REFERENCE: views round their readings to 1 ms.
    if timer.get("running"):
        return ("running", round(float(timer["since"]) / SAME_REFERENCE), timer.get("until"))
    return ("frozen", timer.get("value"))


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Top-level keys whose stable value differs (a key only in one of them counts)."""
    keys = [k for k in new if k not in old or stable(k, old[k]) != stable(k, new[k])]
    keys += [k for k in old if k not in new]
    return keys


__all__ = ["Section", "changed_keys", "frozen", "running", "speedrun_sections", "stable",
           "state_document", "state_timers"]
