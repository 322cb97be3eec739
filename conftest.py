"""Workbook-wide pytest set-up: private data for the whole run, no warning or traceback in any
notebook output, and every notebook run twice.

nbval runs each notebook in solutions/ (comparing every output with the stored one) and in
notebooks/ (checking only that it runs). Learners run cells again all the time, so after
nbval's last cell of each notebook one more test item, "Run All again", runs every code cell a
second time in the same kernel, as pressing "Run All" twice does: it must raise no error and
write nothing to stderr, and the notebook must have kept its data in its own temporary folder
(in the shared data folder, only the learner's progress may appear).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Notebook kernels inherit this environment: their check results must go to a throw-away
    # folder, never into the learner's own progress in var/.
    os.environ["LESSONS_DATA_DIR"] = tempfile.mkdtemp(prefix="lessons-pytest-")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    outputs = getattr(item, "test_outputs", None)  # set by nbval on each notebook cell
    for output in outputs or []:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            raise AssertionError(f"The cell wrote to stderr (a warning?):\n{output.get('text')}")
    return result


class RunAllAgain(pytest.Item):
    """Every code cell of a notebook once more, in the kernel nbval has just run it in."""

    def __init__(self, *, cells: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cells = cells

    def runtest(self) -> None:
        kernel = self.parent.kernel  # nbval's RunningKernel, alive until the file's teardown
        timeout = self.config.option.nbval_cell_timeout
        problems: list[str] = []
        for number, source in self.cells:
            msg_id = kernel.execute_cell_input(source, allow_stdin=False)
            problems += [f"cell {number}: {problem}" for problem in
                         _problems_until_idle(kernel, msg_id, timeout)]
            kernel.await_reply(msg_id, timeout=timeout)
        assert not problems, "Running the notebook again failed:\n" + "\n".join(problems)
        home = Path(os.environ["LESSONS_DATA_DIR"])
        left = sorted(str(p.relative_to(home)) for p in home.rglob("*")) if home.exists() else []
        assert set(left) <= {"progress.json"}, (
            f"The notebook wrote {left} into the shared data folder; keep it in the Lab's own")

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, f"{self.path.name}: Run All again"


def _problems_until_idle(kernel: Any, msg_id: str, timeout: float) -> list[str]:
    """The errors and stderr output of one execution, read from the kernel's iopub stream."""
    problems = []
    while True:
        try:
            msg = kernel.get_message(stream="iopub", timeout=timeout)
        except Empty:
            return [*problems, f"no answer within {timeout} s"]
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            problems.append(f"{content['ename']}: {content['evalue']}")
        elif kind == "stream" and content.get("name") == "stderr":
            problems.append(f"wrote to stderr: {content.get('text', '')[:300]}")
        elif kind == "status" and content.get("execution_state") == "idle":
            return problems


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: one worker more than the machine has cores. The suite waits a third of its
    time (on servers starting, browsers, timeouts it provokes on purpose): on 2 cores, two
    workers kept them 139% busy out of 200% and took 754 s, three 152% and 659 s.
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when it is set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """After the last cell of every notebook, its "Run All again" item; then the longest files
    first (see ``_longest_first``)."""
    last_of: dict[pytest.Collector, int] = {}
    for index, item in enumerate(items):
        if type(item).__name__ == "IPyNbCell" and item.parent is not None:
            last_of[item.parent] = index
    for notebook, index in sorted(last_of.items(), key=lambda pair: -pair[1]):
        cells = [(item.cell_num, item.cell.source) for item in items
                 if item.parent is notebook and type(item).__name__ == "IPyNbCell"]
        items.insert(index + 1, RunAllAgain.from_parent(notebook, name="Run All again",
                                                        cells=cells))
    items.sort(key=_longest_first)


# Files whose tests run longest: the learner notebooks in JupyterLab, one browser after another.
LONGEST = ("tests/test_jupyterlab.py",)


def _longest_first(item: pytest.Item) -> tuple[int, int]:
    """A sort key that sends the longest files to the workers first and the many short ones
    last, so that the workers finish together instead of one waiting while the other runs a
    notebook that came last (pytest-xdist hands out whole files, in this order). Notebooks take
    longer the later the lesson; the sort is stable, so each file keeps its own order."""
    path = item.path.relative_to(item.config.rootpath).as_posix()
    if path in LONGEST:
        return (0, 0)
    if item.path.suffix == ".ipynb":
        number = item.path.name[:2]
        return (1, -int(number) if number.isdigit() else 0)
    return (2, 0)

