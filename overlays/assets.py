"""Static files under `/static/...`: the user folder's `static/` first, then the built-in `static/`.

Only regular files inside those folders, with a known asset suffix, are ever served: `..`, absolute
paths, hidden files, symlinks leading outside and Python sources all answer 404.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

BUILTIN_STATIC = Path(__file__).resolve().parent.parent / "static"

ASSET_SUFFIXES = frozenset({
    ".js", ".mjs", ".css", ".map", ".json", ".txt",
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".ico", ".avif",
    ".woff", ".woff2", ".ttf", ".otf",
    ".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav", ".m4a", ".webm", ".mp4",
})

for _suffix, _type in ((".woff2", "font/woff2"), (".woff", "font/woff"), (".mjs", "text/javascript"),
                       (".js", "text/javascript"), (".webp", "image/webp"), (".avif", "image/avif"),
                       (".oga", "audio/ogg"), (".ogg", "audio/ogg")):
    mimetypes.add_type(_type, _suffix)


def _builtin_static() -> Path:
    # Editable installs map dxbus.static to the repository's static/; a wheel puts it beside dxbus.
    try:
        import dxbus.static as pkg

        return Path(pkg.__file__).resolve().parent
    except ImportError:  # pragma: no cover - the package is always installed with dxbus
        return BUILTIN_STATIC


class Assets:
    """Resolves `/static/<path>` against the user and built-in asset folders."""

    def __init__(self, user_static: Path | None = None, builtin: Path | None = None) -> None:
        self.builtin = (builtin or _builtin_static()).resolve()
        self.user = user_static.resolve() if user_static is not None else None

    @property
    def roots(self) -> list[Path]:
        """Folders searched in order (the user's first, so it can replace a built-in asset)."""
        return [r for r in (self.user, self.builtin) if r is not None and r.is_dir()]

    def find(self, relative: str) -> Path | None:
        """The file `relative` names, or None if it is not a servable asset."""
        if not relative or "\\" in relative or "\x00" in relative:
            return None
        pure = PurePosixPath(relative)
        hidden = any(part in ("..", ".") or part.startswith((".", "_")) for part in pure.parts)
        if pure.is_absolute() or hidden:
            return None
        if pure.suffix.lower() not in ASSET_SUFFIXES:
            return None
        for root in self.roots:
            candidate = (root / pure).resolve()
            # resolve() follows symlinks: a link pointing outside the folder is refused too.
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        return None

    def version(self, relative: str) -> str:
        """A cache-busting token for `relative` (its mtime), so OBS's browser cache never serves stale JS."""
        path = self.find(relative)
        if path is None:
            return "0"
        try:
            return format(path.stat().st_mtime_ns % 10**12, "x")
        except OSError:
            return "0"
