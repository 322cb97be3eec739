"""Lesson 02: every attack succeeds against the naive token layer and fails against the
reference; the checks pass the solution and the reference, call the stubs not attempted, and
fail plausible wrong answers; the token endpoints keep the service contract; and the facts
about python-jose that the lesson states still hold."""

from __future__ import annotations

import time
import warnings
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jose import JWTError, jwt
from jose.exceptions import JWKError

from lessons import tokens
from lessons.attacks import lesson02 as attacks
from lessons.checks import FAILED, PASSED
from lessons.checks.lesson02 import REFERENCE, suite
from lessons.identity import Caller
from lessons.service import create_app
from lessons.settings import Settings
from lessons.store import User

NOTEBOOK = "02_jwt.ipynb"


# -- the attacks -----------------------------------------------------------------------------


@pytest.mark.parametrize("attack", attacks.ATTACKS, ids=lambda attack: attack.__name__)
def test_each_attack_succeeds_against_the_naive_layer(make_app, attack) -> None:
    result = attack(attacks.stage(make_app(2, **attacks.NAIVE_LAYER)))
    assert result.succeeded, result


@pytest.mark.parametrize("attack", attacks.ATTACKS, ids=lambda attack: attack.__name__)
def test_each_attack_fails_against_the_reference_layer(make_app, attack) -> None:
    result = attack(attacks.stage(make_app(2)))
    assert not result.succeeded, result
    assert result.evidence.endswith(("Invalid or expired token",
                                     "This token was revoked by logging out"))


def test_a_weak_key_is_cracked_offline_and_the_forged_token_accepted(settings) -> None:
    for _ in range(3):  # the key is drawn at random from the list each time
        weak = create_app(2, attacks.with_weak_secret(settings.replace(
            data_dir=settings.data_dir / str(time.monotonic_ns()))))
        result = attacks.weak_secret(attacks.stage(weak))
        assert result.succeeded, result
        assert weak.state.service.settings.secret_key in attacks.weak_secrets()


def test_the_word_list_finds_nothing_against_the_random_key(make_app) -> None:
    result = attacks.weak_secret(attacks.stage(make_app(2)))
    assert not result.succeeded
    assert "none of the" in result.evidence


def test_the_word_list_is_short_with_a_header_and_no_duplicates() -> None:
    words = attacks.weak_secrets()
    assert 50 <= len(words) <= 200
    assert len(set(words)) == len(words)
    assert all(len(word) < 32 for word in words)  # Settings would refuse every one of them


def test_crack_finds_exactly_the_signing_word() -> None:
    words = attacks.weak_secrets()
    claims = {"sub": "mallory"}
    assert all(attacks.crack(attacks.hs256(claims, word), words) == word for word in words)
    assert attacks.crack(attacks.hs256(claims, "not-in-the-list-" + "x" * 20), words) is None
    assert attacks.crack(attacks.sign({"alg": "none"}, claims, None), words) is None


def test_hand_made_tokens_are_what_python_jose_makes(settings) -> None:
    claims = attacks.service_claims(settings)
    by_hand = attacks.hs256(claims, settings.secret_key)
    assert tokens.decode_token(settings, by_hand) == claims
    header, read = attacks.read_token(jwt.encode(claims, settings.secret_key, algorithm="HS256"))
    assert header == {"alg": "HS256", "typ": "JWT"} and read == claims


# -- the checks ------------------------------------------------------------------------------


# Plausible wrong answers, each with a check that must fail on it.

ALL_CLAIMS = {f"require_{claim}": True for claim in tokens.REQUIRED_CLAIMS}


def decode_without_algorithms(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, audience=settings.token_audience,
                      issuer=settings.token_issuer, options=ALL_CLAIMS)


def decode_with_two_algorithms(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256", "HS512"],
                      audience=settings.token_audience, issuer=settings.token_issuer,
                      options=ALL_CLAIMS)


def decode_requiring_nothing(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      audience=settings.token_audience, issuer=settings.token_issuer)


def decode_ignoring_aud(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      issuer=settings.token_issuer,
                      options={**ALL_CLAIMS, "require_aud": False, "verify_aud": False})


def decode_without_audience(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      issuer=settings.token_issuer)


def decode_ignoring_iss(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      audience=settings.token_audience,
                      options={f"require_{c}": True for c in ("sub", "iat", "nbf", "exp",
                                                               "aud", "jti")})


def decode_ignoring_exp(settings: Settings, token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                      audience=settings.token_audience, issuer=settings.token_issuer,
                      options={"verify_exp": False, "verify_nbf": False})


def issue_without(*dropped: str):
    def issue(settings: Settings, username: str, scopes) -> str:
        claims = attacks.service_claims(settings, username, scope=" ".join(sorted(scopes)),
                                        **dict.fromkeys(dropped))
        return jwt.encode(claims, settings.secret_key, algorithm="HS256")
    return issue


def issue_with_fixed_jti(settings: Settings, username: str, scopes) -> str:
    claims = attacks.service_claims(settings, username, jti="1", scope=" ".join(scopes))
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def issue_for_fifteen_minutes(settings: Settings, username: str, scopes) -> str:
    now = int(time.time())
    claims = attacks.service_claims(settings, username, exp=now + 900, scope=" ".join(scopes))
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def issue_with_deprecated_call(settings: Settings, username: str, scopes) -> str:
    # Stands for datetime.utcnow() on Python 3.12+, which warns the same way.
    warnings.warn("datetime.datetime.utcnow() is deprecated", DeprecationWarning, stacklevel=2)
    return tokens.issue_token(settings, username, scopes)


def issue_with_a_weak_key(settings: Settings, username: str, scopes) -> str:
    return tokens.issue_token(settings.replace(secret_key=attacks.weak_secrets()[0]),
                              username, scopes)


def decode_with_a_weak_key(settings: Settings, token: str) -> dict[str, Any]:
    return tokens.decode_token(settings.replace(secret_key=attacks.weak_secrets()[0]), token)


def caller_without_revocation(service, token: str) -> Caller:
    claims = service.layers.decode_token(service.settings, token)
    user = service.store.get_user(claims["sub"])
    if user is None:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID)
    return Caller(user=user, scopes=frozenset(claims["scope"].split()), claims=claims)


def caller_without_claims(service, token: str) -> Caller:
    caller = tokens.caller_from_token(service, token)
    return Caller(user=caller.user, scopes=caller.scopes)


def caller_from_the_claims_alone(service, token: str) -> Caller:
    try:
        claims = service.layers.decode_token(service.settings, token)
    except JWTError:
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID) from None
    if service.store.is_revoked(claims["jti"]):
        raise tokens.unauthorized("Revoked", tokens.INVALID)
    user = User(claims["sub"], None, "user", "", "")  # believed, never looked up
    return Caller(user=user, scopes=frozenset(claims["scope"].split()), claims=claims)


def caller_letting_errors_through(service, token: str) -> Caller:
    claims = service.layers.decode_token(service.settings, token)  # a JWTError escapes: a 500
    user = service.store.get_user(claims["sub"])
    if user is None or service.store.is_revoked(claims["jti"]):
        raise tokens.unauthorized("Invalid or expired token", tokens.INVALID)
    return Caller(user=user, scopes=frozenset(claims["scope"].split()), claims=claims)


WRONG_ANSWERS = [
    ({"decode_token": decode_without_algorithms}, ["attack fails: HS512 instead of HS256"]),
    ({"decode_token": decode_with_two_algorithms}, ["attack fails: HS512 instead of HS256"]),
    ({"decode_token": decode_requiring_nothing},
     ["decode_token: refuses a token missing any of sub, iat, nbf, exp, iss, aud, jti",
      "attack fails: a token with no exp", "attack fails: a token with no aud"]),
    ({"decode_token": decode_ignoring_aud}, ["attack fails: a token for another audience"]),
    ({"decode_token": decode_without_audience},
     ["decode_token: accepts the service's own tokens"]),
    ({"decode_token": decode_ignoring_iss}, ["attack fails: a token from another issuer"]),
    ({"decode_token": decode_ignoring_exp},
     ["attack fails: an expired token", "attack fails: a token not valid yet"]),
    ({"decode_token": tokens.decode_token_naive},
     ["attack fails: alg: none", "attack fails: tampered claims with the old signature",
      "attack fails: a token signed with another key"]),
    ({"issue_token": issue_without("exp")},
     ["issue_token: HS256, signed with the service's key, accepted by the service",
      "issue_token: sub, scope, iat, nbf, a lifetime of token_minutes, a unique jti"]),
    ({"issue_token": issue_without("jti")},
     ["issue_token: sub, scope, iat, nbf, a lifetime of token_minutes, a unique jti",
      "all three together: log in, call, log out, and the token is refused"]),
    ({"issue_token": issue_without("aud", "iss")},
     ["issue_token: HS256, signed with the service's key, accepted by the service"]),
    ({"issue_token": issue_with_fixed_jti},
     ["issue_token: sub, scope, iat, nbf, a lifetime of token_minutes, a unique jti"]),
    ({"issue_token": issue_for_fifteen_minutes},
     ["issue_token: sub, scope, iat, nbf, a lifetime of token_minutes, a unique jti"]),
    ({"issue_token": issue_with_deprecated_call},
     ["issue_token: HS256, signed with the service's key, accepted by the service"]),
    ({"issue_token": issue_with_a_weak_key, "decode_token": decode_with_a_weak_key},
     ["issue_token: HS256, signed with the service's key, accepted by the service",
      "attack fails: a key cracked from a list of weak secrets"]),
    ({"caller_from_token": caller_without_revocation},
     ["attack fails: the same token after logging out"]),
    ({"caller_from_token": caller_without_claims},
     ["caller_from_token: a valid token gives its user, scopes and claims; a bad one 401",
      "attack fails: the same token after logging out"]),
    ({"caller_from_token": caller_from_the_claims_alone},
     ["caller_from_token: a valid token gives its user, scopes and claims; a bad one 401",
      "attack fails: a token of a deleted account"]),
    ({"caller_from_token": caller_letting_errors_through},
     ["caller_from_token: a valid token gives its user, scopes and claims; a bad one 401"]),
]


@pytest.mark.parametrize(("wrong", "failing"), WRONG_ANSWERS,
                         ids=lambda value: "+".join(f.__name__ for f in value.values())
                         if isinstance(value, dict) else "")
def test_checks_fail_plausible_wrong_answers(wrong, failing) -> None:
    # Only the checks named (the whole suite passes the reference, tested above).
    report = suite.subset(*failing).run(record=False, **{**REFERENCE, **wrong})
    assert report.count(FAILED) == len(failing), str(report)
    assert all(o.hint for o in report.outcomes)


def test_every_check_can_fail() -> None:
    named = {name for _, failing in WRONG_ANSWERS for name in failing}
    assert named == {check.title for check in suite.checks}


def test_one_wrong_answer_fails_its_check_and_nothing_else() -> None:
    report = suite.run(record=False, **{**REFERENCE, "decode_token": decode_without_algorithms})
    failed = [o for o in report.outcomes if o.status != PASSED]
    assert [o.name for o in failed] == ["attack fails: HS512 instead of HS256"], str(report)
    assert 'algorithms=["HS256"]' in failed[0].hint
    assert "HTTP 200, signed in as alice" in failed[0].hint


# -- the service contract of lesson 02 -------------------------------------------------------


@pytest.fixture
def scene(make_app) -> attacks.Scene:
    return attacks.stage(make_app(2))


def test_token_endpoint_answers_the_contract(scene) -> None:
    alice = scene.accounts["alice"]
    response = scene.client.post("/auth/token", data={"username": "alice",
                                                       "password": alice.password})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    assert set(body["scope"].split()) == {"notes:read", "notes:write"}
    header, claims = attacks.read_token(body["access_token"])
    assert header["alg"] == "HS256"
    assert set(claims) == {*tokens.REQUIRED_CLAIMS, "scope"}
    assert claims["exp"] - claims["iat"] == 15 * 60 and claims["nbf"] == claims["iat"]


def test_bad_credentials_get_the_same_401_with_a_bearer_challenge(scene) -> None:
    answers = [scene.client.post("/auth/token", data={"username": name, "password": "wrong-x"})
               for name in ("alice", "nobody")]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json() == answers[1].json()
    assert all(a.headers["WWW-Authenticate"] == "Bearer" for a in answers)


def test_no_token_gets_401_with_a_bearer_challenge(scene) -> None:
    response = scene.client.get("/users/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_logout_revokes_only_that_token(scene) -> None:
    first, second = scene.login("alice"), scene.login("alice")
    logout = scene.client.post("/auth/logout", headers={"Authorization": f"Bearer {first}"})
    assert logout.status_code == 204
    refused = scene.me(first)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert scene.me(second).status_code == 200


def test_a_token_without_jti_cannot_be_revoked(scene) -> None:
    assert tokens.revoke(scene.app.state.service, {"sub": "alice", "exp": 2**40}) is False
    assert scene.app.state.service.store.query("SELECT count(*) FROM revoked_tokens")[0][0] == 0


def test_the_role_comes_from_the_database_not_the_token(scene) -> None:
    token = scene.service_signed("alice", role="admin")
    assert scene.me(token).json()["role"] == "user"


def test_garbage_never_causes_a_5xx(make_app) -> None:
    # A decode without an allow-list raises JWKError (not a JWTError) for alg none: the
    # identity catches python-jose's base class, so this is a 401, not a 500.
    app = make_app(2, decode_token=decode_without_algorithms)
    client = TestClient(app, raise_server_exceptions=False)
    for token in ("x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
                  attacks.sign({"alg": "RS256"}, {"sub": "alice"}, None)):
        response = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token


# -- the facts about python-jose that the lesson states ---------------------------------------


def test_python_jose_accepts_missing_exp_and_aud_unless_required(settings) -> None:
    key, aud, iss = settings.secret_key, settings.token_audience, settings.token_issuer
    for claim in ("exp", "aud"):
        token = attacks.service_signed(settings, **{claim: None})
        assert jwt.decode(token, key, algorithms=["HS256"], audience=aud, issuer=iss)
        with pytest.raises(JWTError, match=f'missing required key "{claim}"'):
            jwt.decode(token, key, algorithms=["HS256"], audience=aud, issuer=iss,
                       options={f"require_{claim}": True})


def test_python_jose_refuses_alg_none_even_without_an_allow_list_but_not_with_jwterror(
        settings) -> None:
    unsigned = attacks.sign({"alg": "none"}, attacks.service_claims(settings), None)
    with pytest.raises(JWKError, match="Unable to find an algorithm for key"):
        jwt.decode(unsigned, settings.secret_key)
    assert not issubclass(JWKError, JWTError)


def test_python_jose_lets_the_header_choose_without_an_allow_list(settings) -> None:
    hs512 = attacks.service_signed(settings, alg="HS512")
    aud, iss = settings.token_audience, settings.token_issuer
    assert jwt.decode(hs512, settings.secret_key, audience=aud, issuer=iss)["sub"] == "alice"
    with pytest.raises(JWTError, match="alg value is not allowed"):
        jwt.decode(hs512, settings.secret_key, algorithms=["HS256"], audience=aud, issuer=iss)


def test_python_jose_refuses_any_aud_when_no_audience_is_named(settings) -> None:
    with pytest.raises(JWTError, match="Invalid audience"):
        jwt.decode(attacks.service_signed(settings), settings.secret_key, algorithms=["HS256"])


def test_python_jose_still_checks_exp_with_verify_signature_off(settings) -> None:
    # Why the naive decode uses get_unverified_claims: this option is not "check nothing".
    expired = attacks.service_signed(settings, exp=int(time.time()) - 60, aud=None)
    with pytest.raises(JWTError, match="expired"):
        jwt.decode(expired, settings.secret_key, options={"verify_signature": False})
    assert tokens.decode_token_naive(settings, expired)["sub"] == "alice"
