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
    """One lesson, as every list of lessons shows it: the README, the instructors' guide, the
    notebook's title cell and key points (a test checks that they agree with this entry)."""

    number: int
    slug: str
    title: str
    teaching_minutes: int
    exercise_minutes: int
    standards: str
    # What the learner sees go wrong first, and what they build against it (the README table).
    attack: str = ""
    builds: str = ""
    # Does the notebook need the internet? (the instructors' table)
    network: str = "no"
    # True once the lesson's layer, notebook (solved and learner), checks and tests exist.
    ready: bool = False
    # The module whose ``LAYER`` (a ``lessons.wiring.LessonLayer``) says what the lesson adds
    # to the service; None for a lesson that adds nothing to it.
    layer: str | None = None

    @property
    def notebook(self) -> str:
        return f"{self.number:02d}_{self.slug}.ipynb"

    @property
    def minutes(self) -> int:
        return self.teaching_minutes + self.exercise_minutes


LESSONS: tuple[Lesson, ...] = (
    Lesson(0, "tour", "Tour and threat model", 20, 15, "OWASP API Security Top 10 2023 overview",
           attack="Read anyone's notes, delete users with no credentials, read plain-text "
                  "passwords",
           builds="The attacks themselves; the threat model",
           ready=True, layer="lessons.routes"),
    Lesson(1, "basic_auth", "HTTP Basic auth", 25, 25, "ASVS 6.2.x, 6.3.8, 11.4.2; API2",
           attack="No credentials needed; a naive check that leaks by timing and answers 500 "
                  "on non-ASCII",
           builds="Basic auth over Argon2id hashes, constant-time comparison, one answer for "
                  "every failure",
           ready=True, layer="lessons.basic_auth"),
    Lesson(2, "jwt", "JWT bearer tokens", 30, 30, "ASVS 9.1.1-9.2.3, 7.4.1; API2",
           attack="Forged tokens: `alg: none`, tampered claims, no expiry, wrong audience, "
                  "valid after logout",
           builds="JWT issuing and decoding with python-jose, every claim required, a subject "
                  "that names one account forever, logout and password changes that end tokens",
           ready=True, layer="lessons.tokens"),
    Lesson(3, "access", "Roles, scopes and ownership", 25, 25,
           "ASVS 8.2.1-8.2.3, 15.3.3; API1, API3, API5",
           attack="A user deletes users, reads others' notes by id, registers as admin",
           builds="Roles mapped to OAuth2 scopes (a demoted admin's token loses them at once), "
                  "401 vs 403, ownership with 404, strict input models",
           ready=True, layer="lessons.access"),
    Lesson(4, "https", "HTTPS", 30, 30, "ASVS 12.1.x, 3.4.1, 4.1.2; API8",
           attack="A password and a bearer token read in transit; an HTTPS redirect that loops "
                  "behind a proxy",
           builds="A local CA and server certificate, uvicorn on TLS 1.2/1.3 with AEAD ciphers "
                  "only, a client that trusts that CA alone, redirect or refusal on plain HTTP, "
                  "HSTS, proxy headers believed from known addresses only, answers for our own "
                  "host names only",
           ready=True, layer="lessons.tls"),
    Lesson(5, "dependencies", "Dependency security", 25, 20, "ASVS 15.1.1, 15.2.1; API9, API10",
           attack="Published advisories in old pins, an unmaintained package, a tampered wheel "
                  "installed without hashes",
           builds="An OSV audit with fixed versions, triage with dated exceptions, hash-locked "
                  "installs, a maintenance review; optionally PyJWT behind the token seam",
           network="PyPI for two demonstrations; without it the notebook says so and shows "
                   "recorded results",
           ready=True),
    Lesson(6, "sessions", "Cookies and sessions", 30, 30, "ASVS 7.2.x, 7.3.x, 7.4.x, 3.3.x, 3.5.1",
           attack="The role read out of a signed cookie, session fixation, replay after "
                  "logout, a cross-site form post",
           builds="Server-side sessions behind a signed `__Host-` cookie, a new id at every "
                  "login, idle and absolute timeouts, CSRF tokens for cookie writes, cross-site "
                  "logins refused by Origin and Sec-Fetch-Site",
           ready=True, layer="lessons.sessions"),
    Lesson(7, "validation", "Validation and sanitization", 30, 40,
           "ASVS 2.2.x, 1.2.4, 1.3.1; API3, API4",
           attack="SQL injection dumps every user's notes; stored XSS in comments; an oversized "
                  "body",
           builds="Strict models and a password policy, parameterized SQL, allow-list "
                  "sanitizing (bleach, compared with nh3), a 64 KiB body limit, comments a page "
                  "at a time with a posting quota",
           ready=True, layer="lessons.validation"),
    Lesson(8, "errors_logging", "Errors and logging", 25, 25, "ASVS 16.x, 13.4.2; API8",
           attack="A stack trace in a 500, a password echoed in a 422, secrets and forged lines "
                  "in the logs",
           builds="Handlers that keep 4xx meaning and hide 5xx details, request ids, JSON logs "
                  "with redaction, audit events",
           ready=True, layer="lessons.errors"),
    Lesson(9, "headers_cors", "Security headers and CORS", 25, 25, "ASVS 3.4.x, 14.3.2; API8",
           attack="Another site frames the docs, a typeless file is sniffed into a page, an "
                  "evil origin reads alice's notes through a CORS policy that reflects every "
                  "origin",
           builds="Security headers on every answer by pure ASGI middleware (CSP that keeps "
                  "the docs working, nosniff, no-store for authenticated answers), CORS from an "
                  "exact allow-list, a grader that scores like MDN's HTTP Observatory",
           ready=True, layer="lessons.headers"),
    Lesson(10, "load_rate_limits", "Load testing and rate limiting", 30, 30,
           "ASVS 6.3.1, 15.2.2; API4, API6",
           attack="Password guessing at full speed on every login route; a login flood that "
                  "makes every login wait; a 48 MiB header and idle connections that hold "
                  "the server",
           builds="A Locust load test with plots; login limits per username and client, "
                  "shared by every worker (SQLite or Redis); a bounded hashing queue; header, "
                  "timeout and connection limits for the server",
           ready=True, layer="lessons.ratelimit"),
    Lesson(11, "capstone", "Capstone audit", 20, 60, "all of the above"),
)


def _last_ready() -> int:
    return max((lesson.number for lesson in LESSONS if lesson.ready), default=-1)


# The last ready lesson: `--lesson final` serves this one. A lesson before it that is not ready
# yet (written in parallel, merged later) declares no layer and has no notebook: the service
# "after" it is the one before it, and the lists of ready lessons leave it out.
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
    return tuple(lesson for lesson in LESSONS if lesson.ready)


def data_home() -> Path:
    """Where the learner's own data lives between sessions (progress, the served database):
    ``LESSONS_DATA_DIR`` if set, else ``var/`` at the top of the checkout, wherever a notebook
    or command runs from."""
    configured = os.environ.get("LESSONS_DATA_DIR")
    if configured:
        return Path(configured)
    return ROOT / "var" if (ROOT / "solutions").is_dir() else Path("var")
