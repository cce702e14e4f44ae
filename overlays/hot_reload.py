"""Hot reload: a change to an overlay template, manifest, CSS or JS reloads the open overlay pages.

A watchfiles watcher on the template and asset folders publishes `overlay_reload` on the bus
(`{"path": first changed file, "paths": [...]}`, paths relative to their folder). `bus.js` reloads the
page when it sees one; the page gets its state back from the WebSocket snapshot. The OBS helper may
refresh browser sources on the same event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from dxbus.bus import Bus

log = logging.getLogger(__name__)

RELOAD_EVENT = "overlay_reload"
WATCHED_SUFFIXES = (".j2", ".toml", ".css", ".js", ".mjs", ".html", ".svg", ".png", ".jpg", ".webp",
                    ".gif", ".woff", ".woff2", ".ttf", ".otf", ".json")


class AssetFilter(DefaultFilter):
    """Only the files a page is built from; editor swap files, bytecode and caches are ignored."""

    def __call__(self, change: Change, path: str) -> bool:
        return path.endswith(WATCHED_SUFFIXES) and super().__call__(change, path)


class OverlayReloader:
    """The `overlay-reload` service: watches folders, publishes `overlay_reload` events."""

    name = "overlay-reload"

    def __init__(self, bus: Bus, folders: Sequence[Path], enabled: bool = True,
                 debounce_ms: int = 60) -> None:
        self.bus = bus
        # Nested folders (a user dir holding its static/) are watched once, through the outer one.
        unique = sorted({f.resolve() for f in folders if f.is_dir()}, key=lambda p: len(p.parts))
        self.folders = [f for f in unique if not any(f != o and f.is_relative_to(o) for o in unique)]
        self.enabled = enabled
        self.debounce_ms = debounce_ms
        self.reloads = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def watching(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start watching (if `[Overlays] HotReload` is on and there is anything to watch)."""
        if not self.enabled or not self.folders:
            return
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="overlay-reload")

    async def stop(self) -> None:
        """Stop the watcher (watchfiles notices the stop event within one step, 50 ms)."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        try:
            async for changes in awatch(*self.folders, watch_filter=AssetFilter(),
                                        debounce=self.debounce_ms, step=30, stop_event=self._stop):
                self.publish(sorted({path for _, path in changes}))
        except asyncio.CancelledError:
            raise
        except Exception:
            # Never take the bus down: overlays just stop reloading by themselves.
            log.exception("overlay hot reload stopped")

    def publish(self, paths: Sequence[str]) -> None:
        """Announce changed files (absolute paths are shown relative to their watched folder)."""
        if not paths:
            return
        shown = [self._relative(p) for p in paths]
        self.reloads += 1
        log.info("overlay files changed: %s; reloading open overlays", ", ".join(shown[:5]))
        self.bus.hub.emit(RELOAD_EVENT, {"path": shown[0], "paths": shown[:50]})

    def _relative(self, path: str) -> str:
        resolved = Path(path)
        for folder in self.folders:
            if resolved.is_relative_to(folder):
                return resolved.relative_to(folder).as_posix()
        return resolved.name
