"""The usage guide's `MultiStreamSync` (verbatim in tests/usage_guide/multi_stream_sync.py) still works
against each runner bus of a race, unchanged: its class is run as written, only the guide's example
`main()` with LAN addresses is left out."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from race_rig import ADDRESSES, SEEDS, Rig

GUIDE = Path(__file__).parent / "usage_guide" / "multi_stream_sync.py"


def load_multi_stream_sync() -> type:
    """The snippet's class, executed from the verbatim file up to its `# Usage for race` example."""
    source = GUIDE.read_text().split("# Usage for race")[0]
    namespace: dict = {"__name__": "multi_stream_sync"}
    exec(compile(source, str(GUIDE), "exec"), namespace)
    return namespace["MultiStreamSync"]


@pytest.fixture
async def rig(tmp_path: Path):
    rig = Rig(tmp_path)
    yield rig
    await rig.stop()


async def test_multi_stream_sync_against_each_runner(rig: Rig) -> None:
    for name in SEEDS:
        await rig.runner(name)
    await rig.clock.advance(12.0)
    sync = load_multi_stream_sync()({name: bus.url() for name, bus in rig.runners.items()})
    assert all(ADDRESSES[name] in url for name, url in sync.players.items())
    await sync.update_all_states()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        sync.render_comparison()
    lines = out.getvalue().splitlines()
    assert "RACE STATUS" in lines
    for name, bus in rig.runners.items():
        line = next(line for line in lines if f". {name}: " in line)
        scene = bus.state.snapshot()["scene"]["current"] if bus.state else None
        assert "| HP: " in line and "| Time: " in line
        assert sync.player_states[name]["current_scene"] == scene or scene is None
        assert sync.player_states[name]["game_time"] > 0
    assert sum("(LEADER)" in line for line in lines) == 1
