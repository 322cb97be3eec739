"""Lesson 08: attacks on the way a service fails and the way it keeps its records.

1. Make the service fail and read its insides from the answer: a stack trace, the database
   driver's message, file paths (ASVS 16.5.1, 13.4.2; API8:2023). The lesson-07 service has a
   real trigger: a note id too large for SQLite (``HUGE_NOTE_ID``) ends in ``OverflowError``.
2. Read a password back from a 422: FastAPI's default validation answer echoes the input.
3. Read passwords, tokens and cookies from the logs, as anyone with access to the logs can
   (an operator, a log service, a backup): the "debug request log" writes them all.
4. Forge a log line: a username or a path with a line break in it writes a line of its own,
   such as a successful admin login that never happened (ASVS 16.4.1).
5. Fail to log in, be refused, and leave no trace (ASVS 16.3.1, 16.3.2).

Attacks 3 to 5 read the log through ``lessons.logs.capture``, as an attacker who can read the
log file would; the others read only HTTP answers.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lessons import logs
from lessons.attacks import Account, AttackResult, new_password, seed
from lessons.attacks.lesson03 import bearer, login, request_token
from lessons.errors import DebugRequestLog

ATTACKER = "mallory"
# One more than SQLite's largest integer: the driver cannot even bind it as a parameter.
HUGE_NOTE_ID = 2**64
# What an error answer should never contain, each with a sign that gives it away.
INTERNALS = (
    ("a stack trace", re.compile(r"Traceback \(most recent call last\)")),
    ("source file paths", re.compile(r"File \"[^\"]+\.py\"|/[\w./-]+\.py\b")),
    ("the database's own message", re.compile(r"sqlite|no such table|SQL", re.IGNORECASE)),
    ("an exception's name", re.compile(r"\b\w+(?:Error|Exception)\b")),
)
# The line an attacker would like to see in the log, and the text that smuggles it in.
FORGED = "INFO lessons.audit: login.success user=admin method=token"
FORGERY = f"{ATTACKER}\n{FORGED}"
FORGED_PATH = f"/health\r\n{FORGED}"


@contextmanager
def stage(app: FastAPI) -> Iterator[tuple[TestClient, dict[str, Account], str]]:
    """alice and mallory with random passwords and a note each, a client that shows 500s as
    answers (not as exceptions here), and mallory's token."""
    people = seed(app, Account("alice", new_password()), Account(ATTACKER, new_password()),
                  notes_each=1)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, people, login(client, people[ATTACKER])


# -- 1. internals in an error answer -------------------------------------------------------------


def break_comments_table(app: FastAPI) -> None:
    """Set the scene for an unexpected error: a half-done database migration left the
    comments table renamed, so GET /comments fails inside SQLite. Not an attack, just the kind
    of fault that happens."""
    app.state.service.store.query("ALTER TABLE comments RENAME TO comments_before_migration")


def internals_in(response: httpx2.Response) -> list[str]:
    """What the answer gives away about the service's insides."""
    return [name for name, sign in INTERNALS if sign.search(response.text)]


def run_stack_trace(client: httpx2.Client, path: str,
                    headers: dict[str, str] | None = None) -> AttackResult:
    """Make the service fail on ``path`` and look for its insides in the answer."""
    response = client.get(path, headers=headers or {})
    signs = internals_in(response) if response.status_code >= 500 else []
    kind = response.headers.get("content-type", "-").split(";")[0]
    # The request id differs on every run: shown as a placeholder.
    body = re.sub(r"\b[0-9a-f]{32}\b", "<request id>", response.text[:120])
    return AttackResult(
        name=f"{ATTACKER} reads the service's insides from a {response.status_code} answer",
        succeeded=bool(signs),
        evidence=f"HTTP {response.status_code} ({kind})"
        + (f", it shows {', '.join(signs)}" if signs else f", body {body!r}"),
    )


# -- 2. the password in a 422 --------------------------------------------------------------------


def register_without_email(client: httpx2.Client, username: str,
                           password: str) -> httpx2.Response:
    """A registration that forgets the email: a 422, with a perfectly good password in it."""
    return client.post("/users", json={"username": username, "password": password})


def run_echo_password(client: httpx2.Client, password: str) -> AttackResult:
    """Anyone who sees the answer (a proxy's log, a browser extension, an error tracker that
    stores responses) reads the password back."""
    response = register_without_email(client, "carol", password)
    echoed = password in response.text
    return AttackResult(
        name="a 422 answer echoes the password that was sent",
        succeeded=echoed,
        evidence=f"HTTP {response.status_code}, the password is "
        + ("in the answer" if echoed else "not in the answer"),
    )


# -- 3. secrets in the logs ----------------------------------------------------------------------


def with_debug_log(app: FastAPI) -> FastAPI:
    """The scene of attack 3: ``app`` with the naive "log every request" middleware that many
    services add while debugging and never remove (``lessons.errors.DebugRequestLog``)."""
    app.add_middleware(DebugRequestLog)
    return app


@dataclass(frozen=True)
class Secrets:
    """Everything secret that one ordinary session of use sends to the service."""

    password: str
    token: str
    basic: str  # the base64 value of an Authorization: Basic header

    def found_in(self, text: str) -> list[str]:
        return [name for name, value in (("a password", self.password),
                                         ("a bearer token", self.token),
                                         ("Basic credentials", self.basic))
                if value and value in text]


def use_the_service(client: httpx2.Client, account: Account) -> Secrets:
    """What an honest client does: log in for a token, use it (once, by mistake, in the URL, as
    some clients do), and call the Basic-auth route."""
    response = request_token(client, account.username, account.password)
    token = str(response.json().get("access_token", "")) if response.status_code == 200 else ""
    client.get("/users/me", headers=bearer(token))
    client.get("/notes/search", params={"q": "plans", "access_token": token},
               headers=bearer(token))
    basic = base64.b64encode(f"{account.username}:{account.password}".encode()).decode()
    client.get("/basic/me", headers={"Authorization": f"Basic {basic}"})
    return Secrets(password=account.password, token=token, basic=basic)


def run_secrets_in_logs(app: FastAPI, style: str = "text",
                        redaction: logs.Redaction | None = None) -> AttackResult:
    """Read the log written while alice used the service. ``style`` and ``redaction`` are how
    the log is written: plain text without a filter, as ``basicConfig`` does, or the lesson's
    JSON lines through a redaction filter."""
    account = seed(app, Account("alice", new_password()), notes_each=0)["alice"]
    with logs.capture(style, redaction) as captured, \
            TestClient(app, raise_server_exceptions=False) as client:
        secrets = use_the_service(client, account)
    found = secrets.found_in(captured.text)
    return AttackResult(
        name="read passwords and tokens from the service's log",
        succeeded=bool(found),
        evidence=(f"{len(captured.lines)} log lines; they hold {', '.join(found)}" if found
                  else f"{len(captured.lines)} log lines, none holds a secret"),
    )


# -- 4. forged log lines -------------------------------------------------------------------------


def forged_lines(captured: logs.Captured) -> list[str]:
    """Lines of the log that the attacker wrote: in a text log, physical lines; in a JSON log,
    the lines of every decoded value, which is what a person reading the log sees
    (``jq -r .message`` prints a newline in a value as a new line)."""
    if captured.text.lstrip().startswith("{"):
        lines = [line for entry in captured.json() for value in entry.values()
                 if isinstance(value, str) for line in value.splitlines()]
    else:
        lines = captured.text.splitlines()
    return [line for line in lines if line.strip().startswith(FORGED)]


def run_forge_log_line(app: FastAPI, style: str = "text",
                       redaction: logs.Redaction | None = None) -> AttackResult:
    """Log in with a username that carries a line break and a line of its own, and ask for a
    path that does the same; then read the log."""
    with logs.capture(style, redaction) as captured, \
            TestClient(app, raise_server_exceptions=False) as client:
        request_token(client, FORGERY, "not-the-password")
        client.get(FORGED_PATH.replace("\r", "%0D").replace("\n", "%0A").replace(" ", "%20"))
    forged = forged_lines(captured)
    return AttackResult(
        name=f"{ATTACKER} writes a log line of her own: {FORGED!r}",
        succeeded=bool(forged),
        evidence=f"{len(forged)} forged line(s) in {len(captured.lines)} log lines",
    )


# -- 5. no trace ---------------------------------------------------------------------------------


def run_no_trace(app: FastAPI) -> AttackResult:
    """mallory guesses three passwords for alice and tries the admin list with her own token.
    Is any of it recorded as a security event?"""
    with stage(app) as (client, _, token), logs.capture() as captured:
        for guess in ("Winter2024!", "alice-alice", "letmein-please"):
            request_token(client, "alice", guess)
        client.get("/admin/users", headers=bearer(token))
    events = [entry for entry in captured.json() if entry.get("logger") == logs.AUDIT]
    refusals = [e for e in events if e.get("event") in logs.REFUSALS]
    return AttackResult(
        name=f"{ATTACKER} guesses passwords and probes the admin routes without a trace",
        succeeded=len(refusals) < 4,
        evidence=f"{len(refusals)} of 4 refusals recorded as audit events"
        + (f" ({', '.join(sorted({str(e['event']) for e in refusals}))})" if refusals else ""),
    )
