"""How a lesson plugs into the Notes service: the declaration every layer exports, and the one
middleware stack.

A lesson that changes the service exports ``LAYER = LessonLayer(...)`` from its reference
module, and the catalog (``lessons/catalog.py``) names that module. ``create_app(upto=N)``
folds the declarations of lessons 0..N in course order (``lessons.layers.assemble``). Every
part of a declaration maps names to things, and a later lesson replaces what an earlier one
put under the same name:

- ``seams``: implementations of the small typed functions the routes call
  (``lessons.layers.Layers`` lists them, with the open service's defaults);
- ``routers``: groups of routes, each built from the ``Service``;
- ``middleware``: what runs around every request, each under a slot of ``STACK``. ``STACK``
  is the only place that says the order: it is read, outermost first, not inferred from the
  order of ``add_middleware`` calls (which Starlette reverses);
- ``handlers``: exception handlers, by exception class;
- ``startup``: work done once when an app is built (a data migration, a warmed cache);
- ``serve``: options ``python -m lessons serve`` passes to uvicorn for the lesson.

This module imports nothing from the lessons, so every lesson module can import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp

if TYPE_CHECKING:
    from fastapi import APIRouter

    from lessons.context import Service
    from lessons.settings import Settings

RouterFactory = Callable[["Service"], "APIRouter"]
# Called as factory(app, service=service): returns the ASGI app wrapped by the middleware.
MiddlewareFactory = Callable[..., ASGIApp]
Startup = Callable[["Service"], None]
# The uvicorn keyword arguments a lesson needs from `serve`, given the settings.
ServeOptions = Callable[["Settings"], Mapping[str, Any]]


@dataclass(frozen=True)
class Slot:
    """A place in the middleware stack, and why it is there."""

    name: str
    lesson: int
    why: str


# The middleware stack, outermost first: a request passes these in this order on its way in,
# and its answer passes them in the reverse order on its way out.
STACK: tuple[Slot, ...] = (
    Slot("security_headers", 9,
         "outermost: every answer passes it on its way out, whoever made it (a preflight, "
         "the host check's 400, a 413, a 429, the request log's generic 500), so each one "
         "carries the security headers; it reads the caller that the routes recorded on the "
         "request once the answer starts"),
    Slot("trusted_proxies", 4,
         "settles the client's address and scheme from a known proxy's X-Forwarded-* headers, "
         "before anything inside reads them (the access log, HSTS, the host check)"),
    Slot("hsts", 4,
         "adds Strict-Transport-Security to every answer sent over HTTPS for one of our own "
         "host names, the request log's generic 500 included; inside the proxy check, so a "
         "TLS-terminating proxy's X-Forwarded-Proto counts"),
    Slot("request_log", 8,
         "gives every answer a request id and one access-log line, and answers whatever "
         "nothing inside handled with a generic 500; inside the proxy check, so the log names "
         "the real client"),
    Slot("allowed_hosts", 4,
         "answers 400 to a request for a host name the service does not serve, before any "
         "route or redirect can use that name; inside the proxy check and the request log, "
         "so the refusal is logged with the real client"),
    Slot("cors", 9,
         "answers preflights and adds CORS headers; inside the request log and the host "
         "check, so a preflight is logged with its request id and answered only for our own "
         "host names; outside the body limit and the routes, which a preflight never needs"),
    Slot("hashing_queue", 10,
         "marks each request with its app's hashing queue and its client's address, for the "
         "fair share of password hashing; inside the proxy check, so the share is the real "
         "client's"),
    Slot("body_limit", 7,
         "innermost: counts the body bytes as the app reads them, and answers 413 at the "
         "first byte past the limit"),
)

SLOT_NAMES = tuple(slot.name for slot in STACK)


def _frozen(mapping: Mapping[Any, Any] | None) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class LessonLayer:
    """Everything one lesson adds to the service. Every part is optional."""

    seams: Mapping[str, Any] = field(default_factory=dict)
    routers: Mapping[str, RouterFactory] = field(default_factory=dict)
    middleware: Mapping[str, MiddlewareFactory] = field(default_factory=dict)
    handlers: Mapping[type[Exception] | int, Callable[..., Any]] = field(default_factory=dict)
    startup: Mapping[str, Startup] = field(default_factory=dict)
    serve: Mapping[str, ServeOptions] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.middleware) - set(SLOT_NAMES))
        if unknown:
            raise ValueError(f"No middleware slot called {', '.join(unknown)}; the slots of "
                             f"lessons.wiring.STACK are {', '.join(SLOT_NAMES)}.")
        for name in ("seams", "routers", "middleware", "handlers", "startup", "serve"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
