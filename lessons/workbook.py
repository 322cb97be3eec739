"""Build the learner notebooks (``notebooks/``) from the solved ones (``solutions/``).

``solutions/`` is the single source. In its code cells, an exercise's answer stands between
two marker lines::

    def steal_note(client, note_id):
        # BEGIN SOLUTION
        return client.get(...)
        # END SOLUTION

The learner copy keeps everything else and replaces the answer with a stub that raises
``NotImplementedError`` naming the exercise, so the notebook still runs top to bottom and the
checks report "not attempted". Outputs, execution counts and editor metadata are removed.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from lessons.catalog import ROOT
from lessons.textfiles import read_text, write_text

SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
DEFINITION = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+(?P<name>\w+)")
KEPT_CELL_METADATA = ("tags",)
KEPT_LANGUAGE_INFO = ("name",)
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class MarkerError(ValueError):
    """A solution cell whose markers do not pair up."""


def stub_out(source: str) -> str:
    """``source`` with every marked answer replaced by a ``NotImplementedError`` stub."""
    lines = source.split("\n")
    out: list[str] = []
    exercise = "this exercise"
    inside = False
    for number, line in enumerate(lines, 1):
        definition = DEFINITION.match(line)
        if definition and not inside:
            exercise = definition["name"]
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise MarkerError(f"line {number}: BEGIN SOLUTION inside another solution")
            inside = True
            out.append(f'{begin["indent"]}raise NotImplementedError('
                       f'"Exercise {exercise}: write your code here")')
        elif END.match(line):
            if not inside:
                raise MarkerError(f"line {number}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError("BEGIN SOLUTION is never closed by END SOLUTION")
    return "\n".join(out)


def has_solution(source: str) -> bool:
    return any(BEGIN.match(line) for line in source.split("\n"))


def normalize(nb: NotebookNode, *, keep_outputs: bool) -> NotebookNode:
    """Strip what changes from run to run or editor to editor, so diffs show only content."""
    nb.metadata = NotebookNode(
        kernelspec=NotebookNode(KERNELSPEC),
        language_info=NotebookNode({k: v for k, v in nb.metadata.get("language_info", {}).items()
                                    if k in KEPT_LANGUAGE_INFO} or {"name": "python"}),
    )
    for cell in nb.cells:
        cell.metadata = NotebookNode({k: v for k, v in cell.metadata.items()
                                      if k in KEPT_CELL_METADATA})
        if cell.cell_type == "code":
            if not keep_outputs:
                cell.outputs = []
                cell.execution_count = None
            for output in cell.outputs:
                if "metadata" in output:
                    output.metadata = NotebookNode()
    return nb


def learner_version(solution: NotebookNode) -> NotebookNode:
    nb = nbformat.from_dict(solution)
    for cell in nb.cells:
        if cell.cell_type == "code" and has_solution(cell.source):
            cell.source = stub_out(cell.source)
    return normalize(nb, keep_outputs=False)


def render(nb: NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def solution_paths(names: Iterable[str] = ()) -> list[Path]:
    names = list(names)
    paths = sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
    if names:
        paths = [p for p in paths if any(p.name.startswith(n) or p.name == n for n in names)]
    return paths


def build(check: bool = False, force: bool = False) -> list[str]:
    """Write ``notebooks/`` from ``solutions/``; with ``check``, write nothing and return the
    names of learner notebooks that are missing, stale or have no solution.

    A learner notebook that holds someone's work (outputs, or a solved exercise: a learner who
    worked in ``notebooks/`` instead of ``work/``) is not overwritten without ``force``; it is
    listed among the problems instead."""
    from lessons.workspace import holds_learner_work

    problems: list[str] = []
    expected = set()
    for path in solution_paths():
        solution = nbformat.read(path, as_version=4)
        generated = learner_version(solution)
        text = render(generated)
        target = NOTEBOOKS / path.name
        expected.add(target.name)
        current = read_text(target) if target.exists() else None
        if current == text:
            continue
        if check:
            problems.append(f"notebooks/{target.name} is not what solutions/{path.name} "
                            "generates")
        elif current is not None and not force and holds_learner_work(
                nbformat.reads(current, as_version=4), generated):
            problems.append(f"notebooks/{target.name} holds someone's work (outputs or solved "
                            "exercises): not overwritten. Move it to work/ (learners work "
                            "there), or pass --force to overwrite it.")
        else:
            NOTEBOOKS.mkdir(exist_ok=True)
            write_text(target, text)
    for stray in sorted(NOTEBOOKS.glob("*.ipynb")):
        if stray.name not in expected:
            problems.append(f"notebooks/{stray.name} has no solutions/{stray.name}")
    return problems


def execute(paths: Iterable[Path], timeout: int = 600) -> None:
    """Run solution notebooks top to bottom in a fresh kernel and save them with outputs."""
    from nbclient import NotebookClient

    for path in paths:
        nb = nbformat.read(path, as_version=4)
        # The kernel inherits this environment: its check results go to a throw-away folder,
        # not into the developer's own progress.
        with tempfile.TemporaryDirectory(prefix="lessons-execute-") as scratch:
            saved = os.environ.get("LESSONS_DATA_DIR")
            os.environ["LESSONS_DATA_DIR"] = scratch
            try:
                NotebookClient(nb, timeout=timeout, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
            finally:
                if saved is None:
                    del os.environ["LESSONS_DATA_DIR"]
                else:
                    os.environ["LESSONS_DATA_DIR"] = saved
        write_text(path, render(normalize(nb, keep_outputs=True)))


STUB = re.compile(r'raise NotImplementedError\("Exercise \w+: write your code here"\)')


def is_exercise_cell(source: str) -> bool:
    return has_solution(source) or bool(STUB.search(source))


def exercises(path: Path) -> dict[str, object]:
    """The functions a notebook's exercise cells define, solved or stubbed.

    Exercise cells import what they use, so each runs on its own here; this is how the tests
    hand the solution notebook's answers, and the learner notebook's stubs, to a check suite.
    """
    found: dict[str, object] = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or not is_exercise_cell(cell.source):
            continue
        namespace: dict[str, object] = {"__name__": f"exercise_{path.stem}"}
        # dont_inherit: compile the cell as the notebook's kernel does, not with this
        # module's `from __future__ import annotations` (which would turn a model's
        # annotations into strings that pydantic cannot resolve inside a function).
        code = compile(cell.source, f"{path.name}:exercise", "exec", dont_inherit=True)
        exec(code, namespace)  # noqa: S102 -- our own notebooks' cells, run by our tests
        for line in cell.source.split("\n"):
            top_level = re.match(r"(?:async\s+)?def\s+(\w+)", line)
            if top_level:
                found[top_level[1]] = namespace[top_level[1]]
    return found
