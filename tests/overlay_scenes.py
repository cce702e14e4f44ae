"""Game-like scenes to composite overlays over, and each overlay in a fixed state (for the contrast test,
the golden screenshots and the docs' screenshots, `tests/docs_screenshots.py`).

The scenes are CSS painted behind the overlay page (`html` background), so the page composites over them
as OBS composites a browser source over the game: no image files, the same pixels on every run. They are
busy on purpose (stripes, specks, glints): a legible overlay cannot rely on a calm patch behind it.

- `dark`: a night cave (the Abyss, Deep Docks): near-black with blue-grey rock and pale glints;
- `bone`: Bone Bottom's white bone and pale stone, the brightest scene the game has;
- `sands`: the Sands of Karak's desert glare, bright and warm.

The states are driven through real events on a real bus (ManualClock), like every browser test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from overlay_support import emit_state

from dxbus.bus import Bus
from dxbus.clock import ManualClock

SCENES: dict[str, str] = {
    "dark": (
        "radial-gradient(circle at 18% 35%, #dfe9f5 0 0.6%, transparent 0.9%),"
        "radial-gradient(circle at 64% 22%, #7fa3c0 0 3%, transparent 3.4%),"
        "radial-gradient(#8aa3b5 1px, transparent 1.6px) 0 0 / 13px 11px,"
        "repeating-linear-gradient(35deg, #0e151c 0 9px, #22323f 9px 15px, #070a0e 15px 23px,"
        " #3a4b57 23px 25px),"
        "#0b1016"),
    "bone": (
        "radial-gradient(#b9ad92 1.5px, transparent 2px) 0 0 / 17px 13px,"
        "radial-gradient(circle at 40% 60%, #ffffff 0 4%, transparent 4.5%),"
        "repeating-linear-gradient(-20deg, #f7f2e6 0 14px, #ddd2ba 14px 20px, #fffdf8 20px 31px,"
        " #c8bea7 31px 33px),"
        "#f4efe2"),
    "sands": (
        "radial-gradient(#c98f3e 1.2px, transparent 1.8px) 0 0 / 11px 15px,"
        "repeating-linear-gradient(75deg, #ffe7a8 0 10px, #f3cf7a 10px 17px, #fff6d6 17px 26px,"
        " #e0a955 26px 28px),"
        "#f8dc96"),
}

# Every overlay with text.
OVERLAYS = ("hp", "damage", "deaths", "boss", "room", "practice", "splits", "stats",
            "race-board", "race-duel", "race-runner", "alerts")

# The query each overlay is shown with: every number on (hp's 5/7), damage numbers where they stay.
QUERIES: dict[str, str] = {
    "hp": "show_numbers=1",
    "damage": "spread=0&dealt_x=30&dealt_y=30&taken_x=70&taken_y=30&duration=1200",
    "stats": "show_kills=1",
    "boss": "show_list=1&list_size=3",
    # A test alert shows only on a preview page, never on stream; 30 px fits the 960 px test frame.
    "alerts": "preview=1&sound=0&size=30",
}

ROUTE = """
name = "Act 1: Moss Mother to Bell Beast"
[[splits]]
name = "Moss Mother"
boss = "Moss Mother"
[[splits]]
name = "Enter Bone Bottom"
enter = "Bonetown"
[[splits]]
name = "Bell Beast"
boss = "Bell Beast"
[[splits]]
name = "Bellhart"
enter = "Belltown"
"""

RACE_NAMES = ("Hornet123", "Silkweaver_of_the_Far_Fields", "Moss Knight")


def overrides(tmp_path: Path, name: str) -> dict[str, dict[str, Any]]:
    """Bus configuration an overlay's state needs (the splits route)."""
    if name != "splits":
        return {}
    path = tmp_path / "route.toml"
    path.write_text(ROUTE, encoding="utf-8")
    return {"Timer": {"Route": str(path)}}


async def advance(bus: Bus, seconds: float) -> None:
    clock = bus.clock
    assert isinstance(clock, ManualClock)
    await clock.advance(seconds)


def scene(bus: Bus, frm: str, to: str) -> None:
    bus.hub.emit("scene_transition", {"from_scene": frm, "to_scene": to})


async def before_page(bus: Bus, name: str) -> None:
    """Publish what puts overlay `name` in its full state (before the page opens: the full state)."""
    emit = bus.hub.emit
    if name == "hp":
        await emit_state(bus, "player_update",
                         {"health_current": 5, "health_max": 7, "mp_current": 6, "mp_max": 9})
    elif name in ("deaths", "stats"):
        scene(bus, "Tut_01", "Bone_05")
        for _ in range(12):
            emit("player_death", {"location": "Bone_05", "cause": "Moss Mother"})
        for _ in range(30):
            emit("combat_damage", {"damage": 1234.5, "is_player_damage": False})
        emit("combat_damage", {"damage": 3, "is_player_damage": True})
        emit("enemy_killed", {"enemy_name": "Mossgrub", "location": "Bone_05"})
        await advance(bus, 3723)
    elif name == "boss":
        for boss, won in (("Bell Beast", True), ("Moss Mother", False), ("Moss Mother", True)):
            emit("boss_encounter", {"boss_name": boss, "phase": "start"})
            await advance(bus, 61.4)
            if won:
                emit("boss_defeated", {"boss_name": boss})
            else:
                emit("player_death", {"location": "Tut_03"})
        emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
        await advance(bus, 42.3)
    elif name == "room":
        scene(bus, "Tut_01", "Bone_05")
        await advance(bus, 83.4)
    elif name == "practice":
        async with aiohttp.ClientSession() as http, \
                http.post(bus.url() + "/api/practice", json={"boss": "Moss Mother"}) as resp:
            assert resp.status == 200, await resp.text()
        for seconds, won in ((48.2, False), (52.9, True), (47.1, True)):
            emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
            await advance(bus, seconds)
            emit("combat_damage", {"damage": 2, "is_player_damage": True})
            if won:
                emit("boss_defeated", {"boss_name": "Moss Mother"})
            else:
                emit("player_death", {"location": "Tut_03"})
        emit("boss_encounter", {"boss_name": "Moss Mother", "phase": "start"})
        await advance(bus, 12.6)
    elif name == "splits":
        # a first run sets the personal best; the second is ahead at one split (a gold segment),
        # behind at the next, and running the third
        for times in ((42.0, 40.0, 50.0, 30.0), (38.5, 45.0)):
            scene(bus, "Opening_Sequence", "Tut_01")
            steps = [("boss", "Moss Mother"), ("enter", "Bonetown"), ("boss", "Bell Beast"),
                     ("enter", "Belltown")]
            for (kind, what), seconds in zip(steps, times, strict=False):
                await advance(bus, seconds)
                if kind == "boss":
                    emit("boss_defeated", {"boss_name": what})
                else:
                    scene(bus, "Bone_05", what)
            if len(times) == 4:
                async with aiohttp.ClientSession() as http, \
                        http.post(bus.url() + "/api/livesplit/reset") as resp:
                    assert resp.status == 200, await resp.text()
        await advance(bus, 21.7)


def race_state() -> dict[str, Any]:
    """A race board of three runners: a leader, one behind, one stale (what the hub pushes)."""
    splits = ["Moss Mother", "Enter Bone Bottom"]
    runners = []
    for place, (runner, game, delta, status) in enumerate(
            ((RACE_NAMES[0], 56.6, 0.0, "running"), (RACE_NAMES[1], 60.7, 4.1, "running"),
             (RACE_NAMES[2], 64.8, 8.2, "stale")), start=1):
        text = "\u00b10.0 s" if delta == 0 else f"+{delta:.1f} s"
        split = {"index": 0, "name": splits[0], "game": game, "delta": delta, "delta_text": text}
        runners.append({"place": place, "runner": runner, "status": status, "stale": status == "stale",
                        "splits_done": 1, "last_split": split, "delta": delta, "delta_text": text,
                        "hp": 6 - place, "hp_max": 5 + (place == 1), "room": "Bone_01", "area": "Bone Bottom",
                        "deaths": place * 1200, "splits": [split]})
    return {"race": "weekly", "name": "Weekly Act 1", "route": "Act 1", "splits": splits,
            "leader": RACE_NAMES[0], "finish_order": [], "stale_after": 10, "version": 1, "runners": runners}


async def after_page(bus: Bus, name: str) -> None:
    """Publish what the overlay shows from events (damage numbers, race boards), once its page is live."""
    emit = bus.hub.emit
    if name == "damage":
        emit("combat_damage", {"damage": 13, "is_player_damage": False, "enemy_type": "Moss Mother"})
        emit("combat_damage", {"damage": 1, "is_player_damage": True})
    elif name.startswith("race-"):
        emit("race_state", race_state())
    elif name == "alerts":  # a boss-defeated alert from the server's queue, its title, icon and message
        async with aiohttp.ClientSession() as http, \
                http.post(bus.url() + "/api/alerts/test", json={"rule": "boss_defeated"}) as resp:
            assert resp.status == 200, await resp.text()


# What `after_page` makes the page show, to wait for.
READY: dict[str, str] = {
    "damage": "document.querySelectorAll('.dmg').length === 2",
    "race-board": "document.querySelectorAll('.rb-row').length === 3",
    "race-duel": "document.querySelectorAll('.rd-cell').length === 1",
    "race-runner": "document.getElementById('name').textContent !== ''",
    "alerts": "(document.querySelector('.alert .message') || {}).textContent > ''",
}

# Freeze the page as it is now: every animation (damage floats, hit flashes, silk transitions) paused
# at `at` of its length (1 = finished), so a screenshot never races one.
FREEZE = """(at) => {
  for (const a of document.getAnimations()) {
    const t = a.effect && a.effect.getComputedTiming();
    a.pause();
    if (t && isFinite(t.endTime)) a.currentTime = Math.min(t.endTime, t.activeDuration * at);
  }
  return document.getAnimations().length;
}"""


def scene_css(scene_name: str) -> str:
    """JS that paints a scene behind the page (the overlay's own background stays transparent)."""
    return f"document.documentElement.style.background = {SCENES[scene_name]!r};"


PAGE_EPOCH = 1_900_000_000_000  # the pages' paused wall clock (ms)


async def open_fixed(browser: Any, bus: Bus, name: str, query: str, size: tuple[int, int],
                     events: bool = True) -> Any:
    """Open an overlay on Playwright's clock, installed and paused (timers and frames move only when
    told), with its state drawn and (`events`) its event-driven content on screen; fonts loaded."""
    page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
    await page.clock.install(time=PAGE_EPOCH)
    await page.clock.pause_at(PAGE_EPOCH + 1000)
    await page.goto(f"{bus.url('http')}/overlays/{name}" + (f"?{query}" if query else ""))
    await until(page, "window.DXBus && DXBus.client && DXBus.client.stats.snapshots > 0 "
                      "&& document.documentElement.dataset.bus === 'live'")
    if events:
        await after_page(bus, name)
    if events and name in READY:
        await until(page, READY[name])
    await page.clock.run_for(100)  # a few frames: started animations are running
    await page.evaluate("document.fonts.ready")
    return page


async def until(page: Any, expression: str, step: int = 20) -> None:
    """Let `step` ms pass on the page's paused clock (a frame, a redraw) until `expression` holds."""
    from overlay_support import eventually

    async def check() -> bool:
        await page.clock.run_for(step)
        return bool(await page.evaluate(expression))
    await eventually(check, timeout=10, what=expression)
