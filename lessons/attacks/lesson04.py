"""Lesson 04: attacks on what crosses the network, and on the names the service answers for.

1. Read a password and a bearer token in transit: a relay on the path between client and
   server records the bytes of a login and an API call (API8:2023 security misconfiguration:
   no TLS; OWASP ASVS 5.0 12.2.1).
2. A silent redirect: a client posts its password to the plain-HTTP port, is redirected to
   HTTPS, follows, and logs in. It works, so nobody notices that the password crossed the
   network in clear first (ASVS 5.0 4.1.2).
3. A redirect loop behind a TLS-terminating proxy: the app sees every request arrive over
   plain HTTP and redirects it to HTTPS, forever.
4. A spoofed ``X-Forwarded-Proto: https`` from a client that is not the proxy: an app that
   believes it treats a plain-HTTP request as a protected one (ASVS 5.0 4.1.3).
5. A redirect aimed at another site: ``GET /notes/`` with ``Host: evil.example`` is answered
   with a redirect to ``https://evil.example/notes`` (OWASP WSTG-INPV-17, Host header
   injection).

The plain functions are the attacks as the notebook runs them step by step; ``ATTACKS`` runs
each on a ``Scene``. How the service is deployed (over plain HTTP or TLS, with which
plain-HTTP answer, behind which redirect) is not a seam of the service: a variant says it in
its ``options``, and without options the scene is deployed the way lesson 04 does it.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

import httpx2
from starlette.middleware.httpsredirect import HTTPSRedirectMiddleware
from starlette.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from lessons.attacks import VICTIM, Attack, AttackResult, Scene, Variant
from lessons.tls import certificates, context, plain_http
from lessons.tls.certificates import TlsFiles
from lessons.wire import Relay, TlsTerminatingProxy

ConnectFunction = Callable[[str], httpx2.Client]

TLS_RECORD_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake",
                    23: "application_data"}


@dataclass
class Capture:
    """What the relay saw while a client logged in and made one API call."""

    sent: bytes
    password: str
    token: str

    def found(self) -> list[str]:
        found = []
        # The login form sends the password URL-encoded; look for both spellings.
        if any(form in self.sent for form in (self.password.encode(),
                                              quote_plus(self.password).encode())):
            found.append("the password")
        if self.token and self.token.encode() in self.sent:
            found.append("the bearer token")
        return found

    def readable_lines(self) -> list[str]:
        """The captured lines that give something away, the token cut after its header."""
        lines = []
        for line in _http_lines(self.sent):
            if line.startswith(("POST ", "GET ")) or "password=" in line:
                lines.append(line)
            elif line.lower().startswith("authorization:"):
                lines.append(line[:len("Authorization: Bearer ") + 36] + "…")
        return lines

    def tls_records(self) -> list[str]:
        """The kinds of TLS record in the capture, in the order they first appear."""
        kinds: list[str] = []
        data, offset = self.sent, 0
        while offset + 5 <= len(data):
            kind = TLS_RECORD_TYPES.get(data[offset])
            if kind is None:
                return [*kinds, "(not TLS)"]
            if kind not in kinds:
                kinds.append(kind)
            offset += 5 + int.from_bytes(data[offset + 3:offset + 5], "big")
        return kinds


def _http_lines(data: bytes) -> list[str]:
    """Plain-HTTP requests as an eavesdropper reads them: head lines, then the body."""
    lines: list[str] = []
    position = 0
    while (end := data.find(b"\r\n\r\n", position)) != -1:
        head = data[position:end].decode("latin-1").split("\r\n")
        length = next((int(field.split(":", 1)[1]) for field in head
                       if field.lower().startswith("content-length:")), 0)
        body = data[end + 4:end + 4 + length].decode("latin-1")
        lines += head + ([body] if body else [])
        position = end + 4 + length
    return lines


def login_and_read(client: httpx2.Client, username: str, password: str) -> str:
    """What an honest client does: log in for a token, then use it. Returns the token."""
    response = client.post("/auth/token", data={"username": username, "password": password})
    token = response.json().get("access_token", "") if response.status_code == 200 else ""
    if token:
        client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    return str(token)


def capture_login(server_url: str, username: str, password: str,
                  connect: ConnectFunction) -> Capture:
    """Put a recording relay between a client and ``server_url``; the client, made by
    ``connect(base_url)``, logs in and calls the API through it."""
    parts = urlsplit(server_url)
    with Relay(parts.hostname or "127.0.0.1", parts.port or 80) as relay:
        client = connect(relay.url(parts.scheme))
        try:
            token = login_and_read(client, username, password)
        finally:
            client.close()
    return Capture(relay.sent(), password, token)


def judge_capture(capture: Capture, username: str = "alice") -> AttackResult:
    found = capture.found()
    if found:
        evidence = f"{' and '.join(found)} read in the captured bytes"
    else:
        records = ", ".join(capture.tls_records()) or "nothing"
        evidence = (f"no password or token in the capture; what crossed: {records}"
                    + ("" if capture.token else " (and the login itself did not succeed)"))
    return AttackResult(
        name=f"read {username}'s password and bearer token on the network",
        succeeded=bool(found),
        evidence=evidence,
    )


def run_capture(server_url: str, username: str, password: str,
                connect: ConnectFunction) -> AttackResult:
    return judge_capture(capture_login(server_url, username, password, connect), username)


def run_silent_redirect(plain_url: str, username: str, password: str,
                        verify: ssl.SSLContext | bool = True) -> AttackResult:
    """Log in at the *plain-HTTP* address by mistake, with a client that follows redirects.

    ``verify`` is what the client trusts for the HTTPS it is sent to (an ``SSLContext``).
    """
    parts = urlsplit(plain_url)
    with Relay(parts.hostname or "127.0.0.1", parts.port or 80) as relay:
        # The client believes it talks to the plain port; the relay just records on the way.
        with httpx2.Client(base_url=f"http://{parts.hostname}:{relay.port}",
                           verify=verify, follow_redirects=True, timeout=10) as client:
            try:
                response = client.post("/auth/token",
                                       data={"username": username, "password": password})
                hops = [r.status_code for r in response.history] + [response.status_code]
            except httpx2.HTTPError as error:
                response, hops = None, [type(error).__name__]
    exposed = Capture(relay.sent(), password, "").found() != []
    logged_in = response is not None and response.status_code == 200 and bool(response.history)
    return AttackResult(
        name="log in at the plain-HTTP address and never notice",
        succeeded=logged_in,
        evidence=(" -> ".join(str(hop) for hop in hops)
                  + ("; the password crossed in clear on the first hop" if exposed else "")
                  + ("; the client logged in and saw no error" if logged_in
                     else "; the client got an error it cannot miss")),
    )


def run_redirect_loop(client: httpx2.Client, path: str = "/health") -> AttackResult:
    """Ask for ``path`` through the proxy, following redirects (``client`` has a limit)."""
    try:
        response = client.get(path)
    except httpx2.TooManyRedirects as error:
        return AttackResult(
            name="the HTTPS redirect loops behind a TLS-terminating proxy",
            succeeded=True,
            evidence=f"{type(error).__name__}: {error}",
        )
    return AttackResult(
        name="the HTTPS redirect loops behind a TLS-terminating proxy",
        succeeded=False,
        evidence=f"HTTP {response.status_code} after {len(response.history)} redirect(s)",
    )


def spoof_https(client: httpx2.Client, path: str = "/health") -> httpx2.Response:
    """Straight to the app over plain HTTP, claiming the proxy saw HTTPS."""
    return client.get(path, headers={"X-Forwarded-Proto": "https"})


def run_spoofed_proto(client: httpx2.Client, path: str = "/health") -> AttackResult:
    """The lesson-04 service sends HSTS only on requests it believes came over HTTPS, so HSTS
    on this plain-HTTP answer means the claim was believed."""
    response = spoof_https(client, path)
    believed = "strict-transport-security" in response.headers
    return AttackResult(
        name="claim HTTPS with X-Forwarded-Proto from outside the proxy",
        succeeded=believed,
        evidence=f"HTTP {response.status_code}, "
                 + ("answered as if over HTTPS (HSTS sent on plain HTTP)" if believed
                    else "treated as the plain HTTP it was (no HSTS)"),
    )


FOREIGN_HOST = "evil.example"


def aim_redirect(client: httpx2.Client, host: str = FOREIGN_HOST,
                 path: str = "/notes/") -> httpx2.Response:
    """Ask for ``path`` with the trailing slash that makes Starlette redirect, naming ``host``
    as the host. A cache in front of the service may keep the answer and serve it to others."""
    return client.get(path, headers={"Host": host}, follow_redirects=False)


def run_host_redirect(client: httpx2.Client, host: str = FOREIGN_HOST) -> AttackResult:
    response = aim_redirect(client, host)
    location = response.headers.get("location", "")
    aimed = urlsplit(location).hostname == host
    return AttackResult(
        name=f"aim the service's redirect at {host} with the Host header",
        succeeded=aimed,
        evidence=f"HTTP {response.status_code}" + (f", Location: {location}" if location
                                                    else ", no redirect"),
    )


# -- the lesson's attacks, each on a scene of its own ------------------------------------------

# A client on the internet, not the proxy (an address from the range kept for documentation).
OUTSIDER = ("203.0.113.7", 50000)


def scene_certificates(scene: Scene) -> TlsFiles:
    """The local CA and server certificate in the scene's data folder, as ``serve --https``
    makes them."""
    return certificates.ensure_certificates(scene.settings.data_dir)


def serve_https(scene: Scene, app: object = None) -> tuple[str, TlsFiles]:
    """Serve ``app`` (default: the scene's) over TLS with the lesson-04 profile; its URL."""
    files = scene_certificates(scene)
    server = scene.serve(app, certfile=files.certfile, keyfile=files.keyfile)
    return server.url, files


def _capture(scene: Scene) -> AttackResult:
    """Option ``serve_over``: ``"http"`` serves the service over plain HTTP (default: TLS)."""
    password = scene.accounts[VICTIM].password
    if scene.options.get("serve_over") == "http":
        url = scene.serve().url
        return run_capture(url, VICTIM, password,
                           lambda base: httpx2.Client(base_url=base, timeout=10))
    url, files = serve_https(scene)
    return run_capture(url, VICTIM, password,
                       lambda base: context.tls_client(base, files.ca_file))


def _silent_redirect(scene: Scene) -> AttackResult:
    """Option ``plain_http_answer``: what the plain-HTTP port answers (default: lesson 04's)."""
    answer = scene.options.get("plain_http_answer", plain_http.answer_plain_http)
    url, files = serve_https(scene)
    https_port = urlsplit(url).port or 443
    plain = scene.serve(plain_http.PlainHttpListener(https_port, answer=answer))
    return run_silent_redirect(plain.url, VICTIM, scene.accounts[VICTIM].password,
                               verify=context.client_context(files.ca_file))


def _redirect_loop(scene: Scene) -> AttackResult:
    """Option ``https_redirect_in_app``: wrap the service in Starlette's HTTPSRedirectMiddleware,
    as the guide says (lesson 04 redirects on the plain-HTTP port instead, outside the app)."""
    app = scene.app
    if scene.options.get("https_redirect_in_app"):
        app = HTTPSRedirectMiddleware(app)
    files = scene_certificates(scene)
    # uvicorn would believe X-Forwarded-* from 127.0.0.1; a real proxy sits elsewhere.
    behind = scene.serve(app, proxy_headers=False)
    with TlsTerminatingProxy("127.0.0.1", behind.port, context.server_context(files)) as proxy, \
            httpx2.Client(base_url=proxy.url(), verify=context.client_context(files.ca_file),
                          follow_redirects=True, max_redirects=5, timeout=10) as browser:
        return run_redirect_loop(browser)


def _spoofed_proto(scene: Scene) -> AttackResult:
    """Option ``forwarded_allow_ips``: serve with uvicorn's proxy headers on, believing these
    addresses (``"*"``: anyone), the fix most often suggested for the loop."""
    app = scene.app
    trusted = scene.options.get("forwarded_allow_ips")
    if trusted:
        app = ProxyHeadersMiddleware(app, trusted_hosts=trusted)
    client = TestClient(app, base_url="http://localhost:8000", client=OUTSIDER)
    try:
        return run_spoofed_proto(client)
    finally:
        client.close()


def _host_redirect(scene: Scene) -> AttackResult:
    return run_host_redirect(scene.client)


# What a tutorial deploys: the reference after lesson 03, with the deployment the guide suggests.
PLAIN_HTTP = Variant(3, options={"serve_over": "http"}, label="lesson 03 over plain HTTP")
REDIRECT_EVERYTHING = Variant(3, options={"plain_http_answer": plain_http.answer_plain_http_naive},
                              label="a plain-HTTP port that redirects everything")
REDIRECT_IN_APP = Variant(3, options={"https_redirect_in_app": True},
                          label="HTTPSRedirectMiddleware in the app, behind a proxy")
# HSTS is lesson 04's: it shows what the app believed about the scheme.
TRUST_ANYONE = Variant(4, options={"forwarded_allow_ips": "*"},
                       label="lesson 04 served with forwarded_allow_ips='*'")
ANY_HOST = Variant(3, label="lesson 03: any Host")

ATTACKS: tuple[Attack, ...] = (
    Attack("capture", "read a password and a bearer token on the network", _capture,
           PLAIN_HTTP, fixed_in=4, network=True),
    Attack("silent_redirect", "log in at the plain-HTTP address and never notice",
           _silent_redirect, REDIRECT_EVERYTHING, fixed_in=4, network=True),
    Attack("redirect_loop", "an HTTPS redirect that loops behind a TLS-terminating proxy",
           _redirect_loop, REDIRECT_IN_APP, fixed_in=4, network=True),
    Attack("spoofed_proto", "claim HTTPS with X-Forwarded-Proto from outside the proxy",
           _spoofed_proto, TRUST_ANYONE, fixed_in=4),
    Attack("host_redirect", "aim the service's redirect at another site with the Host header",
           _host_redirect, ANY_HOST, fixed_in=4),
)
