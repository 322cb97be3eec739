"""The tooling works under a locale that is not UTF-8 (as on many Windows laptops, where the
default is cp1252): every file is read and written as UTF-8, whatever the locale, and every
message still reaches the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lessons import workbook

# ASCII as the locale's encoding: Python's UTF-8 mode and its C-locale coercion both off.
NOT_UTF8 = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
            "PYTHONIOENCODING": ""}


def run(*code_or_args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **NOT_UTF8, "LESSONS_DATA_DIR": str(tmp_path / "var")}
    return subprocess.run([sys.executable, *code_or_args], capture_output=True, env=env,
                          timeout=120, check=False, text=True, encoding="utf-8",
                          errors="replace")


def test_the_locale_really_is_not_utf8(tmp_path: Path) -> None:
    result = run("-c", "import locale; print(locale.getpreferredencoding(False))",
                 tmp_path=tmp_path)
    assert "utf" not in result.stdout.lower(), result.stdout


def test_building_the_notebooks_writes_the_same_bytes(tmp_path: Path) -> None:
    target = tmp_path / "notebooks"
    target.mkdir()
    script = ("import sys; from pathlib import Path; from lessons import workbook; "
              f"workbook.NOTEBOOKS = Path({str(target)!r}); "
              "problems = workbook.build(); print(problems); sys.exit(1 if problems else 0)")
    result = run("-c", script, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in sorted(workbook.NOTEBOOKS.glob("*.ipynb")):
        assert (target / expected.name).read_bytes() == expected.read_bytes(), expected.name


@pytest.mark.parametrize("args", [
    ("-m", "lessons.author", "build", "--check"),
    ("-m", "lessons.author", "docs", "--check"),
    ("-m", "lessons", "lessons"),
    ("-m", "lessons", "progress"),
    ("-m", "lessons", "stack"),
    ("-m", "lessons", "doctor"),
])
def test_commands_work_and_print_under_an_ascii_locale(args, tmp_path: Path) -> None:
    result = run(*args, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "UnicodeEncodeError" not in result.stderr
