"""Learners run cells again: every notebook, solved and unsolved, survives each code cell run
twice in a row and the whole notebook run a second time, in one kernel, with no error and
nothing on stderr. And a notebook keeps its data in its own temporary folder: in the data
folder a learner's tools share (``var/``), it may only record progress."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lessons import catalog, workbook

NOTEBOOKS = [pytest.param(folder / lesson.notebook, id=f"{folder.name}/{lesson.notebook}")
             for lesson in catalog.ready()
             for folder in (workbook.SOLUTIONS, workbook.NOTEBOOKS)]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS)
def test_every_cell_can_be_run_again(path: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "var"
    monkeypatch.setenv("LESSONS_DATA_DIR", str(home))  # the kernel inherits it
    problems = workbook.rerun_problems(path)
    assert not problems, "\n".join(problems)
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*")) if home.exists() else []
    assert set(left) <= {"progress.json"}, (
        f"{path.name} wrote {left} into the shared data folder; use the Lab's folder")
    assert os.environ["LESSONS_DATA_DIR"] == str(home)
