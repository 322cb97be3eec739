"""Lesson 09: a grader that scores a service's answers the way MDN's HTTP Observatory does.

The HTTP Observatory publishes how it scores a site ("Tests & scoring" in its documentation on
MDN, https://developer.mozilla.org/en-US/observatory/docs/tests_and_scoring), and its scanner
is open source (``@mdn/mdn-http-observatory``, scoring algorithm version 4). This module is our
own reading of that method, written for the Notes service:

1. Look at what a browser would get: the page over HTTPS (``Observation.page``), the route a
   plain-HTTP visit takes (``Observation.redirects``), the answer to a CORS preflight sent
   from a foreign origin, and the cookies set on the way.
2. Run ten tests. Each ends in one *outcome* (a name such as ``"referrer-policy-private"``)
   that carries a score modifier and a pass/fail mark (``OUTCOMES``): CSP, cookies, CORS,
   redirection, Referrer-Policy, HSTS, Subresource Integrity, X-Content-Type-Options,
   framing (X-Frame-Options or CSP ``frame-ancestors``), Cross-Origin-Resource-Policy.
3. Score: start from 100 and add the modifiers; the bonuses count only when the score
   without them is at least 90. The grade follows from the score, A+ from 100 up.

Where we simplify, we say so: headers only (no ``<meta http-equiv>`` policies), no HSTS
preload list (no host of a workbook is on it), and "another site" for scripts means another
host. ``tests/test_lesson09.py`` runs the real scanner against the served service, and against
a site that gets most things wrong, and compares every outcome with ours. They differ in one
place, where the scanner (1.4.8, and its source to this day) cannot see what it means to: it
compares the CORS preflight's ``Access-Control-Allow-Origin`` with the ``Origin`` it sent, but
looks for that header where axios does not keep it, so a site that reflects every origin with
credentials is "restricted access" to it, and -50 by the published scoring, which we follow.

``framing`` and ``grade`` are the learner's exercises; ``scan`` takes them as arguments.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpx2

if TYPE_CHECKING:
    from lessons.attacks import Scene

# The origin the Observatory sends its CORS preflight from.
FOREIGN_ORIGIN = "https://http-observatory.security.mozilla.org"
MAX_REDIRECTS = 10
SIX_MONTHS = 15552000  # the Observatory's "six months" (a little under 15768000)

# -- the outcomes, their modifiers, and which of them pass ---------------------------------------

Outcome = tuple[int, bool]  # (score modifier, passes)

OUTCOMES: Mapping[str, Outcome] = {
    # Content-Security-Policy
    "csp-implemented-with-no-unsafe-default-src-none": (10, True),
    "csp-implemented-with-no-unsafe": (5, True),
    "csp-implemented-with-unsafe-inline-in-style-src-only": (0, True),
    "csp-implemented-with-insecure-scheme-in-passive-content-only": (-10, True),
    "csp-implemented-but-duplicate-directives": (0, True),
    "csp-implemented-with-unsafe-eval": (-10, False),
    "csp-implemented-with-unsafe-inline": (-20, False),
    "csp-implemented-with-insecure-scheme": (-20, False),
    "csp-header-invalid": (-25, False),
    "csp-not-implemented": (-25, False),
    "csp-not-implemented-but-reporting-enabled": (-25, False),
    # Cookies
    "cookies-secure-with-httponly-sessions-and-samesite": (5, True),
    "cookies-secure-with-httponly-sessions": (0, True),
    "cookies-not-found": (0, True),
    "cookies-without-secure-flag-but-protected-by-hsts": (-5, False),
    "cookies-session-without-secure-flag-but-protected-by-hsts": (-10, False),
    "cookies-without-secure-flag": (-20, False),
    "cookies-samesite-flag-invalid": (-20, False),
    "cookies-anticsrf-without-samesite-flag": (-20, False),
    "cookies-session-without-httponly-flag": (-30, False),
    "cookies-session-without-secure-flag": (-40, False),
    # Cross-origin resource sharing
    "cross-origin-resource-sharing-not-implemented": (0, True),
    "cross-origin-resource-sharing-implemented-with-public-access": (0, True),
    "cross-origin-resource-sharing-implemented-with-restricted-access": (0, True),
    "cross-origin-resource-sharing-implemented-with-universal-access": (-50, False),
    # Redirection from plain HTTP
    "redirection-to-https": (0, True),
    "redirection-not-needed-no-http": (0, True),
    "redirection-off-host-from-http": (-5, False),
    "redirection-not-to-https-on-initial-redirection": (-10, False),
    "redirection-not-to-https": (-20, False),
    "redirection-missing": (-20, False),
    "redirection-invalid-cert": (-20, False),
    # Referrer-Policy
    "referrer-policy-private": (5, True),
    "referrer-policy-not-implemented": (0, True),
    "referrer-policy-unsafe": (-5, False),
    "referrer-policy-header-invalid": (-5, False),
    # Strict-Transport-Security
    "hsts-implemented-max-age-at-least-six-months": (0, True),
    "hsts-implemented-max-age-less-than-six-months": (-10, False),
    "hsts-not-implemented": (-20, False),
    "hsts-header-invalid": (-20, False),
    "hsts-not-implemented-no-https": (-20, False),
    "hsts-invalid-cert": (-20, False),
    # Subresource Integrity
    "sri-implemented-and-all-scripts-loaded-securely": (5, True),
    "sri-implemented-and-external-scripts-loaded-securely": (5, True),
    "sri-not-implemented-response-not-html": (0, True),
    "sri-not-implemented-but-no-scripts-loaded": (0, True),
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin": (0, True),
    "sri-not-implemented-but-external-scripts-loaded-securely": (-5, False),
    "sri-implemented-but-external-scripts-not-loaded-securely": (-20, False),
    "sri-not-implemented-and-external-scripts-not-loaded-securely": (-50, False),
    # X-Content-Type-Options
    "x-content-type-options-nosniff": (0, True),
    "x-content-type-options-not-implemented": (-5, False),
    "x-content-type-options-header-invalid": (-5, False),
    # Framing: X-Frame-Options, or CSP frame-ancestors
    "x-frame-options-implemented-via-csp": (5, True),
    "x-frame-options-sameorigin-or-deny": (0, True),
    "x-frame-options-allow-from-origin": (0, True),
    "x-frame-options-not-implemented": (-20, False),
    "x-frame-options-header-invalid": (-20, False),
    # Cross-Origin-Resource-Policy
    "corp-implemented-with-same-origin": (10, True),
    "corp-implemented-with-same-site": (10, True),
    "corp-implemented-with-cross-origin": (0, True),
    "corp-not-implemented": (0, True),
    "corp-header-invalid": (-5, False),
}

# Score (a multiple of 5, at most 100) -> grade.
GRADES: Mapping[int, str] = {
    100: "A+", 95: "A", 90: "A", 85: "A-", 80: "B+", 75: "B", 70: "B", 65: "B-", 60: "C+",
    55: "C", 50: "C", 45: "C-", 40: "D+", 35: "D", 30: "D", 25: "D-", 20: "F", 15: "F",
    10: "F", 5: "F", 0: "F",
}
# Bonuses count only for a service that already earns an A without them.
EXTRA_CREDIT_FROM = 90


# -- what was observed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One answer: where it came from, its status, headers and text, and whether its TLS
    certificate chain was verified (always True for plain HTTP, which has none)."""

    url: str
    status: int
    headers: httpx2.Headers
    text: str = ""
    verified: bool = True

    @property
    def https(self) -> bool:
        return self.url.startswith("https:")


@dataclass(frozen=True)
class Observation:
    """Everything the tests look at. ``page`` is the answer a browser ends up with (over HTTPS
    when the service has it); ``redirects`` the (URL, status) route of a plain-HTTP visit, or
    None when nothing answers over plain HTTP; ``preflight`` the answer to an ``OPTIONS``
    preflight sent from ``FOREIGN_ORIGIN``; ``cookies`` every ``Set-Cookie`` seen."""

    page: Page
    redirects: tuple[tuple[str, int], ...] | None = None
    redirects_verified: bool = True
    preflight: httpx2.Headers | None = None
    cookies: tuple[str, ...] = ()


# -- a Content-Security-Policy, read as the Observatory reads it ------------------------------


class PolicyError(ValueError):
    """A policy that cannot be read: empty, too short, or with a directive given twice."""


DUPLICATES_ALLOWED = frozenset({"report-uri", "report-to"})
BROAD = frozenset({"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*",
                   "https://*.*"})
INLINE = frozenset({"'unsafe-inline'", "data:"})
NONCE_OR_HASH = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")


def _parse(policy: str) -> tuple[dict[str, list[str]], bool]:
    """The directives of one policy, and whether a reporting directive was given twice."""
    text = re.sub(r"[\r\n]", "", policy).strip()
    if len(text) < len("img-src") - 1:
        raise PolicyError(f"not a policy: {policy!r}")
    found: dict[str, list[str]] = {}
    repeated = False
    for part in text.split(";"):
        words = part.split()
        if not words:
            continue
        name, sources = words[0].lower(), [word.lower() for word in words[1:]]
        if name in found:
            if name not in DUPLICATES_ALLOWED:
                raise PolicyError(f"{name} is given twice")
            repeated = True
            continue
        found[name] = sources or (["'none'"] if name.endswith("-src") else [])
    return found, repeated


def directives(policy: str) -> dict[str, list[str]]:
    """The directives of one policy, by lower-case name, each with its sources (lower case).

    A source list left empty means ``'none'``. Raises ``PolicyError`` for a policy that is
    empty or too short to hold a directive, or that names a directive twice (browsers use the
    first and ignore the rest; the Observatory calls it invalid, so that someone notices;
    only report-uri and report-to may repeat)."""
    return _parse(policy)[0]


def combined_policy(values: Sequence[str]) -> dict[str, set[str]]:
    """Several CSP headers all apply: a source counts only where every policy that names the
    directive allows it. (The Observatory also matches URL paths between policies; exact
    sources are enough here.)"""
    combined: dict[str, set[str]] = {}
    for value in values:
        for name, sources in directives(value).items():
            combined[name] = set(sources) if name not in combined else combined[name] & set(
                sources)
    return {name: sources or {"'none'"} for name, sources in combined.items()}


# -- the ten tests -------------------------------------------------------------------------------


def csp_test(observation: Observation) -> str:
    page = observation.page
    values = page.headers.get_list("content-security-policy")
    if not values:
        if page.headers.get("content-security-policy-report-only"):
            return "csp-not-implemented-but-reporting-enabled"
        return "csp-not-implemented"
    try:
        policy = combined_policy(values)
    except PolicyError:
        return "csp-header-invalid"

    def sources(name: str) -> set[str]:
        return set(policy.get(name) or policy.get("default-src") or {"*"})

    script, style, objects = sources("script-src"), sources("style-src"), sources("object-src")
    for chosen in (script, style):  # a nonce or hash makes browsers ignore 'unsafe-inline'
        if any(source.startswith(NONCE_OR_HASH) for source in chosen):
            chosen.discard("'unsafe-inline'")
    outcome = ""
    if "'strict-dynamic'" in script:
        if any(source.startswith(NONCE_OR_HASH) for source in script):
            script = {source for source in script if source not in ("'self'", "'unsafe-inline'")
                      and not source.startswith(tuple(BROAD))}
        else:
            outcome = "csp-header-invalid"
    active = [source for name, values_ in policy.items()
              if name not in ("img-src", "media-src", "script-src") for source in values_]
    active += list(script)
    passive = [source for name in ("img-src", "media-src")
               for source in policy.get(name) or policy.get("default-src") or ()]
    insecure = ("http:", "ftp:")
    checks = (
        (script & (BROAD | INLINE) or objects & BROAD, "csp-implemented-with-unsafe-inline"),
        (page.https and any(s.startswith(insecure) for s in active),
         "csp-implemented-with-insecure-scheme"),
        ("'unsafe-eval'" in script | style, "csp-implemented-with-unsafe-eval"),
        (page.https and any(s.startswith(insecure) for s in passive),
         "csp-implemented-with-insecure-scheme-in-passive-content-only"),
        (style & (BROAD | INLINE), "csp-implemented-with-unsafe-inline-in-style-src-only"),
        (policy.get("default-src") == {"'none'"},
         "csp-implemented-with-no-unsafe-default-src-none"),
        (True, "csp-implemented-with-no-unsafe"),
    )
    for found, name in checks:  # the first that applies is the outcome
        if not outcome and found:
            outcome = name
    if OUTCOMES[outcome][1] and any(_parse(value)[1] for value in values):
        return "csp-implemented-but-duplicate-directives"
    return outcome


COOKIE_WORST_LAST = (
    "cookies-without-secure-flag-but-protected-by-hsts", "cookies-without-secure-flag",
    "cookies-session-without-secure-flag-but-protected-by-hsts", "cookies-samesite-flag-invalid",
    "cookies-anticsrf-without-samesite-flag", "cookies-session-without-httponly-flag",
    "cookies-session-without-secure-flag",
)


def _cookie(header: str) -> tuple[str, dict[str, str]]:
    """A ``Set-Cookie`` value's name and its attributes (lower-case names)."""
    first, *rest = header.split(";")
    attributes = {}
    for part in rest:
        key, _, value = part.strip().partition("=")
        attributes[key.strip().lower()] = value.strip()
    return first.partition("=")[0].strip(), attributes


def cookies_test(observation: Observation) -> str:
    if not observation.cookies:
        return "cookies-not-found"
    hsts = OUTCOMES[hsts_test(observation)][1]
    worst = ""

    def worse(outcome: str) -> None:
        nonlocal worst
        if not worst or COOKIE_WORST_LAST.index(outcome) > COOKIE_WORST_LAST.index(worst):
            worst = outcome

    missing_samesite = False
    for header in observation.cookies:
        name, attributes = _cookie(header)
        secure, samesite = "secure" in attributes, attributes.get("samesite")
        session = any(word in name.lower() for word in ("login", "sess"))
        if samesite is not None and samesite.lower() not in ("lax", "strict", "none"):
            worse("cookies-samesite-flag-invalid")
        if not secure and (samesite or "").lower() == "none":
            worse("cookies-samesite-flag-invalid")
        if not secure:
            worse("cookies-without-secure-flag-but-protected-by-hsts" if hsts
                  else "cookies-without-secure-flag")
        if "csrf" in name.lower() and not samesite:
            worse("cookies-anticsrf-without-samesite-flag")
        if session and not secure:
            worse("cookies-session-without-secure-flag-but-protected-by-hsts" if hsts
                  else "cookies-session-without-secure-flag")
        if session and "httponly" not in attributes:
            worse("cookies-session-without-httponly-flag")
        missing_samesite = missing_samesite or not samesite
    if worst:
        return worst
    return ("cookies-secure-with-httponly-sessions" if missing_samesite
            else "cookies-secure-with-httponly-sessions-and-samesite")


def cors_test(observation: Observation) -> str:
    answer = observation.preflight
    allowed = answer.get("access-control-allow-origin") if answer is not None else None
    if not allowed:
        return "cross-origin-resource-sharing-not-implemented"
    if allowed.strip().lower() == "*":
        return "cross-origin-resource-sharing-implemented-with-public-access"
    if allowed == FOREIGN_ORIGIN and (answer.get("access-control-allow-credentials") or ""
                                      ).strip().lower() == "true":
        return "cross-origin-resource-sharing-implemented-with-universal-access"
    return "cross-origin-resource-sharing-implemented-with-restricted-access"


def redirection_test(observation: Observation) -> str:
    route = observation.redirects
    if not route:
        return "redirection-not-needed-no-http"
    if not observation.redirects_verified:
        return "redirection-invalid-cert"
    urls = [urlsplit(url) for url, _ in route]
    if len(route) == 1:
        return "redirection-missing"
    if urls[-1].scheme != "https":
        return "redirection-not-to-https"
    if urls[1].scheme == "http":
        return "redirection-not-to-https-on-initial-redirection"
    if urls[0].hostname != urls[1].hostname:
        return "redirection-off-host-from-http"
    return "redirection-to-https"


PRIVATE_REFERRERS = ("no-referrer", "same-origin", "strict-origin",
                     "strict-origin-when-cross-origin")
UNSAFE_REFERRERS = ("origin", "origin-when-cross-origin", "unsafe-url",
                    "no-referrer-when-downgrade")


def referrer_policy_test(observation: Observation) -> str:
    values = observation.page.headers.get_list("referrer-policy")
    if not values:
        return "referrer-policy-not-implemented"
    # The last value a browser understands is the one it uses.
    known = [token.strip().lower() for value in values for token in value.split(",")
             if token.strip().lower() in PRIVATE_REFERRERS + UNSAFE_REFERRERS]
    if not known:
        return "referrer-policy-header-invalid"
    return ("referrer-policy-private" if known[-1] in PRIVATE_REFERRERS
            else "referrer-policy-unsafe")


def hsts_test(observation: Observation) -> str:
    page = observation.page
    if not page.https:
        return "hsts-not-implemented-no-https"
    if not page.verified:
        return "hsts-invalid-cert"
    value = page.headers.get("strict-transport-security")
    if value is None:
        return "hsts-not-implemented"
    # Sent twice, the header reaches us joined by a comma: invalid, as for the Observatory.
    if "," in value:
        return "hsts-header-invalid"
    ages = [part.strip().lower()[len("max-age="):] for part in value.split(";")
            if part.strip().lower().startswith("max-age=")]
    match = re.match(r"\d+", ages[-1]) if ages else None
    if match is None:
        return "hsts-header-invalid"
    return ("hsts-implemented-max-age-at-least-six-months" if int(match[0]) >= SIX_MONTHS
            else "hsts-implemented-max-age-less-than-six-months")


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))


SRI_WORST_LAST = (
    "sri-implemented-and-all-scripts-loaded-securely",
    "sri-implemented-and-external-scripts-loaded-securely",
    "sri-implemented-but-external-scripts-not-loaded-securely",
    "sri-not-implemented-but-external-scripts-loaded-securely",
    "sri-not-implemented-and-external-scripts-not-loaded-securely",
)


def sri_test(observation: Observation) -> str:
    page = observation.page
    media_type = page.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("text/html", "application/xhtml+xml"):
        return "sri-not-implemented-response-not-html"
    parser = _Scripts()
    parser.feed(page.text)
    if not parser.scripts:
        return "sri-not-implemented-but-no-scripts-loaded"
    host = urlsplit(page.url).hostname
    outcome, foreign = "", False
    for script in parser.scripts:
        source, integrity = script.get("src"), script.get("integrity")
        if not source:
            continue
        scheme_relative = source.startswith("//")
        absolute = re.match(r"https?://", source) is not None
        ours = not scheme_relative and (not absolute or urlsplit(source).hostname == host)
        secure = (urlsplit(source).scheme == "https" if absolute
                  else not scheme_relative and page.https)
        if ours:
            if integrity and secure and not outcome:
                outcome = "sri-implemented-and-all-scripts-loaded-securely"
            continue
        foreign = True
        found = ("sri-implemented-but-external-scripts-not-loaded-securely" if integrity
                 and not secure else
                 "sri-not-implemented-but-external-scripts-loaded-securely" if not integrity
                 and secure else
                 "sri-not-implemented-and-external-scripts-not-loaded-securely" if not integrity
                 else "")
        if found and (not outcome or SRI_WORST_LAST.index(found) > SRI_WORST_LAST.index(outcome)):
            outcome = found
    if outcome:
        return outcome
    return ("sri-implemented-and-external-scripts-loaded-securely" if foreign
            else "sri-not-implemented-but-all-scripts-loaded-from-secure-origin")


def nosniff_test(observation: Observation) -> str:
    value = observation.page.headers.get("x-content-type-options")
    if value is None:
        return "x-content-type-options-not-implemented"
    return ("x-content-type-options-nosniff" if value.strip().lower() == "nosniff"
            else "x-content-type-options-header-invalid")


def framing(headers: httpx2.Headers) -> str:
    """The framing outcome of an answer's headers: ``frame-ancestors`` in its (enforced) CSP
    wins; otherwise what ``X-Frame-Options`` says, if anything."""
    try:
        policy = combined_policy(headers.get_list("content-security-policy"))
    except PolicyError:
        policy = {}
    if "frame-ancestors" in policy:
        return "x-frame-options-implemented-via-csp"
    value = headers.get("x-frame-options")
    if value is None:
        return "x-frame-options-not-implemented"
    value = value.strip().lower()
    if value in ("deny", "sameorigin"):
        return "x-frame-options-sameorigin-or-deny"
    if value.startswith("allow-from"):
        return "x-frame-options-allow-from-origin"
    return "x-frame-options-header-invalid"


def corp_test(observation: Observation) -> str:
    value = observation.page.headers.get("cross-origin-resource-policy")
    if value is None:
        return "corp-not-implemented"
    value = value.strip().lower()
    if value in ("same-origin", "same-site", "cross-origin"):
        return f"corp-implemented-with-{value}"
    return "corp-header-invalid"


# -- the score -----------------------------------------------------------------------------------


def grade(modifiers: Sequence[int]) -> tuple[int, str]:
    """The score and grade of a scan whose tests had these modifiers: 100 plus the penalties,
    plus the bonuses if the score with penalties alone is an A (90 or more); never below 0.
    The grade is that of the score rounded down to a multiple of 5, A+ from 100 up."""
    penalised = 100 + sum(modifier for modifier in modifiers if modifier < 0)
    score = 100 + sum(modifiers) if penalised >= EXTRA_CREDIT_FROM else penalised
    score = max(score, 0)
    return score, GRADES[min(score - score % 5, 100)]


@dataclass(frozen=True)
class Result:
    test: str
    outcome: str
    modifier: int
    passed: bool


@dataclass(frozen=True)
class Scorecard:
    results: tuple[Result, ...]
    score: int
    grade: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[str]:
        return [result.test for result in self.results if not result.passed]

    def outcome(self, test: str) -> str:
        return next(result.outcome for result in self.results if result.test == test)

    def table(self) -> str:
        width = max(len(result.test) for result in self.results)
        lines = [f"{result.test:<{width}}  {'pass' if result.passed else 'FAIL'}  "
                 f"{result.modifier:+4d}  {result.outcome}" for result in self.results]
        lines.append(f"score {self.score}, grade {self.grade}, "
                     f"{len(self.results) - len(self.failed)} of {len(self.results)} tests "
                     "passed")
        return "\n".join(lines + list(self.notes))

    def __str__(self) -> str:
        return self.table()


TESTS: tuple[tuple[str, Callable[[Observation], str]], ...] = (
    ("content-security-policy", csp_test),
    ("cookies", cookies_test),
    ("cross-origin-resource-sharing", cors_test),
    ("redirection", redirection_test),
    ("referrer-policy", referrer_policy_test),
    ("strict-transport-security", hsts_test),
    ("subresource-integrity", sri_test),
    ("x-content-type-options", nosniff_test),
    ("x-frame-options", lambda observation: framing(observation.page.headers)),
    ("cross-origin-resource-policy", corp_test),
)


def scan(observation: Observation, framing: Callable[[httpx2.Headers], str] = framing,
         grade: Callable[[Sequence[int]], tuple[int, str]] = grade) -> Scorecard:
    """Every test on ``observation``, and the score; ``framing`` and ``grade`` may be a
    learner's own."""
    results = []
    for name, test in TESTS:
        outcome = (framing(observation.page.headers) if name == "x-frame-options"
                   else test(observation))
        if outcome not in OUTCOMES:
            raise ValueError(f"The {name} test returned {outcome!r}, which is not one of the "
                             "outcomes in lessons.grader.OUTCOMES.")
        modifier, passed = OUTCOMES[outcome]
        results.append(Result(name, outcome, modifier, passed))
    score, letter = grade([result.modifier for result in results])
    status = observation.page.status
    notes = () if 200 <= status < 400 or status in (401, 403) else (
        f"(MDN's scanner would refuse to grade this answer: HTTP {status}.)",)
    return Scorecard(tuple(results), score, letter, notes)


# -- observing a service -------------------------------------------------------------------------


def _verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    if ca_file is None:
        return True
    return ssl.create_default_context(cafile=str(ca_file))


def _follow(client: httpx2.Client, url: str, **options: Any) -> tuple[httpx2.Response, list[
        tuple[str, int]]]:
    """GET ``url``, following up to ``MAX_REDIRECTS`` redirects by hand, recording each hop."""
    route: list[tuple[str, int]] = []
    response = client.get(url, **options)
    route.append((url, response.status_code))
    while response.is_redirect and len(route) <= MAX_REDIRECTS:
        url = urljoin(url, response.headers["location"])
        response = client.get(url, **options)
        route.append((url, response.status_code))
    return response, route


ACCEPT_HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def observe(url: str, http_url: str | None = None, ca_file: Path | None = None,
            client: httpx2.Client | None = None) -> Observation:
    """What a browser sees at ``url`` (HTTPS, trusting ``ca_file``), and at ``http_url`` over
    plain HTTP, if given. ``client`` may be an in-process ``TestClient`` (then no plain HTTP)."""
    own = client is None
    client = client or httpx2.Client(verify=_verify(ca_file), timeout=10)
    try:
        verified = True
        try:
            response, _ = _follow(client, url, headers=ACCEPT_HTML)
        except httpx2.ConnectError as error:
            if "CERTIFICATE_VERIFY_FAILED" not in str(error):
                raise
            verified = False  # like the Observatory: look anyway, but remember
            with httpx2.Client(verify=False, timeout=10) as lax:
                response, _ = _follow(lax, url, headers=ACCEPT_HTML)
        final = str(response.url)
        cookies = list(response.headers.get_list("set-cookie"))
        robots = client.get(urljoin(final, "/robots.txt"), headers={"Accept": "text/plain"})
        cookies += robots.headers.get_list("set-cookie")
        preflight = client.options(final, headers={"Origin": FOREIGN_ORIGIN,
                                                   "Access-Control-Request-Method": "GET"})
        page = Page(final, response.status_code, response.headers, response.text, verified)
        route, route_verified = None, True
        if http_url is not None:
            try:
                _, hops = _follow(client, http_url, headers=ACCEPT_HTML)
            except httpx2.ConnectError as error:
                if "CERTIFICATE_VERIFY_FAILED" not in str(error):
                    raise
                route_verified = False
                with httpx2.Client(verify=False, timeout=10) as lax:
                    _, hops = _follow(lax, http_url, headers=ACCEPT_HTML)
            route = tuple(hops)
        return Observation(page, route, route_verified, preflight.headers, tuple(cookies))
    finally:
        if own:
            client.close()


def scan_url(url: str, http_url: str | None = None, ca_file: Path | None = None,
             **answers: Any) -> Scorecard:
    """``scan(observe(...))``: the grade of the service at ``url``."""
    return scan(observe(url, http_url, ca_file), **answers)


def scan_scene(scene: Scene, path: str = "/docs", **answers: Any) -> Scorecard:
    """Serve a scene's service for real, as ``serve --https --http-port`` does (HTTPS with the
    lesson's local CA, and the plain-HTTP listener beside it, both on free loopback ports that
    stop with the scene), and scan ``path`` through both."""
    from lessons.tls import certificates
    from lessons.tls.plain_http import PlainHttpListener

    files = certificates.ensure_certificates(scene.folder)
    https = scene.serve(certfile=files.certfile, keyfile=files.keyfile)
    plain = scene.serve(PlainHttpListener(https.port))
    return scan_url(f"{https.url}{path}", f"{plain.url}{path}", files.ca_file, **answers)


def outcomes_of(results: Iterable[Result]) -> dict[str, str]:
    return {result.test: result.outcome for result in results}
