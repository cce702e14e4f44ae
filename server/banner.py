"""The start-up banner: where everything is, printed once every port is bound."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .bus import Bus


def banner_lines(bus: Bus) -> list[str]:
    """What to print: the URLs of the bound ports and the folders the bus writes to."""
    config = bus.config
    rows: list[tuple[str, str]] = []
    if "http" in bus.ports:
        http = bus.url("http")
        rows += [("Dashboard", f"{http}/"), ("Overlays", f"{http}/overlays"),
                 ("REST API", f"{http}/api/status")]
    if "websocket" in bus.ports:
        rows.append(("Event stream", bus.url("websocket")))
    if "tcp" in bus.ports:
        rows.append(("Timer (TCP)", bus.url("tcp")))
    text_files = getattr(config, "text_files", None)
    if text_files is not None and getattr(text_files, "enabled", False):
        rows.append(("Text files", str(bus.path(text_files.directory))))
    if config.file_export.enable_file_export:
        rows.append(("Export folder", str(bus.path(config.file_export.directory))))
    rows.append(("State", state_where(bus)))
    source = ""
    simulator = bus.status_providers.get("simulator")
    if simulator is not None:
        info = simulator()
        source = f", fed by the Silksong simulator (seed {info['seed']}, speed {info['speed']:g}x)"
    width = max((len(name) for name, _ in rows), default=0)
    lines = [f"dxbus {bus.version} is running{source}"]
    lines += [f"  {name:<{width}}  {where}" for name, where in rows]
    lines.append("Press Ctrl+C to stop.")
    return lines


def state_where(bus: Bus) -> str:
    """Where this bus keeps its persisted counters and split bests, and whether that is real history."""
    state_file = bus.config.state.file
    timer = getattr(bus.config, "timer", None)
    bests = getattr(timer, "bests_file", "") if timer is not None and timer.enabled else ""
    files = ", ".join(str(bus.path(f)) for f in (state_file, bests) if f)
    if bus.mode == "replay":
        return "in memory only (a replay never touches the real history)"
    if bus.mode == "demo":
        return f"{files} (the demo's own files; real play's history is untouched)"
    return files or "in memory only"


class Banner:
    """Service registered last: prints `banner_lines` when the bus has started."""

    name = "banner"

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def start(self) -> None:
        """Print the banner (stdout, flushed: scripts and tests read it)."""
        print("\n".join(banner_lines(self.bus)), flush=True)

    async def stop(self) -> None:
        """Nothing to undo."""


__all__ = ["Banner", "banner_lines"]
