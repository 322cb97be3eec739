"""Lesson 07 checks: the registration model, the parameterized search, the comment sanitizer
and the counting receive wrapper, each on its own and then plugged into its seam of the
lesson-07 service, where the lesson's attacks must fail.

Each check plugs in only the answer it is about (every other seam keeps its reference).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from lessons import sanitize, validation
from lessons.attacks import lesson07, new_password
from lessons.attacks.lesson03 import bearer
from lessons.body_limit import BodySizeLimit, Exchange, limited_receive, run_drive
from lessons.checks import Report, Suite, Trial, expect
from lessons.sanitize import audit, executable_markup, xss_corpus
from lessons.store import Store

suite = Suite(7, "Validation and sanitization")

LIMIT = 64 * 1024


# -- helpers -------------------------------------------------------------------------------------


def _model(trial: Trial) -> type[BaseModel]:
    model = trial.registration_model()
    expect(isinstance(model, type) and issubclass(model, BaseModel),
           "registration_model should return the model class itself (`return UserCreate`), "
           f"not {type(model).__name__}.")
    return model


def _register(trial: Trial, body: dict[str, Any]) -> tuple[int, list[Any]]:
    """Status and the error locations of one registration against the service with the
    learner's model (never the submitted values: a 422 body echoes them)."""
    client = trial.client(trial.app(user_model=_model(trial)))
    response = client.post("/users", json=body)
    locations = [tuple(e.get("loc", ())) for e in response.json().get("detail", [])] \
        if response.status_code == 422 else []
    return response.status_code, locations


def _good(username: str = "carol_9", password: str | None = None) -> dict[str, str]:
    """A valid registration (a random password unless one is given)."""
    return {"username": username, "email": f"{username}@example.org",
            "password": password or new_password()}


def _refused(trial: Trial, body: dict[str, Any], what: str, hint: str) -> None:
    status, _ = _register(trial, body)
    expect(status != 201, f"{what} was accepted. {hint}")
    expect(status == 422, f"{what} got HTTP {status}; a validation error should be a 422. "
           "Raise ValueError inside a validator (pydantic turns it into a 422), never another "
           "exception.")


def _search_store(trial: Trial) -> tuple[Store, dict[str, int]]:
    """A store with notes for alice and mallory, some with quotes and wildcards in the title."""
    store = trial.store()
    ids: dict[str, int] = {}
    for owner, title in (("alice", "alice's plan"), ("alice", "100% secret"),
                         ("mallory", "mallory's plan"), ("mallory", "100% done"),
                         ("mallory", "1000 things"), ("mallory", "snake_case notes"),
                         ("mallory", "snakeXcase")):
        if store.get_user(owner) is None:
            store.add_user(owner, "not-a-real-hash")
        ids[f"{owner}:{title}"] = store.add_note(owner, title, "...").id
    return store, ids


def _titles(result: object, what: str) -> list[str]:
    expect(isinstance(result, list),
           f"search_notes should return a list of Note objects, not {type(result).__name__}: "
           f"{what}.")
    assert isinstance(result, list)
    return sorted(note.title for note in result)


def _sanitized(trial: Trial, html: str) -> str:
    output = trial.sanitize_comment(html)
    expect(isinstance(output, str),
           "sanitize_comment should return the cleaned HTML as a str, not "
           f"{type(output).__name__}.")
    return output


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _limited_app(trial: Trial) -> FastAPI:
    # Called once directly first: an unwritten exercise must say "not attempted", not make
    # the app fail in a way a check could mistake for a refusal.
    trial.limited_receive(_no_body, LIMIT)
    def middleware(app: Any, max_bytes: int) -> BodySizeLimit:
        return BodySizeLimit(app, max_bytes, count=trial.limited_receive)

    return trial.app(body_limit=middleware)


def _upload(app: FastAPI, token: str, size: int, *, declare: bool = False,
            chunk: int = 1024) -> Exchange:
    """A note of about ``size`` bytes, as ``size / chunk`` separate body messages."""
    prefix, suffix = b'{"title": "big", "body": "', b'"}'
    chunks = [prefix, *[b"A" * chunk for _ in range(size // chunk)], suffix]
    headers = [("content-type", "application/json"), *bearer(token).items()]
    if declare:
        headers.append(("content-length", str(sum(map(len, chunks)))))
    return run_drive(app, chunks, headers=headers)


def _failed(result: lesson07.AttackResult, hint: str) -> None:
    expect(not result.succeeded, f"{hint} (The attack got: {result.evidence}.)")


# -- registration_model --------------------------------------------------------------------------


@suite.check("the registration model accepts a normal registration")
def model_accepts(trial: Trial) -> None:
    for body in (_good(), _good("dan", "correct horse battery staple"),
                 _good("eve_2", "ünïcödé and spaces are fine 🙂"), _good("frank", "x" * 128)):
        status, locations = _register(trial, body)
        expect(status == 201,
               f"A valid registration ({body['username']!r}, a {len(body['password'])}-character "
               f"password) got HTTP {status} (problems at {locations}). Any characters are "
               "allowed in a password, spaces and emoji included: no composition rules.")


@suite.check("the registration model rejects unknown fields")
def model_forbids(trial: Trial) -> None:
    _refused(trial, {**_good(), "role": "admin"}, 'A body with "role": "admin"',
             'Forbid unknown fields: model_config = ConfigDict(extra="forbid").')


@suite.check("usernames are 3-32 characters of a-z, 0-9 and _")
def model_usernames(trial: Trial) -> None:
    for name, why in (("al", "2 characters"), ("a" * 33, "33 characters"),
                      ("Alice", "an upper-case letter"), ("al ice", "a space"),
                      ("alice!", "a '!'"), ("аlice", "a Cyrillic 'а'"), ("alice\n", "a newline")):
        _refused(trial, _good(name), f"The username {name!r} ({why})",
                 r"Use a pattern that covers the whole name: ^[a-z0-9_]{3,32}$ "
                 "(StringConstraints(pattern=...) or Field(pattern=...)).")


@suite.check("the email must be a valid address")
def model_emails(trial: Trial) -> None:
    for email in ("not-an-email", "alice@", "@example.org", "alice@@example.org"):
        _refused(trial, {**_good(), "email": email}, f"The email {email!r}",
                 "Use pydantic's EmailStr (it needs the email-validator package).")
    body = _good()
    del body["email"]
    _refused(trial, body, "A registration without an email",
             "The contract requires the email: give the field no default.")


@suite.check("passwords are 12-128 characters and not common")
def model_passwords(trial: Trial) -> None:
    _refused(trial, _good("carol_9", "eleven-char"), "An 11-character password",
             "Require at least 12 characters (min_length=12).")
    _refused(trial, _good("carol_9", "y" * 129), "A 129-character password",
             "Allow at most 128 characters (max_length=128): a limit keeps hashing cheap "
             "enough, and 128 is far above anything a person or manager needs.")
    for common in ("password123456", "qwertyuiop123", "Password123456"):
        _refused(trial, _good("carol_9", common), f"The common password {common!r}",
                 "Check the password against the bundled list with "
                 "lessons.validation.is_common_password (it ignores case), in an "
                 "AfterValidator or a field_validator that raises ValueError.")


# -- search_notes --------------------------------------------------------------------------------


@suite.check("search_notes finds the caller's notes, quotes included")
def search_works(trial: Trial) -> None:
    store, _ = _search_store(trial)
    found = _titles(trial.search_notes(store, "mallory", "plan"), "searching 'plan'")
    expect(found == ["mallory's plan"],
           f"mallory searching 'plan' got {found}; expected only her own note "
           "\"mallory's plan\": keep `owner = ?` in the query.")
    found = _titles(trial.search_notes(store, "mallory", "y's p"), "a quote in the text")
    expect(found == ["mallory's plan"],
           f"Searching for text with a quote in it (y's p) got {found}. Pass the text as a "
           "parameter and let SQLite handle the quote.")


@suite.check("search_notes treats % and _ as plain characters")
def search_wildcards(trial: Trial) -> None:
    store, _ = _search_store(trial)
    found = _titles(trial.search_notes(store, "mallory", "%"), "searching '%'")
    expect(found == ["100% done"],
           f"Searching for '%' got {found}; only \"100% done\" contains a '%'. In LIKE, % "
           "and _ are wildcards: escape them (and the escape character) in the pattern and "
           "add ESCAPE '\\' to the query.")
    found = _titles(trial.search_notes(store, "mallory", "e_c"), "searching 'e_c'")
    expect(found == ["snake_case notes"],
           f"Searching for 'e_c' got {found}; '_' must match only an underscore.")


def _search_app(trial: Trial) -> FastAPI:
    store, _ = _search_store(trial)  # try the function directly first (a stub says so here)
    trial.search_notes(store, "mallory", "plan")
    return trial.app(search_notes=trial.search_notes)


@suite.check("attack fails: mallory dumps other users' notes and the users table")
def attack_sql_injection(trial: Trial) -> None:
    with lesson07.stage(_search_app(trial)) as (client, _, token):
        hint = ("The search text still changes the SQL: pass it as a parameter (?) in "
                "store.query(sql, params), never inside the SQL string.")
        _failed(lesson07.run_dump_notes(client, token), hint)
        _failed(lesson07.run_read_users(client, token), hint)


@suite.check("attack fails: injection payloads are plain text, never a 5xx")
def attack_payloads(trial: Trial) -> None:
    with lesson07.stage(_search_app(trial)) as (client, _, token):
        results = lesson07.probe(client, token)
    leaks = [r.payload for r in results if r.leaked]
    errors = [r.payload for r in results if r.status >= 500]
    expect(not leaks, f"These payloads read other users' notes: {leaks[:3]}. Escaping quotes by "
           "hand is not enough; use a parameter.")
    expect(not errors,
           f"These payloads made the service fail with a 5xx: {errors[:3]}. A parameter "
           "carries any text, a NUL character or a backslash included; SQL built from the "
           "text breaks on them.")


# -- sanitize_comment ----------------------------------------------------------------------------


@suite.check("sanitize_comment keeps the allowed formatting")
def sanitize_keeps(trial: Trial) -> None:
    for html in ("<p>Hello <b>bold</b> and <i>italic</i>, <em>em</em> <strong>strong</strong>"
                 "</p>",
                 "<ul><li>one</li></ul><ol><li>two</li></ol><pre><code>x = 1</code></pre>",
                 "line<br>break",
                 '<a href="https://example.org/" title="Example">a link</a>',
                 '<a href="mailto:alice@example.org">mail</a>'):
        output = _sanitized(trial, html)
        expect(output == html,
               f"{html!r} should come back unchanged (every tag and attribute in it is on the "
               f"allow-list), but came back as {output!r}.")


@suite.check("sanitize_comment keeps links to https and mailto only")
def sanitize_protocols(trial: Trial) -> None:
    for html in ('<a href="http://example.org/">x</a>', '<a href="javascript:alert(1)">x</a>',
                 '<a href="data:text/html,hi">x</a>', '<a href="ftp://example.org/">x</a>'):
        output = _sanitized(trial, html)
        findings = executable_markup(output)
        expect(not findings,
               f"{html!r} came back as {output!r}. Give bleach the list of allowed link schemes "
               "(protocols={'https', 'mailto'}): its default also allows http.")


@suite.check("no sanitized payload of the XSS corpus can run script")
def sanitize_corpus(trial: Trial) -> None:
    payloads = xss_corpus()
    result = audit(lambda html: _sanitized(trial, html), payloads)
    if result.unsafe:
        payload, output, findings = result.unsafe[0]
        expect(False, f"{len(result.unsafe)} of {result.payloads} payloads still hold executable "
               f"markup after sanitizing, e.g. {payload!r} -> {output!r} ({findings[0]}). "
               "Remove what is not allowed (an allow-list with bleach.clean), instead of "
               "removing what you know to be bad.")


@suite.check("attack fails: stored XSS through POST /comments")
def attack_stored_xss(trial: Trial) -> None:
    _sanitized(trial, "<b>first, the function on its own</b>")
    app = trial.app(sanitize_html=trial.sanitize_comment)
    with lesson07.stage(app) as (client, _, token):
        _failed(lesson07.run_stored_xss(client, token, xss_corpus()),
                "A stored comment still holds markup that runs script.")


# -- limited_receive -----------------------------------------------------------------------------


@suite.check("the body limit lets ordinary requests through")
def limit_passes(trial: Trial) -> None:
    app = _limited_app(trial)
    with lesson07.stage(app) as (client, _, token):
        response = client.post("/notes", json={"title": "small", "body": "fits"},
                               headers=bearer(token))
        expect(response.status_code == 201,
               f"An ordinary note got HTTP {response.status_code}. Return every message from "
               "the wrapped receive unchanged while the total is within the limit.")
        exchange = _upload(app, token, 8 * 1024)
    expect(exchange.status == 201,
           f"An 8 KiB note in 8 chunks got HTTP {exchange.status} {exchange.error}: count "
           "across chunks, and let bodies up to the limit through.")


@suite.check("the body limit stops a chunked body with no Content-Length")
def limit_chunked(trial: Trial) -> None:
    app = _limited_app(trial)
    with lesson07.stage(app) as (_, _, token):
        exchange = _upload(app, token, 1024 * 1024)  # 1 MiB in 1 KiB chunks, no length
    expect(exchange.status == 413 or not exchange.read_whole_body,
           f"A 1 MiB note without Content-Length was read whole (then answered HTTP "
           f"{exchange.status}): the Content-Length check alone is no limit, since a chunked "
           "body has none. Count the bytes as they arrive.")
    expect(exchange.status == 413,
           f"Got HTTP {exchange.status} {exchange.error}, not 413: raise "
           "lessons.body_limit.BodyTooLarge(max_bytes) when the count passes the limit.")
    expect(not exchange.read_whole_body and exchange.bytes_pulled <= LIMIT + 2048,
           f"The answer was right, but {exchange.bytes_pulled // 1024} KiB were read first. "
           "Raise at the first chunk past the limit, before reading the rest.")


def _registration_model() -> type[BaseModel]:
    return validation.UserCreate


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "registration_model": _registration_model,
    "search_notes": Store.search_notes,
    "sanitize_comment": sanitize.sanitize_comment,
    "limited_receive": limited_receive,
}


def check(**answers: Any) -> Report:
    """Run the lesson-07 checks: ``check(registration_model=..., search_notes=...,
    sanitize_comment=..., limited_receive=...)``."""
    return suite.run(**answers)

