"""Lesson 09, reference layer: security headers on every answer, and CORS (``lessons.cors``).

A browser does what an answer's headers tell it, and by default it tells little: any page may
frame the service, a file without a type is sniffed and may run as a page of the service's
origin, the full URL of a page goes to every site it links to, and whatever a cache keeps it
may show again. The layer gives every answer, errors and preflights included, the contract's
header set (OWASP ASVS 5.0 3.4.1-3.4.8, 14.3.2; API8:2023):

- ``Content-Security-Policy``: for API answers ``default-src 'none'; frame-ancestors 'none';
  base-uri 'none'`` (a JSON answer loads nothing, and no page may frame it); the interactive
  docs get the policy their page needs and nothing more (``lessons.docs_page.CSP``: scripts,
  styles and images from the service itself, no inline script, no eval);
- ``X-Content-Type-Options: nosniff``: an answer is what its ``Content-Type`` says, or nothing;
- ``Referrer-Policy: no-referrer``: no URL of ours leaves in a ``Referer`` header;
- ``Cross-Origin-Opener-Policy`` and ``Cross-Origin-Resource-Policy``: ``same-origin``;
- ``X-XSS-Protection: 0``: the old XSS filters are off (they are gone from browsers, and where
  they were left they could be used to remove parts of a page on purpose);
- ``Cache-Control: no-store`` on every answer to an authenticated request (the identity
  dependency records the caller on the request, ``lessons.identity.remember``) and on every
  answer of ``POST /auth/token`` (RFC 6749 5.1): no browser or shared cache keeps a note, a
  token or a user list. Public answers keep their own caching (Swagger UI's files are cached
  for a year);
- no ``Server`` header: uvicorn's is turned off when the lesson is served (``serve`` below),
  and one that anything inside sets is removed.

``Strict-Transport-Security`` stays lesson 04's, on HTTPS answers only: browsers ignore it over
plain HTTP, where anyone on the path could have added or removed it.

Two functions decide (the ``content_security_policy`` and ``security_headers`` seams, the
learner's exercises); the ``SecurityHeaders`` middleware, outermost in the stack, applies them
to every answer, whoever made it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lessons import cors, docs_page
from lessons.wiring import LessonLayer

if TYPE_CHECKING:
    from lessons.context import Service
    from lessons.settings import Settings

# A JSON answer loads nothing, and nothing may frame it or change its base URL.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# The two HTML pages of the service; every other answer is the API's (their files included:
# a script or a stylesheet is not a document, and its CSP is never applied).
DOCS_PAGES = frozenset({docs_page.DOCS, docs_page.OAUTH2_REDIRECT})
TOKEN_ENDPOINT = "/auth/token"  # noqa: S105 -- a path, not a secret
NO_STORE = "no-store"

# What every answer carries, whatever its status.
EVERY_ANSWER: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-XSS-Protection": "0",
}

# content_security_policy(path) -> the policy ("" for none)
PolicyFor = Callable[[str], str]
# security_headers(method, path, status, authenticated) -> the headers besides the CSP
HeadersFor = Callable[[str, str, int, bool], dict[str, str]]


# -- the two decisions -------------------------------------------------------------------------


def content_security_policy(path: str) -> str:
    """The CSP of an answer to ``path``: the docs pages' own policy for the two docs pages, the
    API's for everything else, errors included."""
    return docs_page.CSP if path in DOCS_PAGES else API_CSP


def security_headers(method: str, path: str, status: int, authenticated: bool) -> dict[str, str]:
    """The headers every answer gets besides its CSP: the same set for every status, and
    ``Cache-Control: no-store`` for an authenticated caller and for the token endpoint."""
    headers = dict(EVERY_ANSWER)
    if authenticated or (method == "POST" and path == TOKEN_ENDPOINT):
        headers["Cache-Control"] = NO_STORE
    return headers


# The open service's seams: no policy, no headers (what lesson 08 sent).


def no_policy(path: str) -> str:
    return ""


def no_security_headers(method: str, path: str, status: int,
                        authenticated: bool) -> dict[str, str]:
    return {}


# -- the middleware ------------------------------------------------------------------------------


class SecurityHeaders:
    """Pure ASGI middleware: the headers of ``content_security_policy`` and ``security_headers``
    on the start of every answer that passes it, and no ``Server`` header.

    Whether the caller was authenticated is known only once the routes have run: the identity
    dependency writes the username into the request's state (``scope["state"]``), which this
    middleware reads when the answer starts. The state is created here, before anything
    inside copies the scope, so that every copy shares it."""

    def __init__(self, app: ASGIApp, content_security_policy: PolicyFor = content_security_policy,
                 security_headers: HeadersFor = security_headers) -> None:
        self.app = app
        self.policy_for = content_security_policy
        self.headers_for = security_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        method, path = scope["method"], scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.headers(message, method, path,
                                                  bool(state.get("username")))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def headers(self, message: Message, method: str, path: str,
                authenticated: bool) -> list[tuple[bytes, bytes]]:
        """The answer's headers: ours replace any of the same name, and no ``Server``.
        (One pass over the list: this runs on every answer.)"""
        found = self.headers_for(method, path, message["status"], authenticated)
        ours, replaced = _encoded(self.policy_for(path), tuple(found.items()))
        return [(name, value) for name, value in message.get("headers", ())
                if name.lower() not in replaced] + ours


@functools.lru_cache(maxsize=256)
def _encoded(policy: str, found: tuple[tuple[str, str], ...]) -> tuple[
        list[tuple[bytes, bytes]], frozenset[bytes]]:
    """Headers as ASGI sends them, and the names they replace (``Server`` too). Answers share
    a handful of header sets, so each is encoded once."""
    ours = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in found]
    if policy:
        ours.append((b"content-security-policy", policy.encode("latin-1")))
    return ours, frozenset({name for name, _ in ours} | {b"server"})


def security_headers_slot(app: ASGIApp, service: Service) -> ASGIApp:
    """The ``security_headers`` slot: ``SecurityHeaders`` with the app's two seams."""
    return SecurityHeaders(app, service.layers.content_security_policy,
                           service.layers.security_headers)


# -- what else the lesson adds -------------------------------------------------------------------


def home_router(service: Service) -> APIRouter:
    """``GET /``: where to go from here. A scanner, like a person, starts at the root, and a
    404 there is all it would see (MDN's HTTP Observatory refuses to grade one)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home(request: Request) -> dict[str, str]:
        links = {"service": request.app.title, "health": "/health"}
        if request.app.openapi_url:  # not in production, where the docs are off
            links.update(docs=docs_page.DOCS, openapi=request.app.openapi_url)
        return links

    return router


def no_server_header(settings: Settings) -> dict[str, Any]:
    """What ``serve`` needs from lesson 09: no ``Server: uvicorn`` on every answer. It helps
    nobody but whoever looks for a server with a known flaw."""
    return {"server_header": False}


LAYER = LessonLayer(
    seams={
        "content_security_policy": content_security_policy,
        "security_headers": security_headers,
        "cors_headers": cors.cors_headers,
        "preflight_headers": cors.preflight_headers,
    },
    routers={"home": home_router},
    middleware={"security_headers": security_headers_slot, "cors": cors.cors},
    startup={"check_cors_origins": cors.check_cors_origins},
    serve={"no_server_header": no_server_header},
)


# -- what a policy would block, for the errata ---------------------------------------------------


class _Loads(HTMLParser):
    """What a page loads or runs: (kind, directive, URL or "inline")."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self._script = not found.get("src")
            if found.get("src"):
                self.found.append(("script", "script-src", str(found["src"])))
        elif tag == "link" and found.get("href"):
            rel = (found.get("rel") or "").lower()
            kind, directive = ("stylesheet", "style-src") if "stylesheet" in rel else (
                "icon", "img-src")
            self.found.append((kind, directive, str(found["href"])))
        elif tag == "img" and found.get("src"):
            self.found.append(("image", "img-src", str(found["src"])))

    def handle_data(self, data: str) -> None:
        if self._script and data.strip():
            self.found.append(("inline script", "script-src", "inline"))
            self._script = False


def blocked_by(policy: str, page: str) -> list[str]:
    """What an HTML ``page`` loads or runs that ``policy`` would block, one line each: a
    rough reading of CSP (a same-origin URL needs 'self', another needs its host, a scheme or
    *, inline script needs 'unsafe-inline'), enough to show what a policy does to a page."""
    from lessons.grader import directives

    rules = directives(policy)
    parser = _Loads()
    parser.feed(page)
    blocked = []
    for kind, directive, url in parser.found:
        sources = set(rules.get(directive, rules.get("default-src", ["*"])))
        parts = urlsplit(url)
        if url == "inline":
            allowed = "'unsafe-inline'" in sources
        elif not parts.scheme:
            allowed = bool(sources & {"'self'", "*"})
        else:
            allowed = bool(sources & {"*", f"{parts.scheme}:"}) or any(
                source.rstrip("/") in (f"{parts.scheme}://{parts.netloc}", parts.netloc)
                for source in sources)
        if not allowed:
            shown = "" if url == "inline" else f" {url}"
            rule = directive if directive in rules else f"{directive} (from default-src)"
            blocked.append(f"{kind}{shown}: blocked by {rule} {' '.join(sorted(sources))}")
    return blocked


# -- a comparison the lesson measures ------------------------------------------------------------


def with_http_middleware() -> FastAPI:
    """The lesson named by ``LESSONS_LESSON`` (08 in the notebook), with the same header set
    added the way many tutorials add headers: an ``@app.middleware("http")`` function. Only
    for measuring what that way costs (``lessons.load``); never served by a lesson."""
    from lessons.service import app_from_env

    app = app_from_env()

    @app.middleware("http")
    async def add_security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        path = request.url.path
        response.headers["Content-Security-Policy"] = content_security_policy(path)
        authenticated = bool(getattr(request.state, "username", None))
        response.headers.update(security_headers(request.method, path, response.status_code,
                                                 authenticated))
        return response

    return app
