"""Lesson 04: the service answers only for its own host names, as pure ASGI middleware.

Whatever builds an absolute URL from a request (Starlette's trailing-slash redirect, an HTTPS
redirect, a link in a page or an e-mail) takes its host from the ``Host`` header, which the
client chooses. Without a check, ``GET /notes/`` with ``Host: evil.example`` is answered with a
redirect to ``https://evil.example/notes``: a cache in front of the service may keep that
answer for everyone (OWASP WSTG-INPV-17, Host header injection; API8:2023 security
misconfiguration). A web page whose own name an attacker has pointed at 127.0.0.1 (DNS
rebinding) reaches a loopback service the same way, with its own name as the host.

So a request for any host outside ``LESSONS_ALLOWED_HOSTS`` is refused with 400 before it
reaches a route, and so is a request with several ``Host`` headers (RFC 9112 3.2). A request
with none (HTTP/1.0 allows that) is judged by the server's own address, from which Starlette
then builds its URLs. Either way, every redirect the service makes names one of its own hosts.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from lessons.context import Service

# host_allowed(value of the Host header or None, the allowed names) -> bool
HostCheck = Callable[[str | None, Collection[str]], bool]

# A Host header is a name or an IPv4 address, or an IPv6 address in brackets, then optionally
# ":" and a port (RFC 9110 7.2, RFC 3986 3.2.2). Nothing else: no user name before "@", no path,
# no spaces. [0-9] and not \d, which would also match digits of other scripts.
HOST_HEADER = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))"
                         r"(?::(?P<port>[0-9]{1,5}))?")


def host_allowed(host: str | None, allowed: Collection[str]) -> bool:
    """Is ``host``, the value of a request's ``Host`` header (None when no single host can be
    told), one of the ``allowed`` names? ``allowed`` holds lower-case names and addresses, IPv6
    ones without brackets (``normal_hosts`` makes them so).

    The header is parsed strictly and the name compared whole: ``localhost.evil.example``,
    ``localhost@evil.example`` and ``localhost:evil`` are refused, not trimmed until they fit.
    """
    match = HOST_HEADER.fullmatch(host or "")
    if match is None:
        return False
    if match["port"] is not None and int(match["port"]) > 65535:
        return False
    if match["ipv6"] is not None:
        try:
            name = str(ipaddress.IPv6Address(match["ipv6"]))  # one spelling of each address
        except ValueError:
            return False
    else:
        name = match["name"].lower()  # host names are case-insensitive (RFC 4343)
    return name in allowed


def any_host(host: str | None, allowed: Collection[str]) -> bool:
    """VULNERABLE, the open service's ``host_allowed``: it answers for whatever host a request
    names, and builds its redirects from it."""
    return True


def normal_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """An allow-list as ``host_allowed`` compares it: lower case, IPv6 addresses without brackets
    and in their shortest spelling (so ``[::1]`` and ``::1`` in the settings mean the same)."""
    normal = set()
    for host in hosts:
        name = host.strip().lower()
        try:
            name = str(ipaddress.ip_address(name.strip("[]")))
        except ValueError:
            pass
        if name:
            normal.add(name)
    return frozenset(normal)


def host_header(scope: Scope) -> str | None:
    """The host a request asks for, as its URLs will name it: its one ``Host`` header, or
    without one the server's own address (as Starlette's ``URL`` falls back to it). None when
    it has several, which parts of a system could read differently (RFC 9112 3.2: a 400)."""
    values = [value for name, value in scope["headers"] if name == b"host"]
    if len(values) == 1:
        return values[0].decode("latin-1")
    server = scope.get("server")
    if values or not server:
        return None
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


REFUSAL = {"detail": "This service does not answer for that host name."}


class AllowedHosts:
    """Answer 400 to a request whose ``Host`` is not one of ``allowed``, before anything inside
    sees it. ``host_allowed`` is the check (the service's seam of the same name)."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str],
                 host_allowed: HostCheck = host_allowed) -> None:
        self.app = app
        self.allowed = normal_hosts(allowed)
        self.host_allowed = host_allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or \
                self.host_allowed(host_header(scope), self.allowed):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
            return
        # The refused name is not echoed back: the answer carries nothing the client chose.
        await JSONResponse(REFUSAL, status_code=400)(scope, receive, send)


def allowed_hosts(app: ASGIApp, service: Service) -> ASGIApp:
    """The ``allowed_hosts`` slot: the names in ``LESSONS_ALLOWED_HOSTS``, checked by the
    ``host_allowed`` seam."""
    return AllowedHosts(app, service.settings.allowed_hosts, service.layers.host_allowed)
