"""Lesson 04: ``Strict-Transport-Security`` on HTTPS answers only, as pure ASGI middleware
(OWASP ASVS 5.0 3.4.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lessons.tls.hosts import host_header, normal_hosts

if TYPE_CHECKING:
    from lessons.context import Service

HSTS = "max-age=63072000; includeSubDomains"


class StrictTransportSecurity:
    """Add ``Strict-Transport-Security`` to HTTPS responses only (ASVS 5.0 3.4.1).

    Browsers ignore the header on plain HTTP (anyone on the path could have added or removed
    it), so it is only sent where it counts: on a connection that TLS protected.
    """

    def __init__(self, app: ASGIApp, value: str = HSTS,
                 ours: Callable[[Scope], bool] = lambda scope: True) -> None:
        self.app = app
        self.value = value
        self.ours = ours

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https" or not self.ours(scope):
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["strict-transport-security"] = self.value
            await send(message)

        await self.app(scope, receive, send_with_hsts)


def hsts(app: ASGIApp, service: Service) -> ASGIApp:
    """The ``hsts`` slot of the stack: every HTTPS answer for one of our own host names, errors
    included; a name that is not ours never receives our policy."""
    allowed = normal_hosts(service.settings.allowed_hosts)
    check = service.layers.host_allowed

    def ours(scope: Scope) -> bool:
        return check(host_header(scope), allowed)

    return StrictTransportSecurity(app, ours=ours)
