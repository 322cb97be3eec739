"""Lesson 08 checks: the error answer, the public validation errors, the redaction filter and
the log-field neutraliser, each on its own and then plugged into the lesson-08 service (or
its logging), where the lesson's attacks must fail.

Each check plugs in only the answer it is about; every other seam keeps its reference.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from fastapi import HTTPException
from fastapi.testclient import TestClient
from jose import jwt
from starlette.exceptions import HTTPException as StarletteHTTPException

from lessons import errors, logs
from lessons.attacks import lesson08, new_password
from lessons.attacks.lesson03 import bearer
from lessons.checks import Fail, Report, Suite, Trial, expect

suite = Suite(8, "Errors and logging")

REQUEST_ID = "0123456789abcdef0123456789abcdef"
# A random password, and a token signed with a random key, made for the checks only.
DEMO_PASSWORD = new_password()
DEMO_TOKEN = jwt.encode({"sub": "check"}, secrets.token_urlsafe(32), algorithm="HS256")
INTERNAL_ERROR = RuntimeError(
    "no such table: comments (SELECT id, body FROM comments) in /srv/notes/lessons/store.py")


# -- exercise 1: error_response --------------------------------------------------------------------


def _answer(trial: Trial, error: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = trial.error_response(REQUEST_ID, error)
    expect(hasattr(response, "status_code") and hasattr(response, "body"),
           "error_response should return a response, e.g. `JSONResponse({...}, status_code=...)`"
           f", not {type(response).__name__}.")
    try:
        body = json.loads(bytes(response.body) or b"{}")
    except ValueError:
        body = {"(not JSON)": bytes(response.body).decode("utf-8", "replace")}
    return response.status_code, body, dict(response.headers)


@suite.check("error_response keeps a 4xx's status, headers and detail")
def keeps_4xx(trial: Trial) -> None:
    challenge = {"WWW-Authenticate": "Bearer"}
    status, body, headers = _answer(trial, HTTPException(401, "Not authenticated", challenge))
    expect(status == 401,
           f"A 401 came back as {status}. Keep the status of an HTTPException below 500: the "
           "client caused it, and the status tells it what to do (log in again).")
    expect(headers.get("www-authenticate") == "Bearer",
           "The 401 lost its WWW-Authenticate header. Pass `headers=error.headers` on: it "
           "tells the client how to authenticate (RFC 9110 requires it on every 401).")
    expect(body.get("detail") == "Not authenticated",
           f"The 401's detail became {body.get('detail')!r}. Keep `error.detail` for a 4xx.")
    answers = {code: _answer(trial, HTTPException(code, f"detail {code}"))[:2]
               for code in (403, 404, 409)}
    for code, (got, got_body) in answers.items():
        expect(got == code and got_body.get("detail") == f"detail {code}",
               f"HTTPException({code}) came back as {got} {got_body}. A client must be able to "
               "tell 403 (not allowed) from 404 (no such thing) from 409 (conflict).")
    status, _, _ = _answer(trial, StarletteHTTPException(405, "Method Not Allowed"))
    expect(status == 405,
           "Starlette's own HTTPException (the router raises it for 404 and 405) came back as "
           f"{status}. Test for `starlette.exceptions.HTTPException`: FastAPI's is a subclass.")


@suite.check("error_response makes every 5xx generic, with the request id")
def hides_5xx(trial: Trial) -> None:
    status, body, _ = _answer(trial, INTERNAL_ERROR)
    expect(status == 500, f"An unexpected exception came back as {status}; it is a 500.")
    expect(body == {"detail": errors.GENERIC_DETAIL, "request_id": REQUEST_ID},
           "An unexpected exception should be answered with exactly "
           '{"detail": "Internal Server Error", "request_id": <the id you were given>}; '
           f"yours said {json.dumps(body)[:160]}.")
    status, body, _ = _answer(trial, HTTPException(503, "database at /srv/notes is down"))
    expect(status == 503 and body == {"detail": errors.GENERIC_DETAIL, "request_id": REQUEST_ID},
           f"HTTPException(503, ...) came back as {status} {json.dumps(body)[:120]}. Keep the "
           "status of a 5xx, but never its detail: every 5xx body is the generic one.")


@suite.check("a real 500 in your service shows nothing but its request id")
def real_500(trial: Trial) -> None:
    trial.error_response(REQUEST_ID, INTERNAL_ERROR)
    app = trial.app(error_response=trial.error_response)
    app.debug = True  # even the debug mode that someone forgot to turn off
    lesson08.break_comments_table(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        result = lesson08.run_stack_trace(client, "/comments")
        expect(not result.succeeded, f"{result.evidence}. Answer every unexpected error with "
               "the generic body only.")
        response = client.get("/comments")
    expect(response.status_code == 500, f"GET /comments answered {response.status_code}.")
    expect(response.json().get("request_id") == response.headers.get("x-request-id"),
           "The 500's request_id should be the id you were given, the one in X-Request-ID, "
           "so that the client can quote it and the operator can find the request's log lines.")


@suite.check("in your service, 401 keeps its challenge and 403 and 404 stay apart")
def meaning_in_service(trial: Trial) -> None:
    trial.error_response(REQUEST_ID, HTTPException(404))
    app = trial.app(error_response=trial.error_response)
    with lesson08.stage(app) as (client, _, token):
        anonymous = client.get("/users/me")
        forbidden = client.get("/admin/users", headers=bearer(token))
        missing = client.get("/notes/9001", headers=bearer(token))
    expect(anonymous.status_code == 401 and "bearer" in
           anonymous.headers.get("www-authenticate", "").lower(),
           f"GET /users/me without a token answered {anonymous.status_code} without a "
           "WWW-Authenticate: Bearer challenge.")
    expect((forbidden.status_code, missing.status_code) == (403, 404),
           f"A missing scope answered {forbidden.status_code} and a missing note "
           f"{missing.status_code}; they should stay 403 and 404.")


# -- exercise 2: public_errors ---------------------------------------------------------------------


PYDANTIC_ERRORS: list[dict[str, Any]] = [
    {"type": "string_too_short", "loc": ("body", "password"),
     "msg": "String should have at least 12 characters", "input": "short-pw",
     "ctx": {"min_length": 12}, "url": "https://errors.pydantic.dev/2/v/string_too_short"},
    {"type": "missing", "loc": ("body", "email"), "msg": "Field required",
     "input": {"username": "carol", "password": DEMO_PASSWORD}},
]


@suite.check("public_errors keeps type, loc and msg, and drops every input")
def public_fields(trial: Trial) -> None:
    shown = trial.public_errors([dict(e) for e in PYDANTIC_ERRORS])
    expect(isinstance(shown, list) and len(shown) == len(PYDANTIC_ERRORS),
           "public_errors should return a list with one entry per error.")
    text = json.dumps(shown, default=str)
    expect(DEMO_PASSWORD not in text,
           "The password is still there, in the `input` of the *missing email* error: for a "
           "missing field, pydantic's input is the whole body. Drop `input` for every error, "
           "not only for fields named password.")
    expect("short-pw" not in text, "The too-short password is still in the output: drop "
           "`input`.")
    for original, entry in zip(PYDANTIC_ERRORS, shown, strict=True):
        expect(isinstance(entry, dict) and entry.get("msg") == original["msg"]
               and entry.get("type") == original["type"]
               and tuple(entry.get("loc", ())) == original["loc"],
               "Keep `type`, `loc` and `msg` of each error: they tell the client which field "
               "to fix and how.")


@suite.check("your service's 422 never echoes a password")
def no_echo(trial: Trial) -> None:
    trial.public_errors([])
    app = trial.app(public_errors=trial.public_errors)
    with TestClient(app) as client:
        result = lesson08.run_echo_password(client, DEMO_PASSWORD)
        expect(not result.succeeded, f"{result.evidence} (a registration without an email).")
        bodies = ({"username": "carol", "email": "carol@example.org", "password": "short-pw"},
                  {"username": "carol", "email": "carol@example.org",
                   "password": DEMO_PASSWORD, "role": "admin"},
                  {"username": "c", "email": "not-an-address", "password": DEMO_PASSWORD})
        for body in bodies:
            response = client.post("/users", json=body)
            expect(response.status_code == 422, f"POST /users answered {response.status_code}.")
            expect(body["password"] not in response.text,
                   f"The password came back in a 422 ({sorted(body)}).")
            locations = [e.get("loc") for e in response.json().get("detail", [])]
            expect(locations and all(locations),
                   "Every error in the 422 should still say where (`loc`).")


# -- exercise 3: redact ----------------------------------------------------------------------------


def _record(message: str, *args: object, exc: BaseException | None = None,
            **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("lessons.check", logging.INFO, __file__, 1, message, args,
                               (type(exc), exc, exc.__traceback__) if exc else None)
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def _rendered(trial: Trial, record: logging.LogRecord) -> str:
    keep = trial.redact(record)
    expect(keep is not False, "redact returned False, which drops the whole record: a filter "
           "that removes secrets should return True and keep the rest of the line.")
    try:
        return logs.JsonFormatter().format(record)
    except (TypeError, ValueError) as error:
        raise Fail(f"After redact, the record could not be formatted ({error}). If you put the "
                   "formatted message in `record.msg`, set `record.args` to None, or logging "
                   "will format it a second time.") from None


@suite.check("redact cleans the message and its arguments")
def redact_message(trial: Trial) -> None:
    line = _rendered(trial, _record("login with password=%s", DEMO_PASSWORD))
    expect(DEMO_PASSWORD not in line,
           "`logger.info('login with password=%s', pw)` still logged the password. The secret "
           "is in `record.args`, not `record.msg`: redact `record.getMessage()` (the message "
           "with its arguments), then set `record.msg` to it and `record.args` to None.")
    line = _rendered(trial, _record("GET /notes/search?%s", f"access_token={DEMO_TOKEN}"))
    expect(DEMO_TOKEN not in line, "A token in a logged query string was not redacted.")
    line = _rendered(trial, _record("GET /notes 200"))
    expect("GET /notes 200" in line, "redact changed a message that holds no secret.")


@suite.check("redact cleans extra fields")
def redact_extra(trial: Trial) -> None:
    record = _record("request", password=DEMO_PASSWORD,
                     headers={"authorization": f"Bearer {DEMO_TOKEN}", "accept": "*/*"},
                     note=f"sent Bearer {DEMO_TOKEN}", user="alice")
    line = _rendered(trial, record)
    expect(DEMO_PASSWORD not in line,
           "`extra={'password': ...}` still reached the line. Extra fields are attributes of "
           "the record: `logs.extra_fields(record)` lists them; redact those whose name "
           "`logs.is_secret_key`, and scrub the others with `logs.scrub_value`.")
    expect(DEMO_TOKEN not in line, "A token in an extra field (a headers dict, or text) "
           "reached the line: scrub every extra value, not just the message.")
    expect('"user": "alice"' in line, "redact removed the harmless field `user`.")


@suite.check("redact cleans exception text")
def redact_exception(trial: Trial) -> None:
    try:
        raise ValueError(f"bad form: username=carol&password={DEMO_PASSWORD}")
    except ValueError as error:
        record = _record("login failed", exc=error)
    line = _rendered(trial, record)
    expect(DEMO_PASSWORD not in line,
           "An exception's message quoted the password and it reached the line. Render the "
           "traceback into `record.exc_text` (logging.Formatter().formatException(...)) and "
           "scrub that text.")
    expect("ValueError" in line, "The exception itself should still be logged.")


@suite.check("secrets in logs: the attack fails with your filter")
def redact_attack(trial: Trial) -> None:
    trial.redact(_record("nothing"))
    app = lesson08.with_debug_log(trial.app())
    result = lesson08.run_secrets_in_logs(app, "json", trial.redact)
    expect(not result.succeeded, f"{result.evidence}. The debug log puts them in the "
           "message's arguments (headers and body): redact the formatted message.")


# -- exercise 4: neutralise ------------------------------------------------------------------------

UNSAFE = {"LF": "\n", "CR": "\r", "CR LF": "\r\n", "NUL": "\x00", "ESC (terminal colours)":
          "\x1b[31m", "NEL (U+0085)": "\x85", "LINE SEPARATOR (U+2028)": "\u2028",
          "RIGHT-TO-LEFT OVERRIDE (U+202E)": "\u202e", "TAB": "\t"}


@suite.check("neutralise escapes line breaks and every other control character")
def neutralise_controls(trial: Trial) -> None:
    for name, character in UNSAFE.items():
        result = trial.neutralise(f"mallory{character}INFO login.success user=admin")
        expect(isinstance(result, str), "neutralise should return a str.")
        expect(result.isprintable(),
               f"{name} survived neutralise ({result!r}). Not only \\n breaks a line: replace "
               "every character for which `str.isprintable()` is False.")
        expect("mallory" in result and "admin" in result,
               f"neutralise lost the visible text around {name}: escape the character (say "
               "as \\n or \\u2028), keep the rest, so the log still shows what was sent.")
    for kind in ("alice", "Élodie O'Brien", "名前", "a b"):
        expect(trial.neutralise(kind) == kind,
               f"neutralise changed {kind!r}, which is printable: leave such text alone.")
    long = trial.neutralise("A" * 100_000)
    expect(len(long) <= 2 * logs.MAX_FIELD,
           f"A 100,000-character value came back {len(long)} characters long. Cut it to "
           f"`limit` ({logs.MAX_FIELD}) characters: one field must not fill the log.")


@suite.check("forged log lines: the attack fails with your neutraliser")
def neutralise_attack(trial: Trial) -> None:
    trial.neutralise("x")
    app = trial.app(log_field=trial.neutralise)
    result = lesson08.run_forge_log_line(app, "text", logs.redact)
    expect(not result.succeeded, f"{result.evidence}, in a plain-text log. The username and "
           "the path reach the log through your function: no line break may survive it.")


@suite.check("refusals are audit events that name the account")
def audit_trail(trial: Trial) -> None:
    trial.neutralise("x")
    app = trial.app(log_field=trial.neutralise)
    result = lesson08.run_no_trace(app)
    expect(not result.succeeded, f"{result.evidence}.")
    with logs.capture() as captured, TestClient(app) as client:
        client.post("/auth/token", data={"username": "alice", "password": "wrong"})
    events = [e for e in captured.json() if e.get("event") == "login.failure"]
    expect(events and events[0].get("user") == "alice",
           "A failed login should be an audit event naming the attempted account.")


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "error_response": errors.error_response,
    "public_errors": errors.public_errors,
    "redact": logs.redact,
    "neutralise": logs.neutralise,
}


def check(**answers: Any) -> Report:
    """Run the lesson-08 checks: ``check(error_response=..., public_errors=..., redact=...,
    neutralise=...)``."""
    return suite.run(**answers)

