"""Lesson 07: every attack really works on the lesson-06 service and really fails on the
reference layer; the checks pass the solution and the reference, call the stubs not attempted,
and fail plausible wrong answers; the sanitizer judge, the password list, the body limit (in
process and on a real server with a chunked body) and sqlmap behave as the notebook says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import bleach
import nbformat
import pytest
from fastapi.testclient import TestClient
from helpers import run_cli
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from starlette.types import Message, Receive

from lessons import sanitize, validation, wordlists, workbook
from lessons.attacks import lesson07 as attacks
from lessons.attacks.lesson03 import bearer
from lessons.body_limit import BodySizeLimit, BodyTooLarge, run_drive
from lessons.checks import FAILED
from lessons.checks.lesson07 import REFERENCE, suite
from lessons.layers import Layers
from lessons.server import serve_in_background
from lessons.store import Note, Store

NOTEBOOK = "07_validation.ipynb"
BEFORE = 6


def reference_model() -> type[BaseModel]:
    return validation.UserCreate


# -- the attacks: they work on lesson 06 and fail on lesson 07 -----------------------------------


@pytest.mark.parametrize(("upto", "succeeds"), [(BEFORE, True), (7, False)])
def test_sql_injection_dumps_notes_and_users(make_app, upto, succeeds) -> None:
    with attacks.stage(make_app(upto)) as (client, _, token):
        assert attacks.run_dump_notes(client, token).succeeded is succeeds
        assert attacks.run_read_users(client, token).succeeded is succeeds
        result = attacks.run_injection_payloads(client, token)
    assert result.succeeded is succeeds, result.evidence


def test_the_fixed_search_treats_every_payload_as_text(make_app) -> None:
    with attacks.stage(make_app(7)) as (client, _, token):
        results = attacks.probe(client, token)
        own = attacks.search(client, token, "private note")
    assert len(results) >= 15
    assert all(r.status == 200 and r.leaked == 0 for r in results), results
    assert {row["owner"] for row in own.json()} == {"mallory"} and len(own.json()) == 2


@pytest.mark.parametrize(("upto", "succeeds"), [(BEFORE, True), (7, False)])
def test_stored_xss(make_app, upto, succeeds) -> None:
    with attacks.stage(make_app(upto)) as (client, _, token):
        result = attacks.run_stored_xss(client, token, sanitize.xss_corpus())
    assert result.succeeded is succeeds, result.evidence


@pytest.mark.slow
@pytest.mark.parametrize(("upto", "status", "finished"), [(BEFORE, 201, True), (7, 413, False)])
def test_oversized_chunked_body_on_a_real_server(make_app, upto, status, finished) -> None:
    app = make_app(upto)
    with attacks.stage(app) as (_, _, token), serve_in_background(app) as server:
        upload = attacks.upload_big_note(server.url, token, size=1024 * 1024)
    assert (upload.status, upload.body_finished) == (status, finished), upload
    if upto == 7:
        # Answered during the pause, with the body unfinished: never read whole.
        assert upload.bytes_sent <= 128 * 1024


@pytest.mark.slow
def test_an_announced_length_is_refused_before_any_body_byte(make_app) -> None:
    app = make_app(7)
    with attacks.stage(app) as (_, _, token), serve_in_background(app) as server:
        assert attacks.announce_body(server.url, "/notes", bearer(token), 10_000_000) == 413


@pytest.mark.slow
@pytest.mark.parametrize(("upto", "injectable"), [(BEFORE, True), (7, False)])
def test_sqlmap_finds_the_injection_only_before_the_fix(make_app, tmp_path, upto,
                                                        injectable) -> None:
    app = make_app(upto)
    with attacks.stage(app) as (_, _, token), serve_in_background(app) as server:
        run = attacks.run_sqlmap(server.url, token, workdir=str(tmp_path))
    print(f"sqlmap against lesson {upto}: {run.seconds:.1f} s")  # shown with pytest -s
    assert run.injectable is injectable, run.output[-2000:]
    if not injectable:
        assert "all tested parameters do not appear to be injectable" in run.output
    assert run.seconds < 60


# -- the check suite -----------------------------------------------------------------------------


# Plausible wrong answers, each with the check it must fail.


def model_without_forbid() -> type[BaseModel]:
    class UserCreate(BaseModel):
        username: str = Field(pattern=r"^[a-z0-9_]{3,32}$")
        email: EmailStr
        password: str = Field(min_length=12, max_length=128)

    return UserCreate


def model_without_common_check() -> type[BaseModel]:
    class UserCreate(BaseModel):
        model_config = ConfigDict(extra="forbid")
        username: str = Field(pattern=r"^[a-z0-9_]{3,32}$")
        email: EmailStr
        password: str = Field(min_length=12, max_length=128)

    return UserCreate


def model_with_unanchored_pattern() -> type[BaseModel]:
    class UserCreate(validation.UserCreate):
        username: str = Field(pattern=r"[a-z0-9_]{3,32}")  # matches inside "Alice!"

    return UserCreate


def search_formatted(store: Store, owner: str, text: str) -> list[Note]:
    rows = store.query(f"SELECT id, owner, title, body, created_at FROM notes "
                       f"WHERE owner = '{owner}' AND title LIKE '%{text}%' ORDER BY id")
    return [Note(**row) for row in rows]


def search_quotes_doubled(store: Store, owner: str, text: str) -> list[Note]:
    return search_formatted(store, owner, text.replace("'", "''"))


def search_quotes_backslashed(store: Store, owner: str, text: str) -> list[Note]:
    return search_formatted(store, owner, text.replace("'", "\\'"))


def search_without_like_escaping(store: Store, owner: str, text: str) -> list[Note]:
    rows = store.query("SELECT id, owner, title, body, created_at FROM notes "
                       "WHERE owner = ? AND title LIKE ? ORDER BY id", (owner, f"%{text}%"))
    return [Note(**row) for row in rows]


def sanitize_without_protocols(html: str) -> str:
    return bleach.clean(html, tags=sanitize.ALLOWED_TAGS, attributes={"a": ["href", "title"]},
                        strip=True)


def sanitize_escape_everything(html: str) -> str:
    return bleach.clean(html, tags=set(), strip=False)  # safe, but keeps no formatting


def trust_content_length(receive: Receive, max_bytes: int) -> Receive:
    return receive  # "the middleware already checks Content-Length"


def read_all_then_count(receive: Receive, max_bytes: int) -> Receive:
    buffered: list[Message] = []

    async def counted() -> Message:
        if not buffered:
            while True:  # reads the whole body into memory before deciding
                message = await receive()
                buffered.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            if sum(len(m.get("body", b"")) for m in buffered) > max_bytes:
                raise BodyTooLarge(max_bytes)
        return buffered.pop(0)

    return counted


def raise_value_error(receive: Receive, max_bytes: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > max_bytes:
            raise ValueError("too big")
        return message

    return counted


@pytest.mark.parametrize(("wrong", "failing_check"), [
    ({"registration_model": model_without_forbid},
     "the registration model rejects unknown fields"),
    ({"registration_model": model_without_common_check},
     "passwords are 12-128 characters and not common"),
    ({"registration_model": model_with_unanchored_pattern},
     "usernames are 3-32 characters of a-z, 0-9 and _"),
    ({"search_notes": search_formatted},
     "attack fails: mallory dumps other users' notes and the users table"),
    ({"search_notes": search_quotes_backslashed},
     "attack fails: mallory dumps other users' notes and the users table"),
    ({"search_notes": search_quotes_doubled},
     "attack fails: injection payloads are plain text, never a 5xx"),
    ({"search_notes": search_without_like_escaping},
     "search_notes treats % and _ as plain characters"),
    ({"sanitize_comment": sanitize.strip_script_tags},
     "no sanitized payload of the XSS corpus can run script"),
    ({"sanitize_comment": sanitize.strip_script_tags},
     "attack fails: stored XSS through POST /comments"),
    ({"sanitize_comment": sanitize_without_protocols},
     "sanitize_comment keeps links to https and mailto only"),
    ({"sanitize_comment": sanitize_escape_everything},
     "sanitize_comment keeps the allowed formatting"),
    ({"limited_receive": trust_content_length},
     "the body limit stops a chunked body with no Content-Length"),
    ({"limited_receive": read_all_then_count},
     "the body limit stops a chunked body with no Content-Length"),
    ({"limited_receive": raise_value_error},
     "the body limit stops a chunked body with no Content-Length"),
])
def test_checks_fail_plausible_wrong_answers(wrong, failing_check) -> None:
    # Only the check in question runs here (the whole suite takes seconds per answer); the
    # next test shows that a wrong answer fails its own checks and no others.
    report = suite.subset(failing_check).run(record=False, **{**REFERENCE, **wrong})
    assert report.status_of(failing_check) == FAILED, str(report)


def test_a_wrong_answer_fails_only_the_checks_it_is_wrong_for() -> None:
    report = suite.run(record=False, **{**REFERENCE, "search_notes": search_quotes_doubled})
    failed = {o.name for o in report.outcomes if o.status == FAILED}
    # Doubling quotes blocks the classic payloads but not a NUL byte (a 500), and it does
    # nothing about LIKE's wildcards.
    assert failed == {"attack fails: injection payloads are plain text, never a 5xx",
                      "search_notes treats % and _ as plain characters"}, str(report)


def test_a_wrong_answer_gets_a_hint_that_says_what_to_try() -> None:
    name = "the body limit stops a chunked body with no Content-Length"
    only = suite.subset(name)
    hints = {}
    for wrong in (trust_content_length, read_all_then_count, raise_value_error):
        report = only.run(record=False, **{**REFERENCE, "limited_receive": wrong})
        hints[wrong.__name__] = report.outcomes[0].hint
    assert "Count the bytes as they arrive" in hints["trust_content_length"]
    assert "before reading the rest" in hints["read_all_then_count"]
    assert "raise lessons.body_limit.BodyTooLarge" in hints["raise_value_error"]


# -- the body limit, in process ------------------------------------------------------------------


def _note_chunks(size: int, chunk: int = 1024) -> list[bytes]:
    return [b'{"title": "t", "body": "', *([b"A" * chunk] * (size // chunk)), b'"}']


def test_body_limit_refuses_an_announced_length_without_reading(make_app) -> None:
    app = make_app(7)
    with attacks.stage(app) as (_, _, token):
        exchange = run_drive(app, _note_chunks(100 * 1024), headers=[
            ("content-type", "application/json"), ("content-length", str(100 * 1024 + 26)),
            *bearer(token).items()])
    assert exchange.status == 413 and exchange.chunks_pulled == 0


def test_body_limit_stops_a_chunked_body_at_the_limit(make_app) -> None:
    app = make_app(7)
    with attacks.stage(app) as (_, _, token):
        exchange = run_drive(app, _note_chunks(1024 * 1024), headers=[
            ("content-type", "application/json"), *bearer(token).items()])
    assert exchange.status == 413
    assert b"65536" in exchange.body
    assert exchange.bytes_pulled <= 64 * 1024 + 1024


def test_body_limit_lets_a_body_at_the_limit_through(make_app) -> None:
    app = make_app(7)
    with attacks.stage(app) as (client, _, token):
        body = b'{"title": "t", "body": "' + b"A" * 9_000 + b'"}'
        exchange = run_drive(app, [body[i:i + 100] for i in range(0, len(body), 100)],
                             headers=[("content-type", "application/json"),
                                      *bearer(token).items()])
        assert exchange.status == 201, exchange.body
        # A 64 KiB body of a size the routes refuse is a 422 (too long), not a 413.
        big = client.post("/comments", headers=bearer(token),
                          content=b'{"body": "' + b"x" * (64 * 1024 - 12) + b'"}')
        assert big.status_code == 422


def test_body_limit_is_pure_asgi_and_absent_before_lesson_7() -> None:
    assert Layers.upto(BEFORE).body_limit is None
    assert Layers.upto(7).body_limit is BodySizeLimit
    assert not any("BaseHTTPMiddleware" in cls.__name__ for cls in BodySizeLimit.__mro__)


# -- validation: the contract's rules, 4xx never 5xx, no data lost -------------------------------


def _register(client: TestClient, **changes: object) -> int:
    body = {"username": "carol", "email": "carol@example.org",
            "password": "violet-otter-sings-at-dawn", **changes}
    return client.post("/users", json=body).status_code


@pytest.mark.parametrize(("changes", "status"), [
    ({}, 201),
    ({"username": "ab"}, 422), ({"username": "a" * 33}, 422), ({"username": "Carol"}, 422),
    ({"username": "car ol"}, 422), ({"email": "carol"}, 422), ({"email": None}, 422),
    ({"password": "x" * 11}, 422), ({"password": "x" * 128}, 201), ({"password": "x" * 129}, 422),
    ({"password": "password123456"}, 422), ({"password": "qwertyuiop123"}, 422),
    ({"password": "QwertyUIOP123"}, 422), ({"role": "admin"}, 422), ({"is_admin": True}, 422),
])
def test_registration_follows_the_contract(make_app, changes, status) -> None:
    assert _register(TestClient(make_app(7)), **changes) == status


def test_bad_input_gets_a_4xx_and_changes_nothing(make_app) -> None:
    app = make_app(7)
    store = app.state.service.store
    with attacks.stage(app) as (client, _, token):
        json_headers = {**bearer(token), "Content-Type": "application/json"}
        before = (len(store.list_notes("mallory")), len(store.list_comments()),
                  len(store.list_users()))
        responses = [
            client.post("/notes", headers=json_headers, content=b'{"title": "x", "body": '),
            client.post("/notes", headers=json_headers, content=b"[" * 30_000),
            client.post("/notes", headers=json_headers, content=b'{"title": "\xff", "body": ""}'),
            client.post("/notes", headers=json_headers, content=b"null"),
            client.post("/notes", headers=bearer(token), json={"title": 5, "body": []}),
            client.post("/notes", headers=bearer(token), json={"title": "a\nb", "body": ""}),
            client.post("/notes", headers=bearer(token), json={"title": "   ", "body": ""}),
            client.post("/comments", headers=bearer(token), json={"body": ""}),
            client.post("/comments", headers=bearer(token), json={"body": "x", "author": "bob"}),
            client.post("/users", json={"username": "x\x00y", "email": "a@b.c", "password": 1}),
            client.get("/notes/search", headers=bearer(token), params={"q": ""}),
            client.get("/notes/search", headers=bearer(token)),
            client.get("/notes/not-a-number", headers=bearer(token)),
        ]
        after = (len(store.list_notes("mallory")), len(store.list_comments()),
                 len(store.list_users()))
    statuses = [r.status_code for r in responses]
    assert all(400 <= s < 500 for s in statuses), statuses
    assert before == after


def test_notes_and_comments_have_the_contracts_limits(make_app) -> None:
    with attacks.stage(make_app(7)) as (client, _, token):
        def note(title: str, body: str) -> int:
            return client.post("/notes", headers=bearer(token),
                               json={"title": title, "body": body}).status_code

        def comment(body: str) -> int:
            return client.post("/comments", headers=bearer(token), json={"body": body}).status_code

        assert note("t" * 200, "b" * 10_000) == 201
        assert note("t" * 201, "") == 422 and note("", "") == 422
        assert note("t", "b" * 10_001) == 422
        assert comment("c" * 5_000) == 201 and comment("c" * 5_001) == 422
        q = {"q": "x" * 100}
        assert client.get("/notes/search", headers=bearer(token), params=q).status_code == 200
        q = {"q": "x" * 101}
        assert client.get("/notes/search", headers=bearer(token), params=q).status_code == 422


# -- the sanitizer and its judge -----------------------------------------------------------------


def test_the_corpus_is_large_varied_and_documented() -> None:
    corpus = sanitize.xss_corpus()
    assert len(corpus) >= 60 and len(set(corpus)) == len(corpus)
    header = (Path(sanitize.__file__).parent / "data" / "xss_payloads.txt").read_text()
    assert "Source: written for this workbook" in header and "Licence: MIT" in header
    for family in ("<script", "onerror", "javascript:", "&#x6A;", "data:", "<svg", "<math",
                   "\t", "srcdoc", "formaction"):
        assert any(family in payload for payload in corpus), family


@pytest.mark.parametrize("sanitizer", [sanitize.sanitize_comment, sanitize.sanitize_comment_nh3])
def test_both_sanitizers_leave_no_executable_markup(sanitizer) -> None:
    result = sanitize.audit(sanitizer, sanitize.xss_corpus())
    assert result.passed, result.unsafe[:3]


def test_the_vulnerable_variants_leave_executable_markup() -> None:
    corpus = sanitize.xss_corpus()
    assert len(sanitize.audit(sanitize.keep_html, corpus).unsafe) >= 0.8 * len(corpus)
    assert len(sanitize.audit(sanitize.strip_script_tags, corpus).unsafe) >= 0.7 * len(corpus)


@pytest.mark.parametrize(("html", "finding"), [
    ("<script>x</script>", "<script> element"),
    ("<svg><g></g></svg>", "<svg> element"),
    ("<MATH></MATH>", "<math> element"),
    ("<b OnMouseOver=x>b</b>", "onmouseover= event handler"),
    ('<a href="&#106;avascript:x">a</a>', "scheme javascript:"),
    ('<a href="java&#x09;script:x">a</a>', "scheme javascript:"),
    ('<a href="  JaVaScRiPt:x">a</a>', "scheme javascript:"),
    ('<a href="\x01javascript:x">a</a>', "scheme javascript:"),
    ('<a href="data:text/html,x">a</a>', "scheme data:"),
    ('<a href="http://example.org">a</a>', "scheme http:"),
    ('<img src="vbscript:x">', "scheme vbscript:"),
    ('<button formaction="javascript:x">b</button>', "formaction="),
    ("<!--><img src=x onerror=alert(1)>-->", "onerror= event handler"),
])
def test_the_judge_parses_like_a_browser(html, finding) -> None:
    assert any(finding in f for f in sanitize.executable_markup(html)), html


@pytest.mark.parametrize("html", [
    '<p>Hi <a href="https://example.org/?a=1&amp;b=2" title="t">x</a></p>',
    '<a href="mailto:alice@example.org">mail</a>', '<a href="/relative">rel</a>',
    "&lt;script&gt;alert(1)&lt;/script&gt;", "<pre><code>javascript:alert(1)</code></pre>",
    '<a title="javascript:alert(1)">only a title</a>',
])
def test_the_judge_lets_harmless_markup_through(html) -> None:
    assert sanitize.executable_markup(html) == []


# -- the common-password list --------------------------------------------------------------------


def test_the_password_list_is_what_its_recipe_makes() -> None:
    text = wordlists.TARGET.read_text()
    assert text == wordlists.render()
    assert "SecLists" in text and "MIT License" in text and "composed by the workbook" in text
    entries = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(entries) >= 3000  # ASVS 5.0 6.2.4: at least 3,000 that meet the length rule
    assert all(12 <= len(entry) <= 128 and entry == entry.casefold() for entry in entries)
    for example in ("password123456", "qwertyuiop123", "1qaz2wsx3edc"):
        assert validation.is_common_password(example)
    assert not validation.is_common_password("violet-otter-sings-at-dawn")


def test_the_command_line_uses_the_same_password_policy(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    common = run_cli("users", "add", "carol", stdin="Password123456\n")
    assert common.returncode == 2 and "commonly used" in common.stderr
    bad_email = run_cli("users", "add", "carol", "--email", "carol@", stdin="x\n")
    assert bad_email.returncode == 2 and "not a valid email" in bad_email.stderr
    good = run_cli("users", "add", "carol", "--email", "carol@example.org",
                   stdin="violet-otter-sings-at-dawn\n")
    assert good.returncode == 0, good.stderr


# -- errata ----------------------------------------------------------------------------------------


def test_emailstr_without_email_validator_fails_as_the_notebook_says() -> None:
    code = ("import sys\nsys.modules['email_validator'] = None\n"
            "from pydantic import BaseModel, EmailStr\n"
            "class Signup(BaseModel):\n    email: EmailStr\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0
    assert re.search(r"ImportError: email-validator is not installed", done.stderr)


def test_the_solution_notebook_prints_no_password() -> None:
    nb = nbformat.read(workbook.SOLUTIONS / NOTEBOOK, as_version=4)
    outputs = json.dumps([cell.outputs for cell in nb.cells if cell.cell_type == "code"])
    for secret in ("alice-demo-passphrase", "bob-demo-passphrase", "mallory-demo-passphrase",
                   "correct horse battery staple", "violet-otter-sings", "password123456"):
        assert secret not in outputs
