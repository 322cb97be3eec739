"""The course in order: one entry per lesson, the single list that the CLI, the workbook
tooling and the tests read (like rustlings' manifest)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The checkout this package lives in (it is installed in editable mode from there).
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Lesson:
    number: int
    slug: str
    title: str
    teaching_minutes: int
    exercise_minutes: int
    standards: str
    # True once the lesson's layer, notebook (solved and learner), checks and tests exist.
    ready: bool = False

    @property
    def notebook(self) -> str:
        return f"{self.number:02d}_{self.slug}.ipynb"

    @property
    def minutes(self) -> int:
        return self.teaching_minutes + self.exercise_minutes


LESSONS: tuple[Lesson, ...] = (
    Lesson(0, "tour", "Tour and threat model", 20, 15, "OWASP API Security Top 10 2023 overview",
           ready=True),
    Lesson(1, "basic_auth", "HTTP Basic auth", 25, 25, "ASVS 6.2.x, 6.3.8, 11.4.2; API2",
           ready=True),
    Lesson(2, "jwt", "JWT bearer tokens", 30, 30, "ASVS 9.1.1-9.2.3, 7.4.1; API2", ready=True),
    Lesson(3, "access", "Roles, scopes and ownership", 25, 25,
           "ASVS 8.2.1-8.2.3, 15.3.3; API1, API3, API5", ready=True),
    Lesson(4, "https", "HTTPS", 30, 25, "ASVS 12.1.x, 3.4.1, 4.1.2; API8", ready=True),
    Lesson(5, "dependencies", "Dependency security", 25, 20, "ASVS 15.1.1, 15.2.1; API9, API10",
           ready=True),
    Lesson(6, "sessions", "Cookies and sessions", 30, 30, "ASVS 7.2.x, 7.3.x, 7.4.x, 3.3.x, 3.5.1",
           ready=True),
    Lesson(7, "validation", "Validation and sanitization", 30, 30,
           "ASVS 2.2.x, 1.2.4, 1.3.1; API3, API4", ready=True),
    Lesson(8, "errors_logging", "Errors and logging", 25, 25, "ASVS 16.x, 13.4.2; API8",
           ready=True),
    Lesson(9, "headers_cors", "Security headers and CORS", 25, 25, "ASVS 3.4.x; API8"),
    Lesson(10, "load_rate_limits", "Load testing and rate limiting", 30, 30,
           "ASVS 6.3.1, 15.2.2; API4, API6"),
    Lesson(11, "capstone", "Capstone audit", 20, 60, "all of the above"),
)


def _last_ready() -> int:
    number = -1
    for lesson in LESSONS:
        if not lesson.ready:
            break
        number = lesson.number
    return number


# The end of the unbroken run of ready lessons from 00: `--lesson final` serves this one.
LAST_READY = _last_ready()


def lesson_number(value: int | str) -> int:
    """``"final"`` or a lesson number that is ready, as an int; anything else is a ValueError
    whose message lists what is possible."""
    if value == "final":
        return LAST_READY
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= LAST_READY:
        raise ValueError(
            f"There is no lesson {value!r} to serve yet: choose 0 to {LAST_READY}, or 'final'."
        )
    return number


def ready() -> tuple[Lesson, ...]:
    return LESSONS[: LAST_READY + 1]


def data_home() -> Path:
    """Where the learner's own data lives between sessions (progress, the served database):
    ``LESSONS_DATA_DIR`` if set, else ``var/`` at the top of the checkout, wherever a notebook
    or command runs from."""
    configured = os.environ.get("LESSONS_DATA_DIR")
    if configured:
        return Path(configured)
    return ROOT / "var" if (ROOT / "solutions").is_dir() else Path("var")
