from __future__ import annotations

import pytest

from lessons.checks import (
    FAILED,
    NOT_ATTEMPTED,
    PASSED,
    WORKBOOK_ERROR,
    Suite,
    Trial,
    expect,
    expect_type,
    progress_file,
)


def make_suite() -> Suite:
    suite = Suite(98, "Framework test")

    @suite.check("answer is 42")
    def answer(trial: Trial) -> None:
        expect(trial.answer() == 42, "Try 6 times 7.")

    @suite.check("never raises")
    def boom(trial: Trial) -> None:
        trial.explode()

    return suite


def test_statuses_and_hints() -> None:
    def explode() -> None:
        raise KeyError("missing")

    report = make_suite().run(answer=lambda: 41, explode=explode, record=False)
    assert [o.status for o in report.outcomes] == [FAILED, FAILED]
    assert report.outcomes[0].hint == "Try 6 times 7."
    assert report.outcomes[1].hint == "Your explode raised KeyError: 'missing'"
    assert not report.passed


def test_stubs_and_missing_answers_are_not_attempted() -> None:
    def stub() -> None:
        raise NotImplementedError("Exercise answer: write your code here")

    report = make_suite().run(answer=stub, record=False)
    assert [o.status for o in report.outcomes] == [NOT_ATTEMPTED, NOT_ATTEMPTED]


def test_text_and_html_tables() -> None:
    report = make_suite().run(answer=lambda: 42, explode=lambda: None, record=False)
    assert report.passed
    assert str(report).startswith("Lesson 98 checks: 2 passed, 0 failed, 0 not attempted")
    assert "<table>" in report._repr_html_()
    assert report.status_of("answer is 42") == PASSED


def test_results_are_recorded_for_the_progress_command() -> None:
    make_suite().run(answer=lambda: 42, explode=lambda: None)
    assert '"98"' in progress_file().read_text(encoding="utf-8")


def test_a_check_that_breaks_in_its_own_code_blames_the_workbook() -> None:
    suite = Suite(98, "Framework test")

    @suite.check("broken_check", "a check with a bug of its own")
    def broken(trial: Trial) -> None:
        value = trial.answer()
        value.get("key")  # the check's own mistake: it assumed a dict

    report = suite.run(answer=lambda: [1, 2], record=False)
    outcome = report.outcome("broken_check")
    assert outcome.status == WORKBOOK_ERROR
    assert "not because of your answer" in outcome.hint
    assert "could not run (a workbook error)" in report.summary()


def test_a_wrong_shape_is_reported_as_what_the_learner_returned() -> None:
    suite = Suite(98, "Framework test")

    @suite.check("shape", "answer returns a dict")
    def shape(trial: Trial) -> None:
        value = trial.answer()
        expect_type(value, dict, "answer", "a dict of usernames to passwords")

    hint = suite.run(answer=lambda: [1, 2], record=False).outcome("shape").hint
    assert hint == ("Your answer returned list [1, 2]; it should return a dict of usernames "
                    "to passwords.")


def test_an_exception_deep_in_a_library_called_by_the_learner_is_theirs() -> None:
    suite = Suite(98, "Framework test")

    @suite.check("calls", "answer parses a number")
    def calls(trial: Trial) -> None:
        trial.answer("not a number")

    def answer(text: str) -> int:
        return int(text)  # raises inside the builtin, called from the learner's frame

    hint = suite.run(answer=answer, record=False).outcome("calls").hint
    assert hint.startswith("Your answer raised ValueError")


def test_check_ids_are_stable_identifiers_and_unique() -> None:
    suite = Suite(98, "Framework test")
    suite.check("first", "a check")(lambda trial: None)
    with pytest.raises(ValueError, match="not a new lower-case identifier"):
        suite.check("first", "the same id again")
    with pytest.raises(ValueError, match="not a new lower-case identifier"):
        suite.check("Not an id", "a title")
