"""The overlays' browser code (everything under static/) passes eslint (.ci/js/eslint.config.mjs).

The linter is pinned in `.ci/js/package-lock.json`; the first run installs it with `npm ci`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / ".ci" / "js"
ESLINT = JS / "node_modules" / ".bin" / "eslint"


def _install() -> None:
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to lint static/*.js (Debian: apt-get install nodejs npm)"
    done = subprocess.run([npm, "ci", "--prefix", str(JS), "--no-audit", "--no-fund"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, f"npm ci --prefix .ci/js failed:\n{done.stdout}\n{done.stderr}"


def test_every_browser_script_passes_eslint() -> None:
    if not ESLINT.exists():
        _install()
    done = subprocess.run(
        [str(ESLINT), "--config", str(JS / "eslint.config.mjs"), "--max-warnings", "0", "static"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stdout + done.stderr


def test_overlay_templates_hold_no_script() -> None:
    # Browser code lives in static/overlays/<name>.js, where the linter sees it.
    for template in sorted((ROOT / "overlays").glob("*.html.j2")):
        text = template.read_text(encoding="utf-8")
        if template.name.startswith("_"):
            continue
        assert "<script>" not in text and "{% block script %}" not in text, template.name
        assert (ROOT / "static" / "overlays" / (template.name[: -len(".html.j2")] + ".js")).is_file()
