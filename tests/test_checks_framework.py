from __future__ import annotations

from lessons.checks import FAILED, NOT_ATTEMPTED, PASSED, Suite, Trial, expect, progress_file


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
    assert report.outcomes[1].hint == "Your code raised KeyError: 'missing'"
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
    assert '"98"' in progress_file().read_text()
