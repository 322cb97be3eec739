"""Lesson 02: the token endpoints keep the service contract, a token names one account forever,
the attack helpers do what the notebook says, and the facts about python-jose that the lesson
states still hold. (Every attack, both ways, is in tests/test_attacks.py; the checks, their
rules and wrong answers in tests/test_check_suites.py; POST /users/me/password in
tests/test_password_change.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jose import JWTError, jwt
from jose.exceptions import JWKError

from lessons import tokens
from lessons.attacks import Scene, Variant, new_password, reference
from lessons.attacks import lesson02 as attacks
from lessons.checks.lesson02 import decode_without_allow_list
from lessons.settings import Settings


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with Scene(reference(2), folder=tmp_path) as scene:
        yield scene


# -- the attack helpers ----------------------------------------------------------------------


def test_the_weak_key_variant_is_long_enough_for_settings_and_still_cracked(tmp_path) -> None:
    key = attacks.WEAK_KEY.settings["secret_key"]
    assert len(key) >= 32 and key in attacks.weak_secrets()
    with Scene(attacks.WEAK_KEY, folder=tmp_path) as weak:
        assert weak.settings.secret_key == key  # Settings accepted it
        result = attacks.weak_secret(weak)
    assert result.succeeded, result


def test_the_word_list_finds_nothing_against_the_random_key(scene) -> None:
    result = attacks.weak_secret(scene)
    assert not result.succeeded
    assert "none of the" in result.evidence


def test_the_word_list_is_short_with_a_header_and_no_duplicates() -> None:
    words = attacks.weak_secrets()
    assert 50 <= len(words) <= 200
    assert len(set(words)) == len(words)
    # Most are short enough for Settings to refuse; a few long placeholders show that length
    # alone does not make a key safe.
    long = [word for word in words if len(word) >= 32]
    assert 1 <= len(long) <= 10


def test_crack_finds_exactly_the_signing_word() -> None:
    words = attacks.weak_secrets()
    claims = {"sub": "mallory"}
    assert all(attacks.crack(attacks.hs256(claims, word), words) == word for word in words)
    assert attacks.crack(attacks.hs256(claims, "not-in-the-list-" + "x" * 20), words) is None
    assert attacks.crack(attacks.sign({"alg": "none"}, claims, None), words) is None


def test_hand_made_tokens_are_what_python_jose_makes(settings) -> None:
    claims = attacks.service_claims(settings, "an-account-id")
    by_hand = attacks.hs256(claims, settings.secret_key)
    assert tokens.decode_token(settings, by_hand) == claims
    header, read = attacks.read_token(jwt.encode(claims, settings.secret_key, algorithm="HS256"))
    assert header == {"alg": "HS256", "typ": "JWT"} and read == claims


def test_forged_tokens_name_the_victim_as_the_service_does(tmp_path) -> None:
    with Scene(attacks.NAIVE, folder=tmp_path) as naive:
        assert attacks.subject(naive, "alice") == "alice"
    with Scene(reference(2), folder=tmp_path) as scene:
        assert attacks.subject(scene, "alice") == scene.store.get_user("alice").id


# -- the service contract of lesson 02 -------------------------------------------------------


def test_token_endpoint_answers_the_contract(scene) -> None:
    response = scene.token_response("alice")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    assert set(body["scope"].split()) == {"notes:read", "notes:write"}
    header, claims = attacks.read_token(body["access_token"])
    assert header["alg"] == "HS256"
    assert set(claims) == {*tokens.REQUIRED_CLAIMS, "scope"}
    assert claims["exp"] - claims["iat"] == 15 * 60 and claims["nbf"] == claims["iat"]


def test_sub_is_the_accounts_random_id_not_its_name(scene) -> None:
    alice = scene.store.get_user("alice")
    _, claims = attacks.read_token(scene.token("alice"))
    assert claims["sub"] == alice.id != "alice"
    assert len(alice.id) == 32 and int(alice.id, 16) >= 0  # 128 bits, as hex
    assert len({scene.store.get_user(name).id for name in scene.accounts}) == len(scene.accounts)


def test_a_name_registered_again_is_another_account(scene) -> None:
    old_token = scene.token("bob")
    old_id = scene.store.get_user("bob").id
    assert scene.client.delete("/admin/users/bob",
                               headers=attacks.bearer(scene.token("ada"))).status_code == 204
    password = new_password()
    assert scene.client.post("/users", json={"username": "bob", "password": password,
                                             "email": "new.bob@example.org"}).status_code == 201
    assert scene.store.get_user("bob").id != old_id
    refused = attacks.me(scene, old_token)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    fresh = scene.client.post("/auth/token", data={"username": "bob", "password": password})
    assert attacks.me(scene, fresh.json()["access_token"]).json()["email"] == "new.bob@example.org"


def test_a_token_naming_an_account_by_name_names_nobody(scene) -> None:
    by_name = attacks.service_signed(scene.settings, "alice")
    assert attacks.me(scene, by_name).status_code == 401


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
    first, second = scene.token("alice"), scene.token("alice")
    logout = scene.client.post("/auth/logout", headers=attacks.bearer(first))
    assert logout.status_code == 204
    refused = attacks.me(scene, first)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert attacks.me(scene, second).status_code == 200


def test_a_token_without_jti_cannot_be_revoked(scene) -> None:
    assert tokens.revoke(scene.service, {"sub": "x", "exp": 2**40}) is False
    assert scene.store.query("SELECT count(*) FROM revoked_tokens")[0][0] == 0


def test_the_role_comes_from_the_database_not_the_token(scene) -> None:
    token = attacks.signed_for(scene, "alice", role="admin")
    assert attacks.me(scene, token).json()["role"] == "user"


@pytest.mark.parametrize("iat", ["1", 1.5, None])
def test_an_iat_that_is_not_whole_seconds_is_refused(scene, iat) -> None:
    # python-jose accepts any iat that int() takes; the password-change comparison needs an int.
    token = attacks.signed_for(scene, "alice", iat=iat)
    assert attacks.me(scene, token).status_code == 401


def test_garbage_never_causes_a_5xx(tmp_path) -> None:
    # A decode without an allow-list raises JWKError (not a JWTError) for alg none: the
    # identity catches python-jose's base class, so this is a 401, not a 500.
    variant = Variant(2, seams={"decode_token": decode_without_allow_list})
    with Scene(variant, folder=tmp_path) as scene:
        for token in ("x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
                      attacks.sign({"alg": "RS256"}, {"sub": "alice"}, None)):
            assert attacks.me(scene, token).status_code == 401, token


# -- the facts about python-jose that the lesson states ---------------------------------------


def test_python_jose_accepts_missing_exp_and_aud_unless_required(settings: Settings) -> None:
    key, aud, iss = settings.secret_key, settings.token_audience, settings.token_issuer
    for claim in ("exp", "aud"):
        token = attacks.service_signed(settings, "someone", **{claim: None})
        assert jwt.decode(token, key, algorithms=["HS256"], audience=aud, issuer=iss)
        with pytest.raises(JWTError, match=f'missing required key "{claim}"'):
            jwt.decode(token, key, algorithms=["HS256"], audience=aud, issuer=iss,
                       options={f"require_{claim}": True})


def test_python_jose_refuses_alg_none_even_without_an_allow_list_but_not_with_jwterror(
        settings: Settings) -> None:
    unsigned = attacks.sign({"alg": "none"}, attacks.service_claims(settings, "someone"), None)
    with pytest.raises(JWKError, match="Unable to find an algorithm for key"):
        jwt.decode(unsigned, settings.secret_key)
    assert not issubclass(JWKError, JWTError)


def test_python_jose_lets_the_header_choose_without_an_allow_list(settings: Settings) -> None:
    hs512 = attacks.service_signed(settings, "someone", alg="HS512")
    aud, iss = settings.token_audience, settings.token_issuer
    assert jwt.decode(hs512, settings.secret_key, audience=aud, issuer=iss)["sub"] == "someone"
    with pytest.raises(JWTError, match="alg value is not allowed"):
        jwt.decode(hs512, settings.secret_key, algorithms=["HS256"], audience=aud, issuer=iss)


def test_python_jose_refuses_any_aud_when_no_audience_is_named(settings: Settings) -> None:
    with pytest.raises(JWTError, match="Invalid audience"):
        jwt.decode(attacks.service_signed(settings, "someone"), settings.secret_key,
                   algorithms=["HS256"])


def test_python_jose_still_checks_exp_with_verify_signature_off(settings: Settings) -> None:
    # Why the naive decode uses get_unverified_claims: this option is not "check nothing".
    expired = attacks.service_signed(settings, "someone", exp=int(time.time()) - 60, aud=None)
    with pytest.raises(JWTError, match="expired"):
        jwt.decode(expired, settings.secret_key, options={"verify_signature": False})
    assert tokens.decode_token_naive(settings, expired)["sub"] == "someone"


def test_python_jose_accepts_an_iat_that_is_not_an_integer(settings: Settings) -> None:
    # Why caller_from_token checks the type of iat itself before comparing it.
    for iat in ("1", 1.5):
        token = attacks.service_signed(settings, "someone", iat=iat)
        assert tokens.decode_token(settings, token)["iat"] == iat
