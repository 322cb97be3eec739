"""The check framework shared by the notebooks and pytest.

A lesson's suite is a list of checks, each with a short stable id and a title.
``Suite.run(**implementations)`` runs every check against the given implementations and
returns a ``Report``: a table of passed / failed / not attempted with one hint per failure,
shown as HTML in Jupyter and as text elsewhere. It never raises for a wrong answer, so an
unsolved notebook still runs top to bottom.

A check is a function of one ``Trial``. It fails by raising ``Fail`` (through ``expect``);
a ``NotImplementedError`` from a learner's stub means "not attempted". Any other exception is
judged by where it was raised: inside the learner's code it is their failure, and the hint
names their function; inside the workbook's own code it is the workbook's fault, reported as
such ("workbook error"), never blamed on the learner.

Beside its suite, each lesson's check module keeps ``REFERENCE`` (the reference answers),
``RULES`` (every rule the exercises' text states, each with the checks that enforce it) and
``WRONG_ANSWERS`` (near misses, each breaking one rule and failing that rule's checks);
``tests/test_check_suites.py`` proves all of it for every lesson.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import tempfile
import time
import traceback
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
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
from lessons.textfiles import read_text, write_text

PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"
# The check itself broke, in the workbook's code: not the learner's fault.
WORKBOOK_ERROR = "workbook error"
MARKS = {PASSED: "✅", FAILED: "❌", NOT_ATTEMPTED: "⬜", WORKBOOK_ERROR: "⚠️"}


class Fail(AssertionError):
    """A check's verdict that the answer is wrong; its message is the hint for the learner."""


def expect(condition: object, hint: str) -> None:
    if not condition:
        raise Fail(hint)


def describe(value: object) -> str:
    """A short description of a value a learner's function returned, for a hint."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}" if value is not None else "None"


def expect_type(value: object, kind: type | tuple[type, ...], exercise: str,
                what: str) -> None:
    """Fail with "your ``exercise`` returned ..., expected ..." unless ``value`` is a ``kind``:
    a check looks at the shape of an answer before it uses it, so that a wrong shape is
    reported as the learner's, not as an error inside the check."""
    expect(isinstance(value, kind), f"Your {exercise} returned {describe(value)}; it should "
                                    f"return {what}.")


@dataclass(frozen=True)
class Outcome:
    id: str
    title: str
    status: str
    hint: str = ""
    # The implementations (exercise names) the check asked the trial for.
    used: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.title


@dataclass(frozen=True)
class Rule:
    """A rule an exercise's text states (a "must", a listed constraint, an erratum to avoid,
    a property the key points claim), and the checks that enforce it."""

    id: str
    exercise: str
    text: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class WrongAnswer:
    """A near miss that breaks ``rule`` and nothing else: handed in instead of the reference,
    exactly the checks in ``fails`` fail, each with a hint containing the given text."""

    rule: str
    why: str
    answers: Mapping[str, Any]
    fails: Mapping[str, str]

    @classmethod
    def row(cls, rule: str, why: str, fails: Mapping[str, str], **answers: Any) -> WrongAnswer:
        """A wrong answer written as one row of a table: the rule, why it breaks it, the checks
        it fails (each with a piece of its hint), then the answers by exercise name."""
        return cls(rule=rule, why=why, answers=answers, fails=fails)


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

    def outcome(self, check: str) -> Outcome:
        """The outcome of a check, by id (or by title)."""
        return next(o for o in self.outcomes if check in (o.id, o.title))

    def status_of(self, check: str) -> str:
        return self.outcome(check).status

    def failed(self) -> dict[str, str]:
        """The id and hint of every check that did not pass or was not attempted."""
        return {o.id: o.hint for o in self.outcomes if o.status in (FAILED, WORKBOOK_ERROR)}

    def summary(self) -> str:
        text = (f"Lesson {self.lesson:02d} checks: {self.count(PASSED)} passed, "
                f"{self.count(FAILED)} failed, {self.count(NOT_ATTEMPTED)} not attempted")
        broken = self.count(WORKBOOK_ERROR)
        return text + (f", {broken} could not run (a workbook error)" if broken else "")

    def __str__(self) -> str:
        width = max(len(o.title) for o in self.outcomes)
        lines = [self.summary()]
        for o in self.outcomes:
            lines.append(f"  {MARKS[o.status]} {o.title.ljust(width)}  {o.status}")
            if o.hint:
                lines.append(f"      hint: {o.hint}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{MARKS[o.status]}</td><td>{html.escape(o.title)}</td>"
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
    used: set[str] = field(default_factory=set)

    def __getattr__(self, name: str) -> Any:
        """An implementation by name; one that was not handed in counts as not attempted."""
        if name.startswith("_"):
            raise AttributeError(name)
        self.used.add(name)
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


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    function: CheckFunction


CHECK_ID = re.compile(r"[a-z][a-z0-9_]*")


class Suite:
    """The checks of one lesson, in the order they are shown."""

    def __init__(self, lesson: int, title: str) -> None:
        self.lesson = lesson
        self.title = title
        self.checks: list[Check] = []

    def check(self, id: str, title: str | None = None) -> Callable[[CheckFunction], CheckFunction]:
        """Register a check: ``@suite.check("decode_requires", "decode_token: refuses ...")``.
        The id is stable (tests and rules name checks by it); the title is what learners see."""
        if title is None:  # older form: the title alone; an id is made from it
            id, title = re.sub(r"[^a-z0-9]+", "_", id.lower()).strip("_")[:48], id
        if not CHECK_ID.fullmatch(id) or id in self.ids:
            raise ValueError(f"Check id {id!r} in lesson {self.lesson} is not a new lower-case "
                             "identifier.")

        def register(function: CheckFunction) -> CheckFunction:
            self.checks.append(Check(id, title, function))
            return function

        return register

    @property
    def ids(self) -> list[str]:
        return [check.id for check in self.checks]

    def subset(self, *names: str) -> Suite:
        """The same suite with only the named checks (ids or titles), for running a few."""
        chosen = [c for c in self.checks if c.id in names or c.title in names]
        unknown = set(names) - {c.id for c in chosen} - {c.title for c in chosen}
        if unknown:
            raise KeyError(f"No check called {', '.join(sorted(unknown))} in lesson {self.lesson}")
        subset = Suite(self.lesson, self.title)
        subset.checks = chosen
        return subset

    def run(self, *, record: bool = True, settings_changes: dict[str, Any] | None = None,
            **implementations: Any) -> Report:
        """Run every check against ``implementations``; never raises for a wrong answer."""
        outcomes = []
        learner_code = code_objects(implementations)
        with _scratch_folder() as root:
            for check in self.checks:
                trial = Trial(self.lesson, implementations, root / str(len(outcomes)),
                              settings_changes or {})
                try:
                    outcomes.append(_run_one(check, trial, learner_code))
                finally:
                    trial.close()
        report = Report(self.lesson, self.title, outcomes)
        if record:
            record_progress(report)
        return report


def _run_one(check: Check, trial: Trial, learner_code: Mapping[types.CodeType, str]) -> Outcome:
    def outcome(status: str, hint: str = "") -> Outcome:
        return Outcome(check.id, check.title, status, hint, frozenset(trial.used))

    try:
        check.function(trial)
    except NotImplementedError:
        return outcome(NOT_ATTEMPTED)
    except Fail as failure:
        return outcome(FAILED, str(failure))
    except Exception as error:  # anything else: judge by where it was raised
        said = f"{type(error).__name__}: {error}"
        culprit = raised_in(error, learner_code)
        if culprit is not None:
            return outcome(FAILED, f"Your {culprit} raised {said}"[:300])
        return outcome(WORKBOOK_ERROR, (
            f"This check broke inside the workbook's own code ({said}), not because of your "
            "answer. Run the check again; if it happens again, please report it."[:400]))
    return outcome(PASSED)


def code_objects(implementations: Mapping[str, Any]) -> dict[types.CodeType, str]:
    """Every code object of the functions (and classes' methods) handed in, with the name of
    the implementation it belongs to: a frame running one of them is the learner's code."""
    found: dict[types.CodeType, str] = {}

    def add_code(code: types.CodeType, name: str) -> None:
        if code in found:
            return
        found[code] = name
        for constant in code.co_consts:  # nested functions, lambdas, comprehensions
            if isinstance(constant, types.CodeType):
                add_code(constant, name)

    def add(thing: Any, name: str, depth: int = 0) -> None:
        if depth > 2:
            return
        thing = getattr(thing, "__func__", thing)  # bound, static and class methods
        thing = getattr(thing, "func", thing) if hasattr(thing, "keywords") else thing  # partial
        wrapped = getattr(thing, "__wrapped__", None)  # a decorated function (contextmanager)
        if wrapped is not None:
            add(wrapped, name, depth + 1)
        code = getattr(thing, "__code__", None)
        if isinstance(code, types.CodeType):
            add_code(code, name)
        elif isinstance(thing, type) and thing.__module__ not in ("builtins",):
            for member in vars(thing).values():
                add(member, name, depth + 1)

    for name, implementation in implementations.items():
        add(implementation, name)
    return found


def raised_in(error: BaseException, learner_code: Mapping[types.CodeType, str]) -> str | None:
    """The name of the learner's implementation whose code is on ``error``'s traceback (or on
    the traceback of an exception it was raised from), if any."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        for frame, _ in traceback.walk_tb(current.__traceback__):
            if frame.f_code in learner_code:
                return learner_code[frame.f_code]
        pending += [current.__cause__, current.__context__]
    return None


def run_with(suite: Suite, reference: Mapping[str, Any], answers: Mapping[str, Any],
             only: Iterable[str] | None = None) -> Report:
    """``suite`` on the reference answers with ``answers`` in their place, limited to the
    checks ``only`` (ids), without recording progress: how the tests try a wrong answer."""
    chosen = suite if only is None else suite.subset(*only)
    return chosen.run(record=False, **{**reference, **answers})


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


def _result(report: Report) -> dict[str, Any]:
    return {
        "passed": report.count(PASSED),
        "failed": report.count(FAILED) + report.count(WORKBOOK_ERROR),
        "not_attempted": report.count(NOT_ATTEMPTED),
        "total": len(report.outcomes),
        "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _better(result: Mapping[str, Any], than: Mapping[str, Any] | None) -> bool:
    """More checks passed is better; at equal passes, fewer failures."""
    if than is None:
        return True
    return (result["passed"], -result["failed"]) > (than["passed"], -than["failed"])


def record_progress(report: Report) -> None:
    """Keep, per lesson, the latest result and the best one: a scratch run that fails does
    not hide a lesson already passed."""
    path = progress_file()
    try:
        ensure_private_dir(path.parent)
        data = json.loads(read_text(path)) if path.exists() else {}
        key = f"{report.lesson:02d}"
        entry = data.get(key) if isinstance(data.get(key), dict) else {}
        if "latest" not in entry and "passed" in entry:  # an older file: one flat result
            entry = {"latest": entry, "best": entry}
        result = _result(report)
        best = entry.get("best")
        data[key] = {"title": report.title, "latest": result,
                     "best": result if _better(result, best) else best}
        write_text(path, json.dumps(data, indent=2, sort_keys=True), mode=0o600)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # progress is a convenience; a read-only folder must not break a lesson
