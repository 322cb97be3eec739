"""solutions/ is the source; notebooks/ is generated from it and must agree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from lessons import catalog, workbook
from lessons.workbook import MarkerError, stub_out

SKELETON = ("Where we are", "The attack", "Check", "Compare with the reference", "Errata",
            "Key points")


def test_stub_replaces_the_answer_and_names_the_exercise() -> None:
    source = (
        "def steal(client):\n"
        '    """Docstring stays."""\n'
        "    # BEGIN SOLUTION\n"
        "    secret = 1\n"
        "    return secret\n"
        "    # END SOLUTION\n"
    )
    stubbed = stub_out(source)
    assert "secret" not in stubbed
    assert '    raise NotImplementedError("Exercise steal: write your code here")' in stubbed
    assert '"""Docstring stays."""' in stubbed
    namespace: dict = {}
    exec(stubbed, namespace)
    with pytest.raises(NotImplementedError, match="Exercise steal"):
        namespace["steal"](None)


@pytest.mark.parametrize("source", [
    "# BEGIN SOLUTION\nx = 1\n",
    "x = 1\n# END SOLUTION\n",
    "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n",
])
def test_unpaired_markers_are_an_error(source: str) -> None:
    with pytest.raises(MarkerError):
        stub_out(source)


def test_notebooks_are_exactly_what_the_solutions_generate() -> None:
    assert workbook.build(check=True) == []


def test_editing_a_solution_without_regenerating_is_caught(tmp_path: Path, monkeypatch) -> None:
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    shutil.copytree(workbook.SOLUTIONS, solutions)
    shutil.copytree(workbook.NOTEBOOKS, notebooks)
    monkeypatch.setattr(workbook, "SOLUTIONS", solutions)
    monkeypatch.setattr(workbook, "NOTEBOOKS", notebooks)
    assert workbook.build(check=True) == []
    path = solutions / "00_tour.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\nAn edit nobody regenerated."
    nbformat.write(nb, path)
    assert workbook.build(check=True) == [
        "notebooks/00_tour.ipynb is not what solutions/00_tour.ipynb generates"]
    (notebooks / "99_stray.ipynb").write_text("{}", encoding="utf-8")
    assert "notebooks/99_stray.ipynb has no solutions/99_stray.ipynb" in workbook.build(check=True)


def test_every_ready_lesson_has_both_notebooks() -> None:
    for lesson in catalog.ready():
        assert (workbook.SOLUTIONS / lesson.notebook).exists(), lesson.notebook
        assert (workbook.NOTEBOOKS / lesson.notebook).exists(), lesson.notebook


@pytest.mark.parametrize("lesson", catalog.ready(), ids=lambda lesson: lesson.notebook)
def test_notebooks_follow_the_skeleton(lesson: catalog.Lesson) -> None:
    nb = nbformat.read(workbook.SOLUTIONS / lesson.notebook, as_version=4)
    headings = [line.lstrip("# ").strip() for cell in nb.cells if cell.cell_type == "markdown"
                for line in cell.source.split("\n") if line.startswith("## ")]
    for section in SKELETON:
        assert any(h.startswith(section) for h in headings), f"no '## {section}' section"
    assert nb.cells[0].source.startswith(f"# {lesson.number:02d} · {lesson.title}")
    code_cells = sum(cell.cell_type == "code" for cell in nb.cells)
    assert 10 <= code_cells <= 32, f"{code_cells} code cells; keep a lesson short"
    text = json.dumps(nb)
    assert "import *" not in text


@pytest.mark.parametrize("lesson", catalog.ready(), ids=lambda lesson: lesson.notebook)
def test_solutions_are_committed_run_and_learner_copies_empty(lesson: catalog.Lesson) -> None:
    solution = nbformat.read(workbook.SOLUTIONS / lesson.notebook, as_version=4)
    learner = nbformat.read(workbook.NOTEBOOKS / lesson.notebook, as_version=4)
    code = [cell for cell in solution.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "run the solution: " \
        "python -m lessons.author execute"
    assert all(not cell.outputs for cell in learner.cells if cell.cell_type == "code")


@pytest.mark.parametrize("lesson", catalog.ready(), ids=lambda lesson: lesson.notebook)
def test_exercise_cells_stand_alone(lesson: catalog.Lesson) -> None:
    solved = workbook.exercises(workbook.SOLUTIONS / lesson.notebook)
    stubs = workbook.exercises(workbook.NOTEBOOKS / lesson.notebook)
    assert solved and set(solved) == set(stubs)
