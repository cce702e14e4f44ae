"""An overlay page's asset version: which template, manifest (its settings), script and styles it was
built from.

The page gets the version rendered into its config and sends it back in its state-channel `hello`; the
dashboard compares it with the version of the files now (`server/overlay_health.py`). A page loaded
before one of its files changed is *stale*: it still runs the old script or settings until it reloads
(hot reload does that by itself; a source whose page missed it, or a bus with `[Overlays] HotReload`
off, needs a refresh). The version is a short hash of each file's path, size and modification time:
cheap to recompute for every status request, and it changes with any edit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from .assets import Assets
from .registry import COMMON_SETTINGS, Overlay, Registry

BASE_TEMPLATE = "_base.html.j2"
# The built-in assets every overlay page loads (the theme is one of these, whichever it is).
SHARED_ASSETS = ("bus.js", "overlay.css",
                 *(f"themes/{theme}.css" for theme in COMMON_SETTINGS["theme"]["choices"]))


def files_of(overlay: Overlay, registry: Registry, assets: Assets) -> list[Path]:
    """The files an overlay page is built from (those that exist)."""
    files = [overlay.path, overlay.path.with_name(overlay.name + ".toml")]
    files += [folder / BASE_TEMPLATE for folder in registry.template_dirs]
    for relative in (*SHARED_ASSETS, f"overlays/{overlay.name}.js"):
        found = assets.find(relative)
        if found is not None:
            files.append(found)
    return files


def version_of(files: Iterable[Path]) -> str:
    """A short hash of the files' paths, sizes and modification times (a missing file counts too)."""
    digest = hashlib.blake2s(digest_size=6)
    for path in files:
        try:
            stat = path.stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}\0-\n".encode())
    return digest.hexdigest()


def page_version(overlay: Overlay, registry: Registry, assets: Assets) -> str:
    """The version a page of `overlay` rendered now carries."""
    return version_of(files_of(overlay, registry, assets))
