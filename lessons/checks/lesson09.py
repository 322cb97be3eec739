"""Lesson 09 checks: the two header functions, the two CORS decisions, and the grader's two
functions, each on its own, then plugged into the lesson-09 service (or the grader), where the
lesson's attacks must fail.

Each check plugs in only the answer it is about; every other seam keeps its reference. The
rules each exercise states are ``RULES``; ``WRONG_ANSWERS`` (in ``wrong_lesson09``) are near
misses, each breaking one rule.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import httpx2

from lessons import cors, docs_page, grader, headers
from lessons.attacks import Scene, Variant
from lessons.attacks import lesson09 as attacks
from lessons.checks import Fail, Report, Rule, Suite, Trial, expect, expect_type
from lessons.checks.wrong_lesson09 import WRONG_ANSWERS

suite = Suite(9, "Security headers and CORS")

APP = "https://app.example.org"  # the front end the checks' allow-list names
ALLOWED = frozenset({APP, "https://admin.example.org:8443"})
LOOKALIKES = (
    "https://app.example.org.mallory.example",  # starts with an allowed origin
    "https://evilapp.example.org",              # ends with its host
    "https://example.org",                      # a part of it
    "http://app.example.org",                   # another scheme
    "https://app.example.org:8443",             # another port
    "https://admin.example.org",                # an allowed host without its port
)
DOCS = (docs_page.DOCS, docs_page.OAUTH2_REDIRECT)
API_PATHS = ("/", "/health", "/notes", "/notes/7", "/users/me", "/auth/token", "/openapi.json",
             "/no/such/page", "/docs/assets/init.js", f"{docs_page.BUNDLE}/swagger-ui.css")
# What each docs page loads from the service (lessons/docs_page.py): the directive, and the
# sources it must allow.
DOCS_NEEDS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    docs_page.DOCS: {"script-src": ("'self'",), "style-src": ("'self'",),
                     "img-src": ("'self'", "data:"), "connect-src": ("'self'",)},
    docs_page.OAUTH2_REDIRECT: {"script-src": ("'self'",)},
}
UNSAFE_SCRIPT = grader.BROAD | {"'unsafe-inline'", "'unsafe-eval'", "data:"}
# Directives that never fall back to default-src.
NO_FALLBACK = ("base-uri", "form-action", "frame-ancestors")


def _scene(trial: Trial, settings: Mapping[str, Any] | None = None, **seams: Any) -> Scene:
    """The lesson-09 service with ``seams`` (the learner's answers), its cast seeded, in the
    trial's private folder."""
    return Scene(Variant(9, seams=seams, settings=settings or {}), trial.root)


# -- exercise 1: content_security_policy --------------------------------------------------------


def _policy(trial: Trial, path: str) -> dict[str, set[str]]:
    value = trial.content_security_policy(path)
    expect_type(value, str, "content_security_policy", "the policy as one str, e.g. "
                "\"default-src 'none'; frame-ancestors 'none'\"")
    expect(value.strip(), f"Your content_security_policy gave {path} no policy at all: every "
                          "answer gets one.")
    try:
        return {name: set(sources) for name, sources in grader.directives(value).items()}
    except grader.PolicyError as error:
        raise Fail(f"The policy for {path}, {value!r}, cannot be read ({error}): directives "
                   "separated by ';', each named once.") from None


def _sources(policy: Mapping[str, set[str]], directive: str) -> set[str]:
    """What ``directive`` allows under ``policy``: its own sources, or default-src's for the
    fetch directives that fall back to it."""
    if directive in policy or directive in NO_FALLBACK:
        return set(policy.get(directive, set()))
    return set(policy.get("default-src", {"*"}))


@suite.check("csp_api_policy", "content_security_policy: every API answer gets default-src "
                               "'none'; frame-ancestors 'none'; base-uri 'none'")
def csp_api_policy(trial: Trial) -> None:
    for path in API_PATHS:
        policy = _policy(trial, path)
        for directive in ("default-src", "frame-ancestors", "base-uri"):
            expect(policy.get(directive) == {"'none'"},
                   f"The policy for {path} has {directive} "
                   f"{' '.join(sorted(policy.get(directive, ()))) or '(missing)'}. Every answer "
                   "but the two docs pages is the API's: default-src 'none'; frame-ancestors "
                   "'none'; base-uri 'none'. (A script or stylesheet of the docs is not a page: "
                   "it needs no policy of its own.)")
        loose = {name: sources for name, sources in policy.items()
                 if sources - {"'none'"} and name not in ("report-uri", "report-to")}
        expect(not loose, f"The policy for {path} also allows {loose}: an API answer loads "
                          "nothing, so nothing else should be allowed.")


def _covers(allowed: set[str], source: str) -> bool:
    return source in allowed or (source != "data:" and bool(allowed & {"*", "https:"}))


@suite.check("csp_docs_work", "content_security_policy: the docs pages may load what they "
                              "need from the service")
def csp_docs_work(trial: Trial) -> None:
    for path, needs in DOCS_NEEDS.items():
        policy = _policy(trial, path)
        for directive, wanted in needs.items():
            missing = [s for s in wanted if not _covers(_sources(policy, directive), s)]
            expect(not missing,
                   f"Under your policy for {path}, {directive} does not allow "
                   f"{' '.join(missing)}: Swagger UI would not run. The page loads its scripts "
                   "and stylesheet from the service ('self'), draws icons from data: URLs, and "
                   "fetches the OpenAPI document and the API from the service (connect-src).")


@suite.check("csp_docs_no_inline", "content_security_policy: the docs run no inline script, no "
                                   "eval, and no script from elsewhere")
def csp_docs_no_inline(trial: Trial) -> None:
    for path in DOCS:
        policy = _policy(trial, path)
        unsafe = sorted(_sources(policy, "script-src") & UNSAFE_SCRIPT)
        expect(not unsafe,
               f"Your policy for {path} lets scripts run from {' '.join(unsafe)}. The docs page "
               "has no inline script (its start-up script is a file), so script-src 'self' is "
               "enough: 'unsafe-inline' would let injected markup run, 'unsafe-eval' lets text "
               "become code, and a scheme or * lets any site's script in.")
        broad = sorted(_sources(policy, "object-src") & grader.BROAD)
        expect(not broad, f"Your policy for {path} lets plugins load from {' '.join(broad)}.")


@suite.check("csp_docs_framing", "content_security_policy: the docs pages cannot be framed "
                                 "either (frame-ancestors 'none')")
def csp_docs_framing(trial: Trial) -> None:
    for path in DOCS:
        policy = _policy(trial, path)
        expect(policy.get("frame-ancestors") == {"'none'"},
               f"Your policy for {path} has frame-ancestors "
               f"{' '.join(sorted(policy.get('frame-ancestors', ()))) or '(missing)'}: the docs "
               "page, where a logged-in user clicks Execute, is exactly what clickjacking "
               "frames. frame-ancestors does not fall back to default-src: name it.")


@suite.check("csp_docs_base_object", "content_security_policy: the docs keep base-uri 'none' "
                                     "and object-src 'none'")
def csp_docs_base_object(trial: Trial) -> None:
    for path in DOCS:
        policy = _policy(trial, path)
        for directive in ("base-uri", "object-src"):
            expect(_sources(policy, directive) == {"'none'"},
                   f"Under your policy for {path}, {directive} allows "
                   f"{' '.join(sorted(_sources(policy, directive))) or 'anything (missing)'}. "
                   "OWASP ASVS 5.0 3.4.3 asks for object-src 'none' and base-uri 'none' in "
                   "every policy; base-uri does not fall back to default-src.")


@suite.check("csp_in_service", "your service: no page of it can be framed by another site")
def csp_in_service(trial: Trial) -> None:
    trial.content_security_policy("/docs")
    with _scene(trial, content_security_policy=trial.content_security_policy) as scene:
        for path in ("/docs", "/notes"):
            result = attacks.clickjacking(scene, path)
            expect(not result.succeeded, f"{result.evidence}.")


# -- exercise 2: security_headers ---------------------------------------------------------------

FOUR = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin"}
# (method, path, status, authenticated): one of each kind of answer the service gives.
ANSWERS = (
    ("GET", "/health", 200, False), ("GET", "/docs", 200, False),
    ("POST", "/notes", 201, True), ("GET", "/notes/999", 404, True),
    ("GET", "/users/me", 401, False), ("DELETE", "/admin/users/bob", 403, True),
    ("POST", "/notes", 413, False), ("POST", "/comments", 429, True),
    ("GET", "/comments", 500, False), ("OPTIONS", "/notes", 204, False),
    ("OPTIONS", "/notes", 403, False), ("DELETE", "/notes/3", 204, True),
    ("GET", "/notes", 304, True), ("HEAD", "/health", 200, False),
)
PUBLIC = (("GET", "/health", 200, False), ("GET", "/comments", 200, False),
          ("GET", f"{docs_page.BUNDLE}/swagger-ui-bundle.js", 200, False))


def _headers(trial: Trial, method: str, path: str, status: int,
             authenticated: bool) -> dict[str, str]:
    found = trial.security_headers(method, path, status, authenticated)
    expect_type(found, Mapping, "security_headers", "a dict of header names and values")
    for name, value in found.items():
        expect_type(name, str, "security_headers", "a dict whose keys are header names (str)")
        expect_type(value, str, "security_headers", "a dict whose values are str")
    return {name.lower(): value for name, value in found.items()}


def _label(method: str, path: str, status: int, authenticated: bool) -> str:
    return f"{method} {path} {status}" + (" (authenticated)" if authenticated else "")


def _no_store(value: str | None) -> bool:
    return "no-store" in [part.strip() for part in (value or "").lower().split(",")]


@suite.check("headers_values", "security_headers: nosniff, no-referrer, and COOP and CORP "
                               "same-origin")
def headers_values(trial: Trial) -> None:
    for answer in (("GET", "/health", 200, False), ("GET", "/notes", 200, True)):
        found = _headers(trial, *answer)
        for name, value in FOUR.items():
            expect((found.get(name) or "").strip().lower() == value,
                   f"{_label(*answer)}: {name} is {found.get(name)!r}, it should be {value!r}.")


@suite.check("headers_every_status", "security_headers: the same headers on every answer, "
                                     "errors, preflights and 204s included")
def headers_every_status(trial: Trial) -> None:
    usual = {name: value for name, value in _headers(trial, "GET", "/health", 200, False).items()
             if name in FOUR}
    for answer in ANSWERS:
        found = _headers(trial, *answer)
        missing = {name: value for name, value in usual.items() if found.get(name) != value}
        expect(not missing,
               f"{_label(*answer)} lacks {sorted(missing)}, which a 200 gets. A 404, a 413, a "
               "500 or a preflight is an answer a browser reads too (an error page can be "
               "framed or sniffed like any other): every status gets the headers.")


@suite.check("headers_no_xss_filter", "security_headers: X-XSS-Protection is 0 or absent")
def headers_no_xss_filter(trial: Trial) -> None:
    for answer in ANSWERS:
        value = _headers(trial, *answer).get("x-xss-protection")
        expect(value is None or value.strip() == "0",
               f"{_label(*answer)} sends X-XSS-Protection: {value}. The filters it turned on "
               "are gone from browsers, and where they were left they could be made to remove "
               "parts of a page on purpose: send 0, or nothing.")


@suite.check("headers_no_store_authenticated", "security_headers: Cache-Control: no-store on "
                                               "every answer to an authenticated caller")
def headers_no_store_authenticated(trial: Trial) -> None:
    for answer in ANSWERS:
        if not answer[3]:
            continue
        value = _headers(trial, *answer).get("cache-control")
        expect(_no_store(value),
               f"{_label(*answer)} has Cache-Control: {value}. Whatever the method and status, "
               "an answer to an authenticated caller may hold their data: no-store (no-cache "
               "still lets a cache keep it, it only asks it to check first).")


@suite.check("headers_no_store_token", "security_headers: Cache-Control: no-store on POST "
                                       "/auth/token")
def headers_no_store_token(trial: Trial) -> None:
    value = _headers(trial, "POST", "/auth/token", 200, False).get("cache-control")
    expect(_no_store(value),
           f"POST /auth/token 200 has Cache-Control: {value}. The caller is not authenticated "
           "yet when the token endpoint answers, and its answer is the token itself: RFC 6749 "
           "5.1 requires no-store there.")


@suite.check("headers_keep_public_caching", "security_headers: public answers keep their own "
                                            "Cache-Control")
def headers_keep_public_caching(trial: Trial) -> None:
    for answer in PUBLIC:
        found = _headers(trial, *answer)
        expect("cache-control" not in found,
               f"{_label(*answer)} gets Cache-Control: {found.get('cache-control')}. A public "
               "answer keeps what its route chose: Swagger UI's 1.5 MB bundle is cached for a "
               "year because its URL changes with its version. Add no-store only where the "
               "rules say.")


@suite.check("headers_no_hsts", "security_headers: no Strict-Transport-Security (lesson 04 "
                                "sends it on HTTPS only)")
def headers_no_hsts(trial: Trial) -> None:
    for answer in ANSWERS:
        found = _headers(trial, *answer)
        expect("strict-transport-security" not in found,
               f"{_label(*answer)} gets Strict-Transport-Security: this function does not know "
               "whether the answer goes over HTTPS, and browsers ignore the header over plain "
               "HTTP. Lesson 04's middleware sends it, on HTTPS answers only.")


@suite.check("headers_in_service", "your service: a typeless file is not sniffed, no private "
                                   "answer is cached, errors carry the headers")
def headers_in_service(trial: Trial) -> None:
    trial.security_headers("GET", "/health", 200, False)
    with _scene(trial, security_headers=trial.security_headers) as scene:
        for attack in (attacks.mime_sniffing, attacks.cacheable_private_answers):
            result = attack(scene)
            expect(not result.succeeded, f"{result.evidence}.")
        token = scene.token("alice", ["notes:write"])
        answers = {
            "a 413": scene.client.post("/notes", content=b"x" * (70 * 1024),
                                       headers={**attacks.bearer(token),
                                                "Content-Type": "application/json"}),
            "a 404": scene.client.get("/no/such/page"),
            "a refused preflight": scene.client.options(
                "/notes", headers={"Origin": attacks.MALLORY_SITE,
                                   "Access-Control-Request-Method": "GET"}),
            "an authenticated POST": scene.client.post(
                "/notes", json={"title": "t", "body": "b"}, headers=attacks.bearer(token)),
        }
    for label, answer in answers.items():
        expect(answer.headers.get("x-content-type-options") == "nosniff",
               f"{label} (HTTP {answer.status_code}) came without X-Content-Type-Options.")
    posted = answers["an authenticated POST"]
    expect(_no_store(posted.headers.get("cache-control")),
           f"POST /notes with a token answered {posted.status_code} with Cache-Control: "
           f"{posted.headers.get('cache-control')}: the note is alice's alone.")


# -- exercise 3: cors_headers -------------------------------------------------------------------


def _cors(trial: Trial, origin: str | None, allowed: Collection[str] = ALLOWED) -> dict[str, str]:
    found = trial.cors_headers(origin, allowed)
    expect_type(found, Mapping, "cors_headers", "a dict of header names and values ({} for "
                                                "none)")
    return {str(name).lower(): value for name, value in found.items()}


@suite.check("cors_allowed_origin", "cors_headers: an allowed origin gets itself back, with "
                                    "credentials")
def cors_allowed_origin(trial: Trial) -> None:
    for origin in sorted(ALLOWED):
        found = _cors(trial, origin)
        expect(found.get("access-control-allow-origin") == origin,
               f"{origin} got Access-Control-Allow-Origin: "
               f"{found.get('access-control-allow-origin')}. Send the origin itself: a browser "
               "refuses * on an answer to a request with credentials, and any other value "
               "names another page.")
        expect(found.get("access-control-allow-credentials") == "true",
               f"{origin} got Access-Control-Allow-Credentials: "
               f"{found.get('access-control-allow-credentials')}: the front end logs in with "
               "cookies, so an allowed origin needs it set to true.")


@suite.check("cors_vary", "cors_headers: Vary: Origin on an answer for an allowed origin")
def cors_vary(trial: Trial) -> None:
    found = _cors(trial, APP)
    names = [part.strip().lower() for part in str(found.get("vary", "")).split(",")]
    expect("origin" in names,
           f"{APP} got Vary: {found.get('vary')}. The answer depends on the Origin header: "
           "without Vary: Origin a cache may hand the copy made for one origin to another.")


@suite.check("cors_lookalikes", "cors_headers: only exact origins; lookalikes get nothing")
def cors_lookalikes(trial: Trial) -> None:
    for origin in LOOKALIKES:
        found = _cors(trial, origin)
        expect(not found,
               f"{origin} got {found}, though only {sorted(ALLOWED)} are allowed. Compare the "
               "whole origin (scheme, host and port) with each allowed one: a prefix, a "
               "suffix or a part of it can be registered by anyone.")


@suite.check("cors_null", "cors_headers: Origin: null gets nothing, even when listed")
def cors_null(trial: Trial) -> None:
    for allowed in (ALLOWED, ALLOWED | {"null"}):
        found = _cors(trial, "null", allowed)
        expect(not found,
               f"Origin: null got {found}" + (" (with null in the list)" if "null" in allowed
                                              else "") + ". Every sandboxed frame, data: page "
               "and local file sends null: allowing it allows any page that puts its script "
               "in one.")


@suite.check("cors_others_nothing", "cors_headers: any other origin, or none, gets no CORS "
                                    "header at all")
def cors_others_nothing(trial: Trial) -> None:
    for origin in (attacks.MALLORY_SITE, None):
        found = _cors(trial, origin)
        expect(not found,
               f"{origin or 'A request without Origin'} got {found}. No CORS header at all for "
               "an origin that is not allowed (and none for a request without Origin, which "
               "no page sent): not Access-Control-Allow-Credentials, not a fixed allowed "
               "origin either.")


@suite.check("cors_in_service", "your service: the allowed front end reads alice's notes; "
                                "mallory's page and null do not")
def cors_in_service(trial: Trial) -> None:
    trial.cors_headers(APP, ALLOWED)
    settings = {"cors_origins": (APP,)}
    for origin, should in ((APP, True), (attacks.MALLORY_SITE, False), ("null", False)):
        with _scene(trial, settings, cors_headers=trial.cors_headers) as scene:
            result = attacks.read_across_origins(scene, origin)
        expect(result.succeeded == should, f"With LESSONS_CORS_ORIGINS={APP}: "
                                           f"{result.evidence}.")


# -- exercise 4: preflight_headers --------------------------------------------------------------


def _preflight(trial: Trial, origin: str, method: str, asked: str = "",
               allowed: Collection[str] = ALLOWED) -> dict[str, str] | None:
    found = trial.preflight_headers(origin, method, asked, allowed)
    if found is None:
        return None
    expect_type(found, Mapping, "preflight_headers", "a dict of headers, or None to refuse")
    return {str(name).lower(): str(value) for name, value in found.items()}


def _listed(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


@suite.check("preflight_allows", "preflight_headers: an allowed origin may send the API's "
                                 "methods and headers")
def preflight_allows(trial: Trial) -> None:
    for method, asked in (("GET", ""), ("POST", "content-type"),
                          ("DELETE", "authorization"),
                          ("POST", "authorization,content-type,x-csrf-token")):
        found = _preflight(trial, APP, method, asked)
        expect(found is not None, f"A preflight from {APP} for {method} with headers "
                                  f"{asked!r} was refused: those are what the front end sends.")
        assert found is not None
        expect(found.get("access-control-allow-origin") == APP
               and found.get("access-control-allow-credentials") == "true",
               f"The preflight answer for {APP} has Access-Control-Allow-Origin: "
               f"{found.get('access-control-allow-origin')} and -Credentials: "
               f"{found.get('access-control-allow-credentials')}: the origin itself, and true.")
        expect(method.lower() in _listed(found.get("access-control-allow-methods")),
               f"The preflight answer for {method} does not list it in "
               f"Access-Control-Allow-Methods ({found.get('access-control-allow-methods')}).")
        expect(_listed(asked) <= _listed(found.get("access-control-allow-headers")),
               f"The preflight answer does not list {asked!r} in Access-Control-Allow-Headers "
               f"({found.get('access-control-allow-headers')}).")


@suite.check("preflight_refuses_origins", "preflight_headers: other origins, lookalikes and "
                                          "null are refused")
def preflight_refuses_origins(trial: Trial) -> None:
    for origin in (attacks.MALLORY_SITE, "null", *LOOKALIKES):
        found = _preflight(trial, origin, "GET")
        expect(found is None, f"A preflight from {origin} got {found}: return None for any "
                              "origin that is not exactly one of the allowed ones.")


@suite.check("preflight_refuses_methods", "preflight_headers: only GET, POST and DELETE")
def preflight_refuses_methods(trial: Trial) -> None:
    for method in ("PUT", "PATCH", "TRACE"):
        found = _preflight(trial, APP, method)
        expect(found is None, f"A preflight for {method} got {found}. Allow the methods the API "
                              "has (GET, POST, DELETE); anything else is refused.")


@suite.check("preflight_refuses_headers", "preflight_headers: a header not on the list is "
                                          "refused")
def preflight_refuses_headers(trial: Trial) -> None:
    for asked in ("x-evil", "authorization,x-forwarded-for", "content-type, cookie"):
        found = _preflight(trial, APP, "POST", asked)
        expect(found is None, f"A preflight asking to send {asked!r} got {found}. Every header "
                              "it asks for must be on the list (authorization, content-type, "
                              "x-csrf-token, x-request-id); one that is not makes it a refusal.")


@suite.check("preflight_header_names", "preflight_headers: header names compared without case "
                                       "or spaces")
def preflight_header_names(trial: Trial) -> None:
    for asked in ("Authorization", "content-type, X-CSRF-Token", " authorization , content-type "):
        found = _preflight(trial, APP, "POST", asked)
        expect(found is not None, f"A preflight asking to send {asked!r} was refused. Header "
                                  "names are case-insensitive, and the list may have spaces "
                                  "after its commas: strip and lower-case each name.")


@suite.check("preflight_in_service", "your service: the front end's preflight passes, "
                                     "mallory's is refused")
def preflight_in_service(trial: Trial) -> None:
    trial.preflight_headers(APP, "GET", "", ALLOWED)
    with _scene(trial, {"cors_origins": (APP,)},
                preflight_headers=trial.preflight_headers) as scene:
        asked = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
        good = scene.client.options("/notes", headers={"Origin": APP, **asked})
        evil = scene.client.options("/notes", headers={"Origin": attacks.MALLORY_SITE, **asked})
    expect(good.status_code == 204 and good.headers.get("access-control-allow-origin") == APP,
           f"The front end's preflight got HTTP {good.status_code}, "
           f"Access-Control-Allow-Origin: {good.headers.get('access-control-allow-origin')}.")
    expect(evil.status_code == 403 and "access-control-allow-origin" not in evil.headers,
           f"mallory's preflight got HTTP {evil.status_code}, Access-Control-Allow-Origin: "
           f"{evil.headers.get('access-control-allow-origin')}.")


# -- exercise 5: framing -------------------------------------------------------------------------


def _framing(trial: Trial, pairs: Mapping[str, str] | list[tuple[str, str]]) -> str:
    found = trial.framing(httpx2.Headers(pairs))
    expect_type(found, str, "framing", "one outcome name (a str), e.g. "
                                       "'x-frame-options-implemented-via-csp'")
    return found


def _expect_outcome(got: str, wanted: str, given: object, why: str) -> None:
    expect(got == wanted, f"For headers {given} your framing said {got!r}; it should be "
                          f"{wanted!r}. {why}")


@suite.check("framing_via_csp", "framing: frame-ancestors in the CSP wins, whatever "
                                "X-Frame-Options says")
def framing_via_csp(trial: Trial) -> None:
    for given in ({"Content-Security-Policy": headers.API_CSP},
                  {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'",
                   "X-Frame-Options": "nonsense"},
                  {"Content-Security-Policy": "frame-ancestors https://partner.example"}):
        _expect_outcome(_framing(trial, given), "x-frame-options-implemented-via-csp", given,
                        "Any frame-ancestors directive in an enforced CSP counts, and browsers "
                        "that know it ignore X-Frame-Options.")


@suite.check("framing_xfo", "framing: X-Frame-Options DENY, SAMEORIGIN, ALLOW-FROM or invalid")
def framing_xfo(trial: Trial) -> None:
    cases = ((" deny", "x-frame-options-sameorigin-or-deny"),
             ("SAMEORIGIN", "x-frame-options-sameorigin-or-deny"),
             ("ALLOW-FROM https://partner.example", "x-frame-options-allow-from-origin"),
             ("allowall", "x-frame-options-header-invalid"))
    for value, wanted in cases:
        given = {"X-Frame-Options": value, "Content-Security-Policy": "default-src 'self'"}
        _expect_outcome(_framing(trial, given), wanted, given,
                        "Compare the value trimmed and in lower case: deny or sameorigin, a "
                        "value starting with allow-from, or else invalid.")


@suite.check("framing_missing", "framing: neither header means not implemented")
def framing_missing(trial: Trial) -> None:
    for given in ({}, {"Content-Security-Policy": "default-src 'none'"}):
        _expect_outcome(_framing(trial, given), "x-frame-options-not-implemented", given,
                        "With no frame-ancestors and no X-Frame-Options, any site may frame "
                        "the page.")


@suite.check("framing_report_only", "framing: a report-only policy blocks nothing")
def framing_report_only(trial: Trial) -> None:
    given = {"Content-Security-Policy-Report-Only": "frame-ancestors 'none'"}
    _expect_outcome(_framing(trial, given), "x-frame-options-not-implemented", given,
                    "Content-Security-Policy-Report-Only only reports: read frame-ancestors "
                    "from Content-Security-Policy alone.")


@suite.check("framing_directive_name", "framing: frame-ancestors as a directive, in any case")
def framing_directive_name(trial: Trial) -> None:
    given = {"Content-Security-Policy": "default-src 'none'; FRAME-ANCESTORS 'none'"}
    _expect_outcome(_framing(trial, given), "x-frame-options-implemented-via-csp", given,
                    "Directive names are case-insensitive.")
    given = {"Content-Security-Policy": "default-src 'none'; report-uri /frame-ancestors"}
    _expect_outcome(_framing(trial, given), "x-frame-options-not-implemented", given,
                    "Only a directive named frame-ancestors counts, not the words anywhere in "
                    "the policy: split it on ';' and look at the first word of each part "
                    "(lessons.grader.directives does that).")


@suite.check("framing_in_scan", "your grader: lesson 08's /docs fails framing, lesson 09's passes")
def framing_in_scan(trial: Trial) -> None:
    trial.framing(httpx2.Headers())
    for lesson, wanted in ((8, "x-frame-options-not-implemented"),
                           (9, "x-frame-options-implemented-via-csp")):
        with Scene(Variant(lesson), trial.root, accounts=()) as scene:
            seen = grader.observe("https://testserver/docs", client=scene.client)
        card = grader.scan(seen, framing=trial.framing)
        expect(card.outcome("x-frame-options") == wanted,
               f"Your grader judged lesson {lesson:02d}'s /docs "
               f"{card.outcome('x-frame-options')!r}; it is {wanted!r}.")


# -- exercise 6: grade ---------------------------------------------------------------------------


def _grade(trial: Trial, modifiers: list[int]) -> tuple[int, str]:
    found = trial.grade(list(modifiers))
    expect_type(found, tuple, "grade", "a tuple (score, grade), e.g. (130, 'A+')")
    expect(len(found) == 2 and isinstance(found[0], int) and isinstance(found[1], str),
           f"Your grade returned {found!r}; it should return (score as an int, grade as a "
           "str).")
    return found


def _expect_grade(trial: Trial, modifiers: list[int], wanted: tuple[int, str],
                  why: str) -> None:
    got = _grade(trial, modifiers)
    expect(got == wanted, f"For modifiers {modifiers} your grade gave {got}; it is {wanted}. "
                          f"{why}")


@suite.check("grade_chart", "grade: 100 plus the penalties, and the grade of that score")
def grade_chart(trial: Trial) -> None:
    for score, letter in sorted(grader.GRADES.items()):
        penalties = [-5] * ((100 - score) // 5)
        _expect_grade(trial, penalties, (score, letter),
                      "Start from 100, add the (negative) modifiers, and look the score up in "
                      "the chart (lessons.grader.GRADES).")


@suite.check("grade_extra_credit", "grade: bonuses count only when the penalties leave an A")
def grade_extra_credit(trial: Trial) -> None:
    cases = (([-5, 5], (100, "A+"), "95 without the bonus: it counts."),
             ([-10, 5], (95, "A"), "90 without the bonus is an A already: it counts."),
             ([-20, 10, 5], (80, "B+"), "80 without the bonuses: they do not count."),
             ([-25, -20, 10, 5, 10], (55, "C"), "55 without the bonuses: they do not count."))
    for modifiers, wanted, why in cases:
        _expect_grade(trial, modifiers, wanted,
                      f"{why} A bonus rewards a service that gets the basics right; it never "
                      "makes up for a missing one.")


@suite.check("grade_above_100", "grade: A+ from 100 up, the score kept as it is")
def grade_above_100(trial: Trial) -> None:
    for modifiers, wanted in (([5], (105, "A+")), ([10, 5, 5, 10], (130, "A+"))):
        _expect_grade(trial, modifiers, wanted, "Scores above 100 keep their value and grade A+ "
                                                "(the chart stops at 100).")


@suite.check("grade_floor", "grade: never below 0")
def grade_floor(trial: Trial) -> None:
    _expect_grade(trial, [-25, -20, -50, -20, -5], (0, "F"),
                  "100 - 120 is below 0: the score stops at 0.")


@suite.check("grade_in_scan", "your grader: lesson 08's /docs grades C, lesson 09's A+")
def grade_in_scan(trial: Trial) -> None:
    trial.grade([])
    for lesson, wanted in ((8, (55, "C")), (9, (130, "A+"))):
        with Scene(Variant(lesson), trial.root, accounts=()) as scene:
            seen = grader.observe("https://testserver/docs", client=scene.client)
        card = grader.scan(seen, grade=trial.grade)
        expect((card.score, card.grade) == wanted,
               f"Your grader gave lesson {lesson:02d}'s /docs {card.score} ({card.grade}); "
               f"the Observatory's method gives {wanted[0]} ({wanted[1]}).")


# -- what the notebook's exercises state, and what answers them --------------------------------

RULES: tuple[Rule, ...] = (
    Rule("csp_api", "content_security_policy",
         "Every answer but the two docs pages gets default-src 'none'; frame-ancestors 'none'; "
         "base-uri 'none', and nothing looser: the relaxed policy only where it is needed.",
         ("csp_api_policy",)),
    Rule("csp_docs_work", "content_security_policy",
         "The docs pages may load what they need from the service: scripts, styles, images "
         "('self' and data:) and their API calls.", ("csp_docs_work",)),
    Rule("csp_docs_no_inline", "content_security_policy",
         "No 'unsafe-inline', no 'unsafe-eval', no scheme or wildcard for scripts (errata: "
         "FastAPI's own docs page needs an inline script and a CDN; ours does not).",
         ("csp_docs_no_inline",)),
    Rule("csp_docs_framing", "content_security_policy",
         "The docs pages cannot be framed either: frame-ancestors 'none' there too.",
         ("csp_docs_framing", "csp_in_service")),
    Rule("csp_docs_base_object", "content_security_policy",
         "Every policy keeps object-src 'none' and base-uri 'none' (ASVS 5.0 3.4.3).",
         ("csp_docs_base_object",)),
    Rule("headers_set", "security_headers",
         "X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer, COOP and CORP "
         "same-origin.", ("headers_values",)),
    Rule("headers_every_status", "security_headers",
         "The same headers on every answer, whatever its status: errors, preflights, 204s.",
         ("headers_every_status", "headers_in_service")),
    Rule("headers_xss", "security_headers",
         "X-XSS-Protection is 0 or absent (errata: 1; mode=block is obsolete and can create "
         "holes).", ("headers_no_xss_filter",)),
    Rule("headers_no_store", "security_headers",
         "Cache-Control: no-store on every answer to an authenticated caller, whatever the "
         "method and status.", ("headers_no_store_authenticated", "headers_in_service")),
    Rule("headers_token", "security_headers",
         "Cache-Control: no-store on POST /auth/token, whose caller is not authenticated yet "
         "(RFC 6749 5.1).", ("headers_no_store_token",)),
    Rule("headers_public_cache", "security_headers",
         "Public answers keep their own Cache-Control: no-store only where the rules say.",
         ("headers_keep_public_caching",)),
    Rule("headers_no_hsts", "security_headers",
         "No Strict-Transport-Security here (errata: browsers ignore it over plain HTTP; lesson "
         "04 sends it on HTTPS answers).", ("headers_no_hsts",)),
    Rule("cors_exact", "cors_headers",
         "An allowed origin gets Access-Control-Allow-Origin set to itself (never *) and "
         "Access-Control-Allow-Credentials: true.", ("cors_allowed_origin", "cors_in_service")),
    Rule("cors_vary", "cors_headers", "With Vary: Origin.", ("cors_vary",)),
    Rule("cors_whole_origin", "cors_headers",
         "Origins are compared whole: no prefix, suffix, part, other scheme or other port.",
         ("cors_lookalikes",)),
    Rule("cors_null", "cors_headers", "Origin: null gets nothing, even if listed.",
         ("cors_null", "cors_in_service")),
    Rule("cors_others", "cors_headers",
         "Any other origin, and a request without one, gets no CORS header at all.",
         ("cors_others_nothing",)),
    Rule("preflight_allowed", "preflight_headers",
         "An allowed origin may send GET, POST and DELETE with the listed headers; the answer "
         "names the origin, credentials, the methods and the headers.",
         ("preflight_allows", "preflight_in_service")),
    Rule("preflight_origins", "preflight_headers",
         "A preflight from any other origin, a lookalike or null is refused (None).",
         ("preflight_refuses_origins", "preflight_in_service")),
    Rule("preflight_methods", "preflight_headers", "Only GET, POST and DELETE.",
         ("preflight_refuses_methods",)),
    Rule("preflight_headers", "preflight_headers",
         "Every header asked for must be on the list, or the preflight is refused.",
         ("preflight_refuses_headers",)),
    Rule("preflight_names", "preflight_headers",
         "Header names are compared without case and surrounding spaces.",
         ("preflight_header_names",)),
    Rule("framing_csp", "framing",
         "frame-ancestors in the enforced CSP means implemented via CSP, whatever "
         "X-Frame-Options says.", ("framing_via_csp", "framing_in_scan")),
    Rule("framing_xfo", "framing",
         "Otherwise X-Frame-Options decides: deny or sameorigin, allow-from, or invalid, "
         "compared trimmed and in lower case.", ("framing_xfo",)),
    Rule("framing_missing", "framing", "Neither: not implemented.",
         ("framing_missing", "framing_in_scan")),
    Rule("framing_report_only", "framing",
         "A Content-Security-Policy-Report-Only header blocks nothing and does not count.",
         ("framing_report_only",)),
    Rule("framing_directive", "framing",
         "frame-ancestors counts as a directive (any case), not as words anywhere in the "
         "policy.", ("framing_directive_name",)),
    Rule("grade_chart", "grade",
         "100 plus the penalties, and the grade of that score from the chart.",
         ("grade_chart", "grade_in_scan")),
    Rule("grade_extra_credit", "grade",
         "Bonuses count only when the penalties alone leave 90 or more.",
         ("grade_extra_credit",)),
    Rule("grade_above_100", "grade", "A+ from 100 up, the score kept as it is.",
         ("grade_above_100", "grade_in_scan")),
    Rule("grade_floor", "grade", "The score never goes below 0.", ("grade_floor",)),
)

# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "content_security_policy": headers.content_security_policy,
    "security_headers": headers.security_headers,
    "cors_headers": cors.cors_headers,
    "preflight_headers": cors.preflight_headers,
    "framing": grader.framing,
    "grade": grader.grade,
}


def check(**answers: Any) -> Report:
    """Run the lesson-09 checks: ``check(content_security_policy=..., security_headers=...,
    cors_headers=..., preflight_headers=..., framing=..., grade=...)``."""
    return suite.run(**answers)


__all__ = ["REFERENCE", "RULES", "WRONG_ANSWERS", "check", "suite"]
