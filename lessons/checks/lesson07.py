"""Lesson 07 checks: the registration model, the visible-text rule, the parameterized search,
the comment sanitizer, the comment page and quota, and the counting receive wrapper, each on
its own and then plugged into its seam of the lesson-07 service, where the lesson's attacks
must fail.

Each check plugs in only the answer it is about (every other seam keeps its reference), and
gives every other input a valid value, so that it fails for the reason it names.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from lessons import comment_limits, sanitize, validation
from lessons.attacks import ATTACKER, VICTIM, Scene, Variant, new_password
from lessons.attacks import lesson07 as attacks
from lessons.attacks.lesson03 import bearer
from lessons.body_limit import BodySizeLimit, Exchange, limited_receive, run_drive
from lessons.checks import Report, Rule, Suite, Trial, WrongAnswer, expect, expect_type
from lessons.checks import wrong_lesson07 as wrong
from lessons.sanitize import audit, executable_markup, outside_allow_list, xss_corpus
from lessons.store import Store

suite = Suite(7, "Validation and sanitization")

LIMIT = 64 * 1024
# High enough that the posting quota never hides what a sanitizer does with the whole corpus.
NO_QUOTA = {"comment_quota": 10_000}


# -- helpers -----------------------------------------------------------------------------------


@contextmanager
def _scene(trial: Trial, settings: dict[str, Any] | None = None, **seams: Any) -> Iterator[Scene]:
    """The lesson-07 service with the learner's seams, its cast seeded, in the trial's folder."""
    with Scene(Variant(7, seams=seams, settings=settings or NO_QUOTA), folder=trial.root) as scene:
        yield scene


def _failed(result: attacks.AttackResult, hint: str) -> None:
    expect(not result.succeeded, f"{hint} (The attack got: {result.evidence}.)")


# -- registration_model ------------------------------------------------------------------------


def _model(trial: Trial) -> type[BaseModel]:
    model = trial.registration_model()
    expect(isinstance(model, type) and issubclass(model, BaseModel),
           f"Your registration_model returned {type(model).__name__}; it should return the "
           "model class itself (`return UserCreate`).")
    return model


def _register(trial: Trial, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """Status and the problems (location and message, never the submitted value: FastAPI's
    422 echoes it, which lesson 08 fixes) of one registration against the service with the
    learner's model."""
    client = TestClient(trial.app(user_model=_model(trial)), raise_server_exceptions=False)
    response = client.post("/users", json=body)
    problems = [{"loc": tuple(e.get("loc", ())), "msg": str(e.get("msg", ""))}
                for e in response.json().get("detail", [])] if response.status_code == 422 else []
    return response.status_code, problems


def _good(username: str = "carol_9", password: str | None = None,
          email: str | None = None) -> dict[str, str]:
    """A valid registration (a random password unless one is given)."""
    return {"username": username, "email": email or f"{username}@example.org",
            "password": password or new_password()}


def _refused(trial: Trial, body: dict[str, Any], what: str, hint: str) -> None:
    status, _ = _register(trial, body)
    expect(status != 201, f"{what} was accepted. {hint}")
    expect(status == 422, f"{what} got HTTP {status}; a validation error should be a 422. "
           "Raise ValueError inside a validator (pydantic turns it into a 422), never another "
           "exception.")


# 128 characters of ordinary words: long, but no pattern and no context word.
LONG_PASSPHRASE = ("quiet rivers carry old maps past seven crooked lighthouses while a "
                   "bored heron counts pebbles under the tin bridge at dusk, humming")[:128]


@suite.check("model_accepts", "registration_model: accepts a normal registration")
def model_accepts(trial: Trial) -> None:
    for body in (_good(), _good("dan", "correct horse battery staple"),
                 _good("eve_2", "ünïcödé and spaces are fine 🙂"), _good("gil_12", "pale-kiwi-37"),
                 _good("frank", LONG_PASSPHRASE)):
        status, problems = _register(trial, body)
        expect(status == 201,
               f"A valid registration ({body['username']!r}, a {len(body['password'])}-character "
               f"password) got HTTP {status} (problems at {[p['loc'] for p in problems]}). Any "
               "characters are allowed in a password, spaces and emoji included, from 12 up to "
               "128 of them; no composition rules such as 'one digit'.")


@suite.check("model_forbids", "registration_model: refuses unknown fields")
def model_forbids(trial: Trial) -> None:
    _refused(trial, {**_good(), "role": "admin"}, 'A body with "role": "admin"',
             'Forbid unknown fields: model_config = ConfigDict(extra="forbid"); "ignore" drops '
             "them silently, and the client never learns that it cannot choose its role.")


@suite.check("model_usernames", "registration_model: usernames are 3-32 of a-z, 0-9 and _")
def model_usernames(trial: Trial) -> None:
    for name, why in (("al", "2 characters"), ("a" * 33, "33 characters"),
                      ("Alice", "an upper-case letter"), ("al ice", "a space"),
                      ("alice!", "a '!'"), ("аlice", "a Cyrillic 'а'"), ("alice\n", "a newline")):
        _refused(trial, _good(name), f"The username {name!r} ({why})",
                 r"Use a pattern that covers the whole name, with exactly these characters: "
                 r"^[a-z0-9_]{3,32}$ (\w takes upper case and every script's letters).")


@suite.check("model_emails", "registration_model: the email must be a valid address")
def model_emails(trial: Trial) -> None:
    for email in ("not-an-email", "alice@", "@example.org", "alice@@example.org"):
        _refused(trial, _good(email=email), f"The email {email!r}",
                 "Use pydantic's EmailStr (it needs the email-validator package).")
    body = _good()
    del body["email"]
    _refused(trial, body, "A registration without an email",
             "The contract requires the email: give the field no default.")


@suite.check("model_password_length", "registration_model: passwords are 12 to 128 characters")
def model_password_length(trial: Trial) -> None:
    _refused(trial, _good(password="pale-kiwi-3"), "An 11-character password",  # noqa: S106
             "Require at least 12 characters (min_length=12).")
    _refused(trial, _good(password=LONG_PASSPHRASE + "z"), "A 129-character password",
             "Allow at most 128 characters (max_length=128): a limit keeps hashing cheap "
             "enough, and 128 is far above anything a person or manager needs.")


@suite.check("model_password_common", "registration_model: common passwords are refused")
def model_password_common(trial: Trial) -> None:
    for common in ("password123456", "qwertyuiop123", "Password123456"):
        _refused(trial, _good(password=common), f"The common password {common!r}",
                 "Check the password against the bundled list with "
                 "lessons.validation.is_common_password (it ignores case), in an "
                 "AfterValidator or a field_validator that raises ValueError.")


@suite.check("model_password_context",
             "registration_model: passwords made of the username, e-mail or service refused")
def model_password_context(trial: Trial) -> None:
    hint = ("A field_validator('password') sees the fields declared before it in info.data: "
            "declare username and email first, and pass both to "
            "lessons.validation.password_problems(password, username=..., email=...).")
    for body, what in (
            (_good("carol_lee", "carol_lee-2024!"), "the username"),
            (_good("carol_lee", "Carol-Lee rocks 99"), "the username, in other case and "
             "separators"),
            (_good("gil_12", "Maria.Gonzalez-1990", "maria.gonzalez@example.org"),
             "the name part of the e-mail address"),
            (_good("hank_7", "my notes are private"), "the service's name")):
        _refused(trial, body, f"A password made of {what}", hint)


@suite.check("model_password_pattern",
             "registration_model: trivially repetitive or sequential passwords refused")
def model_password_pattern(trial: Trial) -> None:
    for password in ("abcdefghijklmnop", "7777777777777777", "abcabcabcabcabc", "1234abcd5678"):
        _refused(trial, _good(password=password), f"The password {password!r}",
                 "Refuse a whole password that is one unit repeated or a few runs of "
                 "consecutive characters: lessons.validation.password_problems says so.")


@suite.check("model_no_echo", "registration_model: a refusal never repeats the password")
def model_no_echo(trial: Trial) -> None:
    for password in ("carol_9-was-here", "Password123456", "abcdefghijklmnop", "pale-kiwi-3"):
        _, problems = _register(trial, _good(password=password))
        echoed = [p["loc"] for p in problems if password in p["msg"]]
        expect(not echoed,
               f"The message at {echoed[0] if echoed else ''} repeats the password. Say what is "
               "wrong without it: the answer may be logged or shown on screen.")


# -- visible_text ------------------------------------------------------------------------------

VISIBLE = ("Plain title", "Café crème brûlée", "会议记录", "ملاحظات الاجتماع", "עברית ומספרים 123",
           "emoji 🙂🎉", "10\u00a0km, no-break space", "naïve “quotes” — dash")
# (character, what it is): one of each kind the rule is about, none of the everyday ones.
INVISIBLE = (("\x00", "NUL"), ("\t", "a tab"), ("\x1b", "ESC"), ("\x7f", "DEL"),
             ("\x85", "NEXT LINE (a C1 control)"), ("\u202e", "RIGHT-TO-LEFT OVERRIDE"),
             ("\u2067", "RIGHT-TO-LEFT ISOLATE"), ("\u200e", "LEFT-TO-RIGHT MARK"),
             ("\u061c", "ARABIC LETTER MARK"), ("\u200b", "ZERO WIDTH SPACE"),
             ("\u2060", "WORD JOINER"), ("\u00ad", "SOFT HYPHEN"), ("\ufeff", "BYTE ORDER MARK"),
             ("\U000e0041", "TAG LATIN CAPITAL LETTER A"), ("\u2028", "LINE SEPARATOR"),
             ("\u2029", "PARAGRAPH SEPARATOR"))


@suite.check("visible_keeps", "visible_text: returns ordinary text of any script unchanged")
def visible_keeps(trial: Trial) -> None:
    hint = ("Only the categories Cc, Cf, Zl and Zp are refused; a no-break space (Zs), "
            "accents, Arabic, Hebrew, Chinese and emoji are ordinary text (str.isprintable() "
            "refuses more than that).")
    for text in VISIBLE:
        try:
            result = trial.visible_text(text)
        except ValueError as error:
            expect(False, f"{text!r} was refused ({error}). {hint}")
        expect_type(result, str, "visible_text", "the text itself, unchanged")
        expect(result == text, f"{text!r} came back as {result!r}: return ordinary text as it "
               f"is. {hint}")


@suite.check("visible_refuses", "visible_text: refuses invisible and direction-changing "
             "characters (Cc, Cf, Zl, Zp)")
def visible_refuses(trial: Trial) -> None:
    for char, what in INVISIBLE:
        text = f"report{char}final"
        try:
            result = trial.visible_text(text)
        except ValueError:
            continue
        expect(False, f"Text with U+{ord(char):04X} {what} (category "
               f"{unicodedata.category(char)}) came back as {result!r} instead "
               "of raising ValueError. Judge each character by "
               "unicodedata.category(char), not by a list of code points, and refuse: never "
               "remove the character and go on.")


@suite.check("attack_disguised_titles",
             "attack fails: note titles that show something else are refused (422)")
def attack_disguised_titles(trial: Trial) -> None:
    trial.visible_text("first, the function on its own")
    with _scene(trial, note_model=validation.note_model_with(trial.visible_text)) as scene:
        token = scene.token(ATTACKER)
        for what, title in attacks.DISGUISED_TITLES:
            status = scene.client.post("/notes", json={"title": title, "body": "x"},
                                       headers=bearer(token)).status_code
            expect(status == 422,
                   f"A title with {what} got HTTP {status}, not 422. Raise ValueError (pydantic "
                   "turns only ValueError and AssertionError into a 422; anything else is a "
                   "500), and refuse every character of the four categories.")


# -- search_notes ------------------------------------------------------------------------------


def _search_store(trial: Trial) -> tuple[Store, dict[str, int]]:
    """A store with notes for alice and mallory, some with quotes, wildcards and backslashes."""
    store = trial.store()
    ids: dict[str, int] = {}
    for owner, title in (("alice", "alice's plan"), ("alice", "100% secret"),
                         ("mallory", "mallory's plan"), ("mallory", "100% done"),
                         ("mallory", "1000 things"), ("mallory", "snake_case notes"),
                         ("mallory", "snakeXcase"), ("mallory", "C:\\temp"),
                         ("mallory", "plan B")):
        if store.get_user(owner) is None:
            store.add_user(owner, "not-a-real-hash")
        ids[f"{owner}:{title}"] = store.add_note(owner, title, "...").id
    return store, ids


def _titles(result: object, what: str) -> list[str]:
    expect_type(result, list, "search_notes", f"a list of Note objects ({what})")
    assert isinstance(result, list)
    return [note.title for note in result]


@suite.check("search_works", "search_notes: finds the caller's own notes, quotes included, "
             "in id order")
def search_works(trial: Trial) -> None:
    store, _ = _search_store(trial)
    found = _titles(trial.search_notes(store, "mallory", "plan"), "searching 'plan'")
    expect(found == ["mallory's plan", "plan B"],
           f"mallory searching 'plan' got {found}; expected her own notes \"mallory's plan\" "
           "and \"plan B\", in that order: keep `owner = ?` in the query, and ORDER BY id.")
    found = _titles(trial.search_notes(store, "mallory", "y's p"), "a quote in the text")
    expect(found == ["mallory's plan"],
           f"Searching for text with a quote in it (y's p) got {found}. Pass the text as a "
           "parameter and let SQLite handle the quote.")


@suite.check("search_wildcards", "search_notes: treats %, _ and \\ as plain characters")
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
    found = _titles(trial.search_notes(store, "mallory", "\\"), "searching for a backslash")
    expect(found == ["C:\\temp"],
           f"Searching for a backslash got {found}; only \"C:\\temp\" holds one. Escape the "
           "escape character first (\\ becomes \\\\), then % and _.")


def _search_scene(trial: Trial) -> Any:
    store, _ = _search_store(trial)  # the function on its own first (a stub says so here)
    trial.search_notes(store, "mallory", "plan")
    return _scene(trial, search_notes=trial.search_notes)


@suite.check("attack_sql_injection",
             "attack fails: mallory dumps other users' notes and the users table")
def attack_sql_injection(trial: Trial) -> None:
    with _search_scene(trial) as scene:
        token = scene.token(ATTACKER)
        hint = ("The search text still changes the SQL: pass it as a parameter (?) in "
                "store.query(sql, params), never inside the SQL string.")
        _failed(attacks.run_dump_notes(scene.client, token), hint)
        _failed(attacks.run_read_users(scene.client, token), hint)


@suite.check("attack_payloads", "attack fails: injection payloads are plain text, never a 5xx")
def attack_payloads(trial: Trial) -> None:
    with _search_scene(trial) as scene:
        results = attacks.probe(scene.client, scene.token(ATTACKER))
    leaks = [r.payload for r in results if r.leaked]
    errors = [r.payload for r in results if r.status >= 500]
    expect(not leaks, f"These payloads read other users' notes: {leaks[:3]}. Escaping quotes by "
           "hand is not enough; use a parameter.")
    expect(not errors,
           f"These payloads made the service fail with a 5xx: {errors[:3]}. A parameter "
           "carries any text, a NUL character or a backslash included; SQL built from the "
           "text breaks on them.")


# -- sanitize_comment --------------------------------------------------------------------------


def _sanitized(trial: Trial, html: str) -> str:
    output = trial.sanitize_comment(html)
    expect_type(output, str, "sanitize_comment", "the cleaned HTML as a str")
    return output


@suite.check("sanitize_keeps", "sanitize_comment: keeps the allowed formatting")
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


@suite.check("sanitize_strips", "sanitize_comment: removes disallowed tags, keeping their text")
def sanitize_strips(trial: Trial) -> None:
    for html, expected in (("<span>hello</span> <u>world</u>", "hello world"),
                           ("<div><b>bold</b> in a div</div>", "<b>bold</b> in a div"),
                           ("<h1>Big</h1>", "Big")):
        output = _sanitized(trial, html)
        expect(output == expected,
               f"{html!r} came back as {output!r}; expected {expected!r}. Remove a disallowed "
               "tag and keep its text (strip=True), rather than showing it escaped.")


# Inputs that carry what the list does not name: attributes on every kind of tag, and tags
# that look harmless.
OFF_LIST = ('<p id="main" class="big" name="x" title="t" style="color:red">text</p>',
            '<b title="t" class="c">bold</b> <li id="x">item</li>',
            '<a href="https://example.org/" id="x" class="y" name="z" rel="opener" '
            'target="_blank" style="position:fixed">link</a>',
            '<img src="https://example.org/cat.png" alt="a cat">',
            '<p>ok</p><span class="x">span</span><h1 id="top">head</h1><table><tr><td>t</td>'
            "</tr></table>")


@suite.check("sanitize_allow_list", "sanitize_comment: leaves nothing the allow-list does not "
             "name (tags, attributes)")
def sanitize_allow_list(trial: Trial) -> None:
    for html in OFF_LIST:
        output = _sanitized(trial, html)
        extra = outside_allow_list(output)
        expect(not extra,
               f"{html!r} came back as {output!r}, which still holds {', '.join(extra[:4])}. "
               "Allow exactly the listed tags (p, br, b, i, em, strong, code, pre, ul, ol, li, "
               "a) and only href and title, only on <a>: no '*' entry, no images.")


@suite.check("sanitize_protocols", "sanitize_comment: keeps links to https and mailto only")
def sanitize_protocols(trial: Trial) -> None:
    for html in ('<a href="http://example.org/">x</a>', '<a href="javascript:alert(1)">x</a>',
                 '<a href="data:text/html,hi">x</a>', '<a href="ftp://example.org/">x</a>'):
        output = _sanitized(trial, html)
        findings = executable_markup(output)
        expect(not findings,
               f"{html!r} came back as {output!r}. Give bleach the list of allowed link "
               "schemes (protocols={'https', 'mailto'}): its default also allows http.")


# Links that name no scheme at all, which a list of schemes does not see.
RELATIVE = ("//evil.example/login", "\\\\evil.example/login", "/\\evil.example/login",
            "&#x2F;&#x2F;evil.example/login", "&sol;&sol;evil.example/", " //evil.example/",
            "/relative/path", "#top")


@suite.check("sanitize_absolute_links", "sanitize_comment: drops relative and scheme-relative "
             "links (//host, \\\\host)")
def sanitize_absolute_links(trial: Trial) -> None:
    for link in RELATIVE:
        html = f'<a href="{link}">log in again</a>'
        output = _sanitized(trial, html)
        findings = executable_markup(output)
        expect(not findings,
               f"{html!r} came back as {output!r}. bleach's protocols= keeps every link "
               "without a scheme when https is allowed; decide about href yourself with an "
               "attribute filter: decode it (html.unescape) and keep it only when its scheme, "
               "as lessons.sanitize.url_scheme reads it, is https or mailto.")


@suite.check("sanitize_corpus", "sanitize_comment: no payload of the XSS corpus survives")
def sanitize_corpus(trial: Trial) -> None:
    payloads = xss_corpus()
    result = audit(lambda html: _sanitized(trial, html), payloads)
    if result.unsafe:
        payload, output, findings = result.unsafe[0]
        expect(False, f"{len(result.unsafe)} of {result.payloads} payloads still hold executable "
               f"markup or an off-list link after sanitizing, e.g. {payload!r} -> {output!r} "
               f"({findings[0]}). Remove what is not allowed (an allow-list with bleach.clean), "
               "instead of removing what you know to be bad, and never decode its output.")


@suite.check("attack_stored_xss", "attack fails: stored XSS through POST /comments")
def attack_stored_xss(trial: Trial) -> None:
    _sanitized(trial, "<b>first, the function on its own</b>")
    with _scene(trial, sanitize_html=trial.sanitize_comment) as scene:
        _failed(attacks.run_stored_xss(scene.client, scene.token(ATTACKER),
                                       xss_corpus()),
                "A stored comment still holds markup that runs script, or a link off the list.")


# -- page_parameters ---------------------------------------------------------------------------


def _page_app(trial: Trial, comments: int) -> tuple[FastAPI, list[int]]:
    """The service with the learner's page dependency and ``comments`` comments, ids newest
    first."""
    dependency = trial.page_parameters()
    expect(callable(dependency), f"Your page_parameters returned {type(dependency).__name__}; "
           "it should return the dependency function itself (`return page`).")
    app = trial.app(comment_page=dependency)
    store = app.state.service.store
    for name in ("alice", "bob"):
        store.add_user(name, "not-a-real-hash")
    attacks.seed_comments(store, ["alice", "bob"], count=comments, size=40)
    return app, [comment.id for comment in store.list_comments()]


def _get(client: TestClient, **params: Any) -> tuple[int, list[int]]:
    response = client.get("/comments", params=params)
    ids = [c["id"] for c in response.json()] if response.status_code == 200 else []
    return response.status_code, ids


@suite.check("page_default", "page_parameters: 20 comments by default, newest first")
def page_default(trial: Trial) -> None:
    app, ids = _page_app(trial, 30)
    status, got = _get(TestClient(app))
    expect(status == 200 and got == ids[:20],
           f"GET /comments answered HTTP {status} with {len(got)} comments; expected the 20 "
           "newest: give limit the default 20.")


@suite.check("page_bounds", "page_parameters: limit is 1 to 100; anything else is a 422")
def page_bounds(trial: Trial) -> None:
    app, ids = _page_app(trial, 150)
    client = TestClient(app)
    for limit, expected in ((1, ids[:1]), (100, ids[:100])):
        status, got = _get(client, limit=limit)
        expect(status == 200 and got == expected,
               f"GET /comments?limit={limit} answered HTTP {status} with {len(got)} comments; "
               f"expected {limit}.")
    for limit in (101, 1_000_000, 0, -1):
        status, got = _get(client, limit=limit)
        expect(status == 422,
               f"GET /comments?limit={limit} answered HTTP {status} with {len(got)} comments, "
               "not 422. Declare the bounds on the parameter: "
               "Annotated[int, Query(ge=1, le=100)]. (SQLite reads a negative LIMIT as no "
               "limit at all.)")


@suite.check("page_cursor", "page_parameters: ?before= continues where the last page ended")
def page_cursor(trial: Trial) -> None:
    app, ids = _page_app(trial, 90)
    client = TestClient(app)
    seen: list[int] = []
    before = None
    for _ in range(5):
        status, got = _get(client, limit=40, **({} if before is None else {"before": before}))
        if status != 200 or not got:
            break
        seen += got
        before = got[-1]
    expect(seen == ids,
           f"Reading pages of 40 with ?before=<the last id> gave {len(seen)} comments, "
           f"{len(set(seen))} different, for 90 stored. Take a `before` parameter "
           "(Annotated[int | None, Query(ge=1)] = None) and pass it on in the Page.")


@suite.check("page_documented", "page_parameters: the bounds of limit are in the OpenAPI schema")
def page_documented(trial: Trial) -> None:
    app, _ = _page_app(trial, 0)
    parameters = app.openapi()["paths"]["/comments"]["get"].get("parameters", [])
    limit = next((p for p in parameters if p.get("name") == "limit"), {})
    schema = limit.get("schema", {})
    expect(schema.get("maximum") == 100 and schema.get("default") == 20,
           f"The OpenAPI schema of limit is {json.dumps(schema)}: declare the bounds on the "
           "parameter itself (Query(ge=1, le=100), default 20), so that they are enforced and "
           "documented by the same line; a check by hand in the body documents nothing.")


@suite.check("attack_comment_dump", "attack fails: anyone reads every comment in one answer")
def attack_comment_dump(trial: Trial) -> None:
    app, _ = _page_app(trial, 300)
    _failed(attacks.run_comment_dump(TestClient(app)),
            "One answer still holds more than 100 comments.")


# -- quota_wait --------------------------------------------------------------------------------

NOW, WINDOW = 1_000_000, 600


def _wait(trial: Trial, times: list[int], quota: int) -> int:
    result = trial.quota_wait(times, NOW, quota, WINDOW)
    expect_type(result, int, "quota_wait", "a whole number of seconds (0: post now)")
    assert isinstance(result, int)
    return result


@suite.check("quota_under", "quota_wait: 0 while fewer than quota comments are in the window")
def quota_under(trial: Trial) -> None:
    for times in ([], [NOW - 500], [NOW - 500, NOW - 10]):
        waited = _wait(trial, times, 3)
        expect(waited == 0,
               f"With {len(times)} comments in the window and a quota of 3, quota_wait "
               f"answered {waited}; it should be 0 (post now): the quota is how many are "
               "allowed, so wait only once len(times) >= quota.")


@suite.check("quota_over", "quota_wait: a wait once quota comments are in the window")
def quota_over(trial: Trial) -> None:
    for count in (3, 4):
        times = [NOW - 400 + 100 * n for n in range(count)]
        waited = _wait(trial, times, 3)
        expect(waited > 0,
               f"With {count} comments in the window and a quota of 3, quota_wait answered "
               f"{waited}; the next comment must wait (a positive number of seconds).")


@suite.check("quota_retry", "quota_wait: waits until the oldest of the last quota comments "
             "leaves the window")
def quota_retry(trial: Trial) -> None:
    for times, expected in (([NOW - 500, NOW - 300, NOW - 100], 100),
                            ([NOW - 590, NOW - 550, NOW - 300, NOW - 200, NOW - 100], 300)):
        waited = _wait(trial, times, 3)
        expect(waited == expected,
               f"Comments at {[t - NOW for t in times]} seconds from now, quota 3, window "
               f"{WINDOW}: quota_wait answered {waited}, expected {expected}. Posting is "
               "allowed again when the oldest of the last `quota` comments leaves the window: "
               "times[-quota] + window - now.")


@suite.check("attack_comment_flood", "attack fails: mallory posts comments without end (429 "
             "with Retry-After)")
def attack_comment_flood(trial: Trial) -> None:
    trial.quota_wait([], NOW, 3, WINDOW)
    with _scene(trial, {"comment_quota": 5, "comment_quota_seconds": WINDOW},
                quota_wait=trial.quota_wait) as scene:
        token = scene.token(ATTACKER)
        statuses = [attacks.post_comment(scene.client, token, f"comment {n}")
                    for n in range(6)]
        codes = [response.status_code for response in statuses]
        expect(codes == [201] * 5 + [429],
               f"With a quota of 5, six comments in a row got {codes}; expected five 201s, "
               "then 429.")
        retry = statuses[-1].headers.get("retry-after", "")
        expect(retry.isdigit() and 1 <= int(retry) <= WINDOW,
               f"The 429 said Retry-After: {retry!r}; it should be whole seconds, 1 to "
               f"{WINDOW}.")
        other = attacks.post_comment(scene.client, scene.token(VICTIM), "mine")
        expect(other.status_code == 201,
               f"alice's first comment got HTTP {other.status_code}: the quota is per author.")


# -- limited_receive ---------------------------------------------------------------------------


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


@contextmanager
def _limited_scene(trial: Trial) -> Iterator[Scene]:
    # Called once directly first: an unwritten exercise must say "not attempted", not make
    # the app fail in a way a check could mistake for a refusal.
    trial.limited_receive(_no_body, LIMIT)

    def middleware(app: Any, max_bytes: int) -> BodySizeLimit:
        return BodySizeLimit(app, max_bytes, count=trial.limited_receive)

    with _scene(trial, body_limit=middleware) as scene:
        yield scene


def _upload(scene: Scene, size: int, *, chunk: int = 1024) -> Exchange:
    """mallory's note of about ``size`` bytes, as ``size / chunk`` separate body messages."""
    prefix, suffix = b'{"title": "big", "body": "', b'"}'
    chunks = [prefix, *[b"A" * chunk for _ in range(size // chunk)], suffix]
    headers = [("content-type", "application/json"), *bearer(scene.token(ATTACKER)).items()]
    return run_drive(scene.app, chunks, headers=headers)


@suite.check("limit_passes", "limited_receive: lets bodies up to the limit through")
def limit_passes(trial: Trial) -> None:
    with _limited_scene(trial) as scene:
        response = scene.client.post("/notes", json={"title": "small", "body": "fits"},
                                     headers=bearer(scene.token(ATTACKER)))
        expect(response.status_code == 201,
               f"An ordinary note got HTTP {response.status_code}. Return every message from "
               "the wrapped receive unchanged while the total is within the limit.")
        exchange = _upload(scene, 8 * 1024)
        expect(exchange.status == 201,
               f"An 8 KiB note in 8 chunks got HTTP {exchange.status} {exchange.error}: count "
               "across chunks, and let bodies up to the limit through.")
        # Exactly the limit: the route refuses a note that long (422), the limit must not (413).
        exact = _upload(scene, LIMIT - 28, chunk=4)
    expect(exact.status != 413 and exact.read_whole_body,
           f"A body of exactly {LIMIT} bytes got HTTP {exact.status}: the limit is the largest "
           "size allowed, so refuse only when the total is *more* than max_bytes.")


@suite.check("limit_chunked", "limited_receive: stops a chunked body with no Content-Length")
def limit_chunked(trial: Trial) -> None:
    with _limited_scene(trial) as scene:
        exchange = _upload(scene, 1024 * 1024)  # 1 MiB in 1 KiB chunks, no length
    expect(exchange.status == 413 or not exchange.read_whole_body,
           f"A 1 MiB note without Content-Length was read whole (then answered HTTP "
           f"{exchange.status}): the Content-Length check alone is no limit, since a chunked "
           "body has none. Count the bytes as they arrive, in a running total.")
    expect(exchange.status == 413,
           f"Got HTTP {exchange.status} {exchange.error}, not 413: raise "
           "lessons.body_limit.BodyTooLarge(max_bytes) when the count passes the limit.")
    expect(not exchange.read_whole_body and exchange.bytes_pulled <= LIMIT + 2048,
           f"The answer was right, but {exchange.bytes_pulled // 1024} KiB were read first. "
           "Raise at the first chunk past the limit, before reading the rest.")


@suite.check("limit_other_messages", "limited_receive: passes other messages through unchanged")
def limit_other_messages(trial: Trial) -> None:
    from anyio.from_thread import start_blocking_portal

    messages = [{"type": "http.request", "body": b"abc", "more_body": False},
                {"type": "http.disconnect"}]
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    counted = trial.limited_receive(receive, LIMIT)

    async def pull_two() -> list[Any]:
        return [await counted(), await counted()]

    with start_blocking_portal() as portal:
        got = portal.call(pull_two)
    expect(got == messages,
           f"Through your wrapper, {messages} came out as {got}. Count only http.request "
           "messages (with message.get('body', b'')), and hand every message on as it is.")


# -- the answers, the rules and the near misses ------------------------------------------------


def _registration_model() -> type[BaseModel]:
    return validation.UserCreate


def _page_parameters() -> Callable[..., comment_limits.Page]:
    return comment_limits.comment_page


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "registration_model": _registration_model,
    "visible_text": validation.visible_text,
    "search_notes": Store.search_notes,
    "sanitize_comment": sanitize.sanitize_comment,
    "page_parameters": _page_parameters,
    "quota_wait": comment_limits.quota_wait,
    "limited_receive": limited_receive,
}

RULES: tuple[Rule, ...] = (
    Rule("model_valid", "registration_model", "A valid registration is accepted: a password is "
         "12 to 128 characters of anything, spaces and emoji included, with no composition "
         "rules (ASVS 6.2.5, 6.2.9).", ("model_accepts",)),
    Rule("model_forbid", "registration_model", "Unknown fields (role, is_admin...) are refused "
         "with a 422, as in lesson 03.", ("model_forbids",)),
    Rule("model_username", "registration_model", "username: 3 to 32 characters, each of a-z, "
         "0-9 and _, the whole name.", ("model_usernames",)),
    Rule("model_email", "registration_model", "email: a required, valid address (EmailStr).",
         ("model_emails",)),
    Rule("model_password_length", "registration_model", "password: at least 12 and at most 128 "
         "characters.", ("model_password_length",)),
    Rule("model_password_common", "registration_model", "password: not in the bundled list of "
         "common passwords, whatever its case (ASVS 6.2.4).", ("model_password_common",)),
    Rule("model_password_context", "registration_model", "password: not containing the "
         "username, the name part of the e-mail address or the service's name (ASVS 6.2.11, "
         "NIST SP 800-63B).", ("model_password_context",)),
    Rule("model_password_pattern", "registration_model", "password: not trivially repetitive "
         "or sequential as a whole.", ("model_password_pattern",)),
    Rule("model_no_echo", "registration_model", "A refusal says why without repeating the "
         "password.", ("model_no_echo",)),
    Rule("visible_keeps", "visible_text", "Ordinary text of any script comes back unchanged, "
         "no-break spaces and emoji included.", ("visible_keeps",)),
    Rule("visible_refuses", "visible_text", "Any character of the categories Cc, Cf, Zl or Zp "
         "anywhere is refused with ValueError (a 422 in the service), judged by category, "
         "not by a list of code points, and never silently removed.",
         ("visible_refuses", "attack_disguised_titles")),
    Rule("search_own", "search_notes", "Only the caller's notes whose title contains the text, "
         "ordered by id.", ("search_works",)),
    Rule("search_parameter", "search_notes", "The text travels as a parameter: no payload "
         "reads other users' data or causes a 5xx (ASVS 1.2.4).",
         ("attack_sql_injection", "attack_payloads")),
    Rule("search_like", "search_notes", "%, _ and \\ are matched literally (escaped, with "
         "ESCAPE '\\').", ("search_wildcards",)),
    Rule("sanitize_keeps", "sanitize_comment", "The allowed formatting comes back unchanged: "
         "p, br, b, i, em, strong, code, pre, ul, ol, li, and a with href and title.",
         ("sanitize_keeps",)),
    Rule("sanitize_strip", "sanitize_comment", "Disallowed tags are removed, their text kept "
         "(strip=True), not shown escaped.", ("sanitize_strips",)),
    Rule("sanitize_allow_list", "sanitize_comment", "Nothing outside the list survives: no "
         "other tag, no attribute but href and title, and those on <a> only.",
         ("sanitize_allow_list",)),
    Rule("sanitize_schemes", "sanitize_comment", "Links with a scheme keep it only if it is "
         "https or mailto (bleach's default allows http).", ("sanitize_protocols",)),
    Rule("sanitize_absolute", "sanitize_comment", "Links without a scheme are dropped too: "
         "relative, scheme-relative (//host) and their disguises (backslashes, character "
         "references, spaces).", ("sanitize_absolute_links",)),
    Rule("sanitize_no_script", "sanitize_comment", "No payload of the XSS corpus, sanitized "
         "on its own or stored through the service, can run script (ASVS 1.3.1).",
         ("sanitize_corpus", "attack_stored_xss")),
    Rule("page_default", "page_parameters", "Without parameters, one page of the 20 newest "
         "comments.", ("page_default",)),
    Rule("page_bounds", "page_parameters", "limit is 1 to 100; 0, negative and larger values "
         "are refused with a 422, so no answer holds more than 100 comments (API4:2023).",
         ("page_bounds", "attack_comment_dump")),
    Rule("page_cursor", "page_parameters", "?before=<id> gives the comments older than that "
         "id: page after page, each comment once.", ("page_cursor",)),
    Rule("page_documented", "page_parameters", "The bounds and default of limit are declared "
         "on the parameter, so the OpenAPI schema documents them.", ("page_documented",)),
    Rule("quota_under", "quota_wait", "No wait while fewer than quota comments are in the "
         "window.", ("quota_under", "attack_comment_flood")),
    Rule("quota_over", "quota_wait", "Once quota comments are in the window, the next one "
         "waits: a 429 with Retry-After in the service (ASVS 2.4.1).",
         ("quota_over", "attack_comment_flood")),
    Rule("quota_retry", "quota_wait", "The wait lasts until the oldest of the last quota "
         "comments leaves the window, in whole seconds.", ("quota_retry",)),
    Rule("limit_passes", "limited_receive", "Bodies up to the limit, in any number of chunks, "
         "get through.", ("limit_passes",)),
    Rule("limit_counts", "limited_receive", "The bytes are counted as they arrive, across "
         "chunks, and the first chunk past the limit raises BodyTooLarge (a 413), before the "
         "rest is read.", ("limit_chunked",)),
    Rule("limit_other_messages", "limited_receive", "Every other message passes through "
         "unchanged.", ("limit_other_messages",)),
)

WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    # registration_model
    WrongAnswer("model_valid", "a maximum of 64 characters",
                {"registration_model": wrong.model_max_64},
                {"model_accepts": "from 12 up to 128"}),
    WrongAnswer("model_valid", "a composition rule (one digit)",
                {"registration_model": wrong.model_composition_rule},
                {"model_accepts": "no composition rules"}),
    WrongAnswer("model_forbid", 'extra="ignore" drops unknown fields silently',
                {"registration_model": wrong.model_ignores_extra},
                {"model_forbids": 'extra="forbid"'}),
    WrongAnswer("model_username", "a pattern without anchors",
                {"registration_model": wrong.model_unanchored_pattern},
                {"model_usernames": "covers the whole name"}),
    WrongAnswer("model_username", r"\w instead of [a-z0-9_]",
                {"registration_model": wrong.model_word_pattern},
                {"model_usernames": "every script's letters"}),
    WrongAnswer("model_email", "a plain str", {"registration_model": wrong.model_plain_email},
                {"model_emails": "EmailStr"}),
    WrongAnswer("model_email", "the address made optional",
                {"registration_model": wrong.model_optional_email},
                {"model_emails": "give the field no default"}),
    WrongAnswer("model_password_length", "min_length=11",
                {"registration_model": wrong.model_min_11},
                {"model_password_length": "at least 12"}),
    WrongAnswer("model_password_common", "the common-password list forgotten",
                {"registration_model": wrong.model_without_common_check},
                {"model_password_common": "is_common_password"}),
    WrongAnswer("model_password_context", "the password declared before the fields it needs",
                {"registration_model": wrong.model_password_first},
                {"model_password_context": "declared before it in info.data"}),
    WrongAnswer("model_password_context", "the e-mail address left out",
                {"registration_model": wrong.model_without_email_context},
                {"model_password_context": "pass both"}),
    WrongAnswer("model_password_pattern", "context words by hand, patterns forgotten",
                {"registration_model": wrong.model_own_context_check},
                {"model_password_pattern": "password_problems"}),
    WrongAnswer("model_no_echo", "the message repeats the password",
                {"registration_model": wrong.model_echoes_password},
                {"model_no_echo": "without it"}),
    # visible_text
    WrongAnswer("visible_keeps", "str.isprintable() refuses a no-break space",
                {"visible_text": wrong.visible_isprintable},
                {"visible_keeps": "isprintable"}),
    WrongAnswer("visible_refuses", "a list of code points",
                {"visible_text": wrong.visible_code_points},
                {"visible_refuses": "not by a list of code points",
                 "attack_disguised_titles": "every character of the four categories"}),
    WrongAnswer("visible_refuses", "category Cc only",
                {"visible_text": wrong.visible_controls_only},
                {"visible_refuses": "unicodedata.category",
                 "attack_disguised_titles": "four categories"}),
    WrongAnswer("visible_refuses", "the characters removed, not refused",
                {"visible_text": wrong.visible_strips},
                {"visible_refuses": "never remove the character",
                 "attack_disguised_titles": "not 422"}),
    WrongAnswer("visible_refuses", "an exception pydantic does not turn into a 422",
                {"visible_text": wrong.visible_custom_exception},
                {"visible_refuses": "InvisibleCharacter",
                 "attack_disguised_titles": "anything else is a 500"}),
    # search_notes
    WrongAnswer("search_own", "the owner check forgotten",
                {"search_notes": wrong.search_without_owner},
                {"search_works": "owner = ?", "search_wildcards": "only \"100% done\"",
                 "attack_payloads": "read other users' notes"}),
    WrongAnswer("search_own", "newest first", {"search_notes": wrong.search_newest_first},
                {"search_works": "ORDER BY id"}),
    WrongAnswer("search_parameter", "quotes and wildcards escaped by hand, a NUL breaks it",
                {"search_notes": wrong.search_quotes_escaped},
                {"attack_payloads": "a NUL character"}),
    WrongAnswer("search_parameter", "the text pasted into the SQL",
                {"search_notes": wrong.search_formatted},
                {"search_works": "OperationalError", "search_wildcards": "only \"100% done\"",
                 "attack_sql_injection": "pass it as a parameter",
                 "attack_payloads": "use a parameter"}),
    WrongAnswer("search_like", "% and _ left as wildcards",
                {"search_notes": wrong.search_without_like_escaping},
                {"search_wildcards": "only \"100% done\""}),
    WrongAnswer("search_like", "the escape character itself not escaped",
                {"search_notes": wrong.search_backslash_unescaped},
                {"search_wildcards": "Escape the escape character first"}),
    # sanitize_comment
    WrongAnswer("sanitize_keeps", "links lose their title",
                {"sanitize_comment": wrong.sanitize_without_title},
                {"sanitize_keeps": "should come back unchanged"}),
    WrongAnswer("sanitize_keeps", "every tag escaped",
                {"sanitize_comment": wrong.sanitize_escape_everything},
                {"sanitize_keeps": "should come back unchanged",
                 "sanitize_strips": "strip=True"}),
    WrongAnswer("sanitize_strip", "strip=False",
                {"sanitize_comment": wrong.sanitize_escapes_disallowed},
                {"sanitize_strips": "strip=True"}),
    WrongAnswer("sanitize_allow_list", "id, class, name and title on every tag",
                {"sanitize_comment": wrong.sanitize_global_attributes},
                {"sanitize_allow_list": "no '*' entry"}),
    WrongAnswer("sanitize_allow_list", "images allowed",
                {"sanitize_comment": wrong.sanitize_with_images},
                {"sanitize_allow_list": "no images", "sanitize_corpus": "off-list link",
                 "attack_stored_xss": "link off the list"}),
    WrongAnswer("sanitize_schemes", "bleach's default schemes",
                {"sanitize_comment": wrong.sanitize_bleach_defaults},
                {"sanitize_protocols": "its default also allows http",
                 "sanitize_absolute_links": "attribute filter",
                 "sanitize_corpus": "allow-list", "attack_stored_xss": "runs script"}),
    WrongAnswer("sanitize_schemes", "absolute links, http among them",
                {"sanitize_comment": wrong.sanitize_allows_http},
                {"sanitize_protocols": "protocols=", "sanitize_corpus": "allow-list",
                 "attack_stored_xss": "runs script"}),
    WrongAnswer("sanitize_absolute", "the schemes alone (this lesson's first reference)",
                {"sanitize_comment": sanitize.sanitize_schemes_only},
                {"sanitize_absolute_links": "protocols= keeps every link without a scheme",
                 "sanitize_corpus": "off-list link", "attack_stored_xss": "link off the list"}),
    WrongAnswer("sanitize_absolute", "a block-list of //",
                {"sanitize_comment": wrong.sanitize_blocks_double_slash},
                {"sanitize_absolute_links": "url_scheme", "sanitize_corpus": "off-list link",
                 "attack_stored_xss": "link off the list"}),
    WrongAnswer("sanitize_no_script", "a regular expression that removes <script>",
                {"sanitize_comment": sanitize.strip_script_tags},
                {"sanitize_strips": "strip=True", "sanitize_allow_list": "Allow exactly",
                 "sanitize_protocols": "protocols=", "sanitize_absolute_links": "url_scheme",
                 "sanitize_corpus": "instead of removing what you know to be bad",
                 "attack_stored_xss": "runs script"}),
    WrongAnswer("sanitize_no_script", "the output decoded again",
                {"sanitize_comment": wrong.sanitize_then_unescape},
                {"sanitize_corpus": "never decode its output",
                 "attack_stored_xss": "runs script"}),
    # page_parameters
    WrongAnswer("page_default", "a default of 100", {"page_parameters": wrong.page_default_100},
                {"page_default": "default 20", "page_documented": "default 20"}),
    WrongAnswer("page_bounds", "no bounds at all", {"page_parameters": wrong.page_without_bounds},
                {"page_bounds": "Query(ge=1, le=100)", "page_documented": "declare the bounds",
                 "attack_comment_dump": "more than 100"}),
    WrongAnswer("page_bounds", "the maximum clamped, negative numbers forgotten",
                {"page_parameters": wrong.page_clamped},
                {"page_bounds": "negative LIMIT", "page_documented": "declare the bounds",
                 "attack_comment_dump": "more than 100"}),
    WrongAnswer("page_bounds", "ge=0", {"page_parameters": wrong.page_from_zero},
                {"page_bounds": "not 422"}),
    WrongAnswer("page_cursor", "no cursor", {"page_parameters": wrong.page_without_cursor},
                {"page_cursor": "Take a `before` parameter"}),
    WrongAnswer("page_documented", "the bounds checked by hand in the body",
                {"page_parameters": wrong.page_checked_by_hand},
                {"page_documented": "documents nothing"}),
    # quota_wait
    WrongAnswer("quota_under", "one comment too early",
                {"quota_wait": wrong.quota_one_early},
                {"quota_under": "len(times) >= quota", "quota_retry": "times[-quota]",
                 "attack_comment_flood": "five 201s"}),
    WrongAnswer("quota_over", "one comment too late", {"quota_wait": wrong.quota_one_late},
                {"quota_over": "must wait", "quota_retry": "times[-quota]",
                 "attack_comment_flood": "five 201s"}),
    WrongAnswer("quota_retry", "waits for the oldest comment of all",
                {"quota_wait": wrong.quota_from_oldest}, {"quota_retry": "times[-quota]"}),
    WrongAnswer("quota_retry", "always the whole window",
                {"quota_wait": wrong.quota_whole_window}, {"quota_retry": "expected 100"}),
    # limited_receive
    WrongAnswer("limit_passes", ">= instead of >", {"limited_receive": wrong.limit_off_by_one},
                {"limit_passes": "*more* than max_bytes"}),
    WrongAnswer("limit_counts", "Content-Length trusted",
                {"limited_receive": wrong.trust_content_length},
                {"limit_chunked": "Count the bytes as they arrive"}),
    WrongAnswer("limit_counts", "the whole body read first",
                {"limited_receive": wrong.read_all_then_count},
                {"limit_chunked": "before reading the rest"}),
    WrongAnswer("limit_counts", "each chunk compared with the limit",
                {"limited_receive": wrong.count_each_chunk},
                {"limit_chunked": "running total"}),
    WrongAnswer("limit_counts", "ValueError instead of BodyTooLarge",
                {"limited_receive": wrong.raise_value_error},
                {"limit_chunked": "raise lessons.body_limit.BodyTooLarge"}),
    WrongAnswer("limit_other_messages", "every message taken for a body chunk",
                {"limited_receive": wrong.assumes_a_body},
                {"limit_other_messages": "KeyError"}),
)


def check(**answers: Any) -> Report:
    """Run the lesson-07 checks: ``check(registration_model=..., visible_text=...,
    search_notes=..., sanitize_comment=..., page_parameters=..., quota_wait=...,
    limited_receive=...)``."""
    return suite.run(**answers)
