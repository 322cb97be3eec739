"""JupyterLab itself, as a learner uses it: each learner notebook opened in JupyterLab in a real
browser (offline Chromium, see ``browser_support``), every cell run from the Run menu, and no
cell may end with an error or anything on stderr. The Mermaid diagrams must render too.

One JupyterLab server serves every notebook (it starts once per run, with a random token, on a
free loopback port, in a temporary folder holding a copy of ``notebooks/``) and is always shut
down at the end. Each notebook gets a page and a JupyterLab workspace of its own, so one that
fails leaves nothing open for the next, and its kernel is shut down when its test ends.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from browser_support import Offline, offline_chromium
from playwright.sync_api import BrowserContext, Page, expect

from lessons import catalog, workbook
from lessons.server import free_port

NOTEBOOKS = [lesson.notebook for lesson in catalog.ready()]
# How long "Run All Cells" may take for one notebook (a cell may take 300 s under nbval).
RUN_TIMEOUT_S = 900

# JupyterLab's settings for this run (its own settings folder; the learner's are not read):
# every cell attached to the page, so the test sees every output (JupyterLab's default
# leaves cells far off screen out of the page), and no question about Jupyter's news feed.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
}


@dataclass(frozen=True)
class JupyterLab:
    url: str
    token: str
    root: Path
    log: Path

    def open_url(self, path: str) -> str:
        # A workspace per notebook: JupyterLab restores nothing another test left open.
        return f"{self.url}/lab/workspaces/{Path(path).stem}/tree/{path}?token={self.token}"

    def api(self, method: str, path: str) -> httpx2.Response:
        return httpx2.request(method, f"{self.url}{path}", timeout=30,
                              headers={"Authorization": f"token {self.token}"})

    def shut_down_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions").json():
            self.api("DELETE", f"/api/sessions/{session['id']}")


def _ready(lab: JupyterLab) -> bool:
    try:
        return lab.api("GET", "/api/status").status_code == 200
    except httpx2.TransportError:
        return False


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """``jupyter lab`` on a free loopback port, with a random token, serving a temporary copy
    of ``notebooks/``; the notebooks' data goes to a temporary ``LESSONS_DATA_DIR``."""
    root = tmp_path_factory.mktemp("jupyterlab")
    shutil.copytree(workbook.NOTEBOOKS, root / "notebooks")
    private = root / ".jupyter"
    for name, values in LAB_SETTINGS.items():
        settings = private / "lab-settings" / f"{name}.jupyterlab-settings"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(values), encoding="utf-8")
    env = {**os.environ,
           "LESSONS_DATA_DIR": str(root / "var"),
           # Jupyter's configuration, run-time files, settings and workspaces: all private.
           "JUPYTER_CONFIG_DIR": str(private / "config"),
           "JUPYTER_RUNTIME_DIR": str(private / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(private / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(private / "workspaces")}
    port, token = free_port(), secrets.token_urlsafe(24)
    lab = JupyterLab(url=f"http://127.0.0.1:{port}", token=token, root=root,
                     log=root / "jupyterlab.log")
    with lab.log.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}",
             "--ServerApp.allow_root=True",  # CI containers run as root
             # Nothing that would reach the internet from the server's side either.
             "--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 120
            while not _ready(lab):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n"
                                + lab.log.read_text(encoding="utf-8")[-3000:])
                time.sleep(0.2)
            yield lab
        finally:
            server.terminate()  # SIGTERM: JupyterLab shuts its kernels down, then exits
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BrowserContext,
                                                                          Offline]]:
    with offline_chromium(tmp_path_factory.mktemp("chromium") / "profile",
                          viewport={"width": 1280, "height": 900}) as opened:
        yield opened


# Done: the kernel is idle, no cell is queued or running ("[*]"), and either every code cell
# has run or one failed (JupyterLab then drops the cells queued after it).
RUN_FINISHED = """() => {
    const status = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
        .map(prompt => prompt.textContent);
    const failed = document.querySelector(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
    return status !== null && status.dataset.status === 'idle'
        && !prompts.some(text => text.includes('*'))
        && (failed !== null || prompts.every(text => /\\[\\d+\\]/.test(text)));
}"""

# Every code cell's error outputs (JupyterLab renders an error, and a stream to stderr, with
# the mime type application/vnd.jupyter.stderr), by the cell's index in the notebook.
ERROR_OUTPUTS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].flatMap(
    (cell, index) => [...cell.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(output => ({cell: index, text: output.textContent})))"""

NOT_RUN = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].flatMap(
    (cell, index) => cell.classList.contains('jp-CodeCell')
        && !/\\[\\d+\\]/.test(cell.querySelector('.jp-InputArea-prompt').textContent)
        ? [index] : [])"""


def run_all_cells(page: Page) -> None:
    """Run > Run All Cells, from the menu bar."""
    page.locator("#jp-MainMenu").get_by_role("menuitem", name="Run", exact=True).click()
    page.locator('.lm-Menu-itemLabel:text-is("Run All Cells")').click()


@dataclass
class Run:
    """What a learner sees once "Run All Cells" has finished."""

    errors: list[dict[str, object]]  # {"cell": index in the notebook, "text": the output}
    not_run: list[int]
    diagrams: int  # Mermaid diagrams drawn
    expected_diagrams: int  # mermaid blocks in the notebook's markdown
    broken_diagrams: list[str]
    crashes: list[str]  # errors raised by JupyterLab's own page

    def report(self) -> str:
        return "\n".join(f"--- cell {error['cell']}:\n{str(error['text'])[-1500:]}"
                         for error in self.errors)


def run_in_jupyterlab(lab: JupyterLab, context: BrowserContext, path: str) -> Run:
    """Open the notebook at ``path`` (under the server's root) in a new page, run all its
    cells from the menu, wait until the kernel is idle, and read the page. The page is closed
    and the kernel shut down at the end, whatever happens."""
    notebook = json.loads((lab.root / path).read_text(encoding="utf-8"))
    page = context.new_page()
    crashes: list[str] = []
    page.on("pageerror", lambda error: crashes.append(str(error)))
    try:
        # JupyterLab may ask which kernel to start; a learner accepts the one it suggests.
        page.add_locator_handler(page.locator(".jp-Dialog").filter(has_text="Select Kernel"),
                                 lambda dialog: dialog.locator(".jp-mod-accept").click())
        page.goto(lab.open_url(path))
        kernel = notebook["metadata"]["kernelspec"]["display_name"]
        expect(page.locator(".jp-NotebookPanel .jp-Toolbar-kernelName")).to_have_text(
            kernel, timeout=120_000)
        expect(page.locator("#jp-main-statusbar")).to_contain_text(f"{kernel} | Idle",
                                                                  timeout=120_000)
        code_cells = sum(cell["cell_type"] == "code" for cell in notebook["cells"])
        assert page.locator(".jp-CodeCell").count() == code_cells, "not every cell is shown"

        run_all_cells(page)
        page.wait_for_function(RUN_FINISHED, timeout=RUN_TIMEOUT_S * 1000, polling=250)

        # JupyterLab draws each diagram as an image (an SVG data: URL), or shows a warning.
        diagrams = sum("".join(cell["source"]).count("```mermaid")
                       for cell in notebook["cells"] if cell["cell_type"] == "markdown")
        page.wait_for_function(
            "([selector, expected]) => document.querySelectorAll(selector).length >= expected"
            " || document.querySelector('.jp-RenderedMermaid.jp-mod-warning') !== null",
            arg=[DIAGRAM, diagrams], timeout=30_000)
        return Run(errors=page.evaluate(ERROR_OUTPUTS), not_run=page.evaluate(NOT_RUN),
                   diagrams=page.locator(DIAGRAM).count(), expected_diagrams=diagrams,
                   broken_diagrams=page.locator(".jp-RenderedMermaid.jp-mod-warning"
                                                ).all_inner_texts(),
                   crashes=crashes)
    finally:
        page.close()
        lab.shut_down_kernels()


DIAGRAM = ".jp-MarkdownCell .jp-RenderedMermaid :is(img, svg)"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_learner_notebook_runs_in_jupyterlab(notebook: str, jupyterlab: JupyterLab,
                                                 browser: tuple[BrowserContext, Offline]
                                                 ) -> None:
    context, offline = browser
    run = run_in_jupyterlab(jupyterlab, context, f"notebooks/{notebook}")
    assert not run.errors, f"{notebook}: error output in JupyterLab:\n{run.report()}"
    assert run.not_run == [], f"{notebook}: cells that did not run"
    assert not run.broken_diagrams, f"{notebook}: a Mermaid diagram does not render"
    assert run.diagrams == run.expected_diagrams, f"{notebook}: Mermaid diagrams missing"
    assert run.crashes == [], f"{notebook}: JupyterLab's page raised {run.crashes}"
    assert offline.blocked == [], f"JupyterLab tried to reach {offline.blocked}"


@pytest.mark.slow
def test_an_error_or_stderr_in_a_cell_is_seen(jupyterlab: JupyterLab,
                                              browser: tuple[BrowserContext, Offline]) -> None:
    """The test above would see a failing notebook: a cell that writes to stderr, then one
    that raises, after which JupyterLab runs nothing more."""
    cells = ["print('fine')", "import sys\nprint('a warning', file=sys.stderr)", "1 / 0",
             "print('never reached')"]
    canary = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{index}",
                         "metadata": {}, "outputs": [], "source": source}
                        for index, source in enumerate(cells)],
              "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                          "language": "python", "name": "python3"}},
              "nbformat": 4, "nbformat_minor": 5}
    (jupyterlab.root / "canary.ipynb").write_text(json.dumps(canary), encoding="utf-8")
    run = run_in_jupyterlab(jupyterlab, browser[0], "canary.ipynb")
    assert [(error["cell"], str(error["text"]).strip().splitlines()[-1]) for error in run.errors
            ] == [(1, "a warning"), (2, "ZeroDivisionError: division by zero")]
    assert run.not_run == [3]
