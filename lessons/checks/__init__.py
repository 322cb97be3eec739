"""The check framework shared by the notebooks and pytest.

A lesson's suite is a list of named checks. ``Suite.run(**implementations)`` runs every check
against the given implementations and returns a ``Report``: a table of passed / failed /
not attempted with one hint per failure, shown as HTML in Jupyter and as text elsewhere.
It never raises for a wrong answer, so an unsolved notebook still runs top to bottom.

A check is a function of one ``Trial``. It fails by raising ``Fail`` (through ``expect``);
a ``NotImplementedError`` from a learner's stub means "not attempted"; any other exception
is a failure whose hint names the exception.
"""

from __future__ import annotations

import html
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lessons.catalog import data_home
from lessons.service import create_app
from lessons.settings import Settings, ensure_private_dir
from lessons.store import Store

PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"
MARKS = {PASSED: "✅", FAILED: "❌", NOT_ATTEMPTED: "⬜"}


class Fail(AssertionError):
    """A check's verdict that the answer is wrong; its message is the hint for the learner."""


def expect(condition: object, hint: str) -> None:
    if not condition:
        raise Fail(hint)


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str
    hint: str = ""


@dataclass
class Report:
    lesson: int
    title: str
    outcomes: list[Outcome]

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.status == PASSED for o in self.outcomes)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def status_of(self, name: str) -> str:
        return next(o.status for o in self.outcomes if o.name == name)

    def summary(self) -> str:
        return (f"Lesson {self.lesson:02d} checks: {self.count(PASSED)} passed, "
                f"{self.count(FAILED)} failed, {self.count(NOT_ATTEMPTED)} not attempted")

    def __str__(self) -> str:
        width = max(len(o.name) for o in self.outcomes)
        lines = [self.summary()]
        for o in self.outcomes:
            lines.append(f"  {MARKS[o.status]} {o.name.ljust(width)}  {o.status}")
            if o.hint:
                lines.append(f"      hint: {o.hint}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{MARKS[o.status]}</td><td>{html.escape(o.name)}</td>"
            f"<td>{o.status}</td><td>{html.escape(o.hint)}</td></tr>"
            for o in self.outcomes
        )
        return (f"<p><b>{html.escape(self.summary())}</b></p>"
                "<table><thead><tr><th></th><th>check</th><th>result</th><th>hint</th></tr>"
                f"</thead><tbody>{rows}</tbody></table>")


@dataclass
class Trial:
    """What one check run can use: the implementations under test, and fresh, private data
    folders for the apps it builds (removed when the run ends)."""

    lesson: int
    implementations: dict[str, Any]
    root: Path
    settings_changes: dict[str, Any] = field(default_factory=dict)
    _apps: int = 0
    _stores: list[Store] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        """An implementation by name; one that was not handed in counts as not attempted."""
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.implementations[name]
        except KeyError:
            raise NotImplementedError(name) from None

    def settings(self, **changes: Any) -> Settings:
        self._apps += 1
        folder = ensure_private_dir(self.root / f"app{self._apps}")
        return Settings.from_env(data_dir=folder, **{**self.settings_changes, **changes})

    def app(self, upto: int | None = None, settings: Settings | None = None,
            **overrides: Any) -> FastAPI:
        """The service after lesson ``upto`` (default: this lesson) in a fresh data folder,
        with ``overrides`` filling seams."""
        app = create_app(self.lesson if upto is None else upto,
                         settings or self.settings(), **overrides)
        self._stores.append(app.state.service.store)
        return app

    def store(self, settings: Settings | None = None) -> Store:
        """A bare store (no app) in a fresh data folder, or in ``settings``' folder."""
        store = Store((settings or self.settings()).database)
        self._stores.append(store)
        return store

    def close(self) -> None:
        """Close every database this trial opened (the run then deletes its folders)."""
        for store in self._stores:
            store.close()
        self._stores.clear()

    def client(self, app: FastAPI) -> TestClient:
        return TestClient(app)


CheckFunction = Callable[[Trial], None]


class Suite:
    """The checks of one lesson, in the order they are shown."""

    def __init__(self, lesson: int, title: str) -> None:
        self.lesson = lesson
        self.title = title
        self.checks: list[tuple[str, CheckFunction]] = []

    def check(self, name: str) -> Callable[[CheckFunction], CheckFunction]:
        def register(function: CheckFunction) -> CheckFunction:
            self.checks.append((name, function))
            return function

        return register

    def subset(self, *names: str) -> Suite:
        """The same suite with only the named checks (for running one check on its own)."""
        unknown = set(names) - {name for name, _ in self.checks}
        if unknown:
            raise KeyError(f"No check called {', '.join(sorted(unknown))} in lesson {self.lesson}")
        subset = Suite(self.lesson, self.title)
        subset.checks = [(name, check) for name, check in self.checks if name in names]
        return subset

    def run(self, *, record: bool = True, settings_changes: dict[str, Any] | None = None,
            **implementations: Any) -> Report:
        """Run every check against ``implementations``; never raises for a wrong answer."""
        outcomes = []
        with _scratch_folder() as root:
            for name, function in self.checks:
                trial = Trial(self.lesson, implementations, root / str(len(outcomes)),
                              settings_changes or {})
                try:
                    outcomes.append(_run_one(name, function, trial))
                finally:
                    trial.close()
        report = Report(self.lesson, self.title, outcomes)
        if record:
            record_progress(report)
        return report


def _run_one(name: str, function: CheckFunction, trial: Trial) -> Outcome:
    try:
        function(trial)
    except NotImplementedError:
        return Outcome(name, NOT_ATTEMPTED)
    except Fail as failure:
        return Outcome(name, FAILED, str(failure))
    except Exception as error:  # a learner's code may raise anything; say what, keep going
        return Outcome(name, FAILED, f"Your code raised {type(error).__name__}: {error}"[:300])
    return Outcome(name, PASSED)


@contextmanager
def _scratch_folder() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="lessons-check-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- progress, kept beside the learner's data so that `python -m lessons progress` can read it --


def progress_file() -> Path:
    return data_home() / "progress.json"


def record_progress(report: Report) -> None:
    path = progress_file()
    try:
        ensure_private_dir(path.parent)
        data = json.loads(path.read_text()) if path.exists() else {}
        data[f"{report.lesson:02d}"] = {
            "title": report.title,
            "passed": report.count(PASSED),
            "failed": report.count(FAILED),
            "not_attempted": report.count(NOT_ATTEMPTED),
            "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        path.write_text(json.dumps(data, indent=2, sort_keys=True))
    except (OSError, ValueError):
        pass  # progress is a convenience; a read-only folder must not break a lesson
