"""Finding overlays: `NAME.html.j2` templates with an optional `NAME.toml` manifest of settings.

Built-in overlays live in this package's folder; `--overlays DIR` adds a user folder with the same
structure (templates and manifests at its top level, assets under `DIR/static/`). A user overlay with a
built-in's name replaces it. Files starting with `_` (the base layout, the gallery) are not overlays.
The folders are re-scanned when their files change, so a new or edited overlay needs no restart.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .settings import Setting, SettingError, make_setting

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).resolve().parent
TEMPLATE_SUFFIX = ".html.j2"

# Every overlay has these; a manifest may redefine one (same name) to change its default or range.
COMMON_SETTINGS: dict[str, dict[str, Any]] = {
    "theme": {"type": "choice", "default": "silk", "choices": ["silk", "minimal", "contrast"],
              "label": "Theme", "group": "Look"},
    "font": {"type": "choice", "default": "sans",
             "choices": ["sans", "serif", "mono", "rounded", "condensed"], "label": "Font", "group": "Look"},
    "scale": {"type": "float", "default": 1.0, "min": 0.25, "max": 4.0, "step": 0.05,
              "label": "Size (scale)", "group": "Look"},
    "text_color": {"type": "color", "default": "#f5f1e8", "label": "Text color", "group": "Look"},
    "accent": {"type": "color", "default": "#e0403a", "label": "Accent color", "group": "Look"},
    "position": {"type": "choice", "default": "top-left",
                 "choices": ["top-left", "top-center", "top-right", "middle-left", "center", "middle-right",
                             "bottom-left", "bottom-center", "bottom-right"],
                 "label": "Position", "group": "Layout"},
    "margin": {"type": "int", "default": 24, "min": 0, "max": 960, "label": "Margin (px)", "group": "Layout"},
    "motion": {"type": "float", "default": 1.0, "min": 0.0, "max": 4.0, "step": 0.1,
               "label": "Animation length (x, 0 = none)", "group": "Layout"},
}


class ManifestError(ValueError):
    """A manifest that cannot be used; the text names the file and the key."""


@dataclass(frozen=True)
class Overlay:
    """One overlay: its template, what it listens to, its settings and its recommended size."""

    name: str
    template: str
    path: Path
    title: str
    description: str = ""
    width: int = 1920
    height: int = 1080
    types: tuple[str, ...] = ()
    settings: Mapping[str, Setting] = field(default_factory=dict)
    test_events: tuple[dict[str, Any], ...] = ()
    builtin: bool = True

    def to_json(self) -> dict[str, Any]:
        """What the gallery and `GET /api/overlays` show."""
        return {
            "name": self.name, "title": self.title, "description": self.description,
            "width": self.width, "height": self.height, "types": list(self.types),
            "builtin": self.builtin, "url": f"/overlays/{self.name}",
            "settings": [s.to_json() for s in self.settings.values()],
            "has_test_events": bool(self.test_events),
        }


def load_manifest(name: str, template: Path, manifest: Path | None, builtin: bool) -> Overlay:
    """Build an Overlay from its template path and manifest (None: common settings only)."""
    raw: dict[str, Any] = {}
    where = str(manifest) if manifest else str(template)
    if manifest is not None:
        try:
            raw = tomllib.loads(manifest.read_text(encoding="utf-8-sig"))
        except tomllib.TOMLDecodeError as exc:
            raise ManifestError(f"{manifest}: not valid TOML: {exc}") from None
    known = {"title", "description", "width", "height", "types", "settings", "test_events"}
    unknown = set(raw) - known
    if unknown:
        raise ManifestError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    specs: dict[str, Any] = dict(COMMON_SETTINGS)
    own = raw.get("settings", {})
    if not isinstance(own, dict):
        raise ManifestError(f"{where}: [settings] must be a table of tables")
    for key, spec in own.items():
        if not isinstance(spec, dict):
            raise ManifestError(f"{where}: settings.{key} must be a table")
        # A partial redefinition of a common setting (e.g. only `default`) keeps the rest.
        specs[key] = {**COMMON_SETTINGS.get(key, {}), **spec}
    try:
        settings = {key: make_setting(key, spec, f"{where}: settings") for key, spec in specs.items()}
    except SettingError as exc:
        raise ManifestError(str(exc)) from None
    width, height = raw.get("width", 1920), raw.get("height", 1080)
    for key, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or not 16 <= value <= 7680:
            raise ManifestError(f"{where}: {key} = {value!r}: expected an integer 16 to 7680")
    types = raw.get("types", [])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise ManifestError(f"{where}: types must be a list of event type names")
    tests = raw.get("test_events", [])
    if not isinstance(tests, list) or not all(isinstance(t, dict) and "EventType" in t for t in tests):
        raise ManifestError(f"{where}: test_events must be [[test_events]] tables with an EventType")
    return Overlay(
        name=name, template=template.name, path=template, title=str(raw.get("title", name)),
        description=str(raw.get("description", "")), width=width, height=height, types=tuple(types),
        settings=settings, test_events=tuple(tests), builtin=builtin,
    )


class Registry:
    """The overlays of the built-in folder plus the user folder, re-read when their files change."""

    def __init__(self, user_dir: Path | None = None, builtin_dir: Path = BUILTIN_DIR) -> None:
        self.builtin_dir = builtin_dir
        self.user_dir = user_dir
        self.errors: dict[str, str] = {}
        self._stamp: tuple[Any, ...] | None = None
        self._overlays: dict[str, Overlay] = {}

    @property
    def template_dirs(self) -> list[Path]:
        """Where templates are looked up, first match wins (the user folder first)."""
        return [d for d in (self.user_dir, self.builtin_dir) if d is not None]

    def _candidates(self) -> list[tuple[Path, bool]]:
        found: list[tuple[Path, bool]] = []
        for folder, builtin in ((self.builtin_dir, True), (self.user_dir, False)):
            if folder is None or not folder.is_dir():
                continue
            found += [(p, builtin) for p in sorted(folder.glob("*" + TEMPLATE_SUFFIX))
                      if not p.name.startswith(("_", "."))]
        return found

    def _fingerprint(self, candidates: Sequence[tuple[Path, bool]]) -> tuple[Any, ...]:
        parts: list[Any] = []
        for template, _ in candidates:
            manifest = template.with_name(template.name[: -len(TEMPLATE_SUFFIX)] + ".toml")
            parts.append((str(template), _mtime(manifest)))
        return tuple(parts)

    def refresh(self) -> dict[str, Overlay]:
        """Re-scan if anything changed; returns name -> Overlay (user overlays replace built-ins)."""
        candidates = self._candidates()
        stamp = self._fingerprint(candidates)
        if stamp == self._stamp:
            return self._overlays
        overlays: dict[str, Overlay] = {}
        errors: dict[str, str] = {}
        for template, builtin in candidates:
            name = template.name[: -len(TEMPLATE_SUFFIX)]
            manifest = template.with_name(name + ".toml")
            try:
                overlays[name] = load_manifest(name, template, manifest if manifest.exists() else None,
                                               builtin)
                errors.pop(name, None)
            except (ManifestError, OSError) as exc:
                log.error("overlay %s: %s", name, exc)
                errors[name] = str(exc)
                overlays.pop(name, None)
        self._overlays, self.errors, self._stamp = overlays, errors, stamp
        return overlays

    def all(self) -> list[Overlay]:
        """Every usable overlay, sorted by name."""
        return [self.refresh()[name] for name in sorted(self.refresh())]

    def get(self, name: str) -> Overlay | None:
        return self.refresh().get(name)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
