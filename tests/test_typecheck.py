"""mypy passes over the installed `dxbus` package (strict on the core; settings in pyproject.toml)."""

from __future__ import annotations

import pytest
from typecheck import run_mypy


# mypy needs ~15 s of CPU but took 5 minutes of wall time on a machine loaded 12-fold.
@pytest.mark.timeout(900)
def test_mypy_passes_on_the_installed_package() -> None:
    done = run_mypy()
    assert done.returncode == 0, done.stdout + done.stderr
    # It really checked the package (an empty run also exits 0).
    assert "Success: no issues found in" in done.stdout
    checked = int(done.stdout.split("found in ")[1].split()[0])
    assert checked > 50
