"""Every lesson's check suite, three ways: it passes the solution notebook's answers and the
reference layer, and it calls every stub of the learner notebook "not attempted".

Each lesson's own test file adds the fourth way: plausible wrong answers fail.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from lessons import catalog, workbook
from lessons.checks import NOT_ATTEMPTED

LESSONS = catalog.ready()


def checks_of(lesson: catalog.Lesson) -> ModuleType:
    return importlib.import_module(f"lessons.checks.lesson{lesson.number:02d}")


@pytest.fixture(params=LESSONS, ids=lambda lesson: lesson.notebook)
def lesson(request: pytest.FixtureRequest) -> catalog.Lesson:
    return request.param


def test_the_solution_notebooks_answers_pass(lesson: catalog.Lesson) -> None:
    checks = checks_of(lesson)
    answers = workbook.exercises(workbook.SOLUTIONS / lesson.notebook)
    assert set(checks.REFERENCE) <= set(answers), "an exercise of the suite is missing"
    report = checks.check(**answers)
    assert report.passed, str(report)


def test_the_reference_layer_passes(lesson: catalog.Lesson) -> None:
    checks = checks_of(lesson)
    report = checks.check(**checks.REFERENCE)
    assert report.passed, str(report)


def test_the_learner_notebooks_stubs_are_not_attempted(lesson: catalog.Lesson) -> None:
    checks = checks_of(lesson)
    stubs = workbook.exercises(workbook.NOTEBOOKS / lesson.notebook)
    assert set(checks.REFERENCE) <= set(stubs)
    report = checks.check(**stubs)
    assert {outcome.status for outcome in report.outcomes} == {NOT_ATTEMPTED}, str(report)


def test_nothing_handed_in_is_not_attempted_either(lesson: catalog.Lesson) -> None:
    report = checks_of(lesson).check()
    assert {outcome.status for outcome in report.outcomes} == {NOT_ATTEMPTED}, str(report)
