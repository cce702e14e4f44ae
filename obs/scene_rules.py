"""Scene rules: which OBS scene the game wants, and when a switch may happen. Pure: no I/O, no clock.

Two parts:
- `RuleSet` reads the room and the boss fight from the game facts (`dxbus.facts`: the bus's one
  `FactDeriver`, or a deriver of its own when used alone), keeps the rest of the trigger state
  (pause, recent instant events) and says
  which rule wins right now: the first rule, in written order, whose trigger is active and whose pattern
  matches. It also says which action rule fires for an event and explains a room (`dxbus obs explain`).
- `Director` turns the winning rule into switches, edge-triggered (only when the winner changes) and
  guarded: a delay before switching (cancelled if the trigger ends first), a minimum dwell after a
  switch, "return to the previous scene" when a rule's trigger ends, never switching to the live scene,
  protected scenes, and a pause after a manual change in OBS.

Every method takes `now` (monotonic seconds); the OBS service passes its injected clock's reading, tests
pass numbers. The service asks `next_wakeup()` when to call `step()` again.
"""

from __future__ import annotations

import fnmatch
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from dxbus import facts as f
from dxbus.events import Draft, make_event

from .settings import ObsSection, RuleSection

# Event types that move the trigger state (rooms and fights come as facts).
FACT_EVENTS = frozenset({"scene_transition", "boss_encounter", "boss_defeated", "player_death"})
PAUSE_EVENTS = {"game_paused": True, "game_resumed": False}
# Triggers computed from the game state (the others are event types, matched by name).
NAMED = frozenset({"room", "menu", "boss", "boss_end", "death", "pause"})
# How long a switch we asked for still explains an OBS scene event (events merge and arrive late).
ECHO_WINDOW = 5.0


@dataclass(frozen=True)
class Rule:
    """A compiled `[[OBS.Rules]]` entry."""

    index: int  # 1-based position in the evaluation order, as people count
    spec: RuleSection
    matcher: re.Pattern[str] | None

    @property
    def on(self) -> str:
        return self.spec.on

    @property
    def scene(self) -> str:
        return self.spec.scene

    @property
    def has_actions(self) -> bool:
        return bool(self.spec.show or self.spec.hide or self.spec.set_text)

    @property
    def instant(self) -> bool:
        """Instant triggers (death, boss_end, event types) count as active for HoldSeconds."""
        return self.on not in ("room", "menu", "boss", "pause")

    @property
    def label(self) -> str:
        """`rule 2 "bosses" (Prefix 'Boss_')`: how logs and explain name a rule."""
        name = f" {self.spec.name!r}" if self.spec.name else ""
        kind = self.spec.match_kind
        parts = [] if self.on == "room" else [f"On {self.on}"]
        if kind:
            parts.append(f"{kind.capitalize()} {getattr(self.spec, kind)!r}")
        elif self.on == "room":
            parts.append("any room")
        return f"rule {self.index}{name} ({', '.join(parts)})"

    def matches(self, subject: str | None) -> bool:
        """Does the rule's pattern accept `subject`? No pattern accepts anything (even None)."""
        spec = self.spec
        kind = spec.match_kind
        if kind is None:
            return True
        if subject is None:
            return False
        if self.matcher is not None:
            return self.matcher.fullmatch(subject) is not None
        pattern: str = getattr(spec, kind)
        text = subject
        if spec.ignore_case:
            pattern, text = pattern.casefold(), text.casefold()
        if kind == "exact":
            return text == pattern
        if kind == "prefix":
            return text.startswith(pattern)
        if kind == "suffix":
            return text.endswith(pattern)
        return pattern in text  # contains


def compile_rule(index: int, spec: RuleSection) -> Rule:
    """Compile one rule. Regex must match the whole name (use `.*` for partial), glob is fnmatch."""
    flags = re.IGNORECASE if spec.ignore_case else 0
    matcher = None
    if spec.regex is not None:
        matcher = re.compile(spec.regex, flags)
    elif spec.glob is not None:
        matcher = re.compile(fnmatch.translate(spec.glob), flags)
    return Rule(index, spec, matcher)


def compile_rules(section: ObsSection) -> list[Rule]:
    """All rules of the `[OBS]` section in evaluation order (`Rules`, then `SceneMap`)."""
    return [compile_rule(number, spec) for number, spec in section.numbered_rules()]


@dataclass
class GameState:
    """What the rules keep besides the facts: pause, instant triggers still held, the last event."""

    paused: bool = False
    # rule index -> (active until, subject); instant triggers
    held: dict[int, tuple[float, str | None]] = field(default_factory=dict)
    last_event: str = ""
    last_data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fired:
    """An action rule that fired for an event, with the values its templates can use."""

    rule: Rule
    values: dict[str, str]


Started = dict[str, str | None]


class RuleSet:
    """The rules plus the trigger state they are evaluated against."""

    def __init__(self, rules: list[Rule], menu_rooms: list[str] | None = None,
                 facts: f.FactDeriver | None = None) -> None:
        self.rules = rules
        self.menu_rooms = tuple(menu_rooms if menu_rooms is not None else ["Menu_", "Quit_To_Menu"])
        self.state = GameState()
        # Alone (tests, `explain`), the rule set derives facts itself from the events it observes;
        # on the bus it reads the bus's deriver and is handed its facts (`advance_fact`).
        self._clock = f.StepClock()
        self._own_facts = facts is None
        self.facts = facts if facts is not None else f.FactDeriver(self._clock)
        self._probe_room: str | None = None
        self._seq = 0

    # -- trigger state ---------------------------------------------------------------------
    @property
    def room(self) -> str | None:
        """The room the player is in (from the facts)."""
        return self._probe_room if self._probe_room is not None else self.facts.room

    @property
    def boss(self) -> str | None:
        """The boss of the fight in progress (from the facts)."""
        fight = self.facts.fight
        return fight.boss if fight is not None else None

    def is_menu(self, room: str | None) -> bool:
        """Is this room one of the game's menu scenes?"""
        return room is not None and room.startswith(self.menu_rooms)

    def advance_fact(self, fact: f.Fact) -> Started:
        """The named triggers a fact starts, with their subject (room, menu, boss, boss_end, death)."""
        started: Started = {}
        if isinstance(fact, f.RoomEntered):
            if not fact.same_room:
                started["room"] = fact.room
                if self.is_menu(fact.room):
                    started["menu"] = fact.room
        elif isinstance(fact, f.FightStarted):
            started["boss"] = fact.boss
        elif isinstance(fact, f.FightEnded):
            started["boss_end"] = fact.boss  # defeated, died or left the arena
        elif isinstance(fact, f.Death):
            started["death"] = fact.room
        return started

    def observe(self, event_type: str, data: dict[str, Any], now: float,
                started: Started | None = None) -> list[Fired]:
        """Update the trigger state from a bus event; return the action rule that fires (first match).

        `started`: the named triggers its facts started (on the bus, from `advance_fact`); a rule set
        used alone derives them here.
        """
        started = dict(started or {})
        if self._own_facts and event_type in FACT_EVENTS:
            self._clock.now = now
            self._seq += 1
            event = make_event(Draft(event_type, dict(data)), self._seq, now, now)
            for fact in self.facts.apply(event):
                started.update(self.advance_fact(fact))
        st = self.state
        if event_type in PAUSE_EVENTS and PAUSE_EVENTS[event_type] != st.paused:
            st.paused = PAUSE_EVENTS[event_type]
            if st.paused:
                started["pause"] = self.room
        st.last_event, st.last_data = event_type, data
        fired: Fired | None = None
        for rule in self.rules:
            on = rule.on
            if on in started:
                subject = started[on]
            elif rule.instant and on == event_type and on not in NAMED:
                value = data.get(rule.spec.field) if rule.spec.field else self.room
                subject = value if isinstance(value, str) else None if value is None else str(value)
            else:
                continue
            if not rule.matches(subject):
                continue
            if rule.instant and rule.scene:
                st.held[rule.index] = (now + rule.spec.hold_seconds, subject)
            if fired is None and rule.has_actions:
                fired = Fired(rule, self.values(subject))
        return [fired] if fired else []

    def expire(self, now: float) -> None:
        """Forget instant triggers whose hold time is over."""
        for index, (until, _) in list(self.state.held.items()):
            if until <= now:
                del self.state.held[index]

    def subject(self, rule: Rule) -> str | None:
        """What the rule's pattern is compared with while its trigger is active."""
        if rule.on == "boss":
            return self.boss
        if rule.instant:
            held = self.state.held.get(rule.index)
            return held[1] if held else None
        return self.room

    def active(self, rule: Rule, now: float) -> bool:
        """Is the rule's trigger active right now (ignoring its pattern)?"""
        st = self.state
        on = rule.on
        if on == "room":
            return self.room is not None
        if on == "menu":
            return self.is_menu(self.room)
        if on == "boss":
            return self.boss is not None
        if on == "pause":
            return st.paused
        held = st.held.get(rule.index)
        return held is not None and held[0] > now

    def holds(self, rule: Rule, now: float) -> bool:
        """Is the rule's trigger active and its pattern matching right now?"""
        return self.active(rule, now) and rule.matches(self.subject(rule))

    def winner(self, now: float) -> Rule | None:
        """The first scene rule whose trigger is active and whose pattern matches."""
        for rule in self.rules:
            if rule.scene and self.holds(rule, now):
                return rule
        return None

    def next_expiry(self) -> float | None:
        """When the next held instant trigger ends."""
        return min((until for until, _ in self.state.held.values()), default=None)

    def values(self, subject: str | None) -> dict[str, str]:
        """Template values for actions: {room}, {boss}, {event}, {subject} and scalar Data fields."""
        st = self.state
        out = {k: str(v) for k, v in st.last_data.items() if isinstance(v, str | int | float | bool)}
        out.update(room=self.room or "", boss=self.boss or out.get("boss_name", ""), event=st.last_event,
                   subject=subject or "")
        return out

    def describe_trigger(self, rule: Rule) -> str:
        """`room 'Boss_01'`, `boss fight 'Lace'`: what made the rule win, for the log line."""
        subject = self.subject(rule)
        what = {"room": "room", "menu": "menu room", "boss": "boss fight", "pause": "pause in room",
                "death": "death in", "boss_end": "end of boss fight"}.get(rule.on, rule.on)
        return f"{what} {subject!r}" if subject is not None else what

    # -- explain ---------------------------------------------------------------------------
    def explain(self, room: str) -> list[str]:
        """Lines saying, rule by rule, what entering `room` would do (no fight, not paused)."""
        probe = RuleSet(self.rules, list(self.menu_rooms))
        probe._probe_room = room
        lines = [f"entering room {room!r}:"]
        winner: Rule | None = None
        for rule in self.rules:
            if rule.on not in ("room", "menu"):
                verdict = f"skipped: fires on {rule.on}, not on entering a room"
            elif not probe.active(rule, 0.0):
                verdict = "skipped: not a menu room"
            elif not rule.matches(room):
                verdict = "no match"
            elif not rule.scene:
                verdict = "matches: runs its actions only (no Scene)"
            elif winner is None:
                winner = rule
                verdict = f"MATCH -> switch to {rule.scene!r}"
            else:
                verdict = f"matches too, but {winner.label.split(' (')[0]} comes first"
            lines.append(f"  {rule.label}: {verdict}")
        if not self.rules:
            lines.append("  (no rules configured in [OBS])")
        lines.append(f"result: switch to {winner.scene!r} by {winner.label}" if winner
                     else "result: no rule matches; the scene stays as it is")
        return lines


@dataclass
class Pending:
    """A switch the director wants to make once its delay, the dwell and the guards allow."""

    scene: str
    rule: Rule | None
    reason: str
    due: float


@dataclass(frozen=True)
class Switch:
    """A command to the OBS side: make `scene` live, because `reason`."""

    scene: str
    reason: str
    rule: Rule | None


@dataclass
class Record:
    """One decision, kept for the status page and the log."""

    at: float
    scene: str
    reason: str
    outcome: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "scene": self.scene, "reason": self.reason, "outcome": self.outcome}


class Director:
    """Turns rule decisions into guarded switches. See the module docstring."""

    def __init__(self, rules: RuleSet, section: ObsSection) -> None:
        self.rules = rules
        self.manual_pause = section.manual_pause_seconds
        self.protected = frozenset(section.protected_scenes)
        self.default_dwell = section.min_dwell_seconds
        self.live: str | None = None  # the scene we control (program, or preview in studio mode)
        self.connected = False
        self.paused_until = 0.0
        self.hold_until = 0.0
        self.pending: Pending | None = None
        self.in_flight: Switch | None = None
        self._winner_key: tuple[Any, ...] | None = None
        self._return_to: tuple[Rule, str] | None = None  # (rule that switched, scene before it)
        self._requested: deque[tuple[str, float]] = deque(maxlen=16)
        self._held_note: str | None = None
        self.history: deque[Record] = deque(maxlen=20)

    # -- inputs ----------------------------------------------------------------------------
    def on_event(
        self, event_type: str, data: dict[str, Any], now: float, seq: int | None = None,
        started: Started | None = None,
    ) -> list[Fired]:
        """A bus event (with the triggers its facts started): update, re-decide; return what fires."""
        fired = self.rules.observe(event_type, data, now, started)
        self.reevaluate(now, f"{event_type} #{seq}" if seq is not None else event_type)
        return fired

    def reevaluate(self, now: float, cause: str = "timer") -> None:
        """Pick the winning rule again; if it changed, plan a switch (or cancel the planned one)."""
        self.rules.expire(now)
        winner = self.rules.winner(now)
        key = self._key(winner)
        if key == self._winner_key:
            return
        self._winner_key = key
        ret = self._return_to
        if ret and not self.rules.holds(ret[0], now) and (winner is None or winner.index > ret[0].index):
            self._return_to = None
            self._plan(Pending(ret[1], None, f"return after {ret[0].label} ended ({cause})", now))
            return
        if winner is None:
            in_flight = self.in_flight is not None and self.pending is not None and (
                self.in_flight.scene == self.pending.scene)
            if self.pending is not None and self.pending.rule is not None and not in_flight:
                self._note(now, self.pending.scene, self.pending.reason, "cancelled: trigger ended first")
                self.pending = None
            return
        reason = f"{winner.label} matched {self.rules.describe_trigger(winner)} ({cause})"
        self._plan(Pending(winner.scene, winner, reason, now + winner.spec.delay_seconds))

    def expects(self, scene: str, now: float) -> bool:
        """Is an OBS report of `scene` explained by our own switches (an echo or a duplicate)?"""
        if scene == self.live or (self.in_flight is not None and self.in_flight.scene == scene):
            return True
        return any(name == scene and now - at <= ECHO_WINDOW for name, at in self._requested)

    def on_obs_scene(self, scene: str, now: float) -> bool:
        """OBS reports the controlled scene changed; True if it was a manual change (not ours)."""
        for i, (name, at) in enumerate(self._requested):
            if name == scene and now - at <= ECHO_WINDOW:
                # Our own switch confirmed; earlier requests were merged into it by OBS.
                for _ in range(i + 1):
                    self._requested.popleft()
                self.live = scene
                return False
        if scene == self.live or (self.in_flight is not None and self.in_flight.scene == scene):
            return False  # a duplicate event (OBS repeats some), or the echo racing our reply
        self.live = scene
        self.pending = None
        self._return_to = None
        if self.manual_pause > 0:
            self.paused_until = now + self.manual_pause
            self._note(now, scene, "changed by hand in OBS",
                       f"automation paused for {self.manual_pause:g} s")
        else:
            self._note(now, scene, "changed by hand in OBS", "noted")
        return True

    def on_connected(self, scene: str | None, now: float) -> None:
        """(Re)connected to OBS: take its live scene and re-apply what the rules want now."""
        self.connected = True
        self.live = scene
        self.in_flight = None
        self._requested.clear()
        self.pending = None
        self.reapply(now, "re-applied on connect")

    def reapply(self, now: float, why: str) -> None:
        """Plan the current winner's scene again (e.g. a scene it needs was just created in OBS)."""
        self.rules.expire(now)
        winner = self.rules.winner(now)
        self._winner_key = self._key(winner)
        if winner is not None and winner.scene != self.live and self.in_flight is None and (
                self.pending is None or self.pending.scene != winner.scene):
            reason = f"{winner.label} matched {self.rules.describe_trigger(winner)} ({why})"
            self._plan(Pending(winner.scene, winner, reason, now))

    def on_disconnected(self) -> None:
        """The connection to OBS is gone; switches wait for the reconnect."""
        self.connected = False
        self.in_flight = None

    def resume(self, now: float) -> None:
        """Lift a manual pause now (the streamer asked for automation back)."""
        self.paused_until = now

    # -- outputs ---------------------------------------------------------------------------
    def step(self, now: float) -> Switch | None:
        """The switch to make now, if one is due and allowed (the caller reports back with `done`)."""
        p = self.pending
        if p is None or not self.connected or self.in_flight is not None or now < p.due:
            return None
        if self.live in self.protected:
            self._hold(now, p, "protected", f"held: {self.live!r} is a protected scene")
            return None
        if now < self.paused_until:
            self._hold(now, p, "paused", f"held: automation paused for {self.paused_until - now:.1f} s "
                                         "more after a manual change")
            return None
        if p.scene == self.live:
            self.pending = None  # nothing to do (not recorded: it happens on most room changes)
            return None
        if now < self.hold_until:
            self._hold(now, p, "dwell", f"held: minimum dwell, {self.hold_until - now:.1f} s left")
            return None
        self.in_flight = Switch(p.scene, p.reason, p.rule)
        return self.in_flight

    def done(self, switch: Switch, now: float, error: str | None = None, dry_run: bool = False) -> Record:
        """The outcome of a `step()` switch; returns the record logged for it."""
        self.in_flight = None
        if self.pending is not None and self.pending.scene == switch.scene:
            self.pending = None
        if error is not None:
            return self._note(now, switch.scene, switch.reason, f"failed: {error}")
        previous = self.live
        self.live = switch.scene
        self._requested.append((switch.scene, now))
        rule = switch.rule
        dwell = self.default_dwell
        if rule is not None:
            if rule.spec.min_dwell_seconds is not None:
                dwell = rule.spec.min_dwell_seconds
            if rule.spec.return_to_previous and previous and previous != switch.scene and (
                    self._return_to is None or self._return_to[0].index != rule.index):
                self._return_to = (rule, previous)
        self.hold_until = now + dwell
        record = self._note(now, switch.scene, switch.reason, "dry-run" if dry_run else "switched")
        if rule is not None and self._return_to is not None and self._return_to[0] is rule and (
                not self.rules.holds(rule, now)):
            # The trigger ended while the switch was on its way to OBS: decide the return now.
            self._winner_key = ("in flight",)
            self.reevaluate(now, "ended during the switch")
        return record

    def next_wakeup(self, now: float) -> float | None:
        """The next time `reevaluate`/`step` can change something (None: only a new event can)."""
        times = []
        expiry = self.rules.next_expiry()
        if expiry is not None:
            times.append(expiry)
        p = self.pending
        # A protected scene holds until OBS reports a change, so no timer is needed for it.
        if p is not None and self.connected and self.live not in self.protected:
            times.append(max(p.due, self.paused_until, self.hold_until if p.scene != self.live else 0.0))
        future = [t for t in times if t > now]
        return min(future) if future else None

    @property
    def return_target(self) -> str | None:
        """The scene a `ReturnToPrevious` rule will go back to, if one is waiting."""
        return self._return_to[1] if self._return_to else None

    # -- internals -------------------------------------------------------------------------
    def _key(self, winner: Rule | None) -> tuple[Any, ...] | None:
        # A new room (or boss, or a new instant event) is a new decision even when the same rule wins:
        # after the streamer changed the scene by hand, the next room brings automation back.
        if winner is None:
            return None
        held = self.rules.state.held.get(winner.index)
        return (winner.index, winner.scene, self.rules.subject(winner), held)

    def _plan(self, pending: Pending) -> None:
        self.pending = pending
        self._held_note = None

    def _hold(self, now: float, p: Pending, kind: str, why: str) -> None:
        # Record a hold once per pending switch and kind, not on every wake-up.
        key = f"{id(p)}:{kind}"
        if key != self._held_note:
            self._held_note = key
            self._note(now, p.scene, p.reason, why)

    def _note(self, now: float, scene: str, reason: str, outcome: str) -> Record:
        record = Record(now, scene, reason, outcome)
        self.history.append(record)
        return record
