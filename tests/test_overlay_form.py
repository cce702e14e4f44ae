"""The gallery's form cannot produce a broken URL: typed nonsense is corrected, with the reason shown."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from overlay_support import BusMaker

SHOTS = Path("/tmp/look") if Path("/tmp/look").is_dir() else Path(tempfile.gettempdir())

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# What the form shows for a card: every setting as the overlay should receive it.
FORM_VALUES = """card => {
  const out = {};
  card.querySelectorAll("form.settings .field").forEach(label => {
    const input = label.querySelector("[name]");
    const name = input.name;
    if (input.type === "checkbox") out[name] = input.checked;
    else if (input.type === "color") {
      const a = Number(label.querySelector(".alpha").value);
      out[name] = a >= 100 ? input.value : input.value + Math.round(a * 2.55).toString(16).padStart(2, "0");
    } else if (input.classList.contains("number")) out[name] = Number(input.value);
    else out[name] = input.value;
  });
  return out;
}"""

NOTES = """card => Object.fromEntries([...card.querySelectorAll(".field-wrap.adjusted")].map(
  w => [w.querySelector("[name]").name, w.querySelector(".note").textContent]))"""


def nonsense(spec: dict[str, Any], round_: int) -> str:
    """Round 0: out of range; 1: fractional; 2: garbage (for a text field: too long)."""
    low, high = spec["min"], spec["max"]
    if spec["type"] in ("int", "float"):
        if round_ == 0:
            return str((high if high is not None else 100) * 10 + 7)
        if round_ == 1:
            mid = ((low or 0) + (high if high is not None else 10)) / 2
            return f"{mid + 0.37:.3f}"
        return "2_0x"
    return "Ω<b>x</b>" * 20  # a string setting: longer than any max_length, with markup


def _same(typed: str, shown: Any) -> bool:
    if isinstance(shown, str):
        return typed == shown
    try:
        return float(typed) == shown
    except ValueError:
        return False


async def _settle(page: Any, card: str) -> None:
    await page.wait_for_function(f"document.querySelector('{card}').dataset.resolving === ''")


def _overlay_names() -> list[str]:
    from dxbus.overlays.registry import Registry

    return [o.name for o in Registry().all()]


@pytest.mark.parametrize("only", _overlay_names())
async def test_nonsense_typed_into_every_field_gives_urls_that_open_what_the_form_shows(
        browser: Any, buses: BusMaker, only: str) -> None:
    bus = await buses.make()
    base = bus.url("http")
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{base}/overlays")
    catalog = (await (await page.request.get(f"{base}/api/overlays")).json())["overlays"]
    overlay_page = await browser.new_page(viewport={"width": 400, "height": 300})
    checked = 0
    for overlay in [o for o in catalog if o["name"] == only]:  # one card per test: xdist spreads them
        card = f"#card-{overlay['name']}"
        typable = [s for s in overlay["settings"] if s["type"] in ("int", "float", "string")]
        colors = [s for s in overlay["settings"] if s["type"] == "color"]
        for round_ in range(3):
            typed = {}
            for spec in typable:
                field = page.locator(f"{card} [name={spec['name']}]")
                text = nonsense(spec, round_)
                await field.fill(text)  # (one input event: typing key by key adds minutes, not coverage)
                # a text box stops at the setting's max_length itself (maxlength attribute)
                typed[spec["name"]] = text[:spec["max_length"]] if spec["type"] == "string" else text
                await field.press("Tab")  # the edit is done: the field shows the value used
            for spec in colors:  # the opacity box beside each color picker
                alpha = page.locator(f"{card} [name={spec['name']}] ~ .alpha")
                await alpha.fill(["150", "33.3", ""][round_])
                await alpha.press("Tab")
            await _settle(page, card)
            shown = await page.eval_on_selector(card, FORM_VALUES)
            notes = await page.eval_on_selector(card, NOTES)
            for name, text in typed.items():  # every corrected field says why, next to it
                assert (name in notes) == (not _same(text, shown[name])), (overlay["name"], name, text, notes)
            url = await page.input_value(f"{card} input.url")
            assert url.startswith(f"{base}/overlays/{overlay['name']}")
            await overlay_page.goto(url)
            used = await overlay_page.evaluate("DXBus.settings")
            warnings = await overlay_page.evaluate("DXBus.config.warnings")
            assert used == shown, (overlay["name"], round_, url)
            assert warnings == [], (url, warnings)  # the URL itself needs no correction
            checked += 1
    assert checked == 3
    assert not errors
    await overlay_page.close()
    await page.close()


async def test_the_card_shows_reasons_and_warns_when_a_source_size_cuts_content(
        browser: Any, buses: BusMaker) -> None:
    bus = await buses.make()
    base = bus.url("http")
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.goto(f"{base}/overlays")
    hp = "#card-hp"
    size = page.locator(f"{hp} [name=mask_size]")
    await size.fill("")
    await size.type("500")  # key by key, as a user would
    await size.press("Tab")
    await _settle(page, hp)
    assert await size.input_value() == "160"
    note = page.locator(f"{hp} .field-wrap.adjusted .note", has_text="maximum")
    assert await note.text_content() == "above the maximum 160; using 160" and await note.is_visible()
    # the size follows the settings; a source smaller than that is flagged on the card
    numbers = page.locator(f"{hp} [name=show_numbers]")
    await numbers.check()
    await _settle(page, hp)
    size = await page.text_content(f"{hp} .size")
    assert size is not None and size.startswith("Width ")
    width = int(size.split()[1])
    async with aiohttp.ClientSession() as http, http.get(
            f"{base}/api/overlays/hp/resolve?mask_size=160&show_numbers=1") as r:
        assert (await r.json())["size"]["width"] == width
    await page.fill(f"{hp} input.src-w", "720")
    await page.fill(f"{hp} input.src-h", "180")
    note = await page.text_content(f"{hp} .fit-note")
    assert note is not None and note.startswith(f"cuts content: {width - 720} px too narrow"), note
    await page.locator(hp).screenshot(path=str(SHOTS / "form-hp.png"))
    await page.close()
