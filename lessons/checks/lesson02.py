"""Lesson 02 checks: the learner's ``issue_token``, ``decode_token`` and ``caller_from_token``
work with the service, and every lesson-02 attack fails against them.

Each check plugs in only the exercise it is about (the other seams keep their reference), so
an unwritten exercise shows as "not attempted" without hiding the others' results. ``RULES``
lists what each exercise's text asks for, and ``WRONG_ANSWERS`` near misses that break one
rule each (``tests/test_check_suites.py`` runs them).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import HTTPException
from jose import JOSEError, JWTError, jwt

from lessons import tokens
from lessons.attacks import VICTIM, AttackResult, Scene, SceneError, Variant, reference
from lessons.attacks import lesson02 as attacks
from lessons.attacks.lesson02 import read_token
from lessons.checks import Fail, Report, Rule, Suite, Trial, WrongAnswer, expect, expect_type
from lessons.identity import Caller
from lessons.settings import Settings
from lessons.store import User, new_user_id

suite = Suite(2, "JWT bearer tokens")

SCOPES = frozenset({"notes:read", "notes:write"})
# Every registered claim required, as the exercise asks; the wrong answers below change one
# thing each around it.
ALL_CLAIMS = {f"require_{claim}": True for claim in tokens.REQUIRED_CLAIMS}

Claims = dict[str, Any]


def _scene(trial: Trial, variant: Variant | None = None, **seams: Any) -> Scene:
    """The service after lesson 02 (or ``variant``) with ``seams`` replaced, its cast seeded,
    in the trial's folder. Use it in a ``with`` block.

    Unlike an attacker's client, this one lets an exception from the service reach the check:
    a stub's NotImplementedError means "not attempted", and any other error is judged by where
    it was raised, not turned into a 500 that a check would read as a refusal."""
    return Scene((variant or Variant(2)).with_seams(**seams), folder=trial.root).raising()


# -- issue_token -----------------------------------------------------------------------------


def _issue(trial: Trial, settings: Settings, subject: str,
           scopes: Iterable[str] = SCOPES) -> tuple[str, list[str]]:
    """The learner's token, and any DeprecationWarning it raised (datetime.utcnow), which is
    kept out of the output: only ``issue_times`` judges it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token = trial.issue_token(settings, subject, frozenset(scopes))
    deprecated = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    expect_type(token, str, "issue_token", "the token jwt.encode makes (a str)")
    expect(token.count(".") == 2, "issue_token should return the token jwt.encode makes: three "
                                  "parts separated by dots.")
    return token, deprecated


def _quietly(issue: Callable[..., str]) -> Callable[[Settings, str, Iterable[str]], str]:
    """The learner's issue_token for the service's token route, its DeprecationWarning (if
    any) kept out of the output: only ``issue_times`` judges it."""

    def issue_token(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return issue(settings, subject, scopes)

    return issue_token


def _claims(token: str) -> Claims:
    try:
        return read_token(token)[1]
    except ValueError:
        raise Fail("The token's parts are not base64url JSON: make it with jwt.encode.") from None


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
    if "alg value is not allowed" in text:
        return "The service accepts HS256 only: jwt.encode(..., algorithm=\"HS256\")."
    return f"The service's own decode refused your token: {text}"


@suite.check("issue_signs", "issue_token: HS256, signed with the service's key, accepted by "
                            "the service")
def issue_signs(trial: Trial) -> None:
    settings = trial.settings()
    token, _ = _issue(trial, settings, new_user_id())
    try:
        header = read_token(token)[0]
    except ValueError:
        raise Fail("The token's parts are not base64url JSON: make it with jwt.encode.") from None
    expect(header.get("alg") == tokens.ALGORITHM,
           f"The token's header says alg {header.get('alg')!r}: sign with algorithm=\"HS256\".")
    try:
        tokens.decode_token(settings, token)
    except JOSEError as error:
        raise Fail(_why_refused(error)) from None


@suite.check("issue_claims", "issue_token: every claim, sub exactly the subject given, scope "
                             "separated by spaces")
def issue_claims(trial: Trial) -> None:
    settings = trial.settings()
    subject = new_user_id()
    claims = _claims(_issue(trial, settings, subject)[0])
    missing = [name for name in (*tokens.REQUIRED_CLAIMS, "scope") if name not in claims]
    expect(not missing, f"Your token has no {', '.join(missing)}: put every one of sub, iat, "
                        "nbf, exp, iss, aud, jti and scope in the claims.")
    expect(claims["sub"] == subject,
           f"sub should be exactly the subject issue_token is given (the account's id, here "
           f"{subject!r}); yours is {claims['sub']!r}. caller_from_token looks the account up "
           "by it.")
    expect(isinstance(claims["scope"], str) and set(claims["scope"].split(" ")) == SCOPES,
           "scope should hold the scopes separated by single spaces (RFC 6749, section 3.3), "
           f"for example {' '.join(sorted(SCOPES))!r}; yours is {claims['scope']!r}.")


@suite.check("issue_times", "issue_token: iat and nbf now, exp after token_minutes, whole "
                            "seconds from an aware clock")
def issue_times(trial: Trial) -> None:
    # Not the default 15 minutes, so that a lifetime written into the code shows.
    settings = trial.settings(token_minutes=7)
    before = int(time.time())
    token, deprecated = _issue(trial, settings, new_user_id())
    after = int(time.time())
    expect(not deprecated,
           f"issue_token triggered a DeprecationWarning ({'; '.join(deprecated)}). "
           "datetime.utcnow() is deprecated and gives a naive time: use int(time.time()) or "
           "datetime.now(UTC).")
    claims = _claims(token)
    times = {name: claims.get(name) for name in ("iat", "nbf", "exp")}
    expect(all(type(value) is int for value in times.values()),
           "iat, nbf and exp should be whole seconds since 1970 (UTC), int(time.time()); "
           f"yours are {times}.")
    expect(before - 5 <= claims["iat"] <= after + 5,
           "iat should be the moment of issue: int(time.time()).")
    expect(claims["nbf"] <= after + 1, "nbf should be now, not later: the token is valid at once.")
    lifetime = claims["exp"] - claims["iat"]
    expect(lifetime == settings.token_minutes * 60,
           f"This service's tokens live settings.token_minutes ({settings.token_minutes}) "
           f"minutes, so exp = iat + {settings.token_minutes * 60}; yours live {lifetime} "
           "seconds. Read the lifetime from settings.")


@suite.check("issue_unique_jti", "issue_token: a new random jti in every token")
def issue_unique_jti(trial: Trial) -> None:
    settings = trial.settings()
    subject = new_user_id()
    first, second = (_claims(_issue(trial, settings, subject)[0]) for _ in range(2))
    expect(isinstance(first.get("jti"), str) and first.get("jti") != second.get("jti"),
           "Every token needs its own jti, a random string (secrets.token_urlsafe(16)): "
           "logout revokes one jti, and must not log out other tokens with it.")


# -- decode_token ----------------------------------------------------------------------------


@suite.check("decode_accepts", "decode_token: accepts the service's own tokens")
def decode_accepts(trial: Trial) -> None:
    settings = trial.settings()
    subject = new_user_id()
    token = tokens.issue_token(settings, subject, SCOPES)
    try:
        claims = trial.decode_token(settings, token)
    except JOSEError as error:
        hint = (" python-jose refuses a token carrying aud unless you pass "
                "audience=settings.token_audience." if "audience" in str(error) else "")
        raise Fail(f"Your decode refused a valid token of the service: {error}.{hint}") from None
    expect_type(claims, dict, "decode_token", "the token's claims (the dict jwt.decode returns)")
    expect(claims.get("sub") == subject,
           "decode_token should return the token's claims (the dict jwt.decode returns).")
    with _scene(trial, decode_token=trial.decode_token) as scene:
        response = attacks.me(scene, scene.token(VICTIM))
    expect(response.status_code == 200,
           f"With your decode_token, GET /users/me with a fresh token answered "
           f"{response.status_code}.")


@suite.check("decode_requires", "decode_token: refuses a token missing any of sub, iat, nbf, "
                                "exp, iss, aud, jti")
def decode_requires(trial: Trial) -> None:
    settings = trial.settings()
    accepted = []
    for claim in tokens.REQUIRED_CLAIMS:
        token = attacks.service_signed(settings, new_user_id(), **{claim: None})
        try:
            trial.decode_token(settings, token)
        except JOSEError:
            continue
        accepted.append(claim)
    expect(not accepted,
           f"Your decode accepted tokens with no {', '.join(accepted)}. python-jose checks a "
           "claim only when the token has it: require each one, e.g. "
           "options={\"require_exp\": True, \"require_aud\": True, ...}.")


def _attack_check(id: str, attack: Callable[[Scene], AttackResult], title: str, hint: str,
                  seams: Callable[[Trial], dict[str, Any]]) -> None:
    def run(trial: Trial) -> None:
        with _scene(trial, **seams(trial)) as scene:
            try:
                result = attack(scene)
            except SceneError as error:  # a step before the attack failed, with your answer
                raise Fail(f"With your answer the attack could not even begin: {error}.") from None
        expect(not result.succeeded, f"{hint} (The service answered: {result.evidence}.)")

    suite.check(id, f"attack fails: {title}")(run)


def _with_decode(trial: Trial) -> dict[str, Any]:
    return {"decode_token": trial.decode_token}


DECODE_ATTACKS = (
    ("attack_alg_none", attacks.alg_none, "alg: none",
     "Your service accepted an unsigned token. Decode with jwt.decode(token, "
     "settings.secret_key, algorithms=[\"HS256\"], ...), which checks the signature."),
    ("attack_tampered", attacks.tampered, "tampered claims with the old signature",
     "Your service accepted claims changed after signing: verify the signature with "
     "jwt.decode and the service's key; never trust jwt.get_unverified_claims."),
    ("attack_other_key", attacks.other_key, "a token signed with another key",
     "Your service accepted a token signed with someone else's key: decode with "
     "settings.secret_key."),
    ("attack_other_algorithm", attacks.other_algorithm, "HS512 instead of HS256",
     "Your decode accepted a token signed with HS512. Name the one algorithm the service "
     "uses, algorithms=[\"HS256\"]: without that allow-list the token's own header chooses "
     "(ASVS 9.1.2)."),
    ("attack_expired", attacks.expired, "an expired token",
     "Your decode accepted an expired token: leave verify_exp on, require exp, and allow no "
     "leeway beyond a few seconds."),
    ("attack_not_yet_valid", attacks.not_yet_valid, "a token not valid yet",
     "Your decode accepted a token whose nbf is in the future: leave verify_nbf on, with no "
     "leeway beyond a few seconds."),
    ("attack_no_expiry", attacks.no_expiry, "a token with no exp",
     "Your decode accepted a token that never expires: python-jose checks exp only when it "
     "is there. Add \"require_exp\": True to options."),
    ("attack_no_audience", attacks.no_audience, "a token with no aud",
     "Your decode accepted a token with no aud: python-jose compares aud only when the "
     "token has one. Add \"require_aud\": True to options."),
    ("attack_wrong_audience", attacks.wrong_audience, "a token for another audience",
     "Your decode accepted a token meant for another API: pass "
     "audience=settings.token_audience and leave verify_aud on (ASVS 9.2.3)."),
    ("attack_wrong_issuer", attacks.wrong_issuer, "a token from another issuer",
     "Your decode accepted a token from another issuer: pass issuer=settings.token_issuer."),
)

for _id, _attack, _title, _hint in DECODE_ATTACKS:
    _attack_check(_id, _attack, _title, _hint, _with_decode)


# -- caller_from_token -----------------------------------------------------------------------


def _with_caller(trial: Trial) -> dict[str, Any]:
    return {"identity": tokens.identity_from(trial.caller_from_token)}


def _refused(trial: Trial, service: Any, token: str, what: str) -> bool:
    """Whether the learner's caller_from_token refused ``token`` with a 401; a refusal of
    another kind (an exception, another status) fails the check with a hint."""
    try:
        caller = trial.caller_from_token(service, token)
    except HTTPException as error:
        challenge = (error.headers or {}).get("WWW-Authenticate", "")
        expect(error.status_code == 401 and challenge.startswith("Bearer"),
               f"{what} got {error.status_code} {error.detail!r}: a bad token should give 401 "
               "with a WWW-Authenticate header that starts with Bearer: raise "
               "unauthorized(\"Invalid or expired token\", tokens.INVALID).")
        return True
    except JOSEError as error:
        raise Fail(f"{what} made your caller_from_token raise {type(error).__name__} ({error}) "
                   "instead of answering 401: catch JOSEError, python-jose's base class of "
                   "every error, and raise unauthorized(\"Invalid or expired token\", "
                   "tokens.INVALID). A decode without an algorithm list raises JWKError for "
                   "alg: none, which is not a JWTError.") from None
    expect_type(caller, Caller, "caller_from_token",
                "a Caller(user=..., scopes=..., claims=..., method=\"bearer\")")
    return False


def _accepts(trial: Trial, service: Any, token: str, what: str) -> Caller:
    """The learner's caller for a token that must be accepted; a refusal fails with a hint."""
    try:
        caller = trial.caller_from_token(service, token)
    except HTTPException as error:
        raise Fail(
            f"Your caller_from_token refused {what} ({error.status_code}: {error.detail}). "
            "sub holds the account's id: look it up with "
            "service.store.get_user_by_id(claims[\"sub\"]) (get_user takes a name), and refuse "
            "a token only when iat <= user.password_changed_at.") from None
    expect_type(caller, Caller, "caller_from_token",
                "a Caller(user=..., scopes=..., claims=..., method=\"bearer\")")
    return caller


@suite.check("caller_works", "caller_from_token: a valid token gives its user, scopes and "
                             "claims; a bad one 401")
def caller_works(trial: Trial) -> None:
    with _scene(trial, reference(2)) as scene:
        token = scene.token(VICTIM)
        caller = _accepts(trial, scene.service, token, "a fresh, valid token of alice")
        alice = scene.store.get_user(VICTIM)
        expect(isinstance(caller.user, User) and caller.user == alice,
               "Caller.user should be the account the token's sub names, as the store has it "
               "now: service.store.get_user_by_id(claims[\"sub\"]).")
        expect(caller.scopes == SCOPES and isinstance(caller.scopes, frozenset),
               "Caller.scopes should be the token's scope claim split on spaces, as a "
               f"frozenset: {sorted(SCOPES)}; yours is {caller.scopes!r}.")
        expect(dict(caller.claims).get("jti") == read_token(token)[1]["jti"],
               "Pass the verified claims on: Caller(claims=claims). Logout reads the jti there.")
        unsigned = attacks.sign({"alg": "none"}, {"sub": alice.id}, None)
        expect(_refused(trial, scene.service, unsigned, "An unsigned token"),
               "caller_from_token accepted an unsigned token: decode it with "
               "service.layers.decode_token(service.settings, token).")


def decode_without_allow_list(settings: Settings, token: str) -> dict[str, Any]:
    """A decode with everything but the algorithm list (a learner's exercise 2 may be this):
    python-jose then raises JWKError, not a JWTError, for ``alg: none``."""
    return jwt.decode(token, settings.secret_key, audience=settings.token_audience,
                      issuer=settings.token_issuer, options=ALL_CLAIMS)



@suite.check("caller_any_decode_error", "caller_from_token: every decode error is a 401, "
                                        "whichever decode is plugged in")
def caller_any_decode_error(trial: Trial) -> None:
    with _scene(trial, decode_token=decode_without_allow_list) as scene:
        claims = attacks.service_claims(scene.settings, attacks.subject(scene, VICTIM))
        unsigned = attacks.sign({"alg": "none", "typ": "JWT"}, claims, None)
        expect(_refused(trial, scene.service, unsigned,
                        "With a decode that has no algorithm list, an alg: none token"),
               "caller_from_token accepted an unsigned token.")


@suite.check("caller_refuses_revoked", "attack fails: the same token after logging out")
def caller_refuses_revoked(trial: Trial) -> None:
    with _scene(trial, **_with_caller(trial)) as scene:
        result = attacks.revoked(scene)
        revoked = scene.store.query("SELECT count(*) FROM revoked_tokens")[0][0]
    expect(revoked, "Logout revoked nothing: it revokes the jti in Caller.claims, so pass "
                    "the verified claims on, Caller(claims=claims).")
    expect(not result.succeeded,
           "A token still works after logout: refuse it when "
           "service.store.is_revoked(claims[\"jti\"]) (ASVS 7.4.1). "
           f"(The service answered: {result.evidence}.)")


_attack_check(
    "attack_deleted_user", attacks.deleted_user, "a token of a deleted account",
    "A deleted account's token still works: look the user up on every request, "
    "service.store.get_user_by_id(claims[\"sub\"]), and answer 401 when there is none "
    "(ASVS 7.4.2).",
    _with_caller,
)


@suite.check("caller_subject_is_id", "caller_from_token: sub is an account id; a token "
                                     "naming a user by name is refused")
def caller_subject_is_id(trial: Trial) -> None:
    with _scene(trial, reference(2)) as scene:
        # Signed with the service's key, as a release that put names in sub would have.
        by_name = attacks.service_signed(scene.settings, VICTIM)
        expect(_refused(trial, scene.service, by_name, "A token whose sub is the name alice"),
               "Your caller_from_token accepted a token whose sub is the name \"alice\". Look "
               "the account up by id only, service.store.get_user_by_id(claims[\"sub\"]): a "
               "name can be deleted and registered again by someone else, who would then "
               "receive every token made out to it (ASVS 10.3.3).")


@suite.check("caller_password_change", "attack fails: a token issued before a password change")
def caller_password_change(trial: Trial) -> None:
    with _scene(trial, reference(2)) as scene:
        service, store = scene.service, scene.store
        alice = store.get_user(VICTIM)
        new = attacks.new_password()
        # The change as POST /users/me/password makes it (no learner code involved).
        now = int(time.time())
        store.change_password(alice.id, alice.password_hash, service.hasher.hash(new), now)
        changed_at = store.get_user_by_id(alice.id).password_changed_at
        older = attacks.service_signed(scene.settings, alice.id, iat=changed_at - 60,
                                       nbf=changed_at - 60)
        expect(_refused(trial, service, older, "A token issued a minute before the change"),
               "A token issued before alice changed her password still works: refuse it when "
               "claims[\"iat\"] <= user.password_changed_at (ASVS 7.4.1).")
        same_second = attacks.service_signed(scene.settings, alice.id, iat=changed_at,
                                             nbf=changed_at)
        expect(_refused(trial, service, same_second,
                        "A token issued in the same second as the change"),
               "A token issued in the same second as the password change still works. iat "
               "counts whole seconds, so such a token may be older than the change: refuse "
               "iat <= user.password_changed_at, not only iat < it. (The service never issues "
               "a token in that second: its login waits for the next one.)")
        scene.accounts[VICTIM].password = new
        _accepts(trial, service, scene.token(VICTIM),
                 "the token of a login right after the change")


_attack_check(
    "attack_weak_secret", attacks.weak_secret, "a key cracked from a list of weak secrets",
    "Your tokens are signed with a word from a short list of weak secrets. Sign and verify "
    "with settings.secret_key: random, at least 32 characters, never written in code "
    "(ASVS 11.5.1, 13.3.1).",
    lambda trial: {"issue_token": _quietly(trial.issue_token), "decode_token": trial.decode_token},
)


@suite.check("whole_layer", "all three together: log in, call, log out, and the token is "
                            "refused")
def whole_layer(trial: Trial) -> None:
    with _scene(trial, issue_token=_quietly(trial.issue_token), decode_token=trial.decode_token,
                **_with_caller(trial)) as scene:
        token = scene.token(VICTIM)
        first = attacks.me(scene, token)
        expect(first.status_code == 200 and first.json().get("username") == VICTIM,
               f"GET /users/me with a fresh token answered {first.status_code}.")
        logout = scene.client.post("/auth/logout", headers=attacks.bearer(token))
        expect(logout.status_code == 204, f"POST /auth/logout answered {logout.status_code}.")
        after = attacks.me(scene, token)
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


# -- what the exercises ask, and near misses that break one rule each ------------------------

RULES: tuple[Rule, ...] = (
    Rule("issue_hs256", "issue_token",
         "made with jwt.encode(..., algorithm=\"HS256\"), so the service's decode accepts it",
         ("issue_signs", "whole_layer")),
    Rule("issue_service_key", "issue_token",
         "signed with settings.secret_key, never a key written in code or a guessable one",
         ("issue_signs", "attack_weak_secret")),
    Rule("issue_all_claims", "issue_token",
         "carries every one of sub, iat, nbf, exp, iss, aud, jti and scope",
         ("issue_claims", "issue_signs")),
    Rule("issue_subject", "issue_token",
         "sub is exactly the subject it is given: the account's id", ("issue_claims",)),
    Rule("issue_scope", "issue_token",
         "scope holds the scopes joined by spaces (RFC 6749, section 3.3)", ("issue_claims",)),
    Rule("issue_times", "issue_token",
         "iat and nbf are now and exp is now plus settings.token_minutes, in whole seconds",
         ("issue_times",)),
    Rule("issue_no_utcnow", "issue_token",
         "errata 1: no datetime.utcnow() (naive and deprecated): int(time.time())",
         ("issue_times",)),
    Rule("issue_unique_jti", "issue_token",
         "a new random jti in every token, so that logout revokes that token only",
         ("issue_unique_jti",)),
    Rule("decode_signature", "decode_token",
         "verifies the signature with the service's key before trusting any claim (ASVS 9.1.1)",
         ("attack_alg_none", "attack_tampered", "attack_other_key")),
    Rule("decode_service_key", "decode_token",
         "verifies with settings.secret_key, the key the service signs with",
         ("decode_accepts",)),
    Rule("decode_allow_list", "decode_token",
         "names the one algorithm it accepts, algorithms=[\"HS256\"] (ASVS 9.1.2)",
         ("attack_other_algorithm",)),
    Rule("decode_requires", "decode_token",
         "requires sub, iat, nbf, exp, iss, aud and jti: python-jose checks a claim only when "
         "the token has it",
         ("decode_requires", "attack_no_expiry", "attack_no_audience")),
    Rule("decode_times", "decode_token",
         "refuses expired and not-yet-valid tokens (ASVS 9.2.1)",
         ("attack_expired", "attack_not_yet_valid")),
    Rule("decode_audience", "decode_token",
         "names the audience, audience=settings.token_audience (ASVS 9.2.3)",
         ("decode_accepts", "attack_wrong_audience")),
    Rule("decode_issuer", "decode_token",
         "names the issuer, issuer=settings.token_issuer", ("attack_wrong_issuer",)),
    Rule("caller_any_decode_error", "caller_from_token",
         "catches JOSEError, so every decode error is a 401 whichever decode is plugged in",
         ("caller_any_decode_error", "caller_works")),
    Rule("caller_revocation", "caller_from_token",
         "refuses a token whose jti was revoked by a logout (ASVS 7.4.1)",
         ("caller_refuses_revoked", "whole_layer")),
    Rule("caller_user_from_store", "caller_from_token",
         "the user comes from the database on every request, so a deleted account's tokens end "
         "(ASVS 7.4.2)", ("attack_deleted_user", "caller_works")),
    Rule("caller_subject_is_id", "caller_from_token",
         "looks the account up by the id in sub, never by name (ASVS 10.3.3)",
         ("caller_works", "caller_subject_is_id")),
    Rule("caller_password_change", "caller_from_token",
         "refuses a token issued at or before the user's last password change (iat in whole "
         "seconds)", ("caller_password_change",)),
    Rule("caller_result", "caller_from_token",
         "returns Caller(user, scopes as a frozenset split on spaces, the verified claims)",
         ("caller_works", "caller_refuses_revoked")),
)


# Each wrong answer stands for code a learner could write from the exercise text.

def issue_hs512(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    claims = attacks.service_claims(settings, subject, scope=" ".join(sorted(scopes)))
    return jwt.encode(claims, settings.secret_key, algorithm="HS512")


def issue_without(*dropped: str) -> Callable[[Settings, str, Iterable[str]], str]:
    def issue(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
        claims = attacks.service_claims(settings, subject, scope=" ".join(sorted(scopes)),
                                        **dict.fromkeys(dropped))
        return jwt.encode(claims, settings.secret_key, algorithm="HS256")
    issue.__name__ = f"issue_without_{'_'.join(dropped)}"
    return issue


def issue_prefixed_subject(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    # Namespaced subjects ("user:<id>") are common elsewhere; here sub must be the id itself.
    claims = attacks.service_claims(settings, f"user:{subject}", scope=" ".join(sorted(scopes)))
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def issue_comma_scopes(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    claims = attacks.service_claims(settings, subject, scope=",".join(sorted(scopes)))
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def issue_float_times(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    now = time.time()  # int() forgotten
    claims = attacks.service_claims(settings, subject, iat=now, nbf=now,
                                    exp=now + settings.token_minutes * 60,
                                    scope=" ".join(sorted(scopes)))
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def issue_for_fifteen_minutes(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    now = int(time.time())
    claims = attacks.service_claims(settings, subject, exp=now + 900,
                                    scope=" ".join(sorted(scopes)))
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def issue_with_deprecated_call(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    # Stands for datetime.utcnow() on Python 3.12+, which warns the same way.
    warnings.warn("datetime.datetime.utcnow() is deprecated", DeprecationWarning, stacklevel=2)
    return tokens.issue_token(settings, subject, scopes)


def issue_with_fixed_jti(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    claims = attacks.service_claims(settings, subject, jti="1", scope=" ".join(sorted(scopes)))
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def issue_with_a_weak_key(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    return tokens.issue_token(settings.replace(secret_key=attacks.weak_secrets()[0]),
                              subject, scopes)


def decode_with_a_weak_key(settings: Settings, token: str) -> dict[str, Any]:
    return tokens.decode_token(settings.replace(secret_key=attacks.weak_secrets()[0]), token)


def decode_not_verifying_the_signature(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      audience=settings.token_audience, issuer=settings.token_issuer,
                      options={"verify_signature": False, **ALL_CLAIMS})


def decode_with_two_algorithms(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256", "HS512"],
                      audience=settings.token_audience, issuer=settings.token_issuer,
                      options=ALL_CLAIMS)


def decode_requiring_nothing(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      audience=settings.token_audience, issuer=settings.token_issuer)


def decode_requiring_all_but_jti(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      audience=settings.token_audience, issuer=settings.token_issuer,
                      options={f"require_{c}": True for c in tokens.REQUIRED_CLAIMS[:-1]})


def decode_with_a_day_of_leeway(settings: Settings, token: str) -> dict[str, Any]:
    # "Tolerate clock skew": a leeway of a day accepts tokens a day out of date either way.
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      audience=settings.token_audience, issuer=settings.token_issuer,
                      options={"leeway": 86400, **ALL_CLAIMS})


def decode_ignoring_aud(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      issuer=settings.token_issuer,
                      options={**ALL_CLAIMS, "require_aud": False, "verify_aud": False})


def decode_without_audience(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      issuer=settings.token_issuer, options=ALL_CLAIMS)


def decode_without_issuer(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      audience=settings.token_audience, options=ALL_CLAIMS)


def _decode(service: Any, token: str) -> Claims:
    return service.layers.decode_token(service.settings, token)


def _caller(user: User, claims: Claims) -> Caller:
    return Caller(user=user, scopes=frozenset(str(claims.get("scope", "")).split()),
                  claims=claims, method="bearer")


def caller_catching_jwterror(service: Any, token: str) -> Caller:
    try:
        claims = _decode(service, token)
    except JWTError:  # too narrow: JWKError (alg none, no allow-list) is no JWTError
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID) from None
    if service.store.is_revoked(claims["jti"]):
        raise tokens.unauthorized("Revoked", tokens.INVALID)
    user = service.store.get_user_by_id(claims["sub"])
    if user is None or claims["iat"] <= user.password_changed_at:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID)
    return _caller(user, claims)


def caller_letting_errors_through(service: Any, token: str) -> Caller:
    claims = _decode(service, token)  # a JOSEError escapes: a 500
    user = service.store.get_user_by_id(claims["sub"])
    if (user is None or service.store.is_revoked(claims["jti"])
            or claims["iat"] <= user.password_changed_at):
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID)
    return _caller(user, claims)


def caller_without_revocation(service: Any, token: str) -> Caller:
    try:
        claims = _decode(service, token)
    except JOSEError:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID) from None
    user = service.store.get_user_by_id(claims["sub"])
    if user is None or claims["iat"] <= user.password_changed_at:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID)
    return _caller(user, claims)


def caller_without_claims(service: Any, token: str) -> Caller:
    caller = tokens.caller_from_token(service, token)
    return Caller(user=caller.user, scopes=caller.scopes, method="bearer")


def caller_with_scope_characters(service: Any, token: str) -> Caller:
    caller = tokens.caller_from_token(service, token)
    return Caller(user=caller.user, scopes=frozenset(caller.claims["scope"]),  # split forgotten
                  claims=caller.claims, method="bearer")


_remembered: dict[str, User] = {}


def caller_remembering_users(service: Any, token: str) -> Caller:
    try:
        claims = _decode(service, token)
    except JOSEError:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID) from None
    if service.store.is_revoked(claims["jti"]):
        raise tokens.unauthorized("Revoked", tokens.INVALID)
    # "One query saved per request": a user seen once is never looked up again, so the
    # account can be deleted (or its role changed) and its tokens go on as before.
    user = _remembered.get(claims["sub"]) or service.store.get_user_by_id(claims["sub"])
    if user is None or claims["iat"] <= user.password_changed_at:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID)
    _remembered[claims["sub"]] = user
    return _caller(user, claims)


def caller_by_name(service: Any, token: str) -> Caller:
    try:
        claims = _decode(service, token)
    except JOSEError:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID) from None
    if service.store.is_revoked(claims["jti"]):
        raise tokens.unauthorized("Revoked", tokens.INVALID)
    user = service.store.get_user(claims["sub"])  # get_user takes a name; sub is an id
    if user is None or claims["iat"] <= user.password_changed_at:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID)
    return _caller(user, claims)


def caller_by_id_or_name(service: Any, token: str) -> Caller:
    try:
        claims = _decode(service, token)
    except JOSEError:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID) from None
    if service.store.is_revoked(claims["jti"]):
        raise tokens.unauthorized("Revoked", tokens.INVALID)
    # "Older tokens named the user": a second path that reaches whoever holds the name now.
    user = (service.store.get_user_by_id(claims["sub"])
            or service.store.get_user(claims["sub"]))
    if user is None or claims["iat"] <= user.password_changed_at:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID)
    return _caller(user, claims)


def caller_ignoring_password_changes(service: Any, token: str) -> Caller:
    try:
        claims = _decode(service, token)
    except JOSEError:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID) from None
    if service.store.is_revoked(claims["jti"]):
        raise tokens.unauthorized("Revoked", tokens.INVALID)
    user = service.store.get_user_by_id(claims["sub"])
    if user is None:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID)
    return _caller(user, claims)


def caller_strictly_before_the_change(service: Any, token: str) -> Caller:
    try:
        claims = _decode(service, token)
    except JOSEError:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID) from None
    if service.store.is_revoked(claims["jti"]):
        raise tokens.unauthorized("Revoked", tokens.INVALID)
    user = service.store.get_user_by_id(claims["sub"])
    if user is None or claims["iat"] < user.password_changed_at:  # off by one second
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID)
    return _caller(user, claims)


WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    WrongAnswer("issue_hs256", "signs with HS512, an algorithm the service does not accept",
                {"issue_token": issue_hs512},
                {"issue_signs": "algorithm=\"HS256\"", "whole_layer": "answered 401"}),
    WrongAnswer("issue_service_key", "a key written in code, the same in issue and decode",
                {"issue_token": issue_with_a_weak_key, "decode_token": decode_with_a_weak_key},
                {"issue_signs": "settings.secret_key", "decode_accepts": "Signature",
                 "attack_weak_secret": "weak secrets"}),
    WrongAnswer("issue_all_claims", "no exp: the token never expires",
                {"issue_token": issue_without("exp")},
                {"issue_signs": "no `exp` claim", "issue_claims": "no exp",
                 "issue_times": "whole seconds", "whole_layer": "answered 401"}),
    WrongAnswer("issue_all_claims", "neither aud nor iss",
                {"issue_token": issue_without("aud", "iss")},
                {"issue_signs": "no `aud` claim", "issue_claims": "no iss, aud",
                 "whole_layer": "answered 401"}),
    WrongAnswer("issue_subject", "a namespaced subject, user:<id>, instead of the id itself",
                {"issue_token": issue_prefixed_subject},
                {"issue_claims": "exactly the subject", "whole_layer": "answered 401"}),
    WrongAnswer("issue_scope", "scopes joined by commas",
                {"issue_token": issue_comma_scopes}, {"issue_claims": "single spaces"}),
    WrongAnswer("issue_times", "time.time() without int(): fractions of seconds",
                {"issue_token": issue_float_times},
                {"issue_times": "whole seconds", "whole_layer": "answered 401"}),
    WrongAnswer("issue_times", "a lifetime of 15 minutes written into the code",
                {"issue_token": issue_for_fifteen_minutes},
                {"issue_times": "settings.token_minutes"}),
    WrongAnswer("issue_no_utcnow", "datetime.utcnow(), which warns on Python 3.12+",
                {"issue_token": issue_with_deprecated_call}, {"issue_times": "utcnow"}),
    WrongAnswer("issue_unique_jti", "the same jti in every token",
                {"issue_token": issue_with_fixed_jti}, {"issue_unique_jti": "its own jti"}),
    WrongAnswer("decode_signature", "the right call with verify_signature turned off",
                {"decode_token": decode_not_verifying_the_signature},
                {"attack_alg_none": "unsigned token", "attack_tampered": "changed after signing",
                 "attack_other_key": "someone else's key",
                 "attack_other_algorithm": "HS512"}),
    WrongAnswer("decode_signature", "jwt.get_unverified_claims: reads, checks nothing",
                {"decode_token": tokens.decode_token_naive},
                {"decode_requires": "accepted tokens with no",
                 "attack_alg_none": "unsigned token", "attack_tampered": "changed after signing",
                 "attack_other_key": "someone else's key", "attack_other_algorithm": "HS512",
                 "attack_expired": "expired", "attack_not_yet_valid": "nbf",
                 "attack_no_expiry": "require_exp", "attack_no_audience": "require_aud",
                 "attack_wrong_audience": "another API", "attack_wrong_issuer": "issuer"}),
    WrongAnswer("decode_service_key", "verifies with a key written in code",
                {"decode_token": decode_with_a_weak_key},
                {"decode_accepts": "Signature verification failed",
                 "whole_layer": "answered 401"}),
    WrongAnswer("decode_allow_list", "no algorithms argument: the header chooses",
                {"decode_token": decode_without_allow_list},
                {"attack_other_algorithm": "algorithms=[\"HS256\"]"}),
    WrongAnswer("decode_allow_list", "an allow-list with one algorithm too many",
                {"decode_token": decode_with_two_algorithms},
                {"attack_other_algorithm": "algorithms=[\"HS256\"]"}),
    WrongAnswer("decode_requires", "requires nothing",
                {"decode_token": decode_requiring_nothing},
                {"decode_requires": "require each one", "attack_no_expiry": "require_exp",
                 "attack_no_audience": "require_aud"}),
    WrongAnswer("decode_requires", "requires every claim but jti",
                {"decode_token": decode_requiring_all_but_jti},
                {"decode_requires": "no jti"}),
    WrongAnswer("decode_times", "a leeway of a day, for clock skew",
                {"decode_token": decode_with_a_day_of_leeway},
                {"attack_expired": "leeway", "attack_not_yet_valid": "leeway"}),
    WrongAnswer("decode_audience", "no audience named: even its own tokens are refused",
                {"decode_token": decode_without_audience},
                {"decode_accepts": "audience=settings.token_audience",
                 "whole_layer": "answered 401"}),
    WrongAnswer("decode_audience", "aud neither required nor verified",
                {"decode_token": decode_ignoring_aud},
                {"decode_requires": "no aud", "attack_no_audience": "require_aud",
                 "attack_wrong_audience": "audience=settings.token_audience"}),
    WrongAnswer("decode_issuer", "no issuer named",
                {"decode_token": decode_without_issuer},
                {"attack_wrong_issuer": "issuer=settings.token_issuer"}),
    WrongAnswer("caller_any_decode_error", "catches JWTError only",
                {"caller_from_token": caller_catching_jwterror},
                {"caller_any_decode_error": "JWKError"}),
    WrongAnswer("caller_any_decode_error", "catches nothing: a bad token is a 500",
                {"caller_from_token": caller_letting_errors_through},
                {"caller_works": "catch JOSEError", "caller_any_decode_error": "JOSEError"}),
    WrongAnswer("caller_revocation", "never asks whether the jti was revoked",
                {"caller_from_token": caller_without_revocation},
                {"caller_refuses_revoked": "is_revoked", "whole_layer": "After logout"}),
    WrongAnswer("caller_user_from_store", "looks each user up once, then remembers it",
                {"caller_from_token": caller_remembering_users},
                {"attack_deleted_user": "on every request"}),
    WrongAnswer("caller_subject_is_id", "looks sub up as a name, with get_user",
                {"caller_from_token": caller_by_name},
                {"caller_works": "get_user_by_id", "caller_refuses_revoked": "revoked nothing",
                 "attack_deleted_user": "could not even begin",
                 "caller_subject_is_id": "registered again",
                 "caller_password_change": "get_user_by_id", "whole_layer": "answered 401"}),
    WrongAnswer("caller_subject_is_id", "by id, and by name as a fallback for older tokens",
                {"caller_from_token": caller_by_id_or_name},
                {"caller_subject_is_id": "registered again"}),
    WrongAnswer("caller_password_change", "knows nothing of password changes",
                {"caller_from_token": caller_ignoring_password_changes},
                {"caller_password_change": "before alice changed her password"}),
    WrongAnswer("caller_password_change", "iat < password_changed_at: off by one second",
                {"caller_from_token": caller_strictly_before_the_change},
                {"caller_password_change": "same second"}),
    WrongAnswer("caller_result", "drops the claims, so logout has no jti to revoke",
                {"caller_from_token": caller_without_claims},
                {"caller_works": "Caller(claims=claims)",
                 "caller_refuses_revoked": "revoked nothing", "whole_layer": "After logout"}),
    WrongAnswer("caller_result", "frozenset of the scope string: a set of characters",
                {"caller_from_token": caller_with_scope_characters},
                {"caller_works": "split on spaces"}),
)
