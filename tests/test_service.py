"""The service's shape: lesson levels, seams and the open service of lesson 00."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from lessons import catalog, logs, wiring
from lessons.layers import Layers, assemble, declaration
from lessons.service import create_app
from lessons.settings import Settings


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
    for lesson in catalog.ready()[1:]:
        layer = declaration(lesson)
        if layer is None:
            continue
        after, before = assemble(lesson.number), assemble(lesson.number - 1)
        for seam, implementation in layer.seams.items():
            assert getattr(after.layers, seam) is implementation
            assert getattr(before.layers, seam) is not implementation
            assert after.origin[("seam", seam)] == lesson.number
        for slot, factory in layer.middleware.items():
            assert after.middleware[slot] is factory
        for name, factory in layer.routers.items():
            assert after.routers[name] is factory


def test_the_built_app_runs_its_middleware_in_the_order_of_the_stack(make_app) -> None:
    app = make_app("final")
    built = [entry.cls for entry in app.user_middleware]
    assert built == [factory for _, factory in app.state.assembly.stack]
    order = [slot.name for slot, _ in app.state.assembly.stack]
    assert order == [name for name in wiring.SLOT_NAMES if name in order]


def test_the_routes_are_the_apps_own_with_no_router_to_match_first(make_app) -> None:
    """Every route sits in the app's own list (an included router would be matched through an
    extra layer of lookups on every request), with its router's prefix and tags."""
    app = make_app("final")
    assert all(isinstance(route, APIRoute | Route) for route in app.router.routes), \
        {type(route).__name__ for route in app.router.routes}
    me = next(route for route in app.router.routes if getattr(route, "path", "") == "/users/me")
    assert isinstance(me, APIRoute) and "users" in me.tags
    assert app.openapi()["paths"]["/users/me"]["get"]["security"]


def test_a_middleware_slot_must_exist() -> None:
    with pytest.raises(ValueError, match="No middleware slot called outermost"):
        wiring.LessonLayer(middleware={"outermost": lambda app, service: app})


def test_no_lesson_number_decides_anything_in_the_service_or_the_cli() -> None:
    root = Path(__file__).resolve().parents[1] / "lessons"
    for module in ("service.py", "cli.py"):
        text = (root / module).read_text(encoding="utf-8")
        assert not re.search(r"(level|lesson) *>=", text), module


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


class TestTrustedProxiesAndTheAccessLog:
    """The proxy check sits outside the request log, so the log names the client a trusted
    proxy forwarded for; from anyone else, X-Forwarded-For is ignored everywhere."""

    PROXY, CLIENT = "10.0.0.5", "203.0.113.9"

    def access_line(self, tmp_path: Path, trusted: tuple[str, ...]) -> dict:
        settings = Settings.from_env(data_dir=tmp_path / "data", trusted_proxies=trusted)
        client = TestClient(create_app(8, settings), client=(self.PROXY, 50000))
        with logs.capture() as captured:
            response = client.get("/health", headers={"X-Forwarded-For": self.CLIENT})
        assert response.status_code == 200
        return next(line for line in captured.json() if line["logger"] == logs.ACCESS)

    def test_behind_a_trusted_proxy_the_log_names_the_forwarded_client(self, tmp_path) -> None:
        assert self.access_line(tmp_path, (self.PROXY,))["client"] == self.CLIENT

    def test_from_an_untrusted_peer_x_forwarded_for_is_ignored(self, tmp_path) -> None:
        assert self.access_line(tmp_path, ())["client"] == self.PROXY
