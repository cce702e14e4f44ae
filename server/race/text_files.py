"""Race text files for OBS text sources, next to the bus's own (`[TextFiles] Directory`, obs-text/):

- `race-<id>-standings.txt`: one line per runner, `1. Hornet123  Moss Mother  +12.3 s`;
- `race-<id>-leader.txt`: the leader's name;
- `race-<id>-last-split.txt`: the latest split, `Hornet123 +12.3 s at Moss Mother`.

Written from the hub's own `race_state` and `race_split` events (a hub listener), atomically, only
when the text changes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_write
from ..events import Event
from ..os_errors import describe_os_error
from .model import RACE_SPLIT, RACE_STATE

if TYPE_CHECKING:
    from ..bus import Bus

log = logging.getLogger(__name__)


def standings_text(state: dict[str, Any]) -> str:
    """The board as lines of text."""
    lines = []
    for row in state.get("runners", []):
        if row["status"] == "finished":
            side = row.get("finish_text") or ""
        elif row["status"] in ("forfeit", "stale"):
            side = row["status"]
        else:
            side = row.get("delta_text") or ""
        split = (row.get("last_split") or {}).get("name", "")
        lines.append("  ".join(part for part in (f"{row['place']}. {row['runner']}", split, side) if part))
    return "\n".join(lines) + ("\n" if lines else "")


class RaceTextFiles:
    """Hub listener writing the race text files."""

    name = "race-text-files"

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.enabled = bus.config.text_files.enabled
        self.directory: Path = bus.path(bus.config.text_files.directory)
        self._written: dict[str, str] = {}
        self.last_error: str | None = None

    async def start(self) -> None:
        """Nothing to start: the listener (plugged by the race part) writes as events come."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def on_event(self, event: Event) -> None:
        """Rewrite the files a race event changes."""
        data = event.data
        race = data.get("race")
        if not isinstance(race, str):
            return
        if event.type == RACE_STATE:
            self._write(f"race-{race}-standings.txt", standings_text(data))
            self._write(f"race-{race}-leader.txt", (data.get("leader") or "") + "\n")
        elif event.type == RACE_SPLIT:
            self._write(f"race-{race}-last-split.txt", str(data.get("text", "")) + "\n")

    def _write(self, name: str, text: str) -> None:
        if self._written.get(name) == text:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write(self.directory / name, text, mtime=self.bus.clock.time())
        except OSError as exc:
            self.last_error = describe_os_error(exc)
            log.warning("race text file: %s", self.last_error)
            return
        self._written[name] = text


__all__ = ["RaceTextFiles", "standings_text"]
