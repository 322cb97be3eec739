"""The "Run All again" item that follows every notebook (conftest.py) fails on a notebook that
cannot be run twice, and on one that leaves data in the shared data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_twice(folder: Path, source: str) -> subprocess.CompletedProcess[str]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nbformat.write(nb, folder / "probe.ipynb")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LESSONS_DATA_DIR", None)  # the plugin gives the run a fresh one
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-o", "addopts=", "-n0", "-q",
         "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", "probe.ipynb"],
        cwd=folder, capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.mark.slow
def test_a_cell_that_cannot_run_twice_fails_the_second_run(tmp_path: Path) -> None:
    result = run_twice(tmp_path, "import pathlib\nmarker = pathlib.Path('made-once.tmp')\n"
                                 "assert not marker.exists(), 'made before'\n"
                                 "marker.write_text('1', encoding='utf-8')")
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed" in result.stdout
    assert "Run All again" in result.stdout and "made before" in result.stdout


@pytest.mark.slow
def test_a_notebook_that_writes_into_the_shared_data_folder_fails(tmp_path: Path) -> None:
    result = run_twice(tmp_path, "import os, pathlib\n"
                                 "(pathlib.Path(os.environ['LESSONS_DATA_DIR']) / 'notes.db')"
                                 ".write_text('x', encoding='utf-8')")
    assert result.returncode == 1, result.stdout
    assert "shared data folder" in result.stdout


@pytest.mark.slow
def test_a_notebook_that_can_run_twice_passes(tmp_path: Path) -> None:
    result = run_twice(tmp_path, "total = 1 + 1\nprint(total)")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
