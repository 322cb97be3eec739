"""Lesson 04: attacks on what crosses the network, run against real servers on loopback.

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
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

import httpx2

from lessons.attacks import AttackResult
from lessons.wire import Relay

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
