"""`dxbus overlay new NAME`: a user overlay that renders the bus's state, ready to edit.

It writes, in the user's overlay folder (`--dir`, else `[Overlays] Directory`, else `./overlays`):

    NAME.toml                  the manifest (title, size, settings, test events)
    NAME.html.j2               markup and CSS, extending the built-in base layout
    static/overlays/NAME.js    the script: `DXBus.connect({render(state) {...}})`, nothing counted

from the templates in `overlays/scaffold/` and `static/overlays/_scaffold.js` (linted with the
built-in overlays' scripts). Existing files are never overwritten.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .registry import BUILTIN_DIR, TEMPLATE_SUFFIX

NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
SCAFFOLD_DIR = BUILTIN_DIR / "scaffold"
SCAFFOLD_JS = BUILTIN_DIR.parent / "static" / "overlays" / "_scaffold.js"
DEFAULT_DIR = Path("overlays")


class ScaffoldError(ValueError):
    """A name or folder that cannot be used; the text says why."""


@dataclass(frozen=True)
class Scaffolded:
    """What `scaffold` wrote."""

    name: str
    folder: Path
    files: tuple[Path, ...]
    replaces_builtin: bool


def _scaffold_js() -> Path:
    # Editable installs map dxbus.static to the repository's static/; a wheel puts it beside dxbus.
    try:
        import dxbus.static as pkg

        return Path(pkg.__file__).resolve().parent / "overlays" / "_scaffold.js"
    except ImportError:  # pragma: no cover - the package is always installed with dxbus
        return SCAFFOLD_JS


def scaffold(name: str, folder: Path) -> Scaffolded:
    """Write a new overlay `name` into `folder`; raises ScaffoldError naming the problem."""
    if not NAME.fullmatch(name):
        raise ScaffoldError(f"overlay name {name[:60]!r}: use 1 to 40 lower-case letters, digits and '-', "
                            "starting with a letter (it becomes the URL /overlays/NAME)")
    if folder.exists() and not folder.is_dir():
        raise ScaffoldError(f"{folder} is not a folder")
    targets = {
        folder / f"{name}.toml": SCAFFOLD_DIR / "overlay.toml",
        folder / f"{name}{TEMPLATE_SUFFIX}": SCAFFOLD_DIR / f"overlay{TEMPLATE_SUFFIX}",
        folder / "static" / "overlays" / f"{name}.js": _scaffold_js(),
    }
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        raise ScaffoldError(f"overlay {name} already exists: {', '.join(existing)} (nothing was written)")
    title = name.replace("-", " ").capitalize()
    for target, source in targets.items():
        text = source.read_text(encoding="utf-8").replace("__NAME__", name).replace("__TITLE__", title)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    builtin = (BUILTIN_DIR / f"{name}{TEMPLATE_SUFFIX}").exists()
    return Scaffolded(name, folder, tuple(targets), builtin)


def add_overlay_command(commands: Any) -> None:
    """`dxbus overlay new NAME [--dir DIR] [--config FILE]`."""
    overlay = commands.add_parser("overlay", help="make your own overlay (dxbus overlay new NAME)",
                                  description="Tools for your own overlays.")
    actions = overlay.add_subparsers(dest="overlay_command", metavar="ACTION", required=True)
    new = actions.add_parser(
        "new", help="scaffold an overlay that renders the bus's state",
        description="Write NAME.toml, NAME.html.j2 and static/overlays/NAME.js into your overlay "
        "folder: --dir, else [Overlays] Directory of the config, else ./overlays. Open it at "
        "/overlays/NAME once the bus serves that folder (dxbus serve --overlays DIR).")
    new.add_argument("name", metavar="NAME", help="the overlay's name (its URL: /overlays/NAME)")
    new.add_argument("--dir", type=Path, metavar="DIR", help="the overlay folder to write into")
    new.add_argument("--config", type=Path, metavar="FILE",
                     help="config file whose [Overlays] Directory to use (default: ./dxbus.toml)")


def overlay_folder(args: argparse.Namespace) -> tuple[Path, bool]:
    """The folder to write into, and whether the bus already serves it by its config."""
    if args.dir is not None:
        return args.dir, False
    from dxbus.config import load_config  # the CLI's config rules (only when no --dir is given)

    path = args.config if args.config is not None else (Path("dxbus.toml") if Path("dxbus.toml").exists()
                                                         else None)
    configured = load_config(path).overlays.directory if path is not None else ""
    if configured:
        folder = Path(configured).expanduser()
        return (folder if folder.is_absolute() else path.parent / folder) if path else folder, True
    return DEFAULT_DIR, False


def run_overlay_command(args: argparse.Namespace) -> int:
    """Run `dxbus overlay ...`; prints what was written and how to open it."""
    from dxbus.config_base import ConfigError

    try:
        folder, configured = overlay_folder(args)
        made = scaffold(args.name, folder)
    except (ScaffoldError, ConfigError, OSError) as exc:
        print(f"dxbus overlay new: {exc}", file=sys.stderr)
        return 2
    for path in made.files:
        print(f"wrote {path}")
    if made.replaces_builtin:
        print(f"note: {made.name} is also a built-in overlay; yours replaces it where the bus serves "
              f"{folder}")
    serve = "dxbus serve" if configured else f"dxbus serve --overlays {folder}"
    print(f"open it: {serve}, then http://127.0.0.1:8080/overlays/{made.name} "
          "(the gallery at /overlays lists it)")
    return 0


__all__ = ["ScaffoldError", "Scaffolded", "add_overlay_command", "overlay_folder", "run_overlay_command",
           "scaffold"]
