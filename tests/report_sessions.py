"""Sessions with known ground truth for the report tests: every number is planted here.

`Play` writes events as our exports do (or, `original=True`, as the original mod's FileExporter:
BOM, CRLF, snake_case keys, 7 fraction digits, its event names) and keeps the truth it planted.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

START = datetime(2026, 3, 1, 18, 0, 0, tzinfo=UTC)


@dataclass
class Play:
    """Builds one session; `t` is game seconds since its start."""

    original: bool = False
    hz: float = 10.0
    start: datetime = START
    t: float = 0.0
    lines: list[bytes] = field(default_factory=list)
    hp: int = 5
    hp_max: int = 5
    silk: int = 0
    x: float = 0.0
    y: float = 10.0
    scene: str | None = None
    seq: int = 0
    dealt: float = 0.0
    taken: float = 0.0
    hits_dealt: int = 0
    hits_taken: int = 0

    def stamp(self) -> str:
        when = self.start + timedelta(seconds=self.t)
        if self.original:
            return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}0Z"
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"

    def emit(self, event_type: str, data: dict[str, Any]) -> None:
        self.seq += 1
        if self.original:
            obj: dict[str, Any] = {"timestamp": self.stamp(), "event_type": event_type, "data": data}
            self.lines.append(orjson.dumps(obj) + b"\r\n")
        else:
            obj = {"Timestamp": self.stamp(), "EventType": event_type, "Data": data, "Seq": self.seq}
            self.lines.append(orjson.dumps(obj) + b"\n")

    # -- play -------------------------------------------------------------------------------------
    def enter(self, room: str, kind: str = "gate") -> None:
        if self.original:
            self.emit("scene_transition", {"scene_name": room})
        else:
            self.emit("scene_transition", {"from_scene": self.scene, "to_scene": room,
                                           "transition_type": kind})
        self.scene = room
        self.x = 0.0

    def move(self, seconds: float, vx: float, vy: float = 0.0) -> None:
        """Walk at (vx, vy) for `seconds`, one player_update per 1/hz s."""
        steps = round(seconds * self.hz)
        for _ in range(steps):
            self.t = round(self.t + 1 / self.hz, 6)
            self.x += vx / self.hz
            self.y += vy / self.hz
            self.update(vx, vy)

    def update(self, vx: float = 0.0, vy: float = 0.0) -> None:
        data: dict[str, Any] = {"position_x": round(self.x, 4), "position_y": round(self.y, 4),
                                "velocity_x": vx, "velocity_y": vy, "health_current": self.hp,
                                "health_max": self.hp_max}
        if self.original:
            data.update(soul_current=self.silk, soul_max=9, grounded=True)
        else:
            data.update(mp_current=self.silk, mp_max=9, on_ground=True)
        self.emit("player_update", data)

    def wait(self, seconds: float) -> None:
        self.t = round(self.t + seconds, 6)

    def hurt(self, damage: int, source: str = "Mossgrub") -> None:
        self.hp = max(0, self.hp - damage)
        self.taken += damage
        self.hits_taken += 1
        if self.original:
            self.emit("player_damaged", {"damage": damage, "health_remaining": self.hp})
        else:
            self.emit("combat_damage", {"damage": damage, "source": source, "enemy_type": source,
                                        "player_health_remaining": self.hp, "is_player_damage": True})

    def hit(self, damage: int, enemy: str = "Mossgrub") -> None:
        self.dealt += damage
        self.hits_dealt += 1
        self.silk = min(9, self.silk + 1)
        if self.original:
            self.emit("enemy_damaged", {"damage": damage, "enemy_name": f"{enemy} (2)"})
        else:
            self.emit("combat_damage", {"damage": damage, "enemy_type": enemy, "is_player_damage": False})

    def die(self, cause: str) -> None:
        self.emit("player_death", {"location": self.scene, "cause": cause})
        self.hp = 0

    def respawn(self, bench_room: str) -> None:
        self.wait(3)
        self.enter(bench_room, "respawn")
        self.hp = self.hp_max
        self.emit("checkpoint_reached", {"scene": bench_room})
        self.update()

    def bench(self) -> None:
        self.hp = self.hp_max
        self.emit("checkpoint_reached", {"scene": self.scene})
        self.update()

    def boss(self, phase: str, name: str = "Bell Beast", **extra: Any) -> None:
        if self.original:
            kind = {"defeated": "defeat"}.get(phase, phase)
            self.emit("boss_event", {"boss_name": name, "event_type": kind, **extra})
        else:
            self.emit("boss_encounter", {"boss_name": name, "phase": phase, **extra})

    def ability(self, name: str = "Silkspear") -> None:
        self.emit("ability_used", {"ability": name})

    def heal(self) -> None:
        """Bind: three masks back (a Healed fact from the next player_update)."""
        self.ability("Bind")
        self.hp = min(self.hp_max, self.hp + 3)
        self.update()

    def write(self, path: Path) -> Path:
        body = b"".join(self.lines)
        if self.original:
            body = b"\xef\xbb\xbf" + body
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(body))
        else:
            path.write_bytes(body)
        return path


# -- the planted session ----------------------------------------------------------------------
ROUTE_ROOM = "Tut_02"  # a Moss Grotto room entered six times: three safe, three risky
BOSS_ROOM = "Bone_05"  # Bell Beast's arena (The Marrow)
BENCH_ROOM = "Tut_01"

TRUTH: dict[str, Any] = {
    "deaths_by_room": {ROUTE_ROOM: 1, BOSS_ROOM: 2},
    "deaths_by_cause": {"Bell Beast": 2, "spikes": 1},
    "boss_times": [40.0, 55.0, 62.5],  # died, died, defeated (the game's time)
    "boss_results": ["died", "died", "defeated"],
    "boss_heals": [0, 0, 2],
    "route_attempts": 6,
}


def safe_pass(play: Play) -> None:
    """The safe route: straight through at 8 units/s, no damage taken, one ability."""
    play.enter(ROUTE_ROOM)
    play.move(5.0, 8.0)
    play.ability("Silkspear")
    play.hit(5)


def risky_pass(play: Play, damage: int = 3) -> None:
    """The risky route: slow, back and forth over 12 s, three hits taken, four abilities."""
    play.enter(ROUTE_ROOM)
    play.move(4.0, 3.0)
    for _ in range(damage):
        play.hurt(1, "Mosscreep")
    play.move(4.0, -3.0)
    for _ in range(4):
        play.ability("Silkspear")
    play.hit(5)
    play.move(4.0, 3.0, 1.0)


def planted_session(original: bool = False) -> Play:
    """The session the report tests check number by number (see TRUTH)."""
    play = Play(original=original)
    if not original:
        play.emit("scene_transition", {"from_scene": "Menu_Title", "to_scene": BENCH_ROOM,
                                       "transition_type": "load"})
        play.scene = BENCH_ROOM
    else:
        play.enter(BENCH_ROOM)
    play.update()
    play.bench()
    play.move(10.0, 5.0)
    # Tut_02, safe three times (walking back to Tut_01 between passes).
    for _ in range(3):
        safe_pass(play)
        play.enter(BENCH_ROOM)
        play.move(2.0, 4.0)
    # ... then risky three times; the last risky pass ends on spikes.
    for i in range(3):
        risky_pass(play)
        if i == 2:
            play.hurt(2, "spikes")
            play.die("spikes")
            play.respawn(BENCH_ROOM)
        else:
            play.enter(BENCH_ROOM)
            play.hp = play.hp_max
            play.bench()
        play.move(2.0, 4.0)
    # Bell Beast: two deaths, then a win with two heals.
    for attempt, seconds in enumerate(TRUTH["boss_times"]):
        play.enter(BOSS_ROOM)
        play.move(1.0, 6.0)
        play.boss("start")
        if attempt < 2:
            play.move(seconds - 0.5, 0.5)
            for _ in range(5):
                play.hurt(1, "Bell Beast")
            play.wait(0.5)
            play.die("Bell Beast")
            play.respawn(BENCH_ROOM)
            play.move(2.0, 4.0)
        else:
            for _ in range(2):
                play.move(10.0, 0.5)
                play.hurt(2, "Bell Beast")
                play.heal()
            for _ in range(6):
                play.hit(50, "Bell Beast")
            play.move(seconds - 20.0 - 0.5, 0.5)
            play.boss("defeated")
            play.move(2.0, 0.0)
            play.emit("boss_defeated", {"boss_name": "Bell Beast", "time": seconds})
            play.move(3.0, 6.0)
    return play
