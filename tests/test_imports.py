"""Every module of the installed `dxbus` package imports on its own, whatever was imported before."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter: for each module, forget every `dxbus` module, then import that one
# alone. Third-party packages stay loaded (they are not ours to untangle), so this is one process.
SCRIPT = r"""
import importlib, json, pkgutil, sys, traceback

packages = json.loads(sys.argv[1])
names = set(packages)
for package in packages:
    path = importlib.import_module(package).__path__
    names.update(m.name for m in pkgutil.iter_modules(path, package + ".") if not m.ispkg)
names = sorted(names)
failures = {}
for name in names:
    for loaded in [m for m in sys.modules if m == "dxbus" or m.startswith("dxbus.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failures[name] = traceback.format_exc(limit=-3)
print(json.dumps({"names": names, "failures": failures}))
"""


# Over a hundred cold imports: minutes on a loaded two-core machine (seen), seconds on an idle one.
@pytest.mark.timeout(480)
def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    # The packages as installed (pyproject maps the top-level folders onto `dxbus.*`).
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    argv = [sys.executable, "-c", SCRIPT, json.dumps(packages)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # The walk really found the package's parts (a broken walk would pass vacuously).
    expected = {"dxbus.config", "dxbus.overlays.config", "dxbus.speedrun.settings", "dxbus.obs.scene_rules"}
    assert expected <= set(report["names"])
    assert report["failures"] == {}, "\n".join(f"{k}:\n{v}" for k, v in report["failures"].items())
