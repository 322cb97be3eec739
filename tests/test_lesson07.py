"""Lesson 07: the layer itself, beyond what tests/test_attacks.py (every attack both ways) and
tests/test_check_suites.py (the checks, the rules and the wrong answers) already prove: the
contract's limits and formats, 4xx never 5xx, the comment pages and the posting quota (across
workers too), the visible-text rule over all of Unicode, the sanitizer judge and the corpus,
the password policy on every way in, the body limit in process and on a real server, sqlmap,
and the errata."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import unicodedata
from pathlib import Path
from typing import Annotated

import nbformat
import pytest
from fastapi import Query
from fastapi.testclient import TestClient
from helpers import run_cli

from lessons import comment_limits, sanitize, validation, wordlists, workbook
from lessons.attacks import ATTACKER, VICTIM, Scene, Variant
from lessons.attacks import lesson07 as attacks
from lessons.attacks.lesson03 import bearer
from lessons.body_limit import BodySizeLimit, run_drive
from lessons.comment_limits import Page
from lessons.layers import Layers
from lessons.settings import Settings
from lessons.store import OverQuota, Store

NOTEBOOK = "07_validation.ipynb"
BEFORE = 6


@pytest.fixture
def scene(tmp_path: Path):
    """The lesson-07 reference with its cast; tests that need other settings make their own."""
    with Scene(Variant(7), folder=tmp_path) as made:
        yield made


def _scene(tmp_path: Path, upto: int = 7, **settings: object) -> Scene:
    return Scene(Variant(upto, settings=settings), folder=tmp_path)


# -- SQL ---------------------------------------------------------------------------------------


def test_the_fixed_search_treats_every_payload_as_text(scene: Scene) -> None:
    token = scene.token(ATTACKER)
    results = attacks.probe(scene.client, token)
    own = attacks.search(scene.client, token, "private note")
    assert len(results) >= 15
    assert all(r.status == 200 and r.leaked == 0 for r in results), results
    assert [row["owner"] for row in own.json()] == [ATTACKER]


@pytest.mark.slow
def test_sqlmap_finds_nothing_in_the_reference_within_a_minute(tmp_path: Path) -> None:
    # That it finds the injection before the fix is tests/test_attacks.py's 07-sqlmap.
    with _scene(tmp_path) as scene:
        server = scene.serve()
        run = attacks.run_sqlmap(server.url, scene.token(ATTACKER), workdir=str(tmp_path / "s"))
    print(f"sqlmap against lesson 7: {run.seconds:.1f} s")  # shown with pytest -s
    assert not run.injectable
    assert "all tested parameters do not appear to be injectable" in run.output
    assert run.seconds < 60


# -- the body limit ----------------------------------------------------------------------------


def _note_chunks(size: int, chunk: int = 1024) -> list[bytes]:
    return [b'{"title": "t", "body": "', *([b"A" * chunk] * (size // chunk)), b'"}']


def _json_headers(scene: Scene) -> list[tuple[str, str]]:
    return [("content-type", "application/json"), *bearer(scene.token(ATTACKER)).items()]


def test_body_limit_refuses_an_announced_length_without_reading(scene: Scene) -> None:
    exchange = run_drive(scene.app, _note_chunks(100 * 1024), headers=[
        *_json_headers(scene), ("content-length", str(100 * 1024 + 26))])
    assert exchange.status == 413 and exchange.chunks_pulled == 0


def test_body_limit_stops_a_chunked_body_at_the_limit(scene: Scene) -> None:
    exchange = run_drive(scene.app, _note_chunks(1024 * 1024), headers=_json_headers(scene))
    assert exchange.status == 413
    assert b"65536" in exchange.body
    assert exchange.bytes_pulled <= 64 * 1024 + 1024


def test_body_limit_lets_a_body_at_the_limit_through(scene: Scene) -> None:
    body = b'{"title": "t", "body": "' + b"A" * 9_000 + b'"}'
    exchange = run_drive(scene.app, [body[i:i + 100] for i in range(0, len(body), 100)],
                         headers=_json_headers(scene))
    assert exchange.status == 201, exchange.body
    # A 64 KiB body of a size the routes refuse is a 422 (too long), not a 413.
    big = scene.client.post("/comments", headers=bearer(scene.token(ATTACKER)),
                            content=b'{"body": "' + b"x" * (64 * 1024 - 12) + b'"}')
    assert big.status_code == 422


def test_body_limit_is_pure_asgi_and_absent_before_lesson_7() -> None:
    assert Layers.upto(BEFORE).body_limit is None
    assert Layers.upto(7).body_limit is BodySizeLimit
    assert not any("BaseHTTPMiddleware" in cls.__name__ for cls in BodySizeLimit.__mro__)


@pytest.mark.slow
def test_a_chunked_body_is_refused_unfinished_on_a_real_server(scene: Scene) -> None:
    server = scene.serve()
    upload = attacks.upload_big_note(server.url, scene.token(ATTACKER), size=1024 * 1024)
    # Answered during the pause, with the body unfinished: never read whole.
    assert (upload.status, upload.body_finished) == (413, False), upload
    assert upload.bytes_sent <= 128 * 1024


@pytest.mark.slow
def test_an_announced_length_is_refused_before_any_body_byte(scene: Scene) -> None:
    server = scene.serve()
    token = scene.token(ATTACKER)
    assert attacks.announce_body(server.url, "/notes", bearer(token), 10_000_000) == 413


# -- validation: the contract's rules, 4xx never 5xx, no data lost -----------------------------

# 128 characters, no pattern, no context word.
LONG = ("plum kettles hum beside three sleepy otters; a violet tram waits while gulls argue "
        "over chips near the harbour wall until dusk, then")[:128]


def _register(scene: Scene, **changes: object) -> int:
    body = {"username": "carol", "email": "carol@example.org",
            "password": "violet-otter-sings-at-dawn", **changes}
    return scene.client.post("/users", json=body).status_code


@pytest.mark.parametrize(("changes", "status"), [
    ({}, 201),
    ({"username": "ab"}, 422), ({"username": "a" * 33}, 422), ({"username": "Carol"}, 422),
    ({"username": "car ol"}, 422), ({"username": "\u202enimda"}, 422),
    ({"email": "carol"}, 422), ({"email": None}, 422),
    ({"password": "x" * 11}, 422), ({"password": LONG}, 201), ({"password": LONG + "!"}, 422),
    ({"password": "password123456"}, 422), ({"password": "qwertyuiop123"}, 422),
    ({"password": "QwertyUIOP123"}, 422), ({"role": "admin"}, 422), ({"is_admin": True}, 422),
    # NIST SP 800-63B: context words and trivial patterns.
    ({"password": "carol-rocks-2024!"}, 422), ({"password": "CAROL_is_here_99"}, 422),
    ({"email": "dora.ortiz@example.org", "password": "Dora.Ortiz 1987"}, 422),
    ({"password": "my notes are private"}, 422), ({"password": "x" * 128}, 422),
    ({"password": "abcdefghijklmnop"}, 422), ({"password": "1234abcd5678"}, 422),
    ({"password": "cat" * 5}, 422),
    # A password that merely contains a run or a repeat is fine (no composition rules).
    ({"password": "aaa 123 violet otters"}, 201),
])
def test_registration_follows_the_contract(scene: Scene, changes, status) -> None:
    assert _register(scene, **changes) == status


def test_a_refused_password_says_why_and_never_repeats_it(scene: Scene) -> None:
    for password, reason in (("carol-rocks-2024!", "your username"),
                             ("my notes are private", "the service's name"),
                             ("abcdefghijklmnop", "repeated or consecutive")):
        body = {"username": "carol", "email": "carol@example.org", "password": password}
        problems = scene.client.post("/users", json=body).json()["detail"]
        [problem] = [p for p in problems if p["loc"] == ["body", "password"]]
        assert reason in problem["msg"] and "NIST SP 800-63B" in problem["msg"]
        assert password not in problem["msg"]


def test_password_problems_is_a_plain_function_for_every_way_in() -> None:
    problems = validation.password_problems
    assert problems("amber falcon drifts south", username="carol", email="carol@x.org") == []
    assert problems("amber falcon drifts south") == []  # no context known: patterns only
    [found] = problems("Carol.Lee-4ever!", username="carol_lee", email="carol.lee@example.org")
    assert "your username and the name part of your e-mail address" in found
    assert "Carol" not in found
    # Case and separators do not hide a word; words shorter than 3 are not context.
    assert problems("xX-C-A-R-O-L-Xx-11", username="carol")
    assert not problems("ab-was-here-1999", username="ab", email="ab@example.org")
    assert validation.is_trivial_pattern("zyxwvutsrqpo") and validation.is_trivial_pattern("9" * 40)
    assert not validation.is_trivial_pattern("correct horse battery staple")


def test_bad_input_gets_a_4xx_and_changes_nothing(scene: Scene) -> None:
    store, client = scene.store, scene.client
    token = scene.token(ATTACKER)
    json_headers = {**bearer(token), "Content-Type": "application/json"}
    before = (len(store.list_notes(ATTACKER)), len(store.list_comments()),
              len(store.list_users()))
    responses = [
        client.post("/notes", headers=json_headers, content=b'{"title": "x", "body": '),
        client.post("/notes", headers=json_headers, content=b"[" * 30_000),
        client.post("/notes", headers=json_headers, content=b'{"title": "\xff", "body": ""}'),
        client.post("/notes", headers=json_headers, content=b"null"),
        client.post("/notes", headers=bearer(token), json={"title": 5, "body": []}),
        client.post("/notes", headers=bearer(token), json={"title": "a\nb", "body": ""}),
        client.post("/notes", headers=bearer(token), json={"title": "a\u202eb", "body": ""}),
        client.post("/notes", headers=bearer(token), json={"title": "   ", "body": ""}),
        client.post("/comments", headers=bearer(token), json={"body": ""}),
        client.post("/comments", headers=bearer(token), json={"body": "x", "author": "bob"}),
        client.post("/users", json={"username": "x\x00y", "email": "a@b.c", "password": 1}),
        client.get("/notes/search", headers=bearer(token), params={"q": ""}),
        client.get("/notes/search", headers=bearer(token)),
        client.get("/notes/not-a-number", headers=bearer(token)),
        client.get("/comments", params={"limit": "many"}),
        client.get("/comments", params={"before": -5}),
    ]
    after = (len(store.list_notes(ATTACKER)), len(store.list_comments()),
             len(store.list_users()))
    statuses = [r.status_code for r in responses]
    assert all(400 <= s < 500 for s in statuses), statuses
    assert before == after


def test_notes_and_comments_have_the_contracts_limits(scene: Scene) -> None:
    token = scene.token(ATTACKER)
    client = scene.client

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


# -- text that shows what it holds -------------------------------------------------------------


def test_visible_text_refuses_every_character_of_the_four_categories() -> None:
    """By category, so also the ones nobody lists: every Cc, Cf, Zl and Zp code point this
    Python's Unicode database knows, and nothing else."""
    refused = kept = 0
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category in {"Cs", "Cn", "Co"}:
            continue  # surrogates cannot travel in JSON text; unassigned and private-use
        invisible = category in validation.INVISIBLE_CATEGORIES
        if not invisible and code % 37:
            continue  # every invisible one, and a sample of the others
        try:
            validation.visible_text(f"a{char}b")
        except ValueError:
            assert invisible, hex(code)
            refused += 1
        else:
            assert not invisible, hex(code)
            kept += 1
    assert refused > 200 and kept > 3_000


@pytest.mark.parametrize(("title", "status"), [
    ("invoice\u202efdp.exe", 422), ("pay\u200bpal", 422), ("x\U000e0041y", 422),
    ("a\ufff9b", 422), ("one\u2029two", 422), ("one\x85two", 422),
    ("Café — 10\u00a0km 🙂", 201), ("ملاحظات الاجتماع", 201), ("会议记录", 201),
])
def test_note_titles_refuse_invisible_and_direction_changing_characters(scene, title,
                                                                       status) -> None:
    response = scene.client.post("/notes", json={"title": title, "body": ""},
                                 headers=bearer(scene.token(ATTACKER)))
    assert response.status_code == status, response.text


# -- the comments: pages and a posting quota ---------------------------------------------------


def _seed(scene: Scene, count: int) -> list[int]:
    attacks.seed_comments(scene.store, [VICTIM, ATTACKER], count=count, size=30)
    return [comment.id for comment in scene.store.list_comments()]


def test_comments_come_newest_first_a_page_at_a_time(scene: Scene) -> None:
    ids = _seed(scene, 45)
    first = scene.client.get("/comments")
    assert [c["id"] for c in first.json()] == ids[:20]
    seen, path = [], "/comments"
    while path:
        page = scene.client.get(path)
        seen += [c["id"] for c in page.json()]
        found = re.search(r'<([^>]+)>; rel="next"', page.headers.get("link", ""))
        path = found[1] if found else ""
    assert seen == ids  # every comment once, newest first, by following Link
    assert [c["id"] for c in scene.client.get("/comments", params={"limit": 100}).json()] == ids
    for limit in (0, -1, 101, 10**9):
        assert scene.client.get("/comments", params={"limit": limit}).status_code == 422


def test_comment_pages_are_documented_in_openapi(scene: Scene) -> None:
    paths = scene.app.openapi()["paths"]["/comments"]
    parameters = {p["name"]: p for p in paths["get"]["parameters"]}
    limit = parameters["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 20)
    assert "Cursor" in parameters["before"]["description"]
    assert "Link" in paths["get"]["responses"]["200"]["headers"]
    assert "Retry-After" in paths["post"]["responses"]["429"]["headers"]


def test_the_posting_quota_is_per_author_and_says_when_to_retry(tmp_path: Path) -> None:
    with _scene(tmp_path, comment_quota=3, comment_quota_seconds=600) as scene:
        token = scene.token(ATTACKER)
        statuses = [attacks.post_comment(scene.client, token, f"c{n}") for n in range(4)]
        assert [r.status_code for r in statuses] == [201, 201, 201, 429]
        assert 590 <= int(statuses[-1].headers["retry-after"]) <= 600
        assert "At most 3 comments per 600 seconds" in statuses[-1].json()["detail"]
        assert attacks.post_comment(scene.client, scene.token(VICTIM), "x").status_code == 201
        # Once the oldest comment is older than the window, one more is allowed.
        old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 601))
        oldest = min(c.id for c in scene.store.list_comments() if c.author == ATTACKER)
        scene.store.query("UPDATE comments SET created_at = ? WHERE id = ?", (old, oldest))
        assert attacks.post_comment(scene.client, token, "again").status_code == 201
        assert attacks.post_comment(scene.client, token, "too many").status_code == 429


def test_the_quota_holds_across_workers(tmp_path: Path) -> None:
    """Two workers are two connections to one database file: eight posts at once for one
    author, with a quota of 5, store exactly 5."""
    settings = Settings.from_env(data_dir=tmp_path / "data")
    workers = [Store(settings.database) for _ in range(2)]
    workers[0].add_user(ATTACKER, "not-a-real-hash")
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def post(store: Store) -> None:
        start.wait()
        try:
            store.add_comment_within(ATTACKER, "spam", 600, lambda times, now:
                                     comment_limits.quota_wait(times, now, 5, 600))
            outcomes.append("stored")
        except OverQuota:
            outcomes.append("refused")

    threads = [threading.Thread(target=post, args=(workers[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 3 + ["stored"] * 5
    assert len(workers[1].list_comments()) == 5
    for store in workers:
        store.close()


def test_the_quota_is_configured_from_the_environment() -> None:
    settings = Settings.from_env({"LESSONS_COMMENT_QUOTA": "7",
                                  "LESSONS_COMMENT_QUOTA_SECONDS": "60"})
    assert (settings.comment_quota, settings.comment_quota_seconds) == (7, 60)
    assert (Settings().comment_quota, Settings().comment_quota_seconds) == (20, 600)


# -- the sanitizer and its judge ---------------------------------------------------------------


def test_the_corpus_is_large_varied_and_documented() -> None:
    corpus = sanitize.xss_corpus()
    assert len(corpus) >= 120 and len(set(corpus)) == len(corpus)
    payloads = Path(sanitize.__file__).parent / "data" / "xss_payloads.txt"
    header = payloads.read_text(encoding="utf-8")
    assert "Source: written for this workbook" in header and "Licence: MIT" in header
    for family in ("<script", "onerror", "javascript:", "&#x6A;", "data:", "<svg", "<math",
                   "\t", "srcdoc", "formaction", '"//evil', "\\\\evil", "/\\evil", "&#x2F;",
                   "&sol;", "blob:", "&Tab;"):
        assert any(family in payload for payload in corpus), family


@pytest.mark.parametrize("sanitizer", [sanitize.sanitize_comment, sanitize.sanitize_comment_nh3])
def test_both_sanitizers_leave_no_executable_markup(sanitizer) -> None:
    result = sanitize.audit(sanitizer, sanitize.xss_corpus())
    assert result.passed, result.unsafe[:3]


def test_both_sanitizers_keep_nothing_off_the_list() -> None:
    corpus = sanitize.xss_corpus()
    assert not [p for p in corpus if sanitize.outside_allow_list(sanitize.sanitize_comment(p))]
    # nh3 adds rel="noopener noreferrer" to links, on purpose; nothing else.
    extra = {finding for payload in corpus
             for finding in sanitize.outside_allow_list(sanitize.sanitize_comment_nh3(payload))}
    assert extra <= {"rel= on <a>"}


def test_the_vulnerable_variants_leave_executable_markup() -> None:
    corpus = sanitize.xss_corpus()
    assert len(sanitize.audit(sanitize.keep_html, corpus).unsafe) >= 0.8 * len(corpus)
    assert len(sanitize.audit(sanitize.strip_script_tags, corpus).unsafe) >= 0.7 * len(corpus)
    # The first version of this lesson's sanitizer: no script, but links to any host.
    first = sanitize.audit(sanitize.sanitize_schemes_only, corpus).unsafe
    assert first and all("relative link" in f for _, _, findings in first for f in findings)
    assert any(payload.startswith('<a href="//evil') for payload, _, _ in first)


def test_the_reference_stores_nothing_that_runs_from_the_whole_corpus(tmp_path: Path) -> None:
    with _scene(tmp_path, comment_quota=10_000) as scene:
        result = attacks.run_stored_xss(scene.client, scene.token(ATTACKER),
                                        sanitize.xss_corpus())
    assert not result.succeeded and "refused" not in result.evidence, result.evidence


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
    ('<a href="//evil.example/">a</a>', "relative link"),
    ('<a href="\\\\evil.example/">a</a>', "relative link"),
    ('<a href="&#x2F;/evil.example/">a</a>', "relative link"),
    ('<a href="/relative">rel</a>', "relative link"),
])
def test_the_judge_parses_like_a_browser(html, finding) -> None:
    assert any(finding in f for f in sanitize.executable_markup(html)), html


@pytest.mark.parametrize("html", [
    '<p>Hi <a href="https://example.org/?a=1&amp;b=2" title="t">x</a></p>',
    '<a href="mailto:alice@example.org">mail</a>', '<a href=" HTTPS://example.org/">spaces</a>',
    "&lt;script&gt;alert(1)&lt;/script&gt;", "<pre><code>javascript:alert(1)</code></pre>",
    '<a title="javascript:alert(1)">only a title</a>',
])
def test_the_judge_lets_harmless_markup_through(html) -> None:
    assert sanitize.executable_markup(html) == []


@pytest.mark.parametrize(("html", "finding"), [
    ('<p id="x">t</p>', "id= on <p>"), ('<b title="t">b</b>', "title= on <b>"),
    ('<img src="https://example.org/x.png">', "<img>"), ('<a href="https://x" rel="x">a</a>',
                                                         "rel= on <a>"),
    ("<body onload=x>", "onload= on <body>"), ("<span>s</span>", "<span>"),
])
def test_the_allow_list_judge_names_what_the_list_does_not(html, finding) -> None:
    assert finding in sanitize.outside_allow_list(html)
    assert sanitize.outside_allow_list('<p>x <a href="https://x" title="t">y</a></p>') == []


# -- the common-password list ------------------------------------------------------------------


def test_the_password_list_is_what_its_recipe_makes() -> None:
    text = wordlists.TARGET.read_text(encoding="utf-8")
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
    context = run_cli("users", "add", "carol", "--email", "dora.ortiz@example.org",
                      stdin="Dora.Ortiz-1987\n")
    assert context.returncode == 2 and "e-mail address" in context.stderr
    assert "Dora.Ortiz-1987" not in context.stdout + context.stderr
    pattern = run_cli("users", "add", "carol", stdin="abcdefghijklmnop\n")
    assert pattern.returncode == 2 and "consecutive" in pattern.stderr
    good = run_cli("users", "add", "carol", "--email", "carol@example.org",
                   stdin="violet-otter-sings-at-dawn\n")
    assert good.returncode == 0, good.stderr


# -- errata ------------------------------------------------------------------------------------


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
    for secret in ("correct horse battery staple", "violet-otter-sings", "password123456",
                   "carol_lee-2024!"):
        assert secret not in outputs



def unbounded_page(limit: Annotated[int, Query(ge=1, le=100)] = 20,
                   before: Annotated[int | None, Query(ge=1)] = None) -> Page:
    """Page parameters with no upper bound on the cursor (module level: FastAPI must resolve
    its annotations, which this module's postponed annotations keep as text)."""
    return Page(limit, before)


def test_a_cursor_past_what_sqlite_holds_is_a_422_never_a_500(make_app) -> None:
    """Found by the schema-driven fuzzer: an unbounded cursor overflowed inside the driver."""
    for upto in (7, "final"):
        client = TestClient(make_app(upto), raise_server_exceptions=False)
        assert client.get("/comments", params={"before": 2**70}).status_code == 422
    # A learner's page parameters without the upper bound: the store answers a first page.
    client = TestClient(make_app(7, comment_page=unbounded_page), raise_server_exceptions=False)
    assert client.get("/comments", params={"before": 2**70}).status_code == 200
