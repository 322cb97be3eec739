"""Near misses for the lesson-09 exercises: what a learner who gets it almost right writes.

Each breaks one rule of ``lessons.checks.lesson09.RULES`` and must fail exactly the checks its
``WrongAnswer`` names (``tests/test_check_suites.py``). They are written the way the reference
is, with one thing wrong: a directive forgotten on one path, a source too many, a comparison
by prefix, a header added on some statuses only, a threshold off by one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import httpx2

from lessons import cors, docs_page, grader, headers
from lessons.checks import WrongAnswer

API = headers.API_CSP
DOCS_PAGES = headers.DOCS_PAGES
DOCS = docs_page.CSP

# -- content_security_policy ---------------------------------------------------------------------


def _docs_or_api(docs_policy: str, path: str) -> str:
    return docs_policy if path in DOCS_PAGES else API


def api_everywhere(path: str) -> str:
    """"One strict policy for the whole service": the docs page can no longer run."""
    return API


def docs_everywhere(path: str) -> str:
    """"One policy that works everywhere": every JSON answer may now load scripts."""
    return DOCS


def docs_by_prefix(path: str) -> str:
    """Anything under /docs, its scripts and stylesheets too, gets the relaxed policy."""
    return DOCS if path.startswith("/docs") else API


def api_without_base_uri(path: str) -> str:
    return DOCS if path in DOCS_PAGES else "default-src 'none'; frame-ancestors 'none'"


def docs_unsafe_inline(path: str) -> str:
    """What makes FastAPI's own docs page (an inline start-up script) work."""
    return _docs_or_api(DOCS.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"),
                        path)


def docs_unsafe_eval(path: str) -> str:
    return _docs_or_api(DOCS.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'"),
                        path)


def docs_any_https_script(path: str) -> str:
    """"So that the CDN's copy works too": any site's script, over HTTPS."""
    return _docs_or_api(DOCS.replace("script-src 'self'", "script-src 'self' https:"), path)


def docs_without_connect(path: str) -> str:
    """The page renders, but "Try it out" and the OpenAPI document are blocked."""
    return _docs_or_api(DOCS.replace(" connect-src 'self';", ""), path)


def docs_without_data_images(path: str) -> str:
    return _docs_or_api(DOCS.replace("img-src 'self' data:", "img-src 'self'"), path)


def docs_without_frame_ancestors(path: str) -> str:
    """frame-ancestors on the API policy only: the page people click in can be framed."""
    return _docs_or_api(DOCS.replace("; frame-ancestors 'none'", ""), path)


def docs_without_base_uri(path: str) -> str:
    return _docs_or_api(DOCS.replace(" base-uri 'none';", ""), path)


def docs_default_self(path: str) -> str:
    """The guide's policy for everything, with framing added: default-src 'self' leaves
    object-src at 'self' and base-uri open."""
    return _docs_or_api("default-src 'self'; img-src 'self' data:; frame-ancestors 'none'", path)


# -- security_headers ----------------------------------------------------------------------------

EVERY = dict(headers.EVERY_ANSWER)
TOKEN = headers.TOKEN_ENDPOINT


def _with_cache(found: dict[str, str], method: str, path: str, authenticated: bool) -> dict[
        str, str]:
    if authenticated or (method == "POST" and path == TOKEN):
        found["Cache-Control"] = "no-store"
    return found


def successes_only(method: str, path: str, status: int, authenticated: bool) -> dict[str, str]:
    """"Error answers have nothing to protect": the headers on 2xx answers only."""
    found = dict(EVERY) if 200 <= status < 300 else {}
    return _with_cache(found, method, path, authenticated)


def referrer_strict_origin(method: str, path: str, status: int,
                           authenticated: bool) -> dict[str, str]:
    """A good policy for a site, but not what the contract asks for an API: the origin
    still leaves."""
    found = {**EVERY, "Referrer-Policy": "strict-origin-when-cross-origin"}
    return _with_cache(found, method, path, authenticated)


def corp_cross_origin(method: str, path: str, status: int, authenticated: bool) -> dict[str, str]:
    found = {**EVERY, "Cross-Origin-Resource-Policy": "cross-origin"}
    return _with_cache(found, method, path, authenticated)


def xss_filter_on(method: str, path: str, status: int, authenticated: bool) -> dict[str, str]:
    """The errata's header, from many a checklist."""
    found = {**EVERY, "X-XSS-Protection": "1; mode=block"}
    return _with_cache(found, method, path, authenticated)


def no_store_on_get_only(method: str, path: str, status: int,
                         authenticated: bool) -> dict[str, str]:
    """"Only reads are cached": an authenticated POST's answer (the new note) is not marked."""
    found = dict(EVERY)
    if (authenticated and method == "GET") or (method == "POST" and path == TOKEN):
        found["Cache-Control"] = "no-store"
    return found


def no_store_on_success_only(method: str, path: str, status: int,
                             authenticated: bool) -> dict[str, str]:
    found = dict(EVERY)
    return _with_cache(found, method, path, authenticated) if status < 400 else found


def no_cache_instead(method: str, path: str, status: int, authenticated: bool) -> dict[str, str]:
    """no-cache lets every cache keep the answer; it only asks it to check before reusing it."""
    found = dict(EVERY)
    if authenticated or (method == "POST" and path == TOKEN):
        found["Cache-Control"] = "no-cache"
    return found


def authenticated_only(method: str, path: str, status: int, authenticated: bool) -> dict[str, str]:
    """Forgets the token endpoint, whose caller is not authenticated yet."""
    found = dict(EVERY)
    if authenticated:
        found["Cache-Control"] = "no-store"
    return found


def no_store_everywhere(method: str, path: str, status: int, authenticated: bool) -> dict[str, str]:
    """"Safe by default": Swagger UI's bundle is downloaded again on every visit."""
    return {**EVERY, "Cache-Control": "no-store"}


def with_hsts(method: str, path: str, status: int, authenticated: bool) -> dict[str, str]:
    found = {**EVERY, "Strict-Transport-Security": "max-age=63072000; includeSubDomains"}
    return _with_cache(found, method, path, authenticated)


# -- cors_headers --------------------------------------------------------------------------------

ALLOW_ORIGIN, CREDENTIALS = cors.ALLOW_ORIGIN, cors.ALLOW_CREDENTIALS


def _allow(origin: str) -> dict[str, str]:
    return {ALLOW_ORIGIN: origin, CREDENTIALS: "true", "Vary": "Origin"}


def wildcard_for_allowed(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    """* with credentials: browsers refuse it, so the allowed front end cannot read anything."""
    if origin is None or origin == "null" or origin not in allowed:
        return {}
    return {ALLOW_ORIGIN: "*", CREDENTIALS: "true", "Vary": "Origin"}


def no_credentials(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    if origin is None or origin == "null" or origin not in allowed:
        return {}
    return {ALLOW_ORIGIN: origin, "Vary": "Origin"}


def no_vary(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    if origin is None or origin == "null" or origin not in allowed:
        return {}
    return {ALLOW_ORIGIN: origin, CREDENTIALS: "true"}


def by_prefix(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    if origin is None or origin == "null":
        return {}
    return _allow(origin) if any(origin.startswith(a) for a in allowed) else {}


def by_host_suffix(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    """"Our origins all end with example.org"."""
    if origin is None or origin == "null":
        return {}
    hosts = {a.split("://", 1)[1].split(":")[0] for a in allowed}
    name = origin.split("://", 1)[-1].split(":")[0]
    return _allow(origin) if any(name.endswith(h) for h in hosts) else {}


def by_substring(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    """The allow-list kept as the setting's text, and the origin looked for in it."""
    if origin is None or origin == "null":
        return {}
    return _allow(origin) if origin in ",".join(sorted(allowed)) else {}


def by_host_only(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    """Scheme and port ignored: http://app.example.org passes for https://app.example.org."""
    if origin is None or origin == "null":
        return {}
    hosts = {a.split("://", 1)[1].split(":")[0] for a in allowed}
    return _allow(origin) if origin.split("://", 1)[-1].split(":")[0] in hosts else {}


def null_for_local_files(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    """"So that pages opened from a file work while we develop"."""
    if origin is None or origin not in {*allowed, "null"}:
        return {}
    return _allow(origin)


def null_when_listed(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    """Refuses null unless someone listed it."""
    return _allow(origin) if origin is not None and origin in allowed else {}


def credentials_always(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    """Access-Control-Allow-Credentials on every answer, "it does nothing without the origin"."""
    if origin is None or origin == "null" or origin not in allowed:
        return {CREDENTIALS: "true"}
    return _allow(origin)


def first_allowed_for_others(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    """A fixed origin for everyone else: harmless to the browser, but it tells every visitor
    which front end is trusted, and breaks the contract."""
    if origin is not None and origin != "null" and origin in allowed:
        return _allow(origin)
    return {ALLOW_ORIGIN: sorted(allowed)[0]} if origin is not None else {}


# -- preflight_headers ---------------------------------------------------------------------------

METHODS, HEADERS = cors.ALLOWED_METHODS, cors.ALLOWED_HEADERS


def _preflight_answer(origin: str, methods: Sequence[str] = METHODS,
                      names: Sequence[str] = HEADERS) -> dict[str, str]:
    return {ALLOW_ORIGIN: origin, CREDENTIALS: "true",
            "Access-Control-Allow-Methods": ", ".join(methods),
            "Access-Control-Allow-Headers": ", ".join(names),
            "Access-Control-Max-Age": "600", "Vary": "Origin"}


def _asked(request_headers: str) -> set[str]:
    return {name.strip().lower() for name in request_headers.split(",") if name.strip()}


def preflight_any_origin(origin: str, method: str, request_headers: str,
                         allowed: Collection[str]) -> dict[str, str] | None:
    """Checks the method and headers, and forgets the origin."""
    if method not in METHODS or not _asked(request_headers) <= set(HEADERS):
        return None
    return _preflight_answer(origin)


def preflight_by_prefix(origin: str, method: str, request_headers: str,
                        allowed: Collection[str]) -> dict[str, str] | None:
    if origin == "null" or not any(origin.startswith(a) for a in allowed):
        return None
    if method not in METHODS or not _asked(request_headers) <= set(HEADERS):
        return None
    return _preflight_answer(origin)


def preflight_any_method(origin: str, method: str, request_headers: str,
                         allowed: Collection[str]) -> dict[str, str] | None:
    """Echoes the method asked for, as Starlette's middleware does with allow_methods=['*']."""
    if origin == "null" or origin not in allowed or not _asked(request_headers) <= set(HEADERS):
        return None
    return _preflight_answer(origin, methods=(method,))


def preflight_any_header(origin: str, method: str, request_headers: str,
                         allowed: Collection[str]) -> dict[str, str] | None:
    """Echoes whatever headers were asked for."""
    if origin == "null" or origin not in allowed or method not in METHODS:
        return None
    return _preflight_answer(origin, names=sorted(_asked(request_headers)) or HEADERS)


def preflight_case_sensitive(origin: str, method: str, request_headers: str,
                             allowed: Collection[str]) -> dict[str, str] | None:
    if origin == "null" or origin not in allowed or method not in METHODS:
        return None
    asked = {name.strip() for name in request_headers.split(",") if name.strip()}
    return _preflight_answer(origin) if asked <= set(HEADERS) else None


def preflight_unstripped(origin: str, method: str, request_headers: str,
                         allowed: Collection[str]) -> dict[str, str] | None:
    """Splits on ',' and lower-cases, but keeps the spaces after each comma."""
    if origin == "null" or origin not in allowed or method not in METHODS:
        return None
    asked = {name.lower() for name in request_headers.split(",") if name}
    return _preflight_answer(origin) if asked <= set(HEADERS) else None


def preflight_without_methods(origin: str, method: str, request_headers: str,
                              allowed: Collection[str]) -> dict[str, str] | None:
    """Decides right, and forgets to say which methods may follow."""
    found = cors.preflight_headers(origin, method, request_headers, allowed)
    if found is not None:
        del found["Access-Control-Allow-Methods"]
    return found


# -- framing -------------------------------------------------------------------------------------


def _xfo(headers_: httpx2.Headers) -> str:
    value = headers_.get("x-frame-options")
    if value is None:
        return "x-frame-options-not-implemented"
    value = value.strip().lower()
    if value in ("deny", "sameorigin"):
        return "x-frame-options-sameorigin-or-deny"
    if value.startswith("allow-from"):
        return "x-frame-options-allow-from-origin"
    return "x-frame-options-header-invalid"


def _has_ancestors(values: list[str]) -> bool:
    for value in values:
        for part in value.split(";"):
            words = part.split()
            if words and words[0].lower() == "frame-ancestors":
                return True
    return False


def xfo_first(headers_: httpx2.Headers) -> str:
    """X-Frame-Options first, CSP only when it is missing."""
    if headers_.get("x-frame-options") is not None:
        return _xfo(headers_)
    if _has_ancestors(headers_.get_list("content-security-policy")):
        return "x-frame-options-implemented-via-csp"
    return "x-frame-options-not-implemented"


def xfo_case_sensitive(headers_: httpx2.Headers) -> str:
    if _has_ancestors(headers_.get_list("content-security-policy")):
        return "x-frame-options-implemented-via-csp"
    value = headers_.get("x-frame-options")
    if value is None:
        return "x-frame-options-not-implemented"
    if value in ("DENY", "SAMEORIGIN"):
        return "x-frame-options-sameorigin-or-deny"
    if value.startswith("ALLOW-FROM"):
        return "x-frame-options-allow-from-origin"
    return "x-frame-options-header-invalid"


def missing_is_invalid(headers_: httpx2.Headers) -> str:
    """No X-Frame-Options at all is reported as an invalid one."""
    if _has_ancestors(headers_.get_list("content-security-policy")):
        return "x-frame-options-implemented-via-csp"
    if headers_.get("x-frame-options") is None:
        return "x-frame-options-header-invalid"
    return _xfo(headers_)


def report_only_counts(headers_: httpx2.Headers) -> str:
    policies = [*headers_.get_list("content-security-policy"),
                *headers_.get_list("content-security-policy-report-only")]
    if _has_ancestors(policies):
        return "x-frame-options-implemented-via-csp"
    return _xfo(headers_)


def ancestors_by_substring(headers_: httpx2.Headers) -> str:
    if "frame-ancestors" in headers_.get("content-security-policy", "").lower():
        return "x-frame-options-implemented-via-csp"
    return _xfo(headers_)


def ancestors_case_sensitive(headers_: httpx2.Headers) -> str:
    for value in headers_.get_list("content-security-policy"):
        if any(part.split()[:1] == ["frame-ancestors"] for part in value.split(";")):
            return "x-frame-options-implemented-via-csp"
    return _xfo(headers_)


# -- grade ---------------------------------------------------------------------------------------


def _letter(score: int) -> str:
    return grader.GRADES[min(max(score, 0) - max(score, 0) % 5, 100)]


def bonus_always(modifiers: Sequence[int]) -> tuple[int, str]:
    score = max(100 + sum(modifiers), 0)
    return score, _letter(score)


def bonus_above_90(modifiers: Sequence[int]) -> tuple[int, str]:
    """Off by one: an A of exactly 90 gets no extra credit."""
    penalised = 100 + sum(m for m in modifiers if m < 0)
    score = max(100 + sum(modifiers) if penalised > 90 else penalised, 0)
    return score, _letter(score)


def a_plus_capped(modifiers: Sequence[int]) -> tuple[int, str]:
    """"A score is out of 100": the bonuses are kept, the score capped."""
    penalised = 100 + sum(m for m in modifiers if m < 0)
    score = max(min(100 + sum(modifiers) if penalised >= 90 else penalised, 100), 0)
    return score, _letter(score)


def no_floor(modifiers: Sequence[int]) -> tuple[int, str]:
    penalised = 100 + sum(m for m in modifiers if m < 0)
    score = 100 + sum(modifiers) if penalised >= 90 else penalised
    return score, "F" if score < 0 else _letter(score)


def chart_one_band_off(modifiers: Sequence[int]) -> tuple[int, str]:
    """A hand-written chart that forgets A-: 85 becomes a B+."""
    score, letter = grader.grade(modifiers)
    return score, "B+" if letter == "A-" else letter


_wrong = WrongAnswer.row


WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    # content_security_policy
    _wrong("csp_api", "the docs policy for every answer",
           {"csp_api_policy": "script-src"}, content_security_policy=docs_everywhere),
    _wrong("csp_api", "the docs policy for everything under /docs, its files too",
           {"csp_api_policy": "/docs/assets/init.js"}, content_security_policy=docs_by_prefix),
    _wrong("csp_api", "the API policy without base-uri",
           {"csp_api_policy": "base-uri (missing)"},
           content_security_policy=api_without_base_uri),
    _wrong("csp_docs_work", "the API's strict policy on the docs pages too",
           {"csp_docs_work": "Swagger UI would not run"},
           content_security_policy=api_everywhere),
    _wrong("csp_docs_work", "the docs policy without connect-src",
           {"csp_docs_work": "connect-src"}, content_security_policy=docs_without_connect),
    _wrong("csp_docs_work", "the docs policy without data: images",
           {"csp_docs_work": "data:"}, content_security_policy=docs_without_data_images),
    _wrong("csp_docs_no_inline", "'unsafe-inline' for scripts on the docs",
           {"csp_docs_no_inline": "'unsafe-inline'"},
           content_security_policy=docs_unsafe_inline),
    _wrong("csp_docs_no_inline", "'unsafe-eval' for scripts on the docs",
           {"csp_docs_no_inline": "'unsafe-eval'"}, content_security_policy=docs_unsafe_eval),
    _wrong("csp_docs_no_inline", "any HTTPS script on the docs",
           {"csp_docs_no_inline": "https:"}, content_security_policy=docs_any_https_script),
    _wrong("csp_docs_framing", "frame-ancestors forgotten on the docs pages",
           {"csp_docs_framing": "(missing)", "csp_in_service": "any site may frame it"},
           content_security_policy=docs_without_frame_ancestors),
    _wrong("csp_docs_base_object", "base-uri forgotten on the docs pages",
           {"csp_docs_base_object": "base-uri allows anything"},
           content_security_policy=docs_without_base_uri),
    _wrong("csp_docs_base_object", "the errata's default-src 'self' on the docs",
           {"csp_docs_base_object": "base-uri allows anything"},
           content_security_policy=docs_default_self),
    # security_headers
    _wrong("headers_every_status", "the headers on 2xx answers only",
           {"headers_every_status": "lacks", "headers_in_service": "came without"},
           security_headers=successes_only),
    _wrong("headers_set", "Referrer-Policy: strict-origin-when-cross-origin",
           {"headers_values": "referrer-policy"}, security_headers=referrer_strict_origin),
    _wrong("headers_set", "Cross-Origin-Resource-Policy: cross-origin",
           {"headers_values": "cross-origin-resource-policy"},
           security_headers=corp_cross_origin),
    _wrong("headers_xss", "X-XSS-Protection: 1; mode=block",
           {"headers_no_xss_filter": "1; mode=block"}, security_headers=xss_filter_on),
    _wrong("headers_no_store", "no-store on authenticated GETs only",
           {"headers_no_store_authenticated": "POST /notes 201",
            "headers_in_service": "POST /notes with a token"},
           security_headers=no_store_on_get_only),
    _wrong("headers_no_store", "no-store on successful answers only",
           {"headers_no_store_authenticated": "404"}, security_headers=no_store_on_success_only),
    _wrong("headers_no_store", "no-cache instead of no-store",
           {"headers_no_store_authenticated": "no-cache", "headers_no_store_token": "no-cache",
            "headers_in_service": "a cache may keep"},
           security_headers=no_cache_instead),
    _wrong("headers_token", "no-store for authenticated callers only",
           {"headers_no_store_token": "RFC 6749", "headers_in_service": "POST /auth/token"},
           security_headers=authenticated_only),
    _wrong("headers_public_cache", "no-store on every answer",
           {"headers_keep_public_caching": "cached for a year"},
           security_headers=no_store_everywhere),
    _wrong("headers_no_hsts", "HSTS added here as well",
           {"headers_no_hsts": "plain HTTP"}, security_headers=with_hsts),
    # cors_headers
    _wrong("cors_exact", "Access-Control-Allow-Origin: * for an allowed origin",
           {"cors_allowed_origin": "refuses *", "cors_in_service": "keeps the answer"},
           cors_headers=wildcard_for_allowed),
    _wrong("cors_exact", "no Access-Control-Allow-Credentials",
           {"cors_allowed_origin": "needs it set to true",
            "cors_in_service": "keeps the answer"}, cors_headers=no_credentials),
    _wrong("cors_vary", "no Vary: Origin", {"cors_vary": "Vary: None"}, cors_headers=no_vary),
    _wrong("cors_whole_origin", "origin.startswith(allowed)",
           {"cors_lookalikes": "app.example.org.mallory.example"}, cors_headers=by_prefix),
    _wrong("cors_whole_origin", "the host ends with an allowed host",
           {"cors_lookalikes": "evilapp.example.org"}, cors_headers=by_host_suffix),
    _wrong("cors_whole_origin", "the origin looked for in the allow-list's text",
           {"cors_lookalikes": "https://admin.example.org got"}, cors_headers=by_substring),
    _wrong("cors_whole_origin", "hosts compared, scheme and port ignored",
           {"cors_lookalikes": "http://app.example.org got"}, cors_headers=by_host_only),
    _wrong("cors_null", "null allowed for local files",
           {"cors_null": "Origin: null got", "cors_in_service": "Origin: null"},
           cors_headers=null_for_local_files),
    _wrong("cors_null", "null allowed when someone lists it",
           {"cors_null": "with null in the list"}, cors_headers=null_when_listed),
    _wrong("cors_others", "Access-Control-Allow-Credentials on every answer",
           {"cors_others_nothing": "not Access-Control-Allow-Credentials",
            "cors_lookalikes": "{'access-control-allow-credentials': 'true'}",
            "cors_null": "Origin: null got"},
           cors_headers=credentials_always),
    _wrong("cors_others", "the first allowed origin sent to everyone else",
           {"cors_others_nothing": "a fixed allowed origin",
            "cors_lookalikes": "https://admin.example.org:8443'}",
            "cors_null": "Origin: null got"},
           cors_headers=first_allowed_for_others),
    # preflight_headers
    _wrong("preflight_origins", "the origin is never checked",
           {"preflight_refuses_origins": "return None", "preflight_in_service": "mallory's"},
           preflight_headers=preflight_any_origin),
    _wrong("preflight_origins", "origins compared by prefix",
           {"preflight_refuses_origins": "app.example.org.mallory.example"},
           preflight_headers=preflight_by_prefix),
    _wrong("preflight_methods", "the method asked for is echoed back",
           {"preflight_refuses_methods": "PUT"}, preflight_headers=preflight_any_method),
    _wrong("preflight_headers", "the headers asked for are echoed back",
           {"preflight_refuses_headers": "x-evil"}, preflight_headers=preflight_any_header),
    _wrong("preflight_names", "header names compared with their case",
           {"preflight_header_names": "'Authorization'"},
           preflight_headers=preflight_case_sensitive),
    _wrong("preflight_names", "the spaces after the commas kept",
           {"preflight_header_names": "X-CSRF-Token"}, preflight_headers=preflight_unstripped),
    _wrong("preflight_allowed", "Access-Control-Allow-Methods forgotten",
           {"preflight_allows": "Access-Control-Allow-Methods"},
           preflight_headers=preflight_without_methods),
    # framing
    _wrong("framing_csp", "X-Frame-Options looked at first",
           {"framing_via_csp": "nonsense"}, framing=xfo_first),
    _wrong("framing_xfo", "X-Frame-Options compared with its case and spaces",
           {"framing_xfo": "' deny'"}, framing=xfo_case_sensitive),
    _wrong("framing_missing", "a missing X-Frame-Options called invalid",
           {"framing_missing": "x-frame-options-not-implemented",
            "framing_report_only": "x-frame-options-header-invalid",
            "framing_directive_name": "x-frame-options-header-invalid",
            "framing_in_scan": "lesson 08"}, framing=missing_is_invalid),
    _wrong("framing_report_only", "a report-only policy counted",
           {"framing_report_only": "Report-Only"}, framing=report_only_counts),
    _wrong("framing_directive", "frame-ancestors looked for anywhere in the policy",
           {"framing_directive_name": "report-uri"}, framing=ancestors_by_substring),
    _wrong("framing_directive", "the directive name compared with its case",
           {"framing_directive_name": "FRAME-ANCESTORS"}, framing=ancestors_case_sensitive),
    # grade
    _wrong("grade_extra_credit", "the bonuses always count",
           {"grade_extra_credit": "80 without the bonuses"}, grade=bonus_always),
    _wrong("grade_extra_credit", "extra credit only above 90",
           {"grade_extra_credit": "an A already"}, grade=bonus_above_90),
    _wrong("grade_above_100", "the score capped at 100",
           {"grade_above_100": "keep their value", "grade_in_scan": "130"},
           grade=a_plus_capped),
    _wrong("grade_floor", "a score below 0", {"grade_floor": "stops at 0"}, grade=no_floor),
    _wrong("grade_chart", "a chart without A-", {"grade_chart": "(85, 'A-')"},
           grade=chart_one_band_off),
)
