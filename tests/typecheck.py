"""mypy over the `dxbus` package as installed: `python tests/typecheck.py [mypy args]`.

pyproject maps the top-level folders onto one package (`server/` is `dxbus`, `obs/` is `dxbus.obs`, ...)
and the editable install resolves that with an import hook mypy cannot follow, so this lays the same
package out as symlinks in a temporary folder and runs `mypy -p dxbus` there. The settings are
`[tool.mypy]` in pyproject.toml. `tests/test_typecheck.py` runs it as part of `pytest`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_dirs() -> dict[str, Path]:
    """`{package: source folder}` from pyproject's `[tool.setuptools.package-dir]`."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    return {name: ROOT / folder for name, folder in setup["package-dir"].items()}


def lay_out(dest: Path) -> Path:
    """Symlink the installed layout of every mapped package under `dest`; returns `dest`."""
    mapping = package_dirs()
    for name in sorted(mapping, key=lambda n: n.count(".")):
        target = dest.joinpath(*name.split("."))
        if any(other.startswith(name + ".") for other in mapping):
            # Other mapped packages live inside this one: a real folder holding links to its entries.
            target.mkdir(parents=True, exist_ok=True)
            for entry in mapping[name].iterdir():
                if entry.name != "__pycache__":
                    (target / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
        else:
            target.symlink_to(mapping[name], target_is_directory=True)
    return dest


def run_mypy(*args: str) -> subprocess.CompletedProcess[str]:
    """Run mypy on the laid-out `dxbus` with pyproject's settings; output captured."""
    with tempfile.TemporaryDirectory(prefix="dxbus-mypy-") as tmp:
        tree = lay_out(Path(tmp) / "tree")
        command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                   "--cache-dir", str(Path(tmp) / "cache"), *args, "-p", "dxbus"]
        env = {**os.environ, "MYPYPATH": str(tree)}
        return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=600)


if __name__ == "__main__":
    done = run_mypy(*sys.argv[1:])
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    sys.exit(done.returncode)
