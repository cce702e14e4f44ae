"""Where alert sounds come from: the user's folder first, then the sounds shipped in `static/sounds/`.

A sound is named by its file name in the config (`Sound = "victory.wav"`); the `alert` event carries
the URL the overlay plays: `/static/user-sounds/<file>` for the user's folder, `/static/sounds/<file>`
for the built-in ones (overlays only play sounds from under `/static/`).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from urllib.parse import quote

AUDIO_SUFFIXES = frozenset({".wav", ".ogg", ".oga", ".mp3", ".opus", ".webm", ".m4a", ".flac"})
# Plain file names only: no folders, no leading dot, so a name can never leave its folder.
SOUND_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_. ()+-]{0,127}")
USER_PREFIX = "/static/user-sounds/"
BUILTIN_PREFIX = "/static/sounds/"


def builtin_dir() -> Path:
    """The packaged `static/sounds/` folder."""
    return Path(str(resources.files("dxbus.static").joinpath("sounds")))


def plain_file_name(name: str, suffixes: frozenset[str]) -> bool:
    """Whether `name` is a plain file name (no path, no traversal) with one of `suffixes`."""
    return bool(SOUND_NAME.fullmatch(name)) and ".." not in name and Path(name).suffix.lower() in suffixes


def safe_name(name: str) -> bool:
    """Whether `name` is a plain audio file name (no path, no traversal, a known audio suffix)."""
    return plain_file_name(name, AUDIO_SUFFIXES)


def file_inside(folder: Path, name: str) -> Path | None:
    """The file `name` in `folder`, or None when it is missing or resolves outside it (a link)."""
    path = (folder / name).resolve()
    try:
        path.relative_to(folder.resolve())
    except ValueError:
        return None
    return path if path.is_file() else None


class SoundMissing(ValueError):
    """A configured sound that is in neither folder (or is not a plain audio file name)."""


class SoundLibrary:
    """Resolves sound names to URLs and serves the user's folder safely."""

    def __init__(self, user_dir: Path, builtin: Path | None = None) -> None:
        self.user_dir = user_dir
        self.builtin = builtin or builtin_dir()

    def builtin_names(self) -> list[str]:
        """The shipped sound files."""
        if not self.builtin.is_dir():
            return []
        return sorted(p.name for p in self.builtin.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)

    def url(self, name: str) -> str:
        """The URL the overlay plays for `name` ("" for no sound); raises SoundMissing."""
        if not name:
            return ""
        if not safe_name(name):
            raise SoundMissing(
                f"{name!r} is not a plain audio file name (one of {', '.join(sorted(AUDIO_SUFFIXES))})")
        if (self.user_dir / name).is_file():
            return USER_PREFIX + quote(name)
        if (self.builtin / name).is_file():
            return BUILTIN_PREFIX + quote(name)
        shipped = ", ".join(self.builtin_names()) or "none"
        raise SoundMissing(
            f"sound file {name!r} not found in {self.user_dir} nor among the built-in sounds ({shipped})")

    def user_file(self, name: str) -> Path | None:
        """The user's sound file to serve, or None (bad name, missing, or outside the folder)."""
        return file_inside(self.user_dir, name) if safe_name(name) else None
