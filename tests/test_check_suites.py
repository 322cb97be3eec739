"""Every lesson's check suite, every way it can be run.

- It passes the solution notebook's answers and the reference layer, and calls every stub of
  the learner notebook (and every missing answer) "not attempted".
- Rule coverage: every rule an exercise's text states (``RULES`` in the check module) is
  enforced by at least one check, every check enforces a stated rule, and every rule has at
  least one wrong answer (``WRONG_ANSWERS``) that breaks it alone. Handed in instead of the
  reference, a wrong answer fails exactly the checks it names, each with the hint it names:
  so every check can fail, and fails for the reason its hint gives.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

import pytest

from lessons import catalog, workbook
from lessons.checks import FAILED, NOT_ATTEMPTED, WORKBOOK_ERROR, WrongAnswer, run_with

LESSONS = catalog.ready()


def checks_of(lesson: catalog.Lesson) -> ModuleType:
    return importlib.import_module(f"lessons.checks.lesson{lesson.number:02d}")


@pytest.fixture(params=LESSONS, ids=lambda lesson: lesson.notebook)
def lesson(request: pytest.FixtureRequest) -> catalog.Lesson:
    return request.param


@functools.cache
def reference_report(number: int):
    checks = checks_of(catalog.LESSONS[number])
    return checks.suite.run(record=False, **checks.REFERENCE)


def test_the_solution_notebooks_answers_pass(lesson: catalog.Lesson) -> None:
    checks = checks_of(lesson)
    answers = workbook.exercises(workbook.SOLUTIONS / lesson.notebook)
    assert set(checks.REFERENCE) <= set(answers), "an exercise of the suite is missing"
    report = checks.check(**answers)
    assert report.passed, str(report)


def test_the_reference_layer_passes(lesson: catalog.Lesson) -> None:
    report = reference_report(lesson.number)
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


# -- rule coverage -------------------------------------------------------------------------------

RULED = [lesson for lesson in LESSONS if hasattr(checks_of(lesson), "RULES")]


@pytest.mark.parametrize("lesson", RULED, ids=lambda lesson: lesson.notebook)
def test_every_exercise_states_rules_and_every_check_enforces_one(lesson) -> None:
    checks = checks_of(lesson)
    rule_ids = [rule.id for rule in checks.RULES]
    assert len(rule_ids) == len(set(rule_ids)), "rule ids must be unique"
    exercises = {rule.exercise for rule in checks.RULES}
    assert exercises == set(checks.REFERENCE), "every exercise, and only those, has rules"
    enforced = {check for rule in checks.RULES for check in rule.checks}
    assert enforced <= set(checks.suite.ids), f"unknown checks: {enforced - set(checks.suite.ids)}"
    assert set(checks.suite.ids) <= enforced, (
        f"checks enforcing no stated rule: {set(checks.suite.ids) - enforced}")


@pytest.mark.parametrize("lesson", RULED, ids=lambda lesson: lesson.notebook)
def test_every_rule_has_a_wrong_answer(lesson) -> None:
    checks = checks_of(lesson)
    broken = {wrong.rule for wrong in checks.WRONG_ANSWERS}
    missing = [rule.id for rule in checks.RULES if rule.id not in broken]
    assert not missing, f"rules with no wrong answer: {missing}"
    assert broken <= {rule.id for rule in checks.RULES}


def every_wrong_answer() -> list[pytest.param]:
    return [pytest.param(lesson, wrong, id=f"{lesson.number:02d}-{wrong.rule}-{n}")
            for lesson in RULED
            for n, wrong in enumerate(checks_of(lesson).WRONG_ANSWERS, 1)]


@pytest.mark.parametrize(("lesson", "wrong"), every_wrong_answer())
def test_a_wrong_answer_fails_exactly_its_checks(lesson, wrong: WrongAnswer) -> None:
    checks = checks_of(lesson)
    rule = next(rule for rule in checks.RULES if rule.id == wrong.rule)
    assert set(wrong.fails) & set(rule.checks), "it must fail a check of the rule it breaks"
    # A check that never asks for an answered exercise gives the reference's result: pass.
    touched = [outcome.id for outcome in reference_report(lesson.number).outcomes
               if outcome.used & set(wrong.answers)]
    report = run_with(checks.suite, checks.REFERENCE, wrong.answers, only=touched)
    assert not report.count(WORKBOOK_ERROR), str(report)
    failed = report.failed()
    assert set(failed) == set(wrong.fails), f"{wrong.why}\n{report}"
    for check, fragment in wrong.fails.items():
        assert report.status_of(check) == FAILED
        assert fragment in failed[check], f"hint of {check}: {failed[check]!r}"
