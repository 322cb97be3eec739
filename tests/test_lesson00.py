"""Lesson 00: the attacks really work on the open service and really fail on the finished one,
and each verdict matches what happened to the data. (The checks and their wrong answers are
proved by tests/test_check_suites.py.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lessons.attacks import Account, lesson00, new_password, seed

NOTEBOOK = "00_tour.ipynb"


@pytest.fixture
def scene(make_app):
    def build(upto):
        app = make_app(upto)
        people = seed(app, Account("alice", new_password()), Account("mallory", new_password()))
        return app, TestClient(app), people
    return build


@pytest.mark.parametrize(("upto", "succeeds"), [(0, True), ("final", False)])
def test_reading_another_users_note(scene, upto, succeeds) -> None:
    _, client, people = scene(upto)
    note = people["alice"].notes[0]
    assert lesson00.run_steal_note(client, note.id, "alice").succeeded is succeeds


@pytest.mark.parametrize(("upto", "succeeds"), [(0, True), ("final", False)])
def test_deleting_a_user_without_credentials(scene, upto, succeeds) -> None:
    app, client, _ = scene(upto)
    assert lesson00.run_delete_account(client, "alice").succeeded is succeeds
    assert (app.state.service.store.get_user("alice") is None) is succeeds


@pytest.mark.parametrize(("upto", "succeeds"), [(0, True), ("final", False)])
def test_reading_passwords_from_the_database(scene, upto, succeeds) -> None:
    app, _, people = scene(upto)
    real = {name: account.password for name, account in people.items()}
    result = lesson00.run_passwords_from(app.state.service.store.path, real)
    assert result.succeeded is succeeds


def test_a_list_in_answer_is_no_stolen_note(scene) -> None:
    """The verdict reads the body's shape before using it: mallory's own list is not a note."""
    _, client, people = scene(0)

    class OwnList:
        def get(self, path: str, headers: dict[str, str]):
            return client.get("/notes", headers=headers)

    result = lesson00.run_steal_note(OwnList(), people["alice"].notes[0].id, "alice")
    assert not result.succeeded and result.evidence == "HTTP 200"
