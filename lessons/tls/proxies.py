"""Lesson 04: forwarded headers believed from known proxies only, and removed from every
other request, as pure ASGI middleware (OWASP ASVS 5.0 4.1.3)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from lessons.context import Service
    from lessons.settings import Settings

FORWARDED_HEADERS = frozenset({b"forwarded", b"x-forwarded-for", b"x-forwarded-proto",
                               b"x-forwarded-host", b"x-forwarded-port", b"x-real-ip"})
SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss")}


class TrustedProxyHeaders:
    """Believe ``X-Forwarded-Proto`` and ``X-Forwarded-For`` from known proxies only
    (ASVS 5.0 4.1.3).

    Behind a TLS-terminating proxy every request reaches the app over plain HTTP; the proxy
    says in ``X-Forwarded-Proto`` whether the client used HTTPS. Anyone else can send the same
    header, so it counts only when the connection comes from a listed proxy address. From
    everyone else, all forwarding headers are removed before the app sees the request.
    """

    def __init__(self, app: ASGIApp, trusted: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = tuple(ipaddress.ip_network(item, strict=False) for item in trusted)

    def is_trusted(self, host: str | None) -> bool:
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> Scope:
        headers = scope["headers"]
        if not any(name in FORWARDED_HEADERS for name, _ in headers):
            return scope
        client = scope.get("client")
        if not self.is_trusted(client[0] if client else None):
            return {**scope, "headers": [(n, v) for n, v in headers if n not in FORWARDED_HEADERS]}
        scope = dict(scope)
        protos = [v.decode("latin-1") for n, v in headers if n == b"x-forwarded-proto"]
        proto = protos[-1].strip().lower() if protos else ""
        if proto in SCHEMES:
            scope["scheme"] = SCHEMES[proto][scope["type"] == "websocket"]
        chain = ",".join(v.decode("latin-1") for n, v in headers if n == b"x-forwarded-for")
        if chain:
            # Each proxy appends the address it saw; the first one from the right that is not
            # one of our proxies is the client. Entries further left are the client's claims.
            hops = [hop.strip() for hop in chain.split(",")]
            for hop in reversed(hops):
                if not self.is_trusted(hop):
                    scope["client"] = (hop, 0)
                    break
        return scope


def trusted_proxies(app: ASGIApp, service: Service) -> ASGIApp:
    """The trusted-proxies slot: forwarded headers believed from ``LESSONS_TRUSTED_PROXIES``."""
    return TrustedProxyHeaders(app, trusted=service.settings.trusted_proxies)


def app_decides_proxies(settings: Settings) -> dict[str, Any]:
    """What ``serve`` needs from lesson 04: uvicorn's own proxy-header handling off. The app
    decides which peers may speak for clients (``LESSONS_TRUSTED_PROXIES``); uvicorn's default
    would also believe any process on this machine."""
    return {"proxy_headers": False}
