"""Lesson 04: the plain-HTTP listener, and what it answers (OWASP ASVS 5.0 4.1.2).

``python -m lessons serve --https --http-port P`` listens for plain HTTP on port P beside the
HTTPS port. Browsers that type ``http://`` get a 308 to the same address on HTTPS; API calls
(any other method, or anything with ``Authorization``) are refused with 403, without ever
reaching a route. Their credentials have crossed the network in clear already: a redirect that
made the call work anyway would hide that forever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from lessons import logs
from lessons.tls.certificates import HOSTS
from lessons.tls.hosts import REFUSAL, host_allowed, host_header, normal_hosts

# The ``audit`` seam: audit(event, user=None, **fields).
Audit = Callable[..., None]

PAGE_METHODS = ("GET", "HEAD")


def answer_plain_http(request: Request, https_port: int) -> Response:
    """What the plain-HTTP listener answers (ASVS 5.0 4.1.2).

    A browser typing the address gets a 308 to the same path on HTTPS. An API call does not:
    its credentials (or its body) have already crossed the network in clear, and a redirect
    that the client follows silently would hide that mistake forever. It fails loudly instead.
    """
    if request.method not in PAGE_METHODS or "authorization" in request.headers:
        return JSONResponse(
            {"detail": "This API is served over HTTPS only. Anything you sent over plain HTTP "
                       "may have been read on the way: change any credential it carried."},
            status_code=403,
        )
    return RedirectResponse(request.url.replace(scheme="https", port=https_port),
                            status_code=308)


def answer_plain_http_naive(request: Request, https_port: int) -> Response:
    """VULNERABLE, for the lesson-04 attacks: redirect everything, as many tutorials do.

    A client that follows redirects sends its password or token in clear, gets a 307, sends
    it again over HTTPS and succeeds: nobody ever learns that the first copy was exposed.
    """
    return RedirectResponse(request.url.replace(scheme="https", port=https_port),
                            status_code=307)


PlainHttpAnswer = Callable[[Request, int], Response]


class PlainHttpListener:
    """The ASGI app of the plain-HTTP port. It never forwards to the service's routes: every
    request gets ``answer(request, https_port)``, or 400 for a host the certificate does not
    name (so the Host header cannot aim the redirect at another site).

    Every refusal is an audit event, ``plaintext.refused``, through ``audit`` (the service's
    seam: from lesson 08 on, a JSON log line through the same redaction as the service's). It
    says what was refused and why, never what the request carried: its credential has crossed
    the network once already, and must not land in a log file as well.
    """

    def __init__(self, https_port: int, answer: PlainHttpAnswer = answer_plain_http,
                 hosts: Sequence[str] = HOSTS, audit: Audit = logs.no_audit) -> None:
        self.https_port = https_port
        self.answer = answer
        self.hosts = normal_hosts(hosts)
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        request = Request(scope, receive)
        if not host_allowed(host_header(scope), self.hosts):
            response: Response = JSONResponse(REFUSAL, status_code=400)
            reason = "unknown host"
        else:
            response = self.answer(request, self.https_port)
            reason = ("Authorization header over plain HTTP" if "authorization" in request.headers
                      else "not a page load")
        if not 300 <= response.status_code < 400:
            self.audit("plaintext.refused", method=request.method, path=request.url.path,
                       client=request.client.host if request.client else None,
                       status=response.status_code, reason=reason)
        await response(scope, receive, send)


def sample_request(method: str = "GET", path: str = "/docs", query: str = "",
                   headers: dict[str, str] | None = None,
                   host: str = "localhost:8080") -> Request:
    """A request as the plain-HTTP listener would receive it, to try an answer by hand."""
    fields = [(b"host", host.encode())] + [(name.lower().encode("latin-1"), value.encode(
        "latin-1")) for name, value in (headers or {}).items()]
    return Request({"type": "http", "method": method, "path": path, "raw_path": path.encode(),
                    "query_string": query.encode(), "scheme": "http", "http_version": "1.1",
                    "server": (host.split(":")[0], 8080), "headers": fields})


PLAIN_HTTP_EXAMPLES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("GET", "/docs?tab=notes", {}),
    ("HEAD", "/health", {}),
    ("GET", "/users/me", {"Authorization": "Bearer demo-token"}),
    ("POST", "/auth/token", {}),
    ("DELETE", "/notes/1", {}),
)


def plain_http_answers(answer: PlainHttpAnswer, https_port: int = 8443) -> str:
    """How ``answer`` treats a few typical requests to http://localhost:8080, one per line."""
    from starlette.testclient import TestClient

    client = TestClient(PlainHttpListener(https_port, answer), base_url="http://localhost:8080",
                        follow_redirects=False)
    lines = []
    for method, path, headers in PLAIN_HTTP_EXAMPLES:
        response = client.request(method, path, headers=headers)
        label = f"{method} {path}" + (" + Authorization" if headers else "")
        lines.append(f"{label:<34} -> {response.status_code} "
                     f"{response.headers.get('location', '')}".rstrip())
    return "\n".join(lines)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
