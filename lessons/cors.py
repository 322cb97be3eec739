"""Lesson 09, reference layer (CORS half): which other origins may read the service's answers.

A browser sends a request to another origin with the user's cookies when a page asks it to
(``fetch(url, {credentials: "include"})``), and it always did. What the same-origin policy
stops is the *reading*: the page's script gets the answer only if the answer says, in
``Access-Control-Allow-Origin``, that the page's origin may have it, and, for an answer to a
request that carried cookies, ``Access-Control-Allow-Credentials: true`` as well. CORS is the
service lifting that protection for the origins it trusts, and nothing else (OWASP ASVS 5.0
3.4.2, API8:2023):

- only the exact origins of ``LESSONS_CORS_ORIGINS`` get ``Access-Control-Allow-Origin``: the
  origin itself, never ``*`` and never a pattern, with ``Vary: Origin`` so that no cache hands
  that answer to another origin. Every other origin, ``null`` included (sandboxed frames,
  ``data:`` and ``file:`` pages send it), gets no CORS header at all;
- credentials (cookies, and with them the session) only with such an explicit origin;
- a preflight (``OPTIONS`` with ``Access-Control-Request-Method``) is answered here, before
  any route: 204 with what the origin may send when the origin, the method and every header
  it asks for are allowed, 403 with no CORS header otherwise.

The allow-list is checked when the app is built: an entry that is not an origin (a path, a
wildcard, ``null``) stops the service with a message, rather than never matching, or matching
too much, in silence.

Two functions decide (the ``cors_headers`` and ``preflight_headers`` seams, the learner's
exercises); the ``Cors`` middleware applies them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lessons.settings import ConfigurationError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from lessons.context import Service

ALLOW_ORIGIN = "Access-Control-Allow-Origin"
ALLOW_CREDENTIALS = "Access-Control-Allow-Credentials"
# What a front end on an allowed origin may do: the methods of the Notes API, and the headers
# it sends that are not CORS-safelisted (a JSON Content-Type is not).
ALLOWED_METHODS = ("GET", "POST", "DELETE")
ALLOWED_HEADERS = ("authorization", "content-type", "x-csrf-token", "x-request-id")
# How long a browser may keep a preflight's answer (Chromium caps it at 2 hours anyway).
PREFLIGHT_MAX_AGE = "600"
REFUSAL = {"detail": "This cross-origin request is not allowed."}

# cors_headers(origin or None, allowed origins) -> the headers to add to the answer
CorsHeaders = Callable[[str | None, Collection[str]], dict[str, str]]
# preflight_headers(origin, requested method, requested headers, allowed) -> headers or None
PreflightHeaders = Callable[[str, str, str, Collection[str]], dict[str, str] | None]


# -- the two decisions -------------------------------------------------------------------------


def cors_headers(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    """The CORS headers for an answer to a request from ``origin`` (None when the request has
    no ``Origin`` header): the origin itself, credentials allowed, and ``Vary: Origin`` when it
    is exactly one of ``allowed``; nothing at all otherwise.

    Compared as whole strings: ``https://app.example.org.evil.example`` starts with an allowed
    origin and is another site. ``null`` is refused even if someone listed it: any sandboxed
    frame or local file sends it, so it stands for nobody in particular."""
    if origin is None or origin == "null" or origin not in allowed:
        return {}
    return {ALLOW_ORIGIN: origin, ALLOW_CREDENTIALS: "true", "Vary": "Origin"}


def preflight_headers(origin: str, method: str, request_headers: str,
                      allowed: Collection[str]) -> dict[str, str] | None:
    """The answer to a preflight: what ``origin`` may send, or None to refuse it.

    ``method`` is the ``Access-Control-Request-Method``, ``request_headers`` the
    ``Access-Control-Request-Headers`` ("" when absent): a comma-separated list of header
    names, which are case-insensitive. Every one of them must be allowed, and the method too."""
    if origin == "null" or origin not in allowed or method not in ALLOWED_METHODS:
        return None
    asked = {name.strip().lower() for name in request_headers.split(",") if name.strip()}
    if not asked <= set(ALLOWED_HEADERS):
        return None
    return {ALLOW_ORIGIN: origin, ALLOW_CREDENTIALS: "true",
            "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE, "Vary": "Origin"}


# The open service's seams: no CORS at all. Browsers then let no other origin read an answer,
# which is safe; it is what lesson 08 did, LESSONS_CORS_ORIGINS or not.


def no_cors_headers(origin: str | None, allowed: Collection[str]) -> dict[str, str]:
    return {}


def no_preflight(origin: str, method: str, request_headers: str,
                 allowed: Collection[str]) -> dict[str, str] | None:
    return None


# -- the allow-list ------------------------------------------------------------------------------


def normal_origin(entry: str) -> str:
    """``entry`` of ``LESSONS_CORS_ORIGINS`` as browsers write an ``Origin`` header: scheme and
    host in lower case, no default port, no trailing slash. Anything that is not an http(s)
    origin raises ``ConfigurationError`` with what to write instead."""
    text = entry.strip()
    if text in ("*", "null"):
        _refuse(f"{text!r} is not an origin. A wildcard cannot go with credentials (browsers "
                "refuse it), and null is sent by any sandboxed frame or local file")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        _refuse(f"{text!r} is not an http(s) origin such as https://app.example.org")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        _refuse(f"{text!r} has more than an origin (a path, a query or a user name)")
    try:
        port = parts.port
    except ValueError:
        _refuse(f"{text!r} has a port that is not a number")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def _refuse(problem: str) -> NoReturn:
    raise ConfigurationError(f"LESSONS_CORS_ORIGINS: {problem}. List exact origins, separated "
                             "by commas: scheme://host[:port].")


def allowed_origins(entries: Iterable[str]) -> frozenset[str]:
    return frozenset(normal_origin(entry) for entry in entries)


def check_cors_origins(service: Service) -> None:
    """Start-up work of lesson 09: a wrong ``LESSONS_CORS_ORIGINS`` stops the service at once."""
    allowed_origins(service.settings.cors_origins)


# -- the middleware ------------------------------------------------------------------------------


def _one_header(scope: Scope, name: bytes) -> str | None:
    """The value of a request header sent exactly once (None when absent or repeated)."""
    values = [value for key, value in scope["headers"] if key == name]
    return values[0].decode("latin-1") if len(values) == 1 else None


class Cors:
    """Pure ASGI middleware: answers preflights itself, and adds ``cors_headers`` to the answers
    of requests that carry an ``Origin`` header. A request without one is left alone."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str] = (),
                 cors_headers: CorsHeaders = cors_headers,
                 preflight_headers: PreflightHeaders = preflight_headers) -> None:
        self.app = app
        self.allowed = allowed_origins(allowed)
        self.cors_headers = cors_headers
        self.preflight_headers = preflight_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _one_header(scope, b"origin") if scope["type"] == "http" else None
        if origin is None:
            await self.app(scope, receive, send)
            return
        requested = _one_header(scope, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and requested is not None:
            answer = self.preflight(origin, requested,
                                    _one_header(scope, b"access-control-request-headers") or "")
            await answer(scope, receive, send)
            return
        extra = self.cors_headers(origin, self.allowed)
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add(MutableHeaders(scope=message), extra)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def preflight(self, origin: str, method: str, request_headers: str) -> Response:
        headers = self.preflight_headers(origin, method, request_headers, self.allowed)
        if headers is None:
            # No CORS header: the browser refuses the request it was asking about.
            return JSONResponse(REFUSAL, status_code=403)
        response = Response(status_code=204)
        _add(response.headers, headers)
        return response


def _add(headers: MutableHeaders, extra: dict[str, str]) -> None:
    for name, value in extra.items():
        if name.lower() == "vary":
            headers.add_vary_header(value)  # keeps what the route put there (Accept-Encoding)
        else:
            headers[name] = value


def cors(app: ASGIApp, service: Service) -> ASGIApp:
    """The ``cors`` slot: the origins of ``LESSONS_CORS_ORIGINS``, judged by the
    ``cors_headers`` and ``preflight_headers`` seams."""
    return Cors(app, service.settings.cors_origins, service.layers.cors_headers,
                service.layers.preflight_headers)


# -- the vulnerable configuration, for the attacks -------------------------------------------


def reflect_every_origin(app: FastAPI) -> None:
    """VULNERABLE: "CORS errors? Allow everything." Starlette's ``CORSMiddleware`` with every
    origin and credentials, as countless answers to that question configure it.

    A wildcard cannot go with credentials, so Starlette does what makes the browser happy: it
    sends back whatever ``Origin`` the request had, ``null`` included, with
    ``Access-Control-Allow-Credentials: true``. Every site on the web may now read every
    answer the user's cookies unlock."""
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True,
                       allow_methods=["*"], allow_headers=["*"])
