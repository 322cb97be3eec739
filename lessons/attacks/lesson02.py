"""Lesson 02: forged, replayed and leftover bearer tokens.

Every attack sends real requests (``GET /users/me`` or ``GET /notes`` with
``Authorization: Bearer ...``) and succeeds when the service answers as someone the token
should not make the caller:

- **forged by the attacker**, who knows no key: ``alg: none``, a tampered payload kept with
  its old signature, a signature made with another key, and a key cracked offline from a
  list of weak secrets (ASVS 5.0 9.1.1, 9.1.2; API2:2023 "accepts unsigned/weakly signed JWT
  tokens", "uses weak encryption keys");
- **signed with the service's own key but not valid here or now**: another algorithm than
  the service's, expired, not yet valid, with no expiry, with no or another audience, from
  another issuer (ASVS 9.1.2, 9.2.1, 9.2.3). An attacker cannot make these; they turn up in
  old logs, from an older release, or from another service that shares the key, so the
  scene signs them with the service's key and the attack replays them;
- **left over**: a token still used after its owner logged out (ASVS 7.4.1), after the
  account was deleted (7.4.2), after its name was registered again by someone else (10.3.3),
  and after its owner changed the password (7.4.1, 7.4.3).

A forged token must name its victim the way the service does: by name in the naive service,
by account id in the reference. An id is no secret (every token of the account shows it), so
the attacks are given it: only the signature and the claims checks may stop them.

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
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import httpx2

from lessons import tokens
from lessons.attacks import (
    ATTACKER,
    LEAVER,
    VICTIM,
    Attack,
    AttackResult,
    Scene,
    SceneError,
    Variant,
    bearer,
    new_password,
)
from lessons.settings import Settings

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


def service_claims(settings: Settings, subject: str, **changes: Any) -> Claims:
    """Claims such as the service itself issues for ``subject``, with ``changes`` (None
    removes a claim)."""
    now = int(time.time())
    claims: Claims = {
        "sub": subject, "iat": now, "nbf": now, "exp": now + settings.token_minutes * 60,
        "iss": settings.token_issuer, "aud": settings.token_audience,
        "jti": secrets.token_urlsafe(16), "scope": "notes:read notes:write",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def service_signed(settings: Settings, subject: str, alg: str = "HS256",
                   **changes: Any) -> str:
    """A token for ``subject`` signed with the service's key, with ``changes`` to its claims."""
    return sign({"alg": alg, "typ": "JWT"}, service_claims(settings, subject, **changes),
                settings.secret_key)


# -- the scene, as these attacks use it ------------------------------------------------------


def me(scene: Scene, token: str) -> httpx2.Response:
    return scene.client.get("/users/me", headers=bearer(token))


def subject(scene: Scene, username: str) -> str:
    """What the scene's service writes into ``sub`` for this account: its name in the naive
    service, its id in the reference."""
    user = scene.store.get_user(username)
    if user is None:
        raise SceneError(f"{username} has no account in this scene")
    return str(scene.service.layers.token_subject(user))


def signed_for(scene: Scene, username: str = VICTIM, alg: str = "HS256",
               **changes: Any) -> str:
    """A token for ``username`` signed with the scene's key: part of the scene, not of the
    attack."""
    return service_signed(scene.settings, subject(scene, username), alg, **changes)


def judge(name: str, response: httpx2.Response, as_user: str, before: str = "") -> AttackResult:
    """The attack succeeded if the service answered 200 as ``as_user``."""
    body = response.json() if response.headers.get("content-type") == "application/json" else {}
    body = body if isinstance(body, dict) else {}
    succeeded = response.status_code == 200 and body.get("username") == as_user
    if response.status_code == 200:
        outcome = f"HTTP 200, signed in as {body.get('username')}"
    else:
        outcome = f"HTTP {response.status_code}: {body.get('detail', response.reason_phrase)}"
    return AttackResult(name=name, succeeded=succeeded, evidence=before + outcome)


# -- forged by the attacker, from her own token ----------------------------------------------


def alg_none(scene: Scene) -> AttackResult:
    """Take your own token, name alice in it, say ``alg: none`` and send no signature."""
    _, claims = read_token(scene.token(ATTACKER))
    forged = sign({"alg": "none", "typ": "JWT"}, {**claims, "sub": subject(scene, VICTIM)},
                  key=None)
    return judge("alg: none, an unsigned token naming alice", me(scene, forged), VICTIM)


def tampered(scene: Scene) -> AttackResult:
    """Change ``sub`` in your own token and keep its header and signature as they were."""
    header, claims, signature = scene.token(ATTACKER).split(".")
    changed = json.loads(unb64url(claims)) | {"sub": subject(scene, VICTIM)}
    forged = f"{header}.{b64url(json.dumps(changed).encode())}.{signature}"
    return judge("tampered claims, sub changed to alice, old signature", me(scene, forged),
                 VICTIM)


def other_key(scene: Scene) -> AttackResult:
    """Sign a token naming alice with a key of your own: a perfect HS256 token, wrong key."""
    _, claims = read_token(scene.token(ATTACKER))
    forged = hs256({**claims, "sub": subject(scene, VICTIM)}, secrets.token_urlsafe(32))
    return judge("a token naming alice, signed with the attacker's key", me(scene, forged),
                 VICTIM)


@cache
def weak_secrets() -> tuple[str, ...]:
    """The workbook's short list of weak signing secrets (lessons/data/weak_jwt_secrets.txt)."""
    text = resources.files("lessons").joinpath("data/weak_jwt_secrets.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines()
                 if line.strip() and not line.startswith("#"))


def long_weak_secret() -> str:
    """A placeholder from the list that is long enough for ``Settings`` (32 characters or
    more): length is not randomness, and a published value is in every attacker's list."""
    return next(word for word in weak_secrets() if len(word) >= 32)


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
    token = scene.token(ATTACKER)
    key = crack(token, words)
    if key is None:
        return AttackResult(name, False, f"none of the {len(words)} words in the list signs "
                                         "the service's tokens")
    header, claims = read_token(token)
    changes = ({"sub": subject(scene, VICTIM)}
               | ({"jti": secrets.token_urlsafe(16)} if "jti" in claims else {}))
    forged = sign(header, claims | changes, key)
    return judge(name, me(scene, forged), VICTIM,
                 before=f"the key is one of the {len(words)} words in the list; forged token: ")


# -- signed with the service's key, but not valid here or now --------------------------------


def other_algorithm(scene: Scene) -> AttackResult:
    """A token for alice in HS512, made with the right key: the service chose HS256."""
    return judge("HS512 (not the service's algorithm), right key",
                 me(scene, signed_for(scene, alg="HS512")), VICTIM)


def expired(scene: Scene) -> AttackResult:
    """alice's token from an hour ago, found in a log."""
    now = int(time.time())
    token = signed_for(scene, iat=now - 3600, nbf=now - 3600, exp=now - 2700)
    return judge("expired 45 minutes ago", me(scene, token), VICTIM)


def not_yet_valid(scene: Scene) -> AttackResult:
    """A token for alice that only becomes valid in an hour."""
    now = int(time.time())
    token = signed_for(scene, iat=now, nbf=now + 3600, exp=now + 4500)
    return judge("not valid before an hour from now", me(scene, token), VICTIM)


def no_expiry(scene: Scene) -> AttackResult:
    """A token for alice with no ``exp``, as an older release issued them: valid forever."""
    return judge("no exp: never expires", me(scene, signed_for(scene, exp=None)), VICTIM)


def no_audience(scene: Scene) -> AttackResult:
    """A token for alice that names no audience at all."""
    return judge("no aud: meant for no service in particular",
                 me(scene, signed_for(scene, aud=None)), VICTIM)


def wrong_audience(scene: Scene) -> AttackResult:
    """alice's token for another API of the same issuer, replayed here."""
    return judge("aud is another API (billing-api)",
                 me(scene, signed_for(scene, aud="billing-api")), VICTIM)


def wrong_issuer(scene: Scene) -> AttackResult:
    """A token for alice from another issuer that shares the key (say, a staging system)."""
    return judge("iss is another issuer (staging-issuer)",
                 me(scene, signed_for(scene, iss="staging-issuer")), VICTIM)


# -- left over -------------------------------------------------------------------------------


def revoked(scene: Scene) -> AttackResult:
    """mallory logs out; whoever copied her token (a shared computer, a log) still uses it."""
    token = scene.token(ATTACKER)
    logout = scene.client.post("/auth/logout", headers=bearer(token))
    return judge("the same token after logging out", me(scene, token), ATTACKER,
                 before=f"logout answered {logout.status_code}; then ")


def deleted_user(scene: Scene) -> AttackResult:
    """bob uses his token, then his account is deleted (he left); the token keeps working?"""
    token = scene.token(LEAVER)
    before = me(scene, token)
    if before.status_code != 200:
        raise SceneError(f"bob's fresh token did not work: GET /users/me answered "
                         f"{before.status_code}")
    scene.store.delete_user(LEAVER)
    return judge("a token of bob, whose account was deleted", me(scene, token), LEAVER)


def name_reused(scene: Scene) -> AttackResult:
    """bob's account is deleted, and someone else registers the free name "bob" and writes a
    private note. Whoever holds bob's old token asks for "bob's" notes."""
    name = "bob's old token, after someone else registered the name bob"
    token = scene.token(LEAVER)
    scene.store.delete_user(LEAVER)
    registered = scene.client.post("/users", json={
        "username": LEAVER, "email": "the.new.bob@example.org", "password": new_password()})
    if registered.status_code != 201:
        raise SceneError(f"the new bob could not register: POST /users answered "
                         f"{registered.status_code} {registered.text[:120]}")
    secret = scene.store.add_note(LEAVER, "the new bob's note", "Only the new bob may read this.")
    response = scene.client.get("/notes", headers=bearer(token))
    notes = response.json() if response.status_code == 200 else []
    read = isinstance(notes, list) and any(
        isinstance(note, dict) and note.get("body") == secret.body for note in notes)
    before = "bob deleted, the name registered again (201); the old token: "
    if response.status_code == 200:
        outcome = ("HTTP 200, the new bob's private note" if read
                   else f"HTTP 200, {len(notes)} notes, none of the new bob's")
    else:
        body = response.json() if response.headers.get("content-type") == "application/json" else {}
        detail = body.get("detail") if isinstance(body, dict) else None
        outcome = f"HTTP {response.status_code}: {detail or response.reason_phrase}"
    return AttackResult(name=name, succeeded=read, evidence=before + outcome)


def password_changed(scene: Scene) -> AttackResult:
    """mallory has a copy of alice's token (a shared computer, a log). alice suspects it and
    changes her password; the copy keeps working?"""
    copied = scene.token(VICTIM)
    alice = scene.accounts[VICTIM]
    change = scene.client.post(
        "/users/me/password", headers=bearer(scene.token(VICTIM)),
        json={"current_password": alice.password, "new_password": new_password()})
    if change.status_code != 204:
        raise SceneError(f"alice could not change her password: POST /users/me/password "
                         f"answered {change.status_code} {change.text[:120]}")
    return judge("alice's copied token, after she changed her password", me(scene, copied),
                 VICTIM, before="alice changed her password (204); the copy: ")


# -- the lesson's attacks, and the services they succeed against ----------------------------

# The layer of "The attack": tokens made and read the way many tutorials do it, naming the
# account by its username.
NAIVE_LAYER: dict[str, Any] = {
    "token_subject": tokens.username_subject,
    "issue_token": tokens.issue_token_naive,
    "decode_token": tokens.decode_token_naive,
    "identity": tokens.bearer_identity_naive,
}
NAIVE = Variant(2, seams=NAIVE_LAYER, label="tokens as many tutorials make them")
# This lesson's reference before issue 11: sub was the username, looked up by name, and a
# password change (there was none to make; an operator's reset did the same) ended nothing.
PREVIOUS = Variant(2, seams={"token_subject": tokens.username_subject,
                             "identity": tokens.identity_from(tokens.caller_from_token_by_name)},
                   label="lesson 02's reference before issue 11")
# The reference, signing with a long placeholder key that Settings accepts (32 characters or
# more) but that is in the list of weak secrets.
WEAK_KEY = Variant(2, settings={"secret_key": long_weak_secret()},
                   label="a published placeholder as the key")


def _naive(id: str, title: str, run: Any) -> Attack:
    return Attack(id, title, run, NAIVE, fixed_in=2)


FORGED: tuple[Attack, ...] = (
    _naive("alg_none", "an unsigned token (alg: none) naming alice", alg_none),
    _naive("tampered", "mallory's own token with sub changed to alice, old signature",
           tampered),
    _naive("other_key", "a token naming alice, signed with mallory's own key", other_key),
    Attack("weak_secret", "a token naming alice, signed with a key cracked from a word list",
           weak_secret, WEAK_KEY, fixed_in=2),
)
SERVICE_SIGNED: tuple[Attack, ...] = (
    _naive("other_algorithm", "alice's token in HS512, not the service's HS256",
           other_algorithm),
    _naive("expired", "alice's token that expired 45 minutes ago", expired),
    _naive("not_yet_valid", "alice's token that is valid only an hour from now", not_yet_valid),
    _naive("no_expiry", "alice's token with no exp", no_expiry),
    _naive("no_audience", "alice's token with no aud", no_audience),
    _naive("wrong_audience", "alice's token for another API (aud billing-api)", wrong_audience),
    _naive("wrong_issuer", "alice's token from another issuer", wrong_issuer),
)
LEFT_OVER: tuple[Attack, ...] = (
    _naive("revoked", "mallory's token after she logged out", revoked),
    _naive("deleted_user", "bob's token after his account was deleted", deleted_user),
    Attack("name_reused", "bob's old token, after someone else registered the name bob",
           name_reused, PREVIOUS, fixed_in=2),
    Attack("password_changed", "alice's copied token, after she changed her password",
           password_changed, PREVIOUS, fixed_in=2),
)
ATTACKS: tuple[Attack, ...] = FORGED + SERVICE_SIGNED + LEFT_OVER
