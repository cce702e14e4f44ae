"""Each overlay manifest's `types` is what its page really subscribes to and handles.

The manifest's `types` is served by `/api/overlays` and, when a script names no types of its own, is
what the page asks the bus for. A page that only renders server state must subscribe to nothing
(`types = []`): every extra type is an event the bus sends to each OBS source for nothing. So the
test reads each overlay script's `DXBus.connect({types, on})` (following `DXRace` into
static/race.js for the race overlays, and the scaffold's template for `dxbus overlay new`) and
compares: the types it asks for, the handlers it has, the manifest's list.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from dxbus.overlays.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
RACE_JS = STATIC / "race.js"
SCAFFOLD_TOML = ROOT / "overlays" / "scaffold" / "overlay.toml"
SCAFFOLD_JS = STATIC / "overlays" / "_scaffold.js"

# A string literal, a comment, or any other character (comments are dropped, strings kept whole).
_TOKEN = re.compile(r"""("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`(?:\\.|[^`\\])*`)|(//[^\n]*|/\*.*?\*/)|(.)""",
                    re.S)
_KEY = re.compile(r"""\s*(?:([A-Za-z_$][\w$]*)|"([^"]*)"|'([^']*)')\s*:""")


def _without_comments(source: str) -> str:
    return "".join(m.group(1) or m.group(3) or " " for m in _TOKEN.finditer(source))


def _balanced(text: str, start: int) -> str:
    """The bracketed text opening at `start` (`{`, `[` or `(`), brackets inside strings ignored."""
    depth = 0
    for m in _TOKEN.finditer(text, start):
        char = m.group(3)
        if char in ("{", "[", "("):
            depth += 1
        elif char in ("}", "]", ")"):
            depth -= 1
            if depth == 0:
                return text[start:m.end()]
    raise AssertionError(f"unbalanced brackets from {text[start:start + 40]!r}")


def _top_level(obj: str) -> dict[str, str]:
    """The keys of an object literal `{...}` at its own level, each with its value's text."""
    values: dict[str, str] = {}
    body = obj[1:-1]
    i, depth, key, value_at = 0, 0, None, 0
    while i <= len(body):
        if key is None and depth == 0 and (found := _KEY.match(body, i)):
            key = next(g for g in found.groups() if g is not None)
            i = value_at = found.end()
            continue
        m = _TOKEN.match(body, i)
        char = m.group(3) if m else ","  # the end of the object ends its last value
        if char in ("{", "[", "("):
            depth += 1
        elif char in ("}", "]", ")"):
            depth -= 1
        elif char == "," and depth == 0:
            if key is not None:
                values[key] = body[value_at:i].strip()
            key = None
        i = m.end() if m else i + 1
    return values


def connect_call(script: Path) -> tuple[list[str], set[str]]:
    """The `types` a script's `DXBus.connect({...})` asks for, and the event types its `on` handles.

    A race overlay calls `DXRace.follow`, whose connection is the one in static/race.js.
    """
    source = _without_comments(script.read_text(encoding="utf-8"))
    calls = [m.end() - 1 for m in re.finditer(r"DXBus\s*\.\s*connect\s*\(", source)]
    if not calls and "DXRace" in source and script != RACE_JS:
        return connect_call(RACE_JS)
    assert len(calls) == 1, f"{script.name}: expected one DXBus.connect call, found {len(calls)}"
    args = _balanced(source, calls[0])
    brace = args.index("{")
    options = _top_level(_balanced(args, brace))
    assert "types" in options, f"{script.name}: DXBus.connect without types (it would get every event)"
    types = re.findall(r"""["']([^"']+)["']""", options["types"])
    assert options["types"].strip().startswith("["), f"{script.name}: types is not a literal list"
    handled = set(_top_level(options["on"])) if "on" in options else set()
    return types, handled


def builtin_overlays() -> list[tuple[str, tuple[str, ...]]]:
    """(name, manifest types) of each built-in overlay, as the bus loads them."""
    return sorted((o.name, o.types) for o in Registry().all() if o.builtin)


def test_the_parser_reads_what_a_page_asks_for(tmp_path: Path) -> None:
    script = tmp_path / "x.js"
    script.write_text("""
      // DXBus.connect({ types: ["commented_out"] });
      DXBus.connect({
        types: ["combat_damage", 'alert'],  /* a comment, } */
        render(state) { var o = { types: ["inner"], on: 1 }; return o; },
        on: { combat_damage: function (d) { return "}"; }, "alert": show },
      });
    """, encoding="utf-8")
    assert connect_call(script) == (["combat_damage", "alert"], {"combat_damage", "alert"})
    script.write_text("DXBus.connect({ types: [], render: render });", encoding="utf-8")
    assert connect_call(script) == ([], set())


@pytest.mark.parametrize(("name", "manifest_types"),
                         [pytest.param(name, types, id=name) for name, types in builtin_overlays()])
def test_manifest_types_are_the_events_the_script_handles(name: str, manifest_types: tuple[str, ...]) -> None:
    script = STATIC / "overlays" / f"{name}.js"
    assert script.exists(), f"overlay {name} has no static/overlays/{name}.js"
    types, handled = connect_call(script)
    assert set(types) == handled, f"{name}: subscribes to {types} but handles {sorted(handled)}"
    assert sorted(manifest_types) == sorted(types), (
        f"overlays/{name}.toml: types = {list(manifest_types)}, but its script handles {sorted(handled)}")


def test_state_only_overlays_subscribe_to_nothing() -> None:
    state_only = {name for name, types in builtin_overlays() if not types}
    assert state_only >= {"boss", "deaths", "hp", "practice", "room", "splits", "stats"}


def test_the_scaffold_manifest_matches_its_script() -> None:
    manifest = tomllib.loads(SCAFFOLD_TOML.read_text(encoding="utf-8"))
    types, handled = connect_call(SCAFFOLD_JS)
    assert set(types) == handled
    assert manifest["types"] == types
