"""Lesson 08 checks: the error answer, the public validation errors, the redaction filter and
the log-field neutraliser, each on its own and then plugged into the lesson-08 service (or
its logging), where the lesson's attacks must fail.

Each check plugs in only the answer it is about; every other seam keeps its reference. The
rules each exercise states are ``RULES``; ``WRONG_ANSWERS`` (in ``wrong_lesson08``) are near
misses, each breaking one rule.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from typing import Any

from fastapi import HTTPException
from jose import jwt
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from lessons import errors, logs
from lessons.attacks import ATTACKER, LEAVER, VICTIM, Scene, Variant, new_password
from lessons.attacks import lesson08 as attacks
from lessons.checks import Fail, Report, Rule, Suite, Trial, expect, expect_type
from lessons.checks.wrong_lesson08 import WRONG_ANSWERS
from lessons.store import UnknownUser

suite = Suite(8, "Errors and logging")

REQUEST_ID = "0123456789abcdef0123456789abcdef"
# A random password, and a token signed with a random key, made for the checks only.
DEMO_PASSWORD = new_password()
DEMO_TOKEN = jwt.encode({"sub": "check"}, secrets.token_urlsafe(32), algorithm="HS256")
INTERNAL_ERROR = RuntimeError(
    "no such table: comments (SELECT id, body FROM comments) in /srv/notes/lessons/store.py")


def _scene(trial: Trial, **seams: Any) -> Scene:
    """The lesson-08 service with ``seams`` (the learner's answers), its cast seeded, in the
    trial's private folder."""
    return Scene(Variant(8, seams=seams), trial.root)


# -- exercise 1: error_response --------------------------------------------------------------------


def _answer(trial: Trial, error: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    """What the learner's error_response answers to ``error``: status, JSON body, headers."""
    response = trial.error_response(REQUEST_ID, error)
    expect_type(response, Response, "error_response",
                "a response, e.g. `JSONResponse({...}, status_code=...)`")
    try:
        body = json.loads(bytes(response.body) or b"{}")
    except ValueError:
        body = {"(not JSON)": bytes(response.body).decode("utf-8", "replace")}
    if not isinstance(body, dict):
        body = {"(not an object)": body}
    return response.status_code, body, {k.lower(): v for k, v in response.headers.items()}


@suite.check("keeps_4xx_status", "error_response: a 4xx keeps its status")
def keeps_4xx_status(trial: Trial) -> None:
    for code in (401, 403, 404, 409):
        status, _, _ = _answer(trial, HTTPException(code, f"detail {code}"))
        expect(status == code,
               f"HTTPException({code}) came back as {status}. Keep the status of an "
               "HTTPException below 500: a client must tell 401 (log in again) from 403 (not "
               "allowed) from 404 (no such thing) from 409 (conflict).")


@suite.check("keeps_4xx_headers", "error_response: a 4xx keeps its headers")
def keeps_4xx_headers(trial: Trial) -> None:
    _, _, headers = _answer(trial, HTTPException(401, "Not authenticated",
                                                 {"WWW-Authenticate": "Bearer"}))
    expect(headers.get("www-authenticate") == "Bearer",
           "The 401 lost its WWW-Authenticate header. Pass `headers=error.headers` on: it "
           "tells the client how to authenticate (RFC 9110 requires it on every 401).")
    _, _, headers = _answer(trial, HTTPException(405, "Method Not Allowed", {"Allow": "GET"}))
    expect(headers.get("allow") == "GET",
           "A 405 lost its Allow header: pass every header of the exception on "
           "(`headers=error.headers`), not only WWW-Authenticate.")


@suite.check("keeps_4xx_detail", "error_response: a 4xx keeps its detail")
def keeps_4xx_detail(trial: Trial) -> None:
    for error in (HTTPException(401, "Not authenticated"),
                  HTTPException(409, "That username is taken."),
                  HTTPException(400, {"field": "title", "problem": "empty"})):
        _, body, _ = _answer(trial, error)
        expect(body.get("detail") == error.detail,
               f"HTTPException({error.status_code}, {error.detail!r})'s detail came back as "
               f"{body.get('detail')!r}. Keep `error.detail` for a 4xx: it says what to change.")


@suite.check("starlette_exceptions",
             "error_response: Starlette's own HTTPException (404, 405) counts too")
def starlette_exceptions(trial: Trial) -> None:
    for code, detail in ((404, "Not Found"), (405, "Method Not Allowed")):
        status, body, _ = _answer(trial, StarletteHTTPException(code, detail))
        expect(status == code,
               f"Starlette's HTTPException({code}) came back as {status} {json.dumps(body)}. "
               "The router raises Starlette's own class for unknown paths and methods: test "
               "for `starlette.exceptions.HTTPException` (FastAPI's is a subclass of it).")


@suite.check("generic_5xx", "error_response: every 5xx body is the generic one, with the id")
def generic_5xx(trial: Trial) -> None:
    generic = {"detail": errors.GENERIC_DETAIL, "request_id": REQUEST_ID}
    for error in (INTERNAL_ERROR, HTTPException(500, "database at /srv/notes is down"),
                  HTTPException(503, "database at /srv/notes is down")):
        _, body, _ = _answer(trial, error)
        expect(body == generic,
               f"{type(error).__name__}({str(getattr(error, 'detail', error))[:30]!r}...) was "
               f"answered {json.dumps(body)[:160]}. Every 5xx, an HTTPException of 500 or more "
               'included, is exactly {"detail": "Internal Server Error", "request_id": <the id '
               "you were given>}: no exception text, ever.")


@suite.check("keeps_5xx_status", "error_response: a 5xx keeps its status, anything else is 500")
def keeps_5xx_status(trial: Trial) -> None:
    for error, code in ((HTTPException(503, "busy"), 503), (HTTPException(502, "upstream"), 502),
                        (INTERNAL_ERROR, 500)):
        status, _, _ = _answer(trial, error)
        expect(status == code,
               f"{type(error).__name__} ({getattr(error, 'status_code', 'no status')}) came back "
               f"as {status}. Keep the status of a 5xx HTTPException (503 tells a client to "
               "come back later), and answer 500 for any other exception.")


@suite.check("account_gone",
             "error_response: a write whose account was deleted meanwhile is a 401")
def account_gone(trial: Trial) -> None:
    status, body, headers = _answer(trial, UnknownUser("bob"))
    expect(status == 401,
           f"store.UnknownUser came back as {status}. The account was deleted while the request "
           "was on its way, so the database refused its write: the client's credentials stopped "
           "being valid, and the same request a moment later gets a 401. Answer 401, not a 5xx "
           "(the service did not fail) and not a 404 (the route exists).")
    expect(headers.get("www-authenticate", "").startswith("Bearer"),
           "The 401 for store.UnknownUser has no `WWW-Authenticate: Bearer` header: every 401 "
           "says how to authenticate (RFC 9110).")
    expect(isinstance(body.get("detail"), str) and "UnknownUser" not in json.dumps(body),
           f"The 401 for store.UnknownUser said {json.dumps(body)[:120]}: give a `detail` in "
           "words, not the exception.")


@suite.check("real_500", "your service: a real 500 shows nothing but its request id")
def real_500(trial: Trial) -> None:
    trial.error_response(REQUEST_ID, INTERNAL_ERROR)
    with _scene(trial, error_response=trial.error_response) as scene:
        # Even with the debug mode that someone forgot to turn off.
        attacks.debug_mode_on(scene.app)
        attacks.break_comments_table(scene.app)
        result = attacks.run_stack_trace(scene.client, "/comments")
        expect(not result.succeeded, f"{result.evidence}. Answer every unexpected error with "
               "the generic body only.")
        response = scene.client.get("/comments")
    expect(response.status_code == 500, f"GET /comments answered {response.status_code}.")
    expect(response.json().get("request_id") == response.headers.get("x-request-id"),
           "The 500's request_id should be the id you were given, the one in X-Request-ID, "
           "so that the client can quote it and the operator can find the request's log lines.")


@suite.check("meaning_in_service",
             "your service: 401 keeps its challenge, and 403 and 404 stay apart")
def meaning_in_service(trial: Trial) -> None:
    trial.error_response(REQUEST_ID, HTTPException(404))
    with _scene(trial, error_response=trial.error_response) as scene:
        token = scene.token(ATTACKER)
        anonymous = scene.client.get("/users/me")
        forbidden = scene.client.get("/admin/users", headers=attacks.bearer(token))
        missing = scene.client.get("/notes/9001", headers=attacks.bearer(token))
    expect(anonymous.status_code == 401 and "bearer" in
           anonymous.headers.get("www-authenticate", "").lower(),
           f"GET /users/me without a token answered {anonymous.status_code} without a "
           "WWW-Authenticate: Bearer challenge.")
    expect((forbidden.status_code, missing.status_code) == (403, 404),
           f"A missing scope answered {forbidden.status_code} and a missing note "
           f"{missing.status_code}; they should stay 403 and 404.")


@suite.check("deletion_race",
             "your service: writes racing their account's deletion never get a 5xx")
def deletion_race(trial: Trial) -> None:
    trial.error_response(REQUEST_ID, UnknownUser("bob"))
    with _scene(trial, error_response=trial.error_response) as scene:
        answers = attacks.race_deletion(scene.client, scene.store, scene.accounts[LEAVER],
                                        scene.token(LEAVER))
    failed = {name: answer.status_code for name, answer in answers.items()
              if answer.status_code >= 500}
    expect(not failed,
           f"bob's account was deleted while his writes were on their way, and they answered "
           f"{failed}. The database refused them (store.UnknownUser): answer the 401 that the "
           "same requests get a moment later, never a 5xx.")


# -- exercise 2: public_errors ---------------------------------------------------------------------


PYDANTIC_ERRORS: list[dict[str, Any]] = [
    {"type": "string_too_short", "loc": ("body", "password"),
     "msg": "String should have at least 12 characters", "input": "short-pw",
     "ctx": {"min_length": 12}, "url": "https://errors.pydantic.dev/2/v/string_too_short"},
    {"type": "missing", "loc": ("body", "email"), "msg": "Field required",
     "input": {"username": "carol", "password": DEMO_PASSWORD}},
    {"type": "value_error", "loc": ("body", "username"), "msg": "Value error, not allowed",
     "input": "Carol", "ctx": {"error": ValueError("not allowed")},
     "url": "https://errors.pydantic.dev/2/v/value_error"},
]


def _public(trial: Trial) -> list[dict[str, Any]]:
    shown = trial.public_errors([dict(error) for error in PYDANTIC_ERRORS])
    expect_type(shown, list, "public_errors", "a list with one dict per error")
    for entry in shown:
        expect_type(entry, dict, "public_errors", "a list of dicts")
    return shown


@suite.check("public_fields", "public_errors: each error keeps type, loc and msg")
def public_fields(trial: Trial) -> None:
    for original, entry in zip(PYDANTIC_ERRORS, _public(trial), strict=False):
        expect(entry.get("msg") == original["msg"] and entry.get("type") == original["type"]
               and tuple(entry.get("loc", ())) == original["loc"],
               f"An error came back as {entry}. Keep `type`, `loc` and `msg` of each error as "
               "they are: they tell the client which field to fix and how.")


@suite.check("public_no_input", "public_errors: no error keeps its input")
def public_no_input(trial: Trial) -> None:
    text = json.dumps(_public(trial), default=str)
    expect(DEMO_PASSWORD not in text,
           "The password is still there, in the `input` of the *missing email* error: for a "
           "missing field, pydantic's input is the whole body. Drop `input` for every error, "
           "not only for fields named password.")
    expect("short-pw" not in text, "The too-short password is still in the output: drop "
           "`input`.")


@suite.check("public_no_internals", "public_errors: no ctx and no url")
def public_no_internals(trial: Trial) -> None:
    for entry in _public(trial):
        extra = sorted(set(entry) & {"ctx", "url"})
        expect(not extra,
               f"An error still carries {', '.join(extra)}. Keep only type, loc and msg: `ctx` "
               "holds internals (here an exception object), `url` names the validation library "
               "and its version.")


@suite.check("public_every_error", "public_errors: one entry per error, in order")
def public_every_error(trial: Trial) -> None:
    shown = _public(trial)
    expect([tuple(entry.get("loc", ())) for entry in shown] == [e["loc"] for e in PYDANTIC_ERRORS],
           f"{len(PYDANTIC_ERRORS)} errors came back as {len(shown)} entries "
           f"({[entry.get('loc') for entry in shown]}). Keep one entry per error, in order: the "
           "client fixes every field at once, not one per attempt.")


@suite.check("no_echo", "your service: a 422 never echoes a password")
def no_echo(trial: Trial) -> None:
    trial.public_errors([])
    app = trial.app(public_errors=trial.public_errors)
    client = trial.client(app)
    result = attacks.run_echo_password(client, DEMO_PASSWORD)
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


# -- exercise 3: redact ----------------------------------------------------------------------------


def _record(message: str, *args: object, exc: BaseException | None = None,
            **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("lessons.check", logging.INFO, __file__, 1, message, args,
                               (type(exc), exc, exc.__traceback__) if exc else None)
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def _exception_record() -> logging.LogRecord:
    try:
        raise ValueError(f"bad form: username=carol&password={DEMO_PASSWORD}")
    except ValueError as error:
        return _record("login failed", exc=error)


def _rendered(trial: Trial, record: logging.LogRecord) -> str:
    """The line the record becomes once the learner's redact has run on it."""
    trial.redact(record)
    return _formatted(record)


def _formatted(record: logging.LogRecord) -> str:
    try:
        return logs.JsonFormatter().format(record)
    except (TypeError, ValueError) as error:
        raise Fail(f"After redact, the record could not be formatted ({error}). If you put the "
                   "formatted message in `record.msg`, set `record.args` to None, or logging "
                   "will format it a second time.") from None


@suite.check("redact_message", "redact: the message and its arguments")
def redact_message(trial: Trial) -> None:
    line = _rendered(trial, _record("login form: %s", f"username=carol&password={DEMO_PASSWORD}"))
    expect(DEMO_PASSWORD not in line,
           "`logger.info('login form: %s', body)` still logged the password. The secret "
           "is in `record.args`, not `record.msg`: redact `record.getMessage()` (the message "
           "with its arguments), then set `record.msg` to it and `record.args` to None.")
    line = _rendered(trial, _record("GET /notes/search?%s", f"access_token={DEMO_TOKEN}"))
    expect(DEMO_TOKEN not in line, "A token in a logged query string was not redacted.")


@suite.check("redact_extra", "redact: the extra fields, by name and by value")
def redact_extra(trial: Trial) -> None:
    line = _rendered(trial, _record("request", password=DEMO_PASSWORD, user="alice"))
    expect(DEMO_PASSWORD not in line,
           "`extra={'password': ...}` still reached the line. Extra fields are attributes of "
           "the record (`logs.extra_fields(record)` lists them): replace the value of every "
           "field whose name `logs.is_secret_key` with `logs.REDACTED`.")
    line = _rendered(trial, _record("request", user="alice",
                                    headers={"authorization": f"Bearer {DEMO_TOKEN}"},
                                    note=f"sent Bearer {DEMO_TOKEN}"))
    expect(DEMO_TOKEN not in line, "A token inside an extra field (a headers dict, or text) "
           "reached the line: scrub every other field's value with `logs.scrub_value`, which "
           "walks dicts and lists.")


@suite.check("redact_exception", "redact: the exception text")
def redact_exception(trial: Trial) -> None:
    line = _rendered(trial, _exception_record())
    expect(DEMO_PASSWORD not in line,
           "An exception's message quoted the password and it reached the line. The text is "
           "not on the record yet: render it into `record.exc_text` with "
           "`logging.Formatter().formatException(record.exc_info)`, then scrub that text.")


@suite.check("redact_keeps", "redact: the record is still logged, with all that is not secret")
def redact_keeps(trial: Trial) -> None:
    record = _record("GET /notes 200", user="alice", status=200)
    keep = trial.redact(record)
    expect(keep is not None,
           "redact returned None, which drops the whole record (a logging filter keeps a "
           "record only when it returns something true): `return True` at the end.")
    expect(keep is not False and bool(keep),
           f"redact returned {keep!r}, which drops the whole record: a filter that removes "
           "secrets returns True and keeps the rest of the line.")
    entry = json.loads(_formatted(record))
    expect(entry.get("message") == "GET /notes 200",
           f"redact changed a message that holds no secret: it became {entry.get('message')!r}.")
    expect(entry.get("user") == "alice" and entry.get("status") == 200,
           "redact removed or changed harmless extra fields (`user`, `status`): only the "
           "fields named like secrets become [REDACTED].")
    line = _rendered(trial, _exception_record())
    expect("ValueError" in line, "The exception itself should still be logged, only its "
           "secrets removed.")


@suite.check("redact_attack", "secrets in logs: the attack fails with your filter")
def redact_attack(trial: Trial) -> None:
    trial.redact(_record("nothing"))
    with _scene(trial) as scene:
        attacks.with_debug_log(scene.app)
        result = attacks.run_secrets_in_logs(scene.client, scene.accounts[VICTIM], "json",
                                             trial.redact)
    expect(not result.succeeded, f"{result.evidence}. The debug log puts them in the "
           "message's arguments (headers and body): redact the formatted message.")


# -- exercise 4: neutralise ------------------------------------------------------------------------

UNSAFE = {"LF": "\n", "CR": "\r", "CR LF": "\r\n", "TAB": "\t", "NUL": "\x00",
          "ESC (terminal colours)": "\x1b", "NEL (U+0085)": "\x85",
          "LINE SEPARATOR (U+2028)": "\u2028", "PARAGRAPH SEPARATOR (U+2029)": "\u2029",
          "RIGHT-TO-LEFT OVERRIDE (U+202E)": "\u202e"}
SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _neutralised(trial: Trial, value: str, **limit: int) -> str:
    neutralise = trial.neutralise
    try:
        result = neutralise(value, **limit)
    except TypeError as error:
        if limit and "limit" in str(error):  # called with limit=, which it does not take
            raise Fail("neutralise should take `limit` as its second argument, as in "
                       "`def neutralise(value: str, limit: int = 200)`.") from None
        raise
    expect_type(result, str, "neutralise", "a str")
    return result


def _escapes(character: str) -> set[str]:
    """The visible escapes that name ``character``: ``\\n`` style, or its code point."""
    point = ord(character)
    return {SHORT_ESCAPES.get(character, ""), f"\\x{point:02x}", f"\\u{point:04x}",
            f"\\U{point:08x}"} - {""}


@suite.check("neutralise_controls", "neutralise: no character that is not printable survives")
def neutralise_controls(trial: Trial) -> None:
    for name, characters in UNSAFE.items():
        result = _neutralised(trial, f"mallory{characters}INFO login.success user=admin")
        expect(result.isprintable(),
               f"{name} survived neutralise ({result!r}). Not only \\n breaks or disguises a "
               "line: replace every character for which `str.isprintable()` is False.")


@suite.check("neutralise_escapes", "neutralise: each one becomes a visible escape naming it")
def neutralise_escapes(trial: Trial) -> None:
    for name, characters in UNSAFE.items():
        result = _neutralised(trial, f"mallory{characters}INFO login.success user=admin")
        if not result.isprintable():
            continue  # not replaced at all: neutralise_controls says so
        # "mallory", then one escape for each character, then the rest as it was.
        escaped = "".join("(?:" + "|".join(map(re.escape, _escapes(ch))) + ")"
                          for ch in characters)
        expect(re.search(f"mallory{escaped}INFO", result),
               f"{name} became {result!r}. Replace it with a visible escape that says what it "
               f"was (\\n, \\r, \\t or \\u{ord(characters[0]):04x}), keeping the text "
               "around it: the log must show that something was sent there.")


@suite.check("neutralise_printable", "neutralise: printable text stays as it is")
def neutralise_printable(trial: Trial) -> None:
    for text in ("alice", "Élodie O'Brien", "名前", "a b", "100% <ok> & \"quoted\""):
        result = _neutralised(trial, text)
        expect(result == text,
               f"neutralise changed {text!r} into {result!r}, which is printable already: "
               "leave such text as it is (accents and other scripts included), so the log "
               "shows names as they are.")


@suite.check("neutralise_limit", "neutralise: at most `limit` characters of the value")
def neutralise_limit(trial: Trial) -> None:
    for value, limit in (("A" * 100_000, {}), ("B" * 1000, {"limit": 50})):
        cut = limit.get("limit", logs.MAX_FIELD)
        result = _neutralised(trial, value, **limit)
        expect(len(result) <= cut + 16,
               f"A {len(value):,}-character value came back {len(result):,} characters long "
               f"with limit={cut}. Cut it to `limit` characters (a marker such as … may follow): "
               "one field must not fill the log.")


@suite.check("neutralise_attack", "forged log lines: the attack fails with your neutraliser")
def neutralise_attack(trial: Trial) -> None:
    trial.neutralise("x")
    with _scene(trial, log_field=trial.neutralise) as scene:
        result = attacks.run_forge_log_line(scene.client, "text", logs.redact)
    expect(not result.succeeded, f"{result.evidence}, in a plain-text log. The username and "
           "the path reach the log through your function: no line break may survive it, CR "
           "included.")


@suite.check("audit_trail", "your service: refusals are audit events that name the account")
def audit_trail(trial: Trial) -> None:
    trial.neutralise("x")
    with _scene(trial, log_field=trial.neutralise) as scene:
        result = attacks.run_no_trace(scene.client, scene.token(ATTACKER))
        expect(not result.succeeded, f"{result.evidence}.")
        with logs.capture() as captured:
            attacks.log_in(scene.client, VICTIM, "a-wrong-guess")
    users = [e.get("user") for e in captured.json() if e.get("event") == "login.failure"]
    expect(users == [VICTIM],
           f"A failed login for alice was logged as an audit event naming {users}. The name "
           "goes through your neutralise: it must come out as it went in when it is printable.")


# -- what the notebook's exercises state, and what answers them --------------------------------

RULES: tuple[Rule, ...] = (
    Rule("status_4xx", "error_response",
         "An HTTPException below 500 keeps its status: a client must tell 401, 403, 404 and 409 "
         "apart.", ("keeps_4xx_status", "meaning_in_service")),
    Rule("headers_4xx", "error_response",
         "An HTTPException below 500 keeps its headers: a 401's WWW-Authenticate says how to "
         "log in.", ("keeps_4xx_headers", "meaning_in_service")),
    Rule("detail_4xx", "error_response",
         "An HTTPException below 500 keeps its detail, which says what to change.",
         ("keeps_4xx_detail",)),
    Rule("starlette_class", "error_response",
         "Test for Starlette's HTTPException: the router raises it for unknown paths (404) and "
         "methods (405), and FastAPI's is a subclass of it.", ("starlette_exceptions",)),
    Rule("generic_5xx", "error_response",
         "Anything else, a 5xx HTTPException included, is {detail: Internal Server Error, "
         "request_id}: no exception text, ever, even in debug mode.",
         ("generic_5xx", "real_500")),
    Rule("request_id", "error_response",
         "The request_id of a 5xx is the id the function was given, the one in X-Request-ID.",
         ("generic_5xx", "real_500")),
    Rule("status_5xx", "error_response",
         "A 5xx HTTPException keeps its status; any other exception is a 500.",
         ("keeps_5xx_status",)),
    Rule("account_gone", "error_response",
         "A write refused because its account was deleted while the request was on its way "
         "(store.UnknownUser) is a 401 with the Bearer challenge, never a 5xx.",
         ("account_gone", "deletion_race")),
    Rule("errata_one_message", "error_response",
         "Errata: not one generic message for every error; generic text belongs to 5xx only.",
         ("keeps_4xx_status", "keeps_4xx_headers", "keeps_4xx_detail", "meaning_in_service")),
    Rule("public_keeps", "public_errors",
         "Each error keeps type, loc and msg: the client learns which field to fix and how.",
         ("public_fields",)),
    Rule("public_no_input", "public_errors",
         "No error keeps its input, not only those of fields named password: the input of a "
         "missing field's error is the whole body.", ("public_no_input", "no_echo")),
    Rule("public_no_internals", "public_errors",
         "Nothing but type, loc and msg: no ctx (internals), no url.",
         ("public_no_internals",)),
    Rule("public_every_error", "public_errors", "One entry per error, in order.",
         ("public_every_error",)),
    Rule("redact_message", "redact",
         "The message with its arguments: scrub record.getMessage(), store it in record.msg "
         "and set record.args to None.", ("redact_message", "redact_attack")),
    Rule("redact_extra", "redact",
         "Extra fields: [REDACTED] where the name is a secret's, every other value scrubbed "
         "(dicts and lists walked).", ("redact_extra",)),
    Rule("redact_exception", "redact",
         "The exception text: rendered into record.exc_text, then scrubbed.",
         ("redact_exception",)),
    Rule("redact_keeps", "redact",
         "Return True: the record is still logged, with everything that is not a secret.",
         ("redact_keeps",)),
    Rule("neutralise_controls", "neutralise",
         "Every character that is not printable is replaced, not only \\n: CR, NUL, ESC, NEL, "
         "U+2028/2029 and the bidirectional overrides too.",
         ("neutralise_controls", "neutralise_attack")),
    Rule("neutralise_escapes", "neutralise",
         "Each is replaced by a visible escape that names it (\\n, \\r, \\t, \\u2028 style), "
         "the text around it kept.", ("neutralise_escapes",)),
    Rule("neutralise_printable", "neutralise",
         "Printable text stays as it is (accents and other scripts included), so that logs and "
         "audit events name accounts exactly.", ("neutralise_printable", "audit_trail")),
    Rule("neutralise_limit", "neutralise", "The value is cut to `limit` characters.",
         ("neutralise_limit",)),
)

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


__all__ = ["REFERENCE", "RULES", "WRONG_ANSWERS", "check", "suite"]
