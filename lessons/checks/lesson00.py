"""Lesson 00 checks: the learner's three attacks work on the open service, and the finished
service (every reference layer) stops each of them."""

from __future__ import annotations

from typing import Any

import httpx2

from lessons.attacks import Account, lesson00, new_password, seed
from lessons.checks import Report, Suite, Trial, expect

suite = Suite(0, "Tour and threat model")

CREDENTIAL_HEADERS = ("authorization", "x-user", "cookie")


def _scene(trial: Trial, upto: int | str) -> tuple[Any, dict[str, Account]]:
    app = trial.app(upto)
    people = seed(app, Account("alice", new_password()), Account("mallory", new_password()))
    return app, people


def _is_response(value: object, exercise: str) -> httpx2.Response:
    expect(isinstance(value, httpx2.Response),
           f"{exercise} should return the response of the request it sends "
           f"(for example `return client.get(...)`), not {type(value).__name__}.")
    assert isinstance(value, httpx2.Response)
    return value


@suite.check("steal_note reads alice's note on the open service")
def steal_note_works(trial: Trial) -> None:
    app, people = _scene(trial, 0)
    note = people["alice"].notes[0]
    response = _is_response(trial.steal_note(trial.client(app), note.id), "steal_note")
    expect(response.status_code == 200,
           f"The open service answered {response.status_code}. It believes whoever the X-User "
           "header names: send it with mallory's name, and ask for /notes/{note_id}.")
    body = response.json()
    expect(isinstance(body, dict) and body.get("body") == note.body,
           "The answer was not alice's note: ask for the id you were given, /notes/{note_id}.")


@suite.check("the finished service refuses steal_note")
def steal_note_refused(trial: Trial) -> None:
    app, people = _scene(trial, "final")
    note = people["alice"].notes[0]
    response = _is_response(trial.steal_note(trial.client(app), note.id), "steal_note")
    expect(response.status_code in (401, 403, 404) and note.body not in response.text,
           f"The finished service answered {response.status_code}; it should refuse. Did your "
           "request carry anything more than X-User?")


@suite.check("delete_account deletes a user with no credentials")
def delete_account_works(trial: Trial) -> None:
    app, _ = _scene(trial, 0)
    client = trial.client(app)
    response = _is_response(trial.delete_account(client, "alice"), "delete_account")
    sent = {name.lower() for name in response.request.headers}
    expect(not sent & set(CREDENTIAL_HEADERS),
           "The point is to need no credentials: send no Authorization, X-User or cookie.")
    expect(response.status_code == 204,
           f"The open service answered {response.status_code}; the admin route is "
           "DELETE /admin/users/{username}.")
    expect(app.state.service.store.get_user("alice") is None, "alice still exists afterwards.")


@suite.check("the finished service refuses delete_account")
def delete_account_refused(trial: Trial) -> None:
    app, _ = _scene(trial, "final")
    response = _is_response(trial.delete_account(trial.client(app), "alice"), "delete_account")
    expect(response.status_code in (401, 403), f"Expected a refusal, got {response.status_code}.")
    expect(app.state.service.store.get_user("alice") is not None,
           "alice was deleted from the finished service: that should be impossible.")


@suite.check("passwords_from reads every password from the open service's database")
def passwords_readable(trial: Trial) -> None:
    app, people = _scene(trial, 0)
    found = trial.passwords_from(app.state.service.store.path)
    expect(isinstance(found, dict),
           f"passwords_from should return a dict, not {type(found).__name__}.")
    real = {name: account.password for name, account in people.items()}
    expect(found == real,
           "Return {username: password} for every row of the users table; the column is "
           "called password_hash, but look at what it holds.")


@suite.check("the finished service's database holds only hashes")
def passwords_hashed(trial: Trial) -> None:
    app, people = _scene(trial, "final")
    found = trial.passwords_from(app.state.service.store.path)
    expect(isinstance(found, dict) and len(found) == len(people),
           "passwords_from should return one entry per user here too.")
    leaked = [name for name, account in people.items() if found.get(name) == account.password]
    expect(not leaked, f"Readable passwords in the finished service: {leaked}.")


# The reference answers to this lesson's exercises: the attacks themselves.
REFERENCE = {
    "steal_note": lesson00.steal_note,
    "delete_account": lesson00.delete_account,
    "passwords_from": lesson00.passwords_from,
}


def check(**answers: Any) -> Report:
    """Run the lesson-00 checks on your answers: ``check(steal_note=..., delete_account=...,
    passwords_from=...)``."""
    return suite.run(**answers)
