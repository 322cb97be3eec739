"""Lesson 08: attacks on the way a service fails and the way it keeps its records.

1. Make the service fail and read its insides from the answer: a stack trace, the database
   driver's message, file paths (ASVS 16.5.1, 13.4.2; API8:2023). The lesson-07 service has two
   real triggers: a note id too large for SQLite (``HUGE_NOTE_ID``) ends in ``OverflowError``,
   and a table that a half-done migration renamed ends in ``OperationalError``.
2. Read a password back from a 422: FastAPI's default validation answer echoes the input.
3. Read passwords, tokens and cookies from the logs, as anyone with access to the logs can
   (an operator, a log service, a backup): the "debug request log" writes them all.
4. Forge a log line: a username or a path with a line break in it writes a line of its own,
   such as a successful admin login that never happened (ASVS 16.4.1).
5. Fail to log in, be refused, and leave no trace (ASVS 16.3.1, 16.3.2).
6. Race a write against the deletion of its own account: the database's foreign key refuses
   the row, and the service answers 500 where the contract asks for a 4xx that means
   something (the same request a moment later is a 401).

Attacks 3 to 5 read the log through ``lessons.logs.capture``, as an attacker who can read the
log file would; the others read only HTTP answers. Each attack is a function the notebook can
call step by step, and an entry of ``ATTACKS`` that runs it on a ``Scene``.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx2
from fastapi import FastAPI

from lessons import logs
from lessons.attacks import (
    ATTACKER,
    LEAVER,
    VICTIM,
    Account,
    Attack,
    AttackResult,
    Scene,
    Variant,
    bearer,
)
from lessons.errors import DebugRequestLog
from lessons.store import Store

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
# How long the admin's deletion of bob holds the database in the race (attack 6): long enough
# for bob's requests to pass their authentication and wait for the database, on a busy machine
# too, and well under the 5 s each request waits for a lock (the store's busy timeout).
DELETION_SECONDS = 0.5


def log_in(client: httpx2.Client, username: str, password: str) -> httpx2.Response:
    """``POST /auth/token``, the OAuth2 password form, with whatever username is given."""
    return client.post("/auth/token", data={"username": username, "password": password})


# -- 1. internals in an error answer -------------------------------------------------------------


def debug_mode_on(app: FastAPI) -> FastAPI:
    """The misconfiguration the first attacks count on: debug mode left on, so that Starlette
    answers an unhandled error with its traceback. (Starlette reads ``debug`` when the app
    handles its first request.)"""
    app.debug = True
    return app


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


def served_log(app: FastAPI) -> tuple[str, logs.Redaction | None]:
    """How ``python -m lessons serve`` would write this app's log: JSON lines through the
    redaction filter once a lesson declares that (lesson 08's ``json_logging``), and before
    that plain text without any filter, as ``logging.basicConfig`` writes it."""
    if "json_logging" in app.state.assembly.serve:
        return "json", logs.redact
    return "text", None


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
    response = log_in(client, account.username, account.password)
    token = str(response.json().get("access_token", "")) if response.status_code == 200 else ""
    client.get("/users/me", headers=bearer(token))
    client.get("/notes/search", params={"q": "plans", "access_token": token},
               headers=bearer(token))
    basic = base64.b64encode(f"{account.username}:{account.password}".encode()).decode()
    client.get("/basic/me", headers={"Authorization": f"Basic {basic}"})
    return Secrets(password=account.password, token=token, basic=basic)


def run_secrets_in_logs(client: httpx2.Client, account: Account, style: str = "text",
                        redaction: logs.Redaction | None = None) -> AttackResult:
    """Read the log written while ``account`` used the service. ``style`` and ``redaction``
    are how the log is written: plain text without a filter, as ``basicConfig`` does, or the
    lesson's JSON lines through a redaction filter."""
    with logs.capture(style, redaction) as captured:
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


def encoded_path(path: str) -> str:
    """``path`` as it travels in a request line: CR, LF and spaces percent-encoded. The server
    decodes them again before the app sees the path."""
    return path.replace("\r", "%0D").replace("\n", "%0A").replace(" ", "%20")


def run_forge_log_line(client: httpx2.Client, style: str = "text",
                       redaction: logs.Redaction | None = None) -> AttackResult:
    """Log in with a username that carries a line break and a line of its own, and ask for a
    path that does the same; then read the log (plain text by default: whatever the log's
    format, people and tools end up reading it as lines)."""
    with logs.capture(style, redaction) as captured:
        log_in(client, FORGERY, "not-the-password")
        client.get(encoded_path(FORGED_PATH))
    forged = forged_lines(captured)
    return AttackResult(
        name=f"{ATTACKER} writes a log line of her own",
        succeeded=bool(forged),
        evidence=f"{len(forged)} forged line(s) in {len(captured.lines)} log lines"
        + (f", starting {FORGED!r}" if forged else ""),
    )


# -- 5. no trace ---------------------------------------------------------------------------------


def run_no_trace(client: httpx2.Client, token: str) -> AttackResult:
    """mallory (holding ``token``, her own) guesses three passwords for alice and asks for the
    admin list. Is any of it recorded as a security event?"""
    with logs.capture() as captured:
        for guess in ("Winter2024!", "alice-alice", "letmein-please"):
            log_in(client, VICTIM, guess)
        client.get("/admin/users", headers=bearer(token))
    events = [entry for entry in captured.json() if entry.get("logger") == logs.AUDIT]
    refusals = [e for e in events if e.get("event") in logs.REFUSALS]
    return AttackResult(
        name=f"{ATTACKER} guesses passwords and probes the admin routes without a trace",
        succeeded=len(refusals) < 4,
        evidence=f"{len(refusals)} of 4 refusals recorded as audit events"
        + (f" ({', '.join(sorted({str(e['event']) for e in refusals}))})" if refusals else ""),
    )


# -- 6. a write racing the deletion of its account -----------------------------------------------


def writes_of(client: httpx2.Client, account: Account,
              token: str) -> dict[str, Callable[[], httpx2.Response]]:
    """Every kind of write ``account`` can make: a note, a comment, a session login (which
    stores the session) and a logout (which stores the revoked token's id)."""
    return {
        "POST /notes": lambda: client.post("/notes", json={"title": "draft", "body": "..."},
                                           headers=bearer(token)),
        "POST /comments": lambda: client.post("/comments", json={"body": "<p>hello</p>"},
                                              headers=bearer(token)),
        "POST /session/login": lambda: client.post(
            "/session/login", data={"username": account.username,
                                    "password": account.password}),
        "POST /auth/logout": lambda: client.post("/auth/logout", headers=bearer(token)),
    }


def race_deletion(client: httpx2.Client, store: Store, account: Account,
                  token: str) -> dict[str, httpx2.Response]:
    """``account``'s writes, each sent from a thread of its own while an admin's transaction
    deletes the account and holds the database for ``DELETION_SECONDS``.

    Every request authenticates while the account still exists (the deletion is not committed
    yet), then waits for the database to write; when the deletion commits, the database refuses
    each row that names the account (its foreign key). Holding the deletion open only makes the
    race certain: without it the same thing happens once in a while, whenever an account is
    deleted while one of its requests is on its way."""
    writes = writes_of(client, account, token)
    with ThreadPoolExecutor(max_workers=len(writes)) as pool:
        with store.transaction() as db:
            db.execute("DELETE FROM users WHERE username = ?", (account.username,))
            sent = {name: pool.submit(write) for name, write in writes.items()}
            time.sleep(DELETION_SECONDS)
        return {name: future.result() for name, future in sent.items()}


def run_deletion_race(client: httpx2.Client, store: Store, account: Account,
                      token: str) -> AttackResult:
    answers = race_deletion(client, store, account, token)
    failed = [name for name, answer in answers.items() if answer.status_code >= 500]
    return AttackResult(
        name=f"{account.username}'s writes race the deletion of his account into a 5xx",
        succeeded=bool(failed),
        evidence=", ".join(f"{name} {answer.status_code}" for name, answer in answers.items()),
    )


# -- the lesson's attacks, each on a scene of its own ----------------------------------------------


def _huge_note_id(scene: Scene) -> AttackResult:
    debug_mode_on(scene.app)
    return run_stack_trace(scene.client, f"/notes/{HUGE_NOTE_ID}",
                           bearer(scene.token(ATTACKER)))


def _database_error(scene: Scene) -> AttackResult:
    debug_mode_on(scene.app)
    break_comments_table(scene.app)
    return run_stack_trace(scene.client, "/comments")


def _echo_password(scene: Scene) -> AttackResult:
    return run_echo_password(scene.client, scene.accounts[VICTIM].password)


def _secrets_in_logs(scene: Scene) -> AttackResult:
    # The premise, in every variant: someone added the debug request log. The question is
    # whether the service's log (as it is served, or with the variant's ``redaction`` filter,
    # a learner's) still holds what that middleware writes.
    style, redaction = served_log(with_debug_log(scene.app))
    return run_secrets_in_logs(scene.client, scene.accounts[VICTIM], style,
                               scene.options.get("redaction", redaction))


def _forge_log_line(scene: Scene) -> AttackResult:
    return run_forge_log_line(scene.client, "text", logs.redact)


def _no_trace(scene: Scene) -> AttackResult:
    return run_no_trace(scene.client, scene.token(ATTACKER))


def _deletion_race(scene: Scene) -> AttackResult:
    return run_deletion_race(scene.client, scene.store, scene.accounts[LEAVER],
                             scene.token(LEAVER))


BEFORE = Variant(upto=7, label="the lesson-07 service")
# Lesson 08's logging with the open service's log_field: client text logged as it is.
UNNEUTRALISED = Variant(upto=8, seams={"log_field": logs.as_is},
                        label="lesson 08 without its neutraliser")

ATTACKS: tuple[Attack, ...] = (
    Attack("huge_note_id", "read a stack trace from the 500 of a note id too large for SQLite",
           _huge_note_id, BEFORE, fixed_in=8),
    Attack("database_error", "read the database's error from the 500 of a broken table",
           _database_error, BEFORE, fixed_in=8),
    Attack("echo_password", "read a password back from a 422", _echo_password,
           BEFORE, fixed_in=8),
    Attack("secrets_in_logs", "read passwords and tokens from the service's log",
           _secrets_in_logs, BEFORE, fixed_in=8),
    Attack("forge_log_line", "write a log line of one's own through a username and a path",
           _forge_log_line, UNNEUTRALISED, fixed_in=8),
    Attack("no_trace", "guess passwords and probe the admin routes without a trace", _no_trace,
           BEFORE, fixed_in=8),
    Attack("deletion_race", "make the writes of an account being deleted answer 5xx",
           _deletion_race, BEFORE, fixed_in=8),
)
