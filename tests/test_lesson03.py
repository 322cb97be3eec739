"""Lesson 03: each authorization attack works on the lesson-02 service as well as on its own
vulnerable variant (tests/test_attacks.py runs it there and against the reference); the
reference layer's behaviour (401 against 403, narrowed tokens, the role that counts at once,
404 for others' notes, registration's fields); the errata are what the notebook says; and the
served lesson-03 app enforces scopes end to end. (The checks and their wrong answers are proved
by tests/test_check_suites.py.)"""

from __future__ import annotations

import re

import httpx2
import pytest
from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.security import SecurityScopes
from fastapi.testclient import TestClient
from helpers import run_cli, serving

from lessons import access
from lessons.attacks import ADMIN, ATTACKER, Account, Scene, Variant, run_all
from lessons.attacks import lesson03 as attacks
from lessons.store import Note, Store

NOTEBOOK = "03_access.ipynb"


@pytest.fixture
def scene(tmp_path):
    """``scene(upto, **seams)``: the service with its cast (alice, bob, mallory, ada the admin,
    a note each), and mallory's default token."""
    opened: list[Scene] = []

    def build(upto: int | str = 3, **seams):
        opened.append(Scene(Variant(upto, seams=seams), tmp_path))
        return opened[-1], opened[-1].token(ATTACKER)

    yield build
    for each in opened:
        each.close()


# -- every attack also succeeds on the lesson-02 service -----------------------------------------


def test_every_attack_succeeds_on_the_lesson_02_service(tmp_path) -> None:
    results = run_all(attacks.ATTACKS, Variant(2), folder=tmp_path)
    assert all(result.succeeded for result in results), "\n".join(map(str, results))


def test_enumeration_sees_any_difference_in_the_body(scene) -> None:
    """Same status, different body (a detail naming the owner) still tells ids apart."""
    def owned_or_named(store: Store, username: str, note_id: int) -> Note | None:
        note = store.get_note(note_id)
        if note is not None and note.owner != username:
            raise HTTPException(404, f"Note {note_id} belongs to someone else.")
        return note

    built, token = scene(find_note=owned_or_named)
    alices = built.accounts["alice"].notes[0].id
    assert attacks.run_enumerate_notes(built.client, token, [alices]).succeeded


# -- the reference layer's behaviour ------------------------------------------------------------


def test_401_for_no_or_bad_token_403_for_a_missing_scope(scene) -> None:
    built, token = scene()
    client = built.client
    missing = client.get("/admin/users")
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    forged = client.get("/admin/users", headers=attacks.bearer("not.a.token"))
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"].startswith("Bearer")
    refused = client.get("/admin/users", headers=attacks.bearer(token))
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == \
        'Bearer error="insufficient_scope", scope="users:admin"'
    admin = built.token(ADMIN, ["users:admin"])
    assert client.get("/admin/users", headers=attacks.bearer(admin)).status_code == 200


def test_a_narrowed_admin_token_cannot_reach_the_admin_routes(scene) -> None:
    built, _ = scene()
    client, ada = built.client, built.accounts[ADMIN]
    read_only = built.token(ADMIN, ["notes:read"])
    assert attacks.scopes_in(read_only) == ["notes:read"]
    assert attacks.delete_user(client, read_only, "bob").status_code == 403
    assert attacks.read_note(client, read_only, ada.notes[0].id).status_code == 200
    assert attacks.delete_note(client, read_only, ada.notes[0].id).status_code == 403


@pytest.mark.parametrize("upto", [3, "final"])
def test_a_demoted_admins_token_loses_users_admin_at_once(scene, upto) -> None:
    built, _ = scene(upto)
    admin = built.token(ADMIN, ["users:admin", "notes:read"])
    assert attacks.list_users(built.client, admin).status_code == 200
    built.store.set_role(ADMIN, "user")
    refused = attacks.list_users(built.client, admin)
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == \
        'Bearer error="insufficient_scope", scope="users:admin"'
    # What her new role still allows, the same token still does.
    own = built.accounts[ADMIN].notes[0].id
    assert attacks.read_note(built.client, admin, own).status_code == 200
    # Made an admin again, her token counts again: the role bounds the token, it grants nothing.
    built.store.set_role(ADMIN, "admin")
    assert attacks.list_users(built.client, admin).status_code == 200


def test_a_promoted_user_gains_nothing_with_an_old_token(scene) -> None:
    built, token = scene()
    built.store.set_role(ATTACKER, "admin")
    assert attacks.list_users(built.client, token).status_code == 403  # not in her token
    assert attacks.list_users(built.client, built.token(ATTACKER)).status_code == 200


def test_a_demoted_admins_session_loses_the_admin_routes_too(scene) -> None:
    built, _ = scene("final")
    login = built.client.post("/session/login", data={
        "username": ADMIN, "password": built.accounts[ADMIN].password})
    assert login.status_code == 204
    assert built.client.get("/admin/users").status_code == 200
    built.store.set_role(ADMIN, "user")
    assert built.client.get("/admin/users").status_code == 403


def test_a_role_in_no_table_counts_no_scope(scene) -> None:
    built, token = scene()
    built.store.set_role(ATTACKER, "guest")
    assert attacks.read_note(built.client, token,
                             built.accounts[ATTACKER].notes[0].id).status_code == 403


def test_the_previous_check_let_the_demoted_admin_in(scene) -> None:
    """Why the fix: with the token's scopes alone, the demotion changes nothing."""
    built, _ = scene(check_scopes=access.check_token_scopes)
    admin = built.token(ADMIN, ["users:admin"])
    built.store.set_role(ADMIN, "user")
    assert attacks.list_users(built.client, admin).status_code == 200


def test_default_scopes_follow_the_role(scene) -> None:
    built, token = scene()
    assert attacks.scopes_in(token) == ["notes:read", "notes:write"]
    assert attacks.scopes_in(built.token(ADMIN)) == ["notes:read", "notes:write", "users:admin"]


def test_others_note_and_missing_note_get_the_identical_answer(scene) -> None:
    built, token = scene()
    others = attacks.read_note(built.client, token, built.accounts["alice"].notes[0].id)
    missing = attacks.read_note(built.client, token, 9001)
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


def test_roles_as_scopes_lets_a_narrowed_token_delete_users(scene) -> None:
    built, _ = scene(check_scopes=access.role_as_scopes)
    read_only = built.token(ADMIN, ["notes:read"])
    assert attacks.scopes_in(read_only) == ["notes:read"]
    assert attacks.delete_user(built.client, read_only, "bob").status_code == 204


# -- the done-when: the served lesson, with users made by the command line ----------------------


@pytest.mark.slow
def test_served_lesson_3_enforces_scopes_for_cli_users(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    passwords = {"ada": "orchid-ferry-lantern", "mallory": "copper-kettle-meadow"}
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
