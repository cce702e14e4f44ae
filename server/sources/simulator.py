"""A simulator of Hollow Knight: Silksong play, built on the real world data (the demo's source).

Hornet starts in Moss Grotto (`Tut_01`) and walks the real room graph (`exits`), heading for the
nearest boss she has not beaten yet with detours along the way. Rooms have enemies that she fights
with her needle (gaining silk, binding to heal), benches where she rests (her respawn point), pickups
from the item data (mask shards raise her masks, abilities and silk skills unlock), and boss arenas
where fights have phases and end in a defeat or a death (respawn at the last bench and try again).

`Simulation` is the pure, deterministic model: `advance(seconds)` moves game time in fixed 50 ms
steps and reports events through a callback, drawing every random choice from one seeded
`random.Random`. `Simulator` is the bus service that drives it with the injected clock: one tick per
`player_update` at the live `update_frequency_hz`, each tick advancing game time by `speed / hz`.
Same seed + same clock = the same events, byte for byte.

At `--speed` above 1 the demo is a compressed game session, and its export must read like one
(`dxbus report` on it): every event is stamped with its game time (the start's wall time plus the
simulation's `t`), and `player_update` is sampled per game second at `update_frequency_hz` (each
tick publishes `speed` samples), up to `MAX_SAMPLES_PER_SECOND` per wall second, above which
the game rate drops so a speed of 1000 does not flood the bus.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clock import Clock, utc_iso
from ..collection import CollectionPolicy
from ..config import ConfigError
from ..events import DEMO
from ..parts import Part
from ..tasks import cancel_and_wait
from ..world import Boss, World, load_world

if TYPE_CHECKING:
    from ..bus import Bus
    from ..hub import Hub

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], Any]

START_SCENE = "Tut_01"
TITLE_SCENE = "Menu_Title"
STEP = 0.05  # game seconds per simulation step
RUN_SPEED = 8.6  # world units per second
GRAVITY = -62.0
JUMP_SPEED = 21.0
NEEDLE_DAMAGE = 5
ATTACK_INTERVAL = 0.42
BIND_COST = 9
BIND_HEAL = 3
SKILL_COST = 4
STATS_INTERVAL = 5.0
MAX_SAMPLES_PER_SECOND = 1200  # player_update samples per wall second at --speed above 1
MAX_BOSS_TRIES = 3  # consecutive losses before Hornet goes elsewhere for a while

# Enemies by map region (a readable selection; rooms draw from their region's list).
ENEMIES: dict[str, tuple[str, ...]] = {
    "Mosslands": ("Mossgrub", "Mosscreep", "Aknid"),
    "The Marrow": ("Skull Scuttler", "Skullwing", "Skull Brute", "Pilgrim Pouncer"),
    "Deep Docks": ("Underworker", "Smokerock Sifter", "Deep Docks Diver"),
    "Far Fields": ("Pilgrim Hornfly", "Fertid", "Pilgrim Pouncer"),
    "Greymoor": ("Craw", "Roachcatcher", "Wandering Pilgrim"),
    "Shellwood": ("Shellwood Gnat", "Pollenica", "Splinter Sister"),
    "Hunter's March": ("Skarr Scout", "Skarr Stalker", "Skarrwing"),
    "Bellhart": ("Bell Pilgrim", "Pilgrim Pouncer"),
    "Bilewater": ("Muckroach", "Bloatroach", "Barnakle"),
    "Sinner's Road": ("Roachcatcher", "Drapefly", "Muckroach"),
    "Choral Chambers": ("Choir Pouncer", "Choir Bellbearer", "Vaultborn"),
    "Cogwork Core": ("Cogwork Underfly", "Cogwork Clapper"),
    "Wormways": ("Wormways Crawler", "Skull Scuttler"),
    "Blasted Steps": ("Coral Furm", "Judge", "Pilgrim Hornfly"),
    "Sands of Karak": ("Coral Furm", "Karak Gor", "Coral Brawler"),
    "Mount Fay": ("Frost Pilgrim", "Snowfly"),
}
DEFAULT_ENEMIES = ("Pilgrim Pouncer", "Mossgrub", "Aknid", "Wandering Pilgrim")
HAZARDS = ("spikes", "thorns", "lava", "acid")
# Item names for pickup kinds whose data names carry the place in brackets.
KIND_ITEM = {"flea": "Flea", "mask_shard": "Mask Shard", "spool_fragment": "Spool Fragment"}


@dataclass
class Enemy:
    """An enemy in the current room (or the boss)."""

    name: str
    hp: int
    x: float
    attack_rate: float  # hits attempted per second
    damage: int
    boss: Boss | None = None
    max_hp: int = 0
    phases: int = 1
    phase: int = 1


@dataclass
class Room:
    """The current room's layout, decided on entry: where Hornet walks, and who is in the way."""

    scene: str
    length: float
    floor: float
    next_scene: str | None
    side: str  # the edge of the exit gate
    enemies: list[Enemy]
    # Points to walk to in order, each with what happens there: "bench", "turn" or "exit".
    waypoints: list[tuple[float, str]]


class Simulation:
    """Silksong play as a deterministic model; events go to `emit(type, data)`."""

    def __init__(self, world: World, rng: random.Random, emit: Emit) -> None:
        self.world = world
        self.rng = rng
        self.emit = emit
        limits = world.player
        self.t = 0.0
        self.hp_max = limits.masks_start
        self.hp = self.hp_max
        self.silk_max = limits.silk_start
        self.silk = 0
        self.mask_shards = 0
        self.spool_fragments = 0
        self.x, self.y, self.vx, self.vy = 0.0, 0.0, 0.0, 0.0
        self.on_ground = True
        self.facing_right = True
        self.dash_left = 0.0
        self.attack_left = 0.0
        self.cooldown = 0.0
        self.activity = "walk"
        self.timer = 0.0
        self.scene = START_SCENE
        self.previous: str | None = None
        self.scene_entered = 0.0
        self.deaths_in_scene = 0
        self.last_bench = START_SCENE
        self.visited: set[str] = set()
        self.collected: set[str] = set()
        self.abilities: list[str] = []
        self.defeated: set[str] = set()
        self.losses: dict[str, int] = {}
        self.deferred: set[str] = set()
        self.boss_attempts: dict[str, int] = {}
        self.fight: Enemy | None = None
        self.fight_started = 0.0
        self.room: Room | None = None
        self.pending: tuple[str, str] | None = None  # (scene, side) being loaded
        self.damage_dealt = 0
        self.damage_taken = 0
        self.kills = 0
        self.deaths = 0
        self._acc = 0.0
        self._next_timing = 1.0
        self._next_stats = STATS_INTERVAL
        self._boss_index = {b.id: i for i, b in enumerate(world.bosses)}

    # -- driving -------------------------------------------------------------------------------
    def begin(self) -> None:
        """The game loads the save: title screen -> the first room."""
        load_ms = self.rng.randint(1800, 3200)
        self.emit("scene_transition", {
            "from_scene": TITLE_SCENE, "to_scene": START_SCENE, "transition_type": "load",
            "transition_side": None, "load_time_ms": load_ms, "total_scene_time": 0.0,
            "deaths_in_scene": 0,
        })
        self._enter(START_SCENE, "left")
        self._timing()

    def advance(self, seconds: float) -> None:
        """Move game time forward in fixed steps (so results do not depend on the tick size)."""
        self._acc += seconds
        while self._acc >= STEP - 1e-9:
            self._acc -= STEP
            self._step(STEP)

    def _step(self, dt: float) -> None:
        self.t += dt
        self.attack_left = max(0.0, self.attack_left - dt)
        self.dash_left = max(0.0, self.dash_left - dt)
        self.cooldown = max(0.0, self.cooldown - dt)
        handler = getattr(self, f"_do_{self.activity}")
        handler(dt)
        if self.t >= self._next_timing - 1e-9:
            self._next_timing += 1.0
            self._timing()
        if self.t >= self._next_stats - 1e-9:
            self._next_stats += STATS_INTERVAL
            self._stats()

    # -- rooms ---------------------------------------------------------------------------------
    def _enter(self, scene: str, side: str) -> None:
        """Arrive in `scene` through its `side` edge; lay the room out and pick where to go next."""
        rng = self.rng
        self.previous, self.scene = self.scene, scene
        self.scene_entered = self.t
        self.deaths_in_scene = 0
        first_visit = scene not in self.visited
        self.visited.add(scene)
        record = self.world.scene(scene)
        length = rng.uniform(38.0, 150.0)
        floor = round(rng.uniform(4.0, 90.0), 1)
        entry_x = 2.0 if side != "right" else length - 2.0
        next_scene = self._choose_exit()
        far_x = length - 2.0 if entry_x < length / 2 else 2.0
        waypoints: list[tuple[float, str]] = []
        bench = record is not None and record.bench
        if bench:
            waypoints.append((length * rng.uniform(0.35, 0.65), "bench"))
        if next_scene is None or next_scene == self.previous:
            # The way out is the way in: walk into the room (past what lives there), then turn.
            turn_x = length * (0.7 if entry_x < length / 2 else 0.3)
            waypoints += [(turn_x, "turn"), (entry_x, "exit")]
            far_x = turn_x
            exit_side = side
        else:
            waypoints.append((far_x, "exit"))
            exit_side = "right" if far_x > length / 2 else "left"
            if rng.random() < 0.12:
                exit_side = rng.choice(("top", "bottom"))
        lo, hi = min(entry_x, far_x) + 6.0, max(entry_x, far_x) - 3.0
        enemies: list[Enemy] = []
        boss = self._boss_here()
        if boss is not None:
            i = self._boss_index.get(boss.id, 0)
            hp = 300 + 15 * i + rng.randint(0, 60)
            enemies = [Enemy(boss.name, hp, length / 2, 0.2 + 0.006 * i, 2 if i >= 20 else 1,
                             boss=boss, max_hp=hp, phases=3 if i % 3 == 0 else 2)]
        elif not bench and hi > lo:
            region = record.region if record and record.region else ""
            names = ENEMIES.get(region, DEFAULT_ENEMIES)
            count = rng.choices((0, 1, 2, 3, 4), weights=(22, 30, 26, 14, 8))[0]
            for _ in range(count):
                name = rng.choice(names)
                big = name.endswith(("Brute", "Brawler", "Gor", "Bellbearer"))
                hp = rng.randint(20, 40) if big else rng.randint(8, 22)
                enemies.append(Enemy(name, hp, rng.uniform(lo, hi),
                                     rng.uniform(0.18, 0.32) * (1.4 if big else 1.0),
                                     2 if big and rng.random() < 0.3 else 1, max_hp=hp))
        self.room = Room(scene, length, floor, next_scene, exit_side, enemies, waypoints)
        self.x, self.y = entry_x, floor
        self.vx = self.vy = 0.0
        self.on_ground = True
        self.facing_right = waypoints[0][0] >= entry_x
        self.activity = "walk"
        if first_visit:
            self._pickups(scene)

    def _boss_here(self) -> Boss | None:
        # A boss Hornet gave up on for now is not fought again until she has beaten another.
        for boss in self.world.bosses_in(self.scene):
            if boss.id not in self.defeated and boss.id not in self.deferred:
                return boss
        return None

    def _target(self) -> tuple[Boss | None, dict[str, str]]:
        """The nearest undefeated boss (not deferred) and the BFS parent map to reach it."""
        parents: dict[str, str] = {}
        seen = {self.scene}
        queue = deque([self.scene])
        wanted = {b.scene: b for b in reversed(self.world.bosses)
                  if b.id not in self.defeated and b.id not in self.deferred}
        while queue:
            scene = queue.popleft()
            if scene in wanted and scene != self.scene:
                return wanted[scene], parents
            record = self.world.scene(scene)
            for nxt in record.exits if record else ():
                if nxt not in seen and self.world.scene(nxt) is not None:
                    seen.add(nxt)
                    parents[nxt] = scene
                    queue.append(nxt)
        return None, parents

    def _choose_exit(self) -> str | None:
        """Towards the target boss most of the time, exploring otherwise (new rooms first)."""
        record = self.world.scene(self.scene)
        exits = [e for e in (record.exits if record else ()) if self.world.scene(e) is not None]
        if not exits:
            return None
        rng = self.rng
        if rng.random() < 0.72:
            boss, parents = self._target()
            if boss is not None:
                step = boss.scene
                while parents.get(step) not in (self.scene, None):
                    step = parents[step]
                if step in exits:
                    return step
        fresh = [e for e in exits if e not in self.visited]
        if fresh and rng.random() < 0.8:
            return rng.choice(fresh)
        onward = [e for e in exits if e != self.previous] or exits
        return rng.choice(onward)

    def _leave(self) -> None:
        """Touch the exit gate: announce the transition, then load the next room."""
        room = self.room
        assert room is not None
        if room.next_scene is None:
            # A room with no exits (memory rooms): rest and walk back out the way we came.
            room.next_scene = self.previous or self.last_bench
        load_ms = self.rng.randint(350, 1600)
        self.emit("scene_transition", {
            "from_scene": self.scene, "to_scene": room.next_scene, "transition_type": "gate",
            "transition_side": room.side, "load_time_ms": load_ms,
            "total_scene_time": round(self.t - self.scene_entered, 3),
            "deaths_in_scene": self.deaths_in_scene,
        })
        entry_side = {"right": "left", "left": "right"}.get(room.side, self.rng.choice(("left", "right")))
        self.pending = (room.next_scene, entry_side)
        self.activity, self.timer = "loading", load_ms / 1000.0
        self.vx = self.vy = 0.0

    def _pickups(self, scene: str) -> None:
        for pickup in self.world.pickups:
            if pickup.scene != scene or pickup.name in self.collected:
                continue
            self.collected.add(pickup.name)
            self._collect(pickup.kind, KIND_ITEM.get(pickup.kind, pickup.name.split(" (")[0]))
        if self.rng.random() < 0.06:
            self.emit("item_collected", {"item_name": "Rosary String", "quantity": 1,
                                         "kind": "currency", "scene": scene})

    def _collect(self, kind: str, item: str) -> None:
        self.emit("item_collected", {"item_name": item, "quantity": 1, "kind": kind,
                                     "scene": self.scene})
        if kind in ("ability", "silk_skill") and item not in self.abilities:
            self.abilities.append(item)
            self.emit("ability_unlocked", {"ability": item, "kind": kind, "scene": self.scene})
        elif kind == "mask_shard":
            self.mask_shards += 1
            if self.mask_shards % self.world.player.mask_shards_per_mask == 0 and \
                    self.hp_max < self.world.player.masks_max:
                self.hp_max += 1
                self.hp = self.hp_max
        elif kind == "spool_fragment":
            self.spool_fragments += 1
            if self.spool_fragments % self.world.player.spool_fragments_per_spool == 0 and \
                    self.silk_max < self.world.player.silk_max:
                self.silk_max += 1

    # -- activities ----------------------------------------------------------------------------
    def _do_walk(self, dt: float) -> None:
        room = self.room
        assert room is not None
        rng = self.rng
        # Physics: jumps over the terrain now and then.
        if self.on_ground and rng.random() < 0.35 * dt:
            self.on_ground, self.vy = False, JUMP_SPEED * rng.uniform(0.7, 1.0)
        if not self.on_ground:
            self.vy += GRAVITY * dt
            self.y += self.vy * dt
            if self.y <= room.floor:
                self.y, self.vy, self.on_ground = room.floor, 0.0, True
        # An enemy in reach (or the boss in the middle of the arena) starts a fight.
        for enemy in room.enemies:
            if enemy.hp > 0 and abs(enemy.x - self.x) < 2.5:
                self._start_fight(enemy)
                return
        if rng.random() < 0.02 * dt:
            self._hurt(1, rng.choice(HAZARDS), None)
            if self.activity != "walk":
                return
        target, action = room.waypoints[0]
        direction = 1.0 if target > self.x else -1.0
        speed = RUN_SPEED
        if "Swift Step" in self.abilities and self.dash_left == 0 and rng.random() < 0.25 * dt:
            self.dash_left = 0.22
        if self.dash_left > 0:
            speed = RUN_SPEED * 2.4
        self.vx = direction * speed
        self.facing_right = direction > 0
        self.x += self.vx * dt
        if (direction > 0) == (self.x >= target):
            self.x = target
            room.waypoints.pop(0)
            if action == "exit":
                self._leave()
            elif action == "bench" and (self.hp < self.hp_max or self.last_bench != self.scene):
                self._rest()

    def _start_fight(self, enemy: Enemy) -> None:
        self.fight = enemy
        self.vx = 0.0
        self.facing_right = enemy.x >= self.x
        if enemy.boss is not None:
            self.activity = "boss"
            self.fight_started = self.t
            self.boss_attempts[enemy.boss.id] = self.boss_attempts.get(enemy.boss.id, 0) + 1
            self.emit("boss_encounter", {"boss_name": enemy.name, "boss_id": enemy.boss.id,
                                         "phase": "start", "scene": self.scene,
                                         "boss_health": enemy.hp})
        else:
            self.activity = "fight"

    def _do_fight(self, dt: float) -> None:
        enemy = self.fight
        assert enemy is not None
        self._exchange(enemy, dt, accuracy=0.8)
        if enemy.hp <= 0 and self.activity == "fight":
            self.kills += 1
            self.emit("enemy_killed", {"enemy_name": enemy.name, "enemy_type": enemy.name,
                                       "position_x": round(enemy.x, 2), "position_y": self._ry(),
                                       "total_kills": self.kills, "scene": self.scene})
            self.fight = None
            self.activity = "walk"
            self._clear_dead()

    def _do_boss(self, dt: float) -> None:
        enemy = self.fight
        assert enemy is not None and enemy.boss is not None
        self._exchange(enemy, dt, accuracy=0.7)
        if self.activity != "boss":
            return  # Hornet died
        threshold = enemy.max_hp * (1 - enemy.phase / enemy.phases)
        if enemy.hp > 0 and enemy.phase < enemy.phases and enemy.hp <= threshold:
            enemy.phase += 1
            enemy.attack_rate *= 1.12
            self.emit("boss_encounter", {"boss_name": enemy.name, "boss_id": enemy.boss.id,
                                         "phase": "phase_change", "phase_number": enemy.phase,
                                         "scene": self.scene})
        if enemy.hp <= 0:
            fight_time = round(self.t - self.fight_started, 2)
            boss = enemy.boss
            self.defeated.add(boss.id)
            self.losses.pop(boss.id, None)
            self.deferred.clear()  # progress made: the skipped bosses are worth another try
            self.emit("boss_encounter", {"boss_name": enemy.name, "boss_id": boss.id,
                                         "phase": "defeated", "scene": self.scene})
            self.emit("boss_defeated", {"boss_name": enemy.name, "boss_id": boss.id,
                                        "time": fight_time, "scene": self.scene,
                                        "attempts": self.boss_attempts.get(boss.id, 1)})
            self.fight = None
            self.activity = "walk"
            # The arena's reward: a mask shard, and the odd new skill.
            self._collect("mask_shard", "Mask Shard")
            skills = [s for s in self.world.abilities_by_kind.get("silk_skills", ())
                      if s not in self.abilities]
            if skills and self.rng.random() < 0.5:
                self._collect("silk_skill", self.rng.choice(skills))
            self._clear_dead()

    def _clear_dead(self) -> None:
        # Hornet carries on: the dead enemy (hp 0) no longer blocks the way.
        room = self.room
        if room is not None:
            room.enemies = [e for e in room.enemies if e.hp > 0]

    def _exchange(self, enemy: Enemy, dt: float, accuracy: float) -> None:
        """One step of a fight: Hornet attacks on a rhythm, the enemy lands hits at its rate."""
        rng = self.rng
        self.vx = rng.uniform(-2.5, 2.5) if rng.random() < 0.3 else 0.0
        if self.hp <= self.hp_max - BIND_HEAL and self.silk >= BIND_COST and self.cooldown == 0:
            self.silk -= BIND_COST
            self.hp = min(self.hp_max, self.hp + BIND_HEAL)
            self.cooldown = 0.8  # binding takes time; the enemy may punish it
            self._ability("Bind", BIND_COST)
        elif self.cooldown == 0:
            self.cooldown = ATTACK_INTERVAL
            self.attack_left = 0.15
            skills = [a for a in self.abilities if a in self.world.abilities_by_kind.get("silk_skills", ())]
            if skills and self.silk >= SKILL_COST and rng.random() < 0.12:
                skill = rng.choice(skills)
                self.silk -= SKILL_COST
                self._ability(skill, SKILL_COST)
                self._hit(enemy, rng.randint(14, 22), skill)
            elif rng.random() < accuracy:
                self._hit(enemy, NEEDLE_DAMAGE + (rng.random() < 0.1) * NEEDLE_DAMAGE, "needle")
        if enemy.hp > 0 and rng.random() < enemy.attack_rate * dt * (1.6 if self.cooldown > 0.5 else 1):
            self._hurt(enemy.damage, enemy.name, enemy)

    def _hit(self, enemy: Enemy, damage: int, source: str) -> None:
        damage = min(damage, max(enemy.hp, 1)) if enemy.boss is None else damage
        enemy.hp -= damage
        self.damage_dealt += damage
        self.silk = min(self.silk_max, self.silk + 1)
        self.emit("combat_damage", {
            "damage": damage, "source": source, "enemy_type": enemy.name, "enemy_name": enemy.name,
            "player_health_remaining": self.hp, "position_x": round(self.x, 2),
            "position_y": self._ry(), "is_player_damage": False, "enemy_health_remaining": max(0, enemy.hp),
        })

    def _hurt(self, damage: int, source: str, enemy: Enemy | None) -> None:
        damage = min(damage, self.hp)
        self.hp -= damage
        self.damage_taken += damage
        self.emit("combat_damage", {
            "damage": damage, "source": source, "enemy_type": enemy.name if enemy else source,
            "player_health_remaining": self.hp, "position_x": round(self.x, 2),
            "position_y": self._ry(), "is_player_damage": True,
        })
        if self.hp <= 0:
            self._die(source, enemy)

    def _die(self, cause: str, enemy: Enemy | None) -> None:
        self.deaths += 1
        self.deaths_in_scene += 1
        self.emit("player_death", {"location": self.scene, "cause": cause,
                                   "area": self.world.area_of(self.scene),
                                   "position_x": round(self.x, 2), "position_y": self._ry()})
        if enemy is not None and enemy.boss is not None:
            boss_id = enemy.boss.id
            self.losses[boss_id] = self.losses.get(boss_id, 0) + 1
            if self.losses[boss_id] >= MAX_BOSS_TRIES:
                self.losses[boss_id] = 0
                self.deferred.add(boss_id)
        self.fight = None
        self.activity, self.timer = "dead", self.rng.uniform(2.5, 4.0)
        self.vx = self.vy = 0.0
        self.silk = 0

    def _do_dead(self, dt: float) -> None:
        self.timer -= dt
        if self.timer > 0:
            return
        bench = self.last_bench
        load_ms = self.rng.randint(900, 2200)
        self.emit("scene_transition", {
            "from_scene": self.scene, "to_scene": bench, "transition_type": "respawn",
            "transition_side": None, "load_time_ms": load_ms,
            "total_scene_time": round(self.t - self.scene_entered, 3),
            "deaths_in_scene": self.deaths_in_scene,
        })
        self.pending = (bench, "left")
        self.activity, self.timer = "respawning", load_ms / 1000.0

    def _do_respawning(self, dt: float) -> None:
        self.timer -= dt
        if self.timer > 0:
            return
        assert self.pending is not None
        scene, side = self.pending
        self.pending = None
        self.hp = self.hp_max
        self._enter(scene, side)
        if self.room is not None:
            # Hornet wakes at the bench itself, which she does not need to sit at again.
            self.room.waypoints = [w for w in self.room.waypoints if w[1] != "bench"]
            self.x = self.room.length / 2
        self._checkpoint()
        self.activity, self.timer = "rest", 1.5

    def _do_loading(self, dt: float) -> None:
        self.timer -= dt
        if self.timer > 0:
            return
        assert self.pending is not None
        scene, side = self.pending
        self.pending = None
        self._enter(scene, side)

    def _rest(self) -> None:
        self.vx = 0.0
        self.hp = self.hp_max
        self.last_bench = self.scene
        self._checkpoint()
        self.activity, self.timer = "rest", self.rng.uniform(3.0, 7.0)

    def _do_rest(self, dt: float) -> None:
        self.timer -= dt
        if self.timer <= 0:
            self.activity = "walk"

    def _checkpoint(self) -> None:
        bench = self.world.bench_in(self.scene)
        self.emit("checkpoint_reached", {"scene": self.scene, "bench_name": bench.name if bench else None,
                                         "area": self.world.area_of(self.scene)})

    def _ability(self, ability: str, silk_cost: int) -> None:
        self.emit("ability_used", {"ability": ability, "silk_cost": silk_cost,
                                   "position_x": round(self.x, 2), "position_y": self._ry()})

    # -- periodic ------------------------------------------------------------------------------
    def _timing(self) -> None:
        fps = max(30.0, min(60.0, self.rng.gauss(59.4, 0.9)))
        self.emit("timing_update", {"fps": round(fps, 1), "frame_time_ms": round(1000.0 / fps, 2),
                                    "session_time": round(self.t, 3),
                                    "scene_time": round(self.t - self.scene_entered, 3)})

    def _stats(self) -> None:
        self.emit("combat_stats", {"total_damage_dealt": self.damage_dealt,
                                   "total_damage_taken": self.damage_taken,
                                   "enemies_killed": self.kills, "deaths": self.deaths})

    def _ry(self) -> float:
        return round(self.y, 2)

    def player_update(self) -> dict[str, Any]:
        """The `player_update` Data for this moment."""
        controlled = self.activity in ("walk", "fight", "boss")
        return {
            "position_x": round(self.x, 2), "position_y": self._ry(),
            "velocity_x": round(self.vx, 2), "velocity_y": round(self.vy, 2),
            "health_current": self.hp, "health_max": self.hp_max,
            "mp_current": self.silk, "mp_max": self.silk_max, "mp_reserve": 0,
            "on_ground": self.on_ground, "facing_right": self.facing_right,
            "is_dashing": self.dash_left > 0, "is_attacking": self.attack_left > 0,
            "is_jumping": not self.on_ground and self.vy > 0,
            "is_falling": not self.on_ground and self.vy <= 0,
            "is_wall_sliding": False, "has_control": controlled,
            # While the next room loads, the transition has already been announced.
            "scene": self.pending[0] if self.pending else self.scene,
        }


class Simulator:
    """Service: drives a `Simulation` with the clock and publishes its events on the hub."""

    name = "simulator"

    def __init__(
        self,
        hub: Hub,
        clock: Clock,
        policy: CollectionPolicy,
        world: World | None = None,
        seed: int | None = None,
        speed: float = 1.0,
        game_time: bool | None = None,
    ) -> None:
        """`game_time`: stamp events with game time and sample per game second (default: above speed 1)."""
        if speed <= 0:
            raise ValueError(f"--speed must be above 0, got {speed}")
        self.hub = hub
        self.clock = clock
        self.policy = policy
        self.speed = speed
        self.seed = seed if seed is not None else random.SystemRandom().randrange(1, 2**31)
        self.sim = Simulation(world or load_world(), random.Random(self.seed), self._publish)
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._game_time = speed > 1 if game_time is None else game_time
        self._epoch: float | None = None  # wall time of game time 0, when stamping game time

    def _publish(self, event_type: str, data: dict[str, Any]) -> None:
        stamp = utc_iso(self._epoch + self.sim.t) if self._epoch is not None else None
        self.hub.emit(event_type, data, stamp, origin=DEMO)

    def samples_per_tick(self, hz: int) -> int:
        """How many `player_update`s one tick publishes: `speed` (game seconds per wall second)
        times the rate, per tick, capped by `MAX_SAMPLES_PER_SECOND`; 1 unless stamping game time."""
        if not self._game_time:
            return 1
        per_second = min(self.speed * hz, max(hz, MAX_SAMPLES_PER_SECOND))
        return max(1, round(per_second / hz))

    async def start(self) -> None:
        """Start playing (the first events go out at once)."""
        log.info("simulator: seed %d, speed %gx (reproduce with --seed %d)", self.seed, self.speed,
                 self.seed)
        if self._game_time:
            self._epoch = self.clock.time()
        self.sim.begin()
        self._publish("player_update", self.sim.player_update())
        self._started = self.clock.monotonic()
        self._task = asyncio.create_task(self._run(), name="simulator")
        await asyncio.sleep(0)  # let the player start ticking before start() returns

    async def stop(self) -> None:
        """Stop playing."""
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        # Tick n is due at base + n / hz (no accumulated float error); a rate change re-bases.
        base, ticks, hz = self._started, 0, 0
        while True:
            # Read live: POST /api/configure changes the rate while the demo runs.
            rate = max(1, int(self.policy.update_frequency_hz))
            if rate != hz:
                base, ticks, hz = base + (ticks / hz if hz else 0.0), 0, rate
            ticks += 1
            due = base + ticks / hz
            now = self.clock.monotonic()
            if due < now - 1.0:
                # The process was suspended: carry on from now, do not replay the gap in a burst.
                base, ticks, due = now, 0, now
            await self.clock.sleep(due - now)
            samples = self.samples_per_tick(hz)
            for _ in range(samples):
                self.sim.advance(self.speed / hz / samples)
                self._publish("player_update", self.sim.player_update())

    def status(self) -> dict[str, Any]:
        """For `/api/status`."""
        sim = self.sim
        return {"seed": self.seed, "speed": self.speed, "scene": sim.scene,
                "game_time": round(sim.t, 1), "deaths": sim.deaths,
                "bosses_defeated": len(sim.defeated), "rooms_visited": len(sim.visited)}


def simulator_part(bus: Bus, seed: int | None, speed: float) -> Part:
    """The simulator (plug it after the ports, so no client misses its first events)."""
    if not (0 < speed <= 1000):  # also rejects NaN
        raise ConfigError(f"--speed {speed:g}: must be above 0 and at most 1000")
    simulator = Simulator(bus.hub, bus.clock, bus.policy, load_world(), seed, speed)
    return Part("simulator", services=[simulator], status={"simulator": simulator.status})


__all__ = ["Simulation", "Simulator", "simulator_part"]
