"""Lesson 00: the attacks really work on the open service and really fail on the finished one;
the checks pass the solution, call the stubs not attempted, and fail wrong answers."""

from __future__ import annotations

import httpx2
import pytest
from fastapi.testclient import TestClient

from lessons.attacks import Account, lesson00, new_password, seed
from lessons.checks import FAILED, PASSED
from lessons.checks.lesson00 import suite

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


def own_note_only(client: httpx2.Client, note_id: int) -> httpx2.Response:
    return client.get("/notes", headers={"X-User": "mallory"})  # mallory's own, empty list


def delete_with_a_claimed_admin(client: httpx2.Client, username: str) -> httpx2.Response:
    return client.delete(f"/admin/users/{username}", headers={"X-User": "mallory"})


def first_row_only(database) -> dict[str, str]:
    return dict(list(lesson00.passwords_from(database).items())[:1])


@pytest.mark.parametrize(("wrong", "failing_check"), [
    ({"steal_note": own_note_only}, "steal_note reads alice's note on the open service"),
    ({"delete_account": delete_with_a_claimed_admin},
     "delete_account deletes a user with no credentials"),
    ({"passwords_from": first_row_only},
     "passwords_from reads every password from the open service's database"),
])
def test_checks_fail_plausible_wrong_answers(wrong, failing_check) -> None:
    answers = {"steal_note": lesson00.steal_note, "delete_account": lesson00.delete_account,
               "passwords_from": lesson00.passwords_from, **wrong}
    report = suite.run(record=False, **answers)
    assert report.status_of(failing_check) == FAILED
    assert sum(o.status == PASSED for o in report.outcomes) >= 3
