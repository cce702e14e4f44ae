"""The race overlays in Debian's Chromium: eight runners with long names, every overlay at its
manifest size, nothing clipped; they follow the board the hub pushes (race_state)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from overlay_support import eventually, wait_live

from dxbus.bus import Bus
from dxbus.clock import utc_iso
from dxbus.race.hub import RaceService

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

NAMES = ["Hornet123", "Silkweaver_of_the_Far_Fields_and_the_Deep_Docks",
         "Lace&<b>NotBold</b>", "Moss Knight of the Grotto Who Never Sleeps", "Pilgrim Pouncer",
         "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW", "Shakra the Mapper", "Garmond and Zaza"]
T0 = 1_767_225_600.0


def race_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ['[[race]]', 'id = "big"', 'name = "Eight runners, long names: the weekly Act 1 showdown"']
    for i, name in enumerate(NAMES):
        escaped = name.replace('"', '\\"')
        lines += ["[[race.runner]]", f'name = "{escaped}"', f'token = "token-{i:02d}-abcdefgh"']
    path = folder / "races.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def wire(seq: int, t: float, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"Timestamp": utc_iso(T0 + t), "EventType": event_type, "Data": data, "Seq": seq}


async def play(service: RaceService) -> None:
    """Everyone starts; six kill Moss Mother at different times; one finishes nothing; one forfeits."""
    for i, name in enumerate(NAMES):
        events = [wire(1, 0, "scene_transition", {"from_scene": "Opening_Sequence", "to_scene": "Tut_01"}),
                  wire(2, 1, "player_update", {"health_current": 5 - i % 4, "health_max": 5})]
        if i < 6:
            events.append(wire(3, 50 + i * 3.7, "boss_defeated", {"boss_name": "Moss Mother"}))
        if i == 0:
            events.append(wire(4, 60, "scene_transition", {"from_scene": "Bone_05", "to_scene": "Bonetown"}))
        await service.ingest("big", name, "inst", events)
    await service.forfeit("big", NAMES[7])


@pytest_asyncio.fixture(loop_scope="module")
async def hub(tmp_path: Path) -> Any:
    from race_rig import Rig
    rig = Rig(tmp_path)
    bus, service = await rig.hub(race_file(tmp_path / "cfg"))
    await play(service)
    await eventually(lambda: _async(len(service.view("big")["finish_order"]) == 0
                                    and service.view("big")["runners"][0]["splits_done"] == 2),
                     what="the board")
    yield bus, service
    await rig.stop()


async def _async(value: bool) -> bool:
    return value


NOT_CLIPPED = """() => {
  const bad = [];
  const vw = window.innerWidth, vh = window.innerHeight;
  for (const el of document.querySelectorAll('#dx-root *')) {
    if (!el.textContent.trim() || el.offsetParent === null) continue;
    const r = el.getBoundingClientRect();
    const what = el.className + ' ' + el.textContent.slice(0, 30);
    if (r.right > vw + 0.5 || r.bottom > vh + 0.5 || r.left < -0.5 || r.top < -0.5) {
      bad.push('outside: ' + what);
    }
    const wider = el.scrollWidth > el.clientWidth + 1;
    if (wider && getComputedStyle(el).overflow !== 'visible') bad.push('cut: ' + what);
    if (wider && el.children.length === 0 && el.clientWidth > 0) bad.push('overflows: ' + what);
  }
  return bad;
}"""


async def open_race(browser: Any, bus: Bus, name: str, query: str = "") -> Any:
    manifest = {"race-board": (720, 760), "race-duel": (960, 220), "race-runner": (480, 260)}[name]
    page = await browser.new_page(viewport={"width": manifest[0], "height": manifest[1]})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await page.goto(f"{bus.url('http')}/overlays/{name}?{query}")
    await wait_live(page)
    page.errors = errors
    return page


async def test_board_shows_eight_long_names_in_order_unclipped(browser: Any, hub: Any) -> None:
    bus, service = hub
    page = await open_race(browser, bus, "race-board", "motion=0")
    await page.wait_for_function("document.querySelectorAll('.rb-row').length === 8")
    names = await page.eval_on_selector_all(".rb-name", "els => els.map(e => e.textContent)")
    assert names == [row["runner"] for row in service.view("big")["runners"]]
    assert names[0] == "Hornet123" and "Lace&<b>NotBold</b>" in names  # text, never HTML
    assert await page.locator(".rb-row b").count() == 0
    sides = await page.eval_on_selector_all(".rb-side", "els => els.map(e => e.textContent)")
    assert sides[1] == "+3.7 s"
    statuses = await page.eval_on_selector_all(".rb-row", "els => els.map(e => e.dataset.status)")
    assert statuses[-1] == "forfeit"
    assert await page.evaluate(NOT_CLIPPED) == []
    if os.environ.get("RACE_SHOTS"):
        await page.screenshot(path=os.path.join(os.environ["RACE_SHOTS"], "race-board.png"))
    # A new split is pushed (race_state) and the board follows without a reload.
    kill = wire(3, 70.0, "boss_defeated", {"boss_name": "Moss Mother"})
    await service.ingest("big", NAMES[6], "inst", [kill])
    await bus.clock.advance(0.5)  # race_state goes out at most 4 times a second (hub clock)
    await page.wait_for_function(
        "[...document.querySelectorAll('.rb-row')].some(r => r.dataset.runner === 'Shakra the Mapper' "
        "&& r.querySelector('.rb-side').textContent === '+20.0 s')")
    assert page.errors == []
    await page.close()


async def test_duel_strip_and_runner_box_unclipped(browser: Any, hub: Any) -> None:
    bus, _ = hub
    a, b = NAMES[1], NAMES[3]
    page = await open_race(browser, bus, "race-duel", urlencode({"a": a, "b": b, "motion": 0}))
    await page.wait_for_function("document.querySelectorAll('.rd-cell').length === 1")
    assert await page.text_content("#name-a") == a
    assert await page.text_content("#delta") == "−7.4 s"  # a killed Moss Mother 7.4 s sooner
    assert await page.evaluate(NOT_CLIPPED) == []
    if os.environ.get("RACE_SHOTS"):
        await page.screenshot(path=os.path.join(os.environ["RACE_SHOTS"], "race-duel.png"))
    assert page.errors == []
    await page.close()
    for runner in NAMES:
        page = await open_race(browser, bus, "race-runner", urlencode({"runner": runner, "motion": 0}))
        await page.wait_for_function(f"document.getElementById('name').textContent === {runner!r}")
        assert "HP " in (await page.text_content("#hp") or "")
        assert await page.evaluate(NOT_CLIPPED) == [], runner
        if os.environ.get("RACE_SHOTS") and runner == NAMES[5]:
            await page.screenshot(path=os.path.join(os.environ["RACE_SHOTS"], "race-runner.png"))
        assert page.errors == []
        await page.close()
