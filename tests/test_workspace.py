"""The learner's side of the tooling: their own copies in work/, a reset that keeps a backup,
progress that remembers the best result, and authoring commands that never destroy work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from helpers import run_cli

from lessons import author, catalog, cli, workbook, workspace
from lessons.checks import Suite, Trial, expect, progress_file


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    notebooks = tmp_path / "notebooks"
    shutil.copytree(workbook.NOTEBOOKS, notebooks)
    return tmp_path / "work", notebooks


def solve(path: Path) -> None:
    """What a learner does: replace a stub with an answer, run a cell."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and workspace.STUB.search(c.source))
    cell.source = workspace.STUB.sub("return 'my answer'", cell.source, count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    cell.execution_count = 1
    nbformat.write(nb, path)


def test_start_copies_what_is_missing_and_never_overwrites(folders) -> None:
    work, notebooks = folders
    first = workspace.prepare(work, notebooks)
    assert sorted(first.copied) == sorted(p.name for p in notebooks.glob("*.ipynb"))
    mine = work / "02_jwt.ipynb"
    solve(mine)
    before = mine.read_bytes()
    again = workspace.prepare(work, notebooks)
    assert again.copied == [] and again.updated_upstream == []
    assert mine.read_bytes() == before


def test_an_updated_lesson_is_announced_not_forced(folders) -> None:
    work, notebooks = folders
    workspace.prepare(work, notebooks)
    solve(work / "01_basic_auth.ipynb")
    mine = (work / "01_basic_auth.ipynb").read_bytes()
    upstream = notebooks / "01_basic_auth.ipynb"
    nb = nbformat.read(upstream, as_version=4)
    nb.cells[0].source += "\nA correction."
    nbformat.write(nb, upstream)
    prepared = workspace.prepare(work, notebooks)
    assert prepared.updated_upstream == ["01_basic_auth.ipynb"]
    assert (work / "01_basic_auth.ipynb").read_bytes() == mine


def test_reset_restores_one_lesson_and_keeps_a_backup(folders) -> None:
    work, notebooks = folders
    workspace.prepare(work, notebooks)
    solve(work / "03_access.ipynb")
    solved = (work / "03_access.ipynb").read_bytes()
    backup = workspace.reset("3", work, notebooks)
    assert backup is not None and backup.read_bytes() == solved
    assert (work / "03_access.ipynb").read_bytes() == (notebooks / "03_access.ipynb").read_bytes()
    with pytest.raises(ValueError, match="There is no lesson"):
        workspace.reset("42", work, notebooks)


def test_open_exercises_are_read_from_the_notebook(folders) -> None:
    work, notebooks = folders
    workspace.prepare(work, notebooks)
    path = work / "00_tour.ipynb"
    everything = workspace.open_exercises(path)
    assert everything == sorted(workbook.exercises(notebooks / "00_tour.ipynb"))
    solve(path)
    assert len(workspace.open_exercises(path)) == len(everything) - 1


def test_build_refuses_to_overwrite_someones_work(tmp_path: Path, monkeypatch) -> None:
    notebooks = tmp_path / "notebooks"
    shutil.copytree(workbook.NOTEBOOKS, notebooks)
    monkeypatch.setattr(workbook, "NOTEBOOKS", notebooks)
    solve(notebooks / "00_tour.ipynb")
    nb = nbformat.read(workbook.SOLUTIONS / "00_tour.ipynb", as_version=4)
    problems = workbook.build()
    assert any("holds someone's work" in problem for problem in problems), problems
    assert "my answer" in (notebooks / "00_tour.ipynb").read_text(encoding="utf-8")
    assert nb  # the solutions were only read
    assert workbook.build(force=True) == []
    assert workbook.build(check=True) == []


def test_authoring_commands_are_not_in_the_learners_help(capsys) -> None:
    cli.build_parser().print_help()
    learner = capsys.readouterr().out
    for command in ("start", "reset", "progress", "serve"):
        assert command in learner
    listed = {line.split()[0] for line in learner.split("COMMAND\n")[1].splitlines()
              if line.startswith("    ") and not line.startswith("     ")}
    assert listed >= {"start", "reset", "progress", "serve"}
    assert not listed & {"workbook", "build", "execute", "docs", "lock"}
    author.build_parser().print_help()
    assert "execute" in capsys.readouterr().out


def test_progress_keeps_the_best_and_the_latest(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    suite = Suite(2, catalog.LESSONS[2].title)

    @suite.check("answer", "the answer is 42")
    def answer(trial: Trial) -> None:
        expect(trial.answer() == 42, "Try 6 times 7.")

    suite.run(answer=lambda: 42)
    suite.run(answer=lambda: 41)  # a scratch run that fails
    entry = json.loads(progress_file().read_text(encoding="utf-8"))["02"]
    assert entry["best"]["passed"] == 1 and entry["latest"]["passed"] == 0
    result = run_cli("progress")
    assert "best 1/1 passed, latest 0/1" in result.stdout, result.stdout + result.stderr


def test_progress_reads_an_older_progress_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    progress_file().write_text(json.dumps({"02": {
        "title": "JWT bearer tokens", "passed": 3, "failed": 1, "not_attempted": 0,
        "checked_at": "2026-12-01T10:00:00Z"}}), encoding="utf-8")
    suite = Suite(2, "JWT bearer tokens")
    suite.check("answer", "the answer is 42")(lambda trial: expect(False, "no"))
    suite.run()
    entry = json.loads(progress_file().read_text(encoding="utf-8"))["02"]
    assert entry["best"]["passed"] == 3 and entry["latest"]["passed"] == 0
