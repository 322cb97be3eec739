"""The service's shape: lesson levels, seams and the open service of lesson 00."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lessons import catalog
from lessons.layers import LAYER_MODULES, Layers
from lessons.service import create_app


def test_health(make_app) -> None:
    response = TestClient(make_app(0)).get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize("bad", [-1, catalog.LAST_READY + 1, "latest", None])
def test_unknown_lesson_levels_are_refused_with_the_choices(bad, settings) -> None:
    with pytest.raises(ValueError, match=f"choose 0 to {catalog.LAST_READY}"):
        create_app(bad, settings)


def test_unknown_seam_names_list_the_real_ones(settings) -> None:
    message = r"No seam called decode_tokens\. The seams are: .*decode_token"
    with pytest.raises(TypeError, match=message):
        create_app(2, settings, decode_tokens=lambda *a: {})


def test_lesson_n_applies_its_own_layer_on_top_of_the_earlier_ones() -> None:
    for number, module in LAYER_MODULES.items():
        layers, before = Layers.upto(number), Layers.upto(number - 1)
        for seam, implementation in module.LAYER.items():
            assert getattr(layers, seam) is implementation
            assert getattr(before, seam) is not implementation


def test_a_seam_override_changes_only_that_seam() -> None:
    marker = lambda store, username, note_id: None  # noqa: E731
    layers = Layers.upto(3).replace(find_note=marker)
    assert layers.find_note is marker
    assert layers.check_scopes is Layers.upto(3).check_scopes


class TestOpenService:
    """Lesson 00 is open on purpose; these are the holes the later lessons close."""

    def test_identity_is_whatever_the_client_claims(self, make_app) -> None:
        client = TestClient(make_app(0))
        client.post("/users", json={"username": "alice", "password": "x"})
        me = client.get("/users/me", headers={"X-User": "alice"})
        assert me.json()["username"] == "alice"

    def test_no_claim_is_a_clear_400(self, make_app) -> None:
        client = TestClient(make_app(0))
        response = client.get("/notes")
        assert response.status_code == 400
        assert "X-User" in response.json()["detail"]

    def test_passwords_are_stored_as_typed(self, make_app) -> None:
        app = make_app(0)
        TestClient(app).post("/users", json={"username": "alice", "password": "typed"})
        assert app.state.service.store.get_user("alice").password_hash == "typed"

    def test_registration_accepts_a_role(self, make_app) -> None:
        client = TestClient(make_app(0))
        response = client.post("/users", json={"username": "eve", "password": "x", "role": "admin"})
        assert response.json()["role"] == "admin"

    def test_admin_routes_need_nothing(self, make_app) -> None:
        client = TestClient(make_app(0))
        client.post("/users", json={"username": "alice", "password": "x"})
        assert client.delete("/admin/users/alice").status_code == 204
        assert client.get("/admin/users").json() == []


def test_registration_never_returns_the_password(make_app) -> None:
    for level in range(catalog.LAST_READY + 1):
        response = TestClient(make_app(level)).post(
            "/users", json={"username": "alice", "email": "alice@example.org",
                            "password": "a-long-enough-password"})
        assert response.status_code == 201
        assert "password" not in response.text and "argon2" not in response.text


def test_duplicate_usernames_get_409(make_app) -> None:
    client = TestClient(make_app("final"))
    body = {"username": "alice", "email": "alice@example.org",
            "password": "a-long-enough-password"}
    assert client.post("/users", json=body).status_code == 201
    assert client.post("/users", json=body).status_code == 409


def test_plain_text_rows_are_hashed_when_lesson_01_starts(make_app, settings) -> None:
    open_app = create_app(0, settings)
    TestClient(open_app).post("/users", json={"username": "alice", "password": "typed-before"})
    hashed_app = create_app(1, settings)
    stored = hashed_app.state.service.store.get_user("alice").password_hash
    assert stored.startswith("$argon2id$")
    assert hashed_app.state.service.hasher.verify("typed-before", stored)
