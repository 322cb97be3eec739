"""The package and the tests follow one style, including ruff's security rules (bandit's):
a finding that is intended carries a `# noqa` with its reason on the same line."""

from __future__ import annotations

import subprocess
import sys

from lessons.catalog import ROOT


def test_ruff_finds_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "lessons", "tests", "conftest.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
