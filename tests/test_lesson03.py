"""Lesson 03: each authorization attack really works on the lesson-02 service and on the named
vulnerable variants, and really fails on the reference layer; the checks pass the solution and
the reference, call the stubs not attempted, and fail plausible wrong answers; the errata are
what the notebook says; and the served lesson-03 app enforces scopes end to end."""

from __future__ import annotations

import re
from collections.abc import Sequence

import httpx2
import pytest
from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.security import SecurityScopes
from fastapi.testclient import TestClient
from helpers import run_cli, serving
from pydantic import BaseModel, ConfigDict

from lessons import access, schemas
from lessons.attacks import Account
from lessons.attacks import lesson03 as attacks
from lessons.checks import FAILED, NOT_ATTEMPTED, PASSED
from lessons.checks.lesson03 import REFERENCE, suite
from lessons.store import Note, Store

NOTEBOOK = "03_access.ipynb"


def reference_model() -> type[BaseModel]:
    return access.UserCreate


@pytest.fixture
def scene(make_app):
    """``scene(upto, **overrides)``: an app with alice, bob, ada (admin) and mallory, a client
    and mallory's default token."""
    def build(upto: int, **overrides):
        app = make_app(upto, **overrides)
        client, people = attacks.stage(app)
        return app, client, people, attacks.login(client, people[attacks.ATTACKER])
    return build


# -- every attack: succeeds on lesson 02 and on its vulnerable variant, fails on the layer -------

def list_users(scene, **overrides):
    _, client, _, token = scene(**overrides)
    return attacks.run_list_users(client, token)


def delete_user(scene, **overrides):
    app, client, _, token = scene(**overrides)
    result = attacks.run_delete_user(client, token, "alice")
    # The verdict must match what really happened in the database.
    assert (app.state.service.store.get_user("alice") is None) is result.succeeded
    return result


def read_note(scene, **overrides):
    _, client, people, token = scene(**overrides)
    return attacks.run_read_note(client, token, people["alice"].notes[0].id, "alice")


def delete_note(scene, **overrides):
    app, client, people, token = scene(**overrides)
    note = people["alice"].notes[0]
    result = attacks.run_delete_note(client, token, note.id, "alice")
    assert (app.state.service.store.get_note(note.id) is None) is result.succeeded
    return result


def enumerate_notes(scene, **overrides):
    _, client, people, token = scene(**overrides)
    others = [people["alice"].notes[0].id, people["bob"].notes[0].id, people["ada"].notes[0].id]
    return attacks.run_enumerate_notes(client, token, others)


def register_as_admin(scene, **overrides):
    app, client, _, _ = scene(**overrides)
    result = attacks.run_register_as_admin(client, "eve")
    stored = app.state.service.store.get_user("eve")
    assert (stored is not None and stored.role == "admin") is result.succeeded
    return result


def request_scope(scene, **overrides):
    _, client, people, _ = scene(**overrides)
    return attacks.run_request_scope(client, people[attacks.ATTACKER])


ATTACKS = [
    (list_users, {"check_scopes": access.allow_any}),
    (delete_user, {"check_scopes": access.allow_any}),
    (read_note, {"find_note": access.any_note}),
    (delete_note, {"find_note": access.any_note}),
    (enumerate_notes, {"find_note": access.any_note}),
    (enumerate_notes, {"find_note": access.owned_note_or_403}),
    (register_as_admin, {"user_model": schemas.UserRecord}),
    (request_scope, {"grant_scopes": access.grant_requested}),
]
ATTACK_IDS = [f"{attack.__name__}-{next(iter(variant.values())).__name__}"
              for attack, variant in ATTACKS]


@pytest.mark.parametrize(("attack", "variant"), ATTACKS, ids=ATTACK_IDS)
def test_attack_succeeds_on_lesson_02(scene, attack, variant) -> None:
    assert attack(scene, upto=2).succeeded


@pytest.mark.parametrize(("attack", "variant"), ATTACKS, ids=ATTACK_IDS)
def test_attack_succeeds_on_its_vulnerable_variant(scene, attack, variant) -> None:
    result = attack(scene, upto=3, **variant)
    assert result.succeeded, result


@pytest.mark.parametrize(("attack", "variant"), ATTACKS, ids=ATTACK_IDS)
def test_attack_fails_on_the_reference_layer(scene, attack, variant) -> None:
    result = attack(scene, upto=3)
    assert not result.succeeded, result


def test_the_campaign_succeeds_on_lesson_02_and_fails_on_lesson_03(make_app) -> None:
    assert all(result.succeeded for result in attacks.campaign(make_app(2)))
    assert not any(result.succeeded for result in attacks.campaign(make_app(3)))


def test_enumeration_sees_any_difference_in_the_body(make_app) -> None:
    """Same status, different body (a detail naming the owner) still tells ids apart."""
    def owned_or_named(store: Store, username: str, note_id: int) -> Note | None:
        note = store.get_note(note_id)
        if note is not None and note.owner != username:
            raise HTTPException(404, f"Note {note_id} belongs to someone else.")
        return note

    app = make_app(3, find_note=owned_or_named)
    client, people = attacks.stage(app)
    token = attacks.login(client, people[attacks.ATTACKER])
    assert attacks.run_enumerate_notes(client, token, [people["alice"].notes[0].id]).succeeded


# -- the reference layer's behaviour ------------------------------------------------------------


def test_401_for_no_or_bad_token_403_for_a_missing_scope(scene) -> None:
    _, client, people, token = scene(upto=3)
    missing = client.get("/admin/users")
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    forged = client.get("/admin/users", headers=attacks.bearer("not.a.token"))
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"].startswith("Bearer")
    refused = client.get("/admin/users", headers=attacks.bearer(token))
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == \
        'Bearer error="insufficient_scope", scope="users:admin"'
    admin = attacks.login(client, people["ada"], ["users:admin"])
    assert client.get("/admin/users", headers=attacks.bearer(admin)).status_code == 200


def test_a_narrowed_admin_token_cannot_reach_the_admin_routes(scene) -> None:
    _, client, people, _ = scene(upto=3)
    read_only = attacks.login(client, people["ada"], ["notes:read"])
    assert attacks.scopes_in(read_only) == ["notes:read"]
    assert attacks.delete_user(client, read_only, "bob").status_code == 403
    assert attacks.read_note(client, read_only, people["ada"].notes[0].id).status_code == 200
    assert attacks.delete_note(client, read_only, people["ada"].notes[0].id).status_code == 403


def test_default_scopes_follow_the_role(scene) -> None:
    _, client, people, token = scene(upto=3)
    assert attacks.scopes_in(token) == ["notes:read", "notes:write"]
    admin = attacks.login(client, people["ada"])
    assert attacks.scopes_in(admin) == ["notes:read", "notes:write", "users:admin"]


def test_others_note_and_missing_note_get_the_identical_answer(scene) -> None:
    _, client, people, token = scene(upto=3)
    others = attacks.read_note(client, token, people["alice"].notes[0].id)
    missing = attacks.read_note(client, token, 9001)
    assert others.status_code == missing.status_code == 404
    assert others.content == missing.content


@pytest.mark.parametrize("extra", [{"role": "admin"}, {"is_admin": True}, {"role": "user"}])
def test_registration_rejects_unknown_fields(make_app, extra) -> None:
    client = TestClient(make_app(3))
    body = {"username": "eve", "email": "eve@example.org", "password": "a-long-enough-password"}
    response = client.post("/users", json={**body, **extra})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "extra_forbidden"
    assert client.post("/users", json=body).json()["role"] == "user"


# -- the checks ---------------------------------------------------------------------------------


def test_each_check_is_not_attempted_without_its_answer() -> None:
    report = suite.run(record=False)
    assert {o.status for o in report.outcomes} == {NOT_ATTEMPTED}


def scope_check_with_401(granted: frozenset[str], required: Sequence[str]) -> None:
    if not set(required) <= granted:
        raise HTTPException(401, "Not allowed")


def scope_check_any_one(granted: frozenset[str], required: Sequence[str]) -> None:
    if required and not set(required) & granted:
        raise HTTPException(403, "Not allowed")


def scope_check_returning_false(granted: frozenset[str], required: Sequence[str]) -> bool:
    return set(required) <= granted


def scope_check_refusing_empty(granted: frozenset[str], required: Sequence[str]) -> None:
    if not granted & set(required):
        raise HTTPException(403, "Not allowed")


def grant_what_was_asked(role: str, requested) -> frozenset[str]:
    return frozenset(requested) or access.ROLE_SCOPES[role]


def grant_whole_role(role: str, requested) -> frozenset[str]:
    return access.ROLE_SCOPES.get(role, frozenset())


def grant_user_scopes_to_strangers(role: str, requested) -> frozenset[str]:
    return access.grant_scopes(role if role in access.ROLE_SCOPES else "user", requested)


def owned_note_as_dict(store: Store, username: str, note_id: int):
    note = store.get_owned_note(username, note_id)
    return None if note is None else {"id": note.id, "owner": note.owner}


def model_that_ignores() -> type[BaseModel]:
    class UserCreate(BaseModel):
        username: str
        email: str | None = None
        password: str
    return UserCreate


def model_with_a_role() -> type[BaseModel]:
    class UserCreate(BaseModel):
        model_config = ConfigDict(extra="forbid")
        username: str
        email: str | None = None
        password: str
        role: str = "user"
    return UserCreate


def model_instance_not_class() -> BaseModel:
    return access.UserCreate(username="x", password="y")


@pytest.mark.parametrize(("wrong", "failing"), [
    ({"check_scopes": scope_check_with_401}, ["check_scopes answers 403, not 401, for a "
                                             "missing scope"]),
    ({"check_scopes": scope_check_any_one}, ["check_scopes needs every required scope, not "
                                             "just one of them"]),
    ({"check_scopes": scope_check_returning_false},
     ["check_scopes answers 403, not 401, for a missing scope",
      "check_scopes needs every required scope, not just one of them",
      "attack fails: mallory lists and deletes users (API5)"]),
    ({"check_scopes": scope_check_refusing_empty},
     ["check_scopes lets through a caller who has every required scope"]),
    ({"grant_scopes": grant_what_was_asked},
     ["grant_scopes grants only what was asked for and the role allows",
      "attack fails: mallory asks for the users:admin scope"]),
    ({"grant_scopes": grant_whole_role},
     ["grant_scopes grants only what was asked for and the role allows"]),
    ({"grant_scopes": grant_user_scopes_to_strangers},
     ["grant_scopes gives an unknown role nothing"]),
    ({"owned_note": access.owned_note_or_403},
     ["owned_note returns None for someone else's note and for a missing one",
      "attack fails: mallory tells others' note ids from missing ones"]),
    ({"owned_note": lambda store, username, note_id: store.get_note(note_id)},
     ["owned_note returns None for someone else's note and for a missing one",
      "attack fails: mallory reads and deletes alice's note by id (API1)",
      "attack fails: mallory tells others' note ids from missing ones"]),
    ({"owned_note": owned_note_as_dict}, ["owned_note returns the caller's own note"]),
    ({"registration_model": model_that_ignores},
     ["the registration model rejects unknown fields with 422"]),
    ({"registration_model": model_with_a_role},
     ["the registration model rejects unknown fields with 422",
      'attack fails: registering with "role": "admin" (API3)']),
    ({"registration_model": model_instance_not_class},
     ["the registration model accepts a normal registration"]),
], ids=lambda value: next(iter(value.values())).__name__ if isinstance(value, dict) else None)
def test_checks_fail_plausible_wrong_answers(wrong, failing) -> None:
    report = suite.run(record=False, **{**REFERENCE, **wrong})
    failed = {o.name for o in report.outcomes if o.status == FAILED}
    assert set(failing) <= failed, str(report)
    assert all(o.hint for o in report.outcomes if o.status == FAILED)
    # Only the wrong answer's own checks fail: the other exercises still pass.
    assert report.count(PASSED) >= 9, str(report)


# -- the errata, as the notebook shows them -----------------------------------------------------


def test_depends_around_security_fails_when_the_route_is_declared() -> None:
    """Pinned FastAPI refuses ``Depends(Security(...))``: the Security object is not callable."""
    def current_user(security_scopes: SecurityScopes) -> str:
        return "whoever"

    app = FastAPI()
    with pytest.raises(TypeError, match=re.escape("is not a callable object")):
        @app.get("/admin/users")
        def admin_users(user: str = Depends(Security(current_user, scopes=["admin"]))) -> str:
            return user
    with pytest.raises(AssertionError, match="must have a callable dependency"):
        app.get("/admin/stats",
                dependencies=[Depends(Security(current_user, scopes=["admin"]))])(lambda: {})
    assert not [route for route in app.routes if "admin" in getattr(route, "path", "")]


def test_security_used_directly_collects_the_scopes() -> None:
    seen: list[list[str]] = []

    def current_user(security_scopes: SecurityScopes) -> str:
        seen.append(security_scopes.scopes)
        return "whoever"

    app = FastAPI()

    @app.get("/admin/users")
    def admin_users(user: str = Security(current_user, scopes=["admin"])) -> str:
        return user

    assert TestClient(app).get("/admin/users").status_code == 200
    assert seen == [["admin"]]


def test_roles_as_scopes_lets_a_narrowed_token_delete_users(make_app) -> None:
    app = make_app(3, identity=access.role_as_scopes)
    client, people = attacks.stage(app)
    read_only = attacks.login(client, people["ada"], ["notes:read"])
    assert attacks.scopes_in(read_only) == ["notes:read"]
    assert attacks.delete_user(client, read_only, "bob").status_code == 204


# -- the done-when: the served lesson, with users made by the command line ----------------------


@pytest.mark.slow
def test_served_lesson_3_enforces_scopes_for_cli_users(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    passwords = {"ada": "ada-demo-passphrase", "mallory": "mallory-demo-passphrase"}
    for name, role in (("ada", "admin"), ("mallory", "user")):
        added = run_cli("users", "add", name, "--role", role, stdin=passwords[name] + "\n")
        assert added.returncode == 0, added.stderr
    with serving("--lesson", "3") as server, httpx2.Client(base_url=server.url,
                                                            timeout=10) as client:
        paths = client.get("/openapi.json").json()["paths"]
        for path in ("/users", "/users/me", "/auth/token", "/admin/users",
                     "/admin/users/{username}", "/notes", "/notes/{note_id}"):
            assert path in paths, path

        def token(name: str, scope: str) -> httpx2.Response:
            return attacks.request_token(client, name, passwords[name], [scope])

        ada = token("ada", "users:admin")
        assert ada.json()["scope"] == "users:admin"
        listed = attacks.list_users(client, ada.json()["access_token"])
        assert listed.status_code == 200
        assert [user["username"] for user in listed.json()] == ["ada", "mallory"]

        mallory = token("mallory", "users:admin")
        assert mallory.status_code == 200 and mallory.json()["scope"] == ""
        assert attacks.list_users(client, mallory.json()["access_token"]).status_code == 403
        everyday = attacks.login(client, Account("mallory", passwords["mallory"]))
        assert attacks.list_users(client, everyday).status_code == 403
        assert attacks.delete_user(client, everyday, "ada").status_code == 403
        assert attacks.list_users(client, "not.a.token").status_code == 401
    assert "after lesson 03" in server.output
