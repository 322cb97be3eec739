"""Lesson 02 checks: the learner's ``issue_token``, ``decode_token`` and ``caller_from_token``
work with the service, and every lesson-02 attack fails against them.

Each check plugs in only the exercise it is about (the other seams keep their reference), so
an unwritten exercise shows as "not attempted" without hiding the others' results.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import HTTPException
from jose import JOSEError

from lessons import tokens
from lessons.attacks import lesson02 as attacks
from lessons.attacks.lesson02 import Scene, read_token, stage
from lessons.checks import Fail, Report, Suite, Trial, expect
from lessons.identity import Caller
from lessons.settings import Settings

suite = Suite(2, "JWT bearer tokens")

SCOPES = frozenset({"notes:read", "notes:write"})


# -- issue_token -----------------------------------------------------------------------------


def _issue(trial: Trial, settings: Settings, username: str = "alice",
           scopes: Iterable[str] = SCOPES) -> str:
    """Call the learner's issue_token, turning a DeprecationWarning (utcnow) into a hint."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token = trial.issue_token(settings, username, frozenset(scopes))
    deprecated = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    expect(not deprecated,
           f"issue_token triggered a DeprecationWarning ({'; '.join(deprecated)}). "
           "datetime.utcnow() is deprecated and gives a naive time: use int(time.time()) or "
           "datetime.now(UTC).")
    expect(isinstance(token, str) and token.count(".") == 2,
           "issue_token should return the token jwt.encode makes: a str of three parts "
           f"separated by dots, not {type(token).__name__}.")
    return token


def _why_refused(error: Exception) -> str:
    """A hint for a token of the learner's that the reference decode refused."""
    text = str(error)
    if "Signature verification failed" in text:
        return ("The service's decode says the signature is wrong: sign with "
                "settings.secret_key, the service's random key, never one written in code.")
    if "missing required key" in text:
        claim = text.split('"')[1] if '"' in text else "?"
        return (f"Your token has no `{claim}` claim; the service requires sub, iat, nbf, exp, "
                "iss, aud and jti.")
    if "Invalid audience" in text:
        return "aud should be settings.token_audience."
    if "Invalid issuer" in text:
        return "iss should be settings.token_issuer."
    if "expired" in text:
        return "exp is already past: it should be now + settings.token_minutes * 60 seconds."
    if "not yet valid" in text:
        return "nbf is in the future: a new token is valid from now (nbf = iat = now)."
    if "must be an integer" in text:
        return "Times are whole seconds since 1970 in UTC, as int(time.time()) gives them."
    return f"The service's own decode refused your token: {text}"


@suite.check("issue_token: HS256, signed with the service's key, accepted by the service")
def issue_signs(trial: Trial) -> None:
    settings = trial.settings()
    token = _issue(trial, settings)
    try:
        header, _ = read_token(token)
    except ValueError:
        raise Fail("The token's parts are not base64url JSON: make it with jwt.encode.") from None
    expect(header.get("alg") == tokens.ALGORITHM,
           f"The token's header says alg {header.get('alg')!r}: sign with algorithm=\"HS256\".")
    try:
        tokens.decode_token(settings, token)
    except JOSEError as error:
        raise Fail(_why_refused(error)) from None


@suite.check("issue_token: sub, scope, iat, nbf, a lifetime of token_minutes, a unique jti")
def issue_claims(trial: Trial) -> None:
    # Not the default 15 minutes, so that a lifetime written into the code shows.
    settings = trial.settings(token_minutes=7)
    before = int(time.time())
    first, second = _issue(trial, settings), _issue(trial, settings)
    after = int(time.time())
    claims, other = read_token(first)[1], read_token(second)[1]
    missing = [name for name in (*tokens.REQUIRED_CLAIMS, "scope") if name not in claims]
    expect(not missing, f"Your token has no {', '.join(missing)}: put every one of sub, iat, "
                        "nbf, exp, iss, aud, jti and scope in the claims.")
    expect(claims["sub"] == "alice", "sub should be the username the token is for.")
    expect(isinstance(claims["scope"], str) and set(claims["scope"].split()) == SCOPES,
           "scope should hold the scopes, separated by spaces (RFC 6749, section 3.3), "
           f"for example {' '.join(sorted(SCOPES))!r}.")
    times = {name: claims[name] for name in ("iat", "nbf", "exp")}
    expect(all(isinstance(value, int) for value in times.values()),
           "iat, nbf and exp should be whole seconds since 1970 (UTC): int(time.time()).")
    expect(before - 5 <= claims["iat"] <= after + 5,
           "iat should be the moment of issue: int(time.time()).")
    expect(claims["nbf"] <= after + 1, "nbf should be now, not later: the token is valid at once.")
    lifetime = claims["exp"] - claims["iat"]
    expect(lifetime == settings.token_minutes * 60,
           f"This service's tokens live settings.token_minutes ({settings.token_minutes}) "
           f"minutes, so exp = iat + {settings.token_minutes * 60}; yours live {lifetime} "
           "seconds. Read the lifetime from settings.")
    expect(isinstance(claims["jti"], str) and claims["jti"] != other["jti"],
           "Every token needs its own jti, a random string (secrets.token_urlsafe(16)): "
           "logout revokes one jti, and must not log out other tokens with it.")


# -- decode_token ----------------------------------------------------------------------------


@suite.check("decode_token: accepts the service's own tokens")
def decode_accepts(trial: Trial) -> None:
    settings = trial.settings()
    token = tokens.issue_token(settings, "alice", SCOPES)
    try:
        claims = trial.decode_token(settings, token)
    except JOSEError as error:
        hint = (" python-jose refuses a token carrying aud unless you pass "
                "audience=settings.token_audience." if "audience" in str(error) else "")
        raise Fail(f"Your decode refused a valid token of the service: {error}.{hint}") from None
    expect(isinstance(claims, dict) and claims.get("sub") == "alice",
           "decode_token should return the token's claims (the dict jwt.decode returns).")
    scene = stage(trial.app(2, decode_token=trial.decode_token))
    response = scene.me(scene.login("alice"))
    expect(response.status_code == 200,
           f"With your decode_token, GET /users/me with a fresh token answered "
           f"{response.status_code}.")


@suite.check("decode_token: refuses a token missing any of sub, iat, nbf, exp, iss, aud, jti")
def decode_requires(trial: Trial) -> None:
    settings = trial.settings()
    accepted = []
    for claim in tokens.REQUIRED_CLAIMS:
        token = attacks.service_signed(settings, **{claim: None})
        try:
            trial.decode_token(settings, token)
        except JOSEError:
            continue
        accepted.append(claim)
    expect(not accepted,
           f"Your decode accepted tokens with no {', '.join(accepted)}. python-jose checks a "
           "claim only when the token has it: require each one, e.g. "
           "options={\"require_exp\": True, \"require_aud\": True, ...}.")


def _attack_check(attack: attacks.Attack, title: str, hint: str,
                  build: Callable[[Trial], Any]) -> None:
    def run(trial: Trial) -> None:
        result = attack(stage(build(trial)))
        expect(not result.succeeded, f"{hint} (The service answered: {result.evidence}.)")

    suite.check(f"attack fails: {title}")(run)


def _with_decode(trial: Trial) -> Any:
    return trial.app(2, decode_token=trial.decode_token)


DECODE_ATTACKS = (
    (attacks.alg_none, "alg: none",
     "Your service accepted an unsigned token. Decode with jwt.decode(token, "
     "settings.secret_key, algorithms=[\"HS256\"], ...), which checks the signature."),
    (attacks.tampered, "tampered claims with the old signature",
     "Your service accepted claims changed after signing: verify the signature with "
     "jwt.decode and the service's key; never trust jwt.get_unverified_claims."),
    (attacks.other_key, "a token signed with another key",
     "Your service accepted a token signed with someone else's key: decode with "
     "settings.secret_key."),
    (attacks.other_algorithm, "HS512 instead of HS256",
     "Your decode accepted a token signed with HS512. Name the one algorithm the service "
     "uses, algorithms=[\"HS256\"]: without that allow-list the token's own header chooses "
     "(ASVS 9.1.2)."),
    (attacks.expired, "an expired token",
     "Your decode accepted an expired token: leave verify_exp on and require exp."),
    (attacks.not_yet_valid, "a token not valid yet",
     "Your decode accepted a token whose nbf is in the future: leave verify_nbf on."),
    (attacks.no_expiry, "a token with no exp",
     "Your decode accepted a token that never expires: python-jose checks exp only when it "
     "is there. Add \"require_exp\": True to options."),
    (attacks.no_audience, "a token with no aud",
     "Your decode accepted a token with no aud: python-jose compares aud only when the "
     "token has one. Add \"require_aud\": True to options."),
    (attacks.wrong_audience, "a token for another audience",
     "Your decode accepted a token meant for another API: pass "
     "audience=settings.token_audience and leave verify_aud on (ASVS 9.2.3)."),
    (attacks.wrong_issuer, "a token from another issuer",
     "Your decode accepted a token from another issuer: pass issuer=settings.token_issuer."),
)

for _attack, _title, _hint in DECODE_ATTACKS:
    _attack_check(_attack, _title, _hint, _with_decode)


# -- caller_from_token -----------------------------------------------------------------------


def _with_caller(trial: Trial) -> Any:
    return trial.app(2, identity=tokens.identity_from(trial.caller_from_token))


@suite.check("caller_from_token: a valid token gives its user, scopes and claims; a bad one 401")
def caller_works(trial: Trial) -> None:
    scene = stage(trial.app(2))
    service = scene.app.state.service
    token = scene.login("alice")
    caller = trial.caller_from_token(service, token)
    expect(isinstance(caller, Caller),
           "Return Caller(user=..., scopes=..., claims=..., method=\"bearer\"), "
           f"not {type(caller).__name__}.")
    expect(caller.user == service.store.get_user("alice"),
           "Caller.user should be the user the token's sub names, as the store has it now: "
           "service.store.get_user(claims[\"sub\"]).")
    expect(caller.scopes == SCOPES,
           "Caller.scopes should be the token's scope claim split on spaces, as a frozenset.")
    expect(dict(caller.claims).get("jti") == read_token(token)[1]["jti"],
           "Pass the verified claims on: Caller(claims=claims). Logout reads the jti there.")
    try:
        trial.caller_from_token(service, attacks.sign({"alg": "none"}, {"sub": "alice"}, None))
    except HTTPException as error:
        challenge = (error.headers or {}).get("WWW-Authenticate", "")
        expect(error.status_code == 401 and challenge.startswith("Bearer"),
               "A bad token should give 401 with a WWW-Authenticate header that starts with "
               "Bearer: raise unauthorized(\"Invalid or expired token\", tokens.INVALID).")
    except JOSEError:
        raise Fail("A token that does not decode must become a 401, not an exception: catch "
                   "JOSEError (python-jose's base class) and raise unauthorized(...).") from None
    else:
        raise Fail("caller_from_token accepted an unsigned token: decode it with "
                   "service.layers.decode_token(service.settings, token).")


@suite.check("attack fails: the same token after logging out")
def caller_refuses_revoked(trial: Trial) -> None:
    app = _with_caller(trial)
    result = attacks.revoked(stage(app))
    revoked = app.state.service.store.query("SELECT count(*) FROM revoked_tokens")[0][0]
    expect(revoked, "Logout revoked nothing: it revokes the jti in Caller.claims, so pass "
                    "the verified claims on, Caller(claims=claims).")
    expect(not result.succeeded,
           "A token still works after logout: refuse it when "
           "service.store.is_revoked(claims[\"jti\"]) (ASVS 7.4.1). "
           f"(The service answered: {result.evidence}.)")


_attack_check(
    attacks.deleted_user, "a token of a deleted account",
    "A deleted account's token still works: look the user up on every request, "
    "service.store.get_user(claims[\"sub\"]), and answer 401 when there is none (ASVS 7.4.2).",
    _with_caller,
)


# -- the key, and all three together ---------------------------------------------------------


_attack_check(
    attacks.weak_secret, "a key cracked from a list of weak secrets",
    "Your tokens are signed with a word from a short list of weak secrets. Sign and verify "
    "with settings.secret_key: random, at least 32 characters, never written in code "
    "(ASVS 11.5.1, 13.3.1).",
    lambda trial: trial.app(2, issue_token=trial.issue_token, decode_token=trial.decode_token),
)


@suite.check("all three together: log in, call, log out, and the token is refused")
def whole_layer(trial: Trial) -> None:
    app = trial.app(2, issue_token=trial.issue_token, decode_token=trial.decode_token,
                    identity=tokens.identity_from(trial.caller_from_token))
    scene: Scene = stage(app)
    token = scene.login("alice")
    first = scene.me(token)
    expect(first.status_code == 200 and first.json().get("username") == "alice",
           f"GET /users/me with a fresh token answered {first.status_code}.")
    auth = {"Authorization": f"Bearer {token}"}
    logout = scene.client.post("/auth/logout", headers=auth)
    expect(logout.status_code == 204, f"POST /auth/logout answered {logout.status_code}.")
    after = scene.me(token)
    expect(after.status_code == 401 and after.headers.get("WWW-Authenticate", "").startswith(
        "Bearer"), f"After logout the token got {after.status_code}; it should get 401 with "
                   "WWW-Authenticate: Bearer.")


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "issue_token": tokens.issue_token,
    "decode_token": tokens.decode_token,
    "caller_from_token": tokens.caller_from_token,
}


def check(**answers: Any) -> Report:
    """Run the lesson-02 checks: ``check(issue_token=..., decode_token=...,
    caller_from_token=...)``."""
    return suite.run(**answers)
