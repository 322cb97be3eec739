"""``python -m lessons doctor``: is this laptop ready for the workshop?

A few seconds of checks instead of the whole test suite: the Python version, the pinned
packages, the optional tools some lessons use, the Jupyter kernel, a free port, a writable data
folder, the learner's workspace, and one real request to the service. Every problem comes with
what to do about it.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lessons import catalog, optional
from lessons.catalog import data_home

OK, PROBLEM, OPTIONAL = "ok", "problem", "optional"
MARKS = {OK: "✓", PROBLEM: "✗", OPTIONAL: "–"}
SUPPORTED = (3, 11)


@dataclass(frozen=True)
class Finding:
    what: str
    status: str
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        line = f"{MARKS[self.status]} {self.what}: {self.detail}"
        return line + (f"\n    what to do: {self.fix}" if self.fix else "")


def python_version() -> Finding:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < SUPPORTED:
        return Finding("Python", PROBLEM, f"{version} is too old",
                       "install Python 3.11 or newer, then make the virtual environment again")
    return Finding("Python", OK, f"{version} at {sys.executable}")


def pinned_requirements() -> dict[str, str]:
    """``name -> version`` for every pin that ``pyproject.toml`` declares for a learner (the
    service and every extra: what requirements.txt installs) and that applies to this machine."""
    from packaging.markers import Marker
    from packaging.requirements import InvalidRequirement, Requirement

    from lessons.supply_chain import project

    pins = {}
    for line in project.declared_text(project.GROUPS).splitlines():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not Marker(str(requirement.marker)).evaluate():
            continue
        versions = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if versions:
            pins[requirement.name] = versions[0]
    return pins


def packages() -> Finding:
    wrong = []
    pins = pinned_requirements()
    for name, version in pins.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{name} missing")
            continue
        if installed != version:
            wrong.append(f"{name} {installed} (pinned {version})")
    if wrong:
        shown = ", ".join(wrong[:6]) + (" ..." if len(wrong) > 6 else "")
        return Finding("packages", PROBLEM, shown,
                       "run `pip install -r requirements.txt` in this virtual environment")
    return Finding("packages", OK, f"all {len(pins)} pinned packages installed at their pins")


OPTIONAL_TOOLS: tuple[tuple[str, str, Callable[[], bool]], ...] = (
    ("sslyze", "lesson 04 scans the TLS server with it; without it the notebook says so "
               "(not installable on macOS on Intel)", lambda: optional.available("sslyze")),
    ("sqlmap", "lesson 07's tests attack the search with it", lambda: _importable("sqlmap")),
    ("Chromium", "lesson 06's real-browser form post and the browser tests",
     lambda: shutil.which("chromium") is not None or shutil.which("chromium-browser") is not None),
)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def optional_tools() -> Iterator[Finding]:
    for name, used_for, present in OPTIONAL_TOOLS:
        if present():
            yield Finding(name, OK, "present")
        else:
            yield Finding(name, OPTIONAL, f"absent ({used_for})")


def jupyter_kernel() -> Finding:
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        return Finding("Jupyter", PROBLEM, "jupyter_client is not installed",
                       "run `pip install -r requirements.txt`")
    specs = KernelSpecManager().find_kernel_specs()
    if "python3" not in specs:
        return Finding("Jupyter kernel", PROBLEM, "no python3 kernel",
                       "run `python -m ipykernel install --user` in this virtual environment")
    return Finding("Jupyter kernel", OK, "python3 is available")


def free_port(port: int = 8000) -> Finding:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return Finding(f"port {port}", PROBLEM,
                           f"127.0.0.1:{port} is taken (another `serve`, or another program)",
                           f"serve on another port: `python -m lessons serve --port {port + 1}`")
    return Finding(f"port {port}", OK, "free on 127.0.0.1 (the default of `serve`)")


def data_folder() -> Finding:
    folder = data_home()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as error:
        return Finding("data folder", PROBLEM, f"{folder} is not writable ({error.strerror})",
                       "set LESSONS_DATA_DIR to a folder you can write to")
    return Finding("data folder", OK, f"{folder} is writable")


def workspace_state() -> Finding:
    from lessons import workspace

    if not workspace.WORK.exists():
        return Finding("your notebooks", OPTIONAL, "work/ does not exist yet",
                       "run `python -m lessons start`: it makes it and opens JupyterLab")
    count = len(list(workspace.WORK.glob("[0-9][0-9]_*.ipynb")))
    return Finding("your notebooks", OK, f"{count} notebooks in work/")


def service_answers() -> Finding:
    """Build the finished service in a throw-away folder and ask it for /health."""
    from fastapi.testclient import TestClient

    from lessons.service import create_app
    from lessons.settings import Settings

    with tempfile.TemporaryDirectory(prefix="lessons-doctor-") as folder:
        try:
            app = create_app("final", Settings.from_env(data_dir=Path(folder)))
            with TestClient(app) as client:
                status = client.get("/health").status_code
        except Exception as error:  # a broken install can fail in many ways: say which
            return Finding("the service", PROBLEM, f"{type(error).__name__}: {error}",
                           "run `pip install -r requirements.txt`; if it persists, report it")
    if status != 200:
        return Finding("the service", PROBLEM, f"GET /health answered {status}",
                       "report it: the service should always answer /health")
    return Finding("the service", OK,
                   f"lesson {catalog.LAST_READY:02d}'s service answers GET /health")


def findings() -> list[Finding]:
    found = [python_version(), packages(), jupyter_kernel(), free_port(), data_folder(),
             workspace_state(), service_answers()]
    found += list(optional_tools())
    return found


def report() -> tuple[str, bool]:
    """The report as text, and whether the laptop is ready (no problem found)."""
    found = findings()
    ready = not any(finding.status == PROBLEM for finding in found)
    lines = [str(finding) for finding in found]
    lines.append("Ready for the workshop." if ready else
                 "Not ready yet: fix the problems marked ✗, then run this again.")
    if os.environ.get("LESSONS_DATA_DIR"):
        lines.append(f"(LESSONS_DATA_DIR is set: {os.environ['LESSONS_DATA_DIR']})")
    return "\n".join(lines), ready
