"""Lesson 00 checks: the learner's three attacks work on the open service, and the finished
service (every reference layer) stops each of them.

The exercises are attacks, so the rules are what each exercise's text asks of the attack:
whose identity it uses, which route it calls, what it returns. Every check looks at the shape
of what the learner's function returned before it reads anything from it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx2

from lessons.attacks import ATTACKER, VICTIM, Account, lesson00, new_password, seed
from lessons.checks import Report, Rule, Suite, Trial, WrongAnswer, expect, expect_type

suite = Suite(0, "Tour and threat model")

CREDENTIAL_HEADERS = ("authorization", "x-user", "cookie")


def _scene(trial: Trial, upto: int | str) -> tuple[Any, dict[str, Account]]:
    """alice and mallory with two notes each: alice's notes are 1 and 2, mallory's 3 and 4."""
    app = trial.app(upto)
    people = seed(app, Account(VICTIM, new_password()), Account(ATTACKER, new_password()))
    return app, people


def _response(value: object, exercise: str) -> httpx2.Response:
    expect_type(value, httpx2.Response, exercise,
                "the response of the request it sends (for example `return client.get(...)`)")
    assert isinstance(value, httpx2.Response)
    return value


def _json(response: httpx2.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


# -- steal_note ----------------------------------------------------------------------------------


@suite.check("steal_note_works", "steal_note reads alice's note on the open service")
def steal_note_works(trial: Trial) -> None:
    app, people = _scene(trial, 0)
    # Her second note: an answer that always asks for note 1 is caught here.
    note = people[VICTIM].notes[1]
    response = _response(trial.steal_note(trial.client(app), note.id), "steal_note")
    claimed = response.request.headers.get("x-user")
    expect(claimed in (None, ATTACKER),
           f"Your request said X-User: {claimed}. You are {ATTACKER}: the attack is that she "
           "reads someone else's note under her own name, because nothing asks whose it is.")
    expect(claimed == ATTACKER,
           f"The request carried no X-User header, so the open service cannot tell who is "
           f"asking (HTTP {response.status_code}). Send X-User: {ATTACKER}.")
    expect(response.status_code == 200,
           f"The open service answered {response.status_code}. It believes whoever the X-User "
           "header names: send it with mallory's name, and ask for /notes/{note_id}.")
    body = _json(response)
    expect(isinstance(body, dict) and body.get("body") == note.body,
           f"The answer was not note {note.id}, the one you were asked for: request "
           "/notes/{note_id} with the note_id you were given.")


@suite.check("steal_note_refused", "the finished service refuses steal_note")
def steal_note_refused(trial: Trial) -> None:
    app, people = _scene(trial, "final")
    note = people[VICTIM].notes[1]
    response = _response(trial.steal_note(trial.client(app), note.id), "steal_note")
    expect(response.status_code in (401, 403, 404) and note.body not in response.text,
           f"The finished service answered {response.status_code}; it should refuse. Did your "
           "request carry anything more than X-User?")


# -- delete_account ------------------------------------------------------------------------------


@suite.check("delete_account_works", "delete_account deletes a user with no credentials")
def delete_account_works(trial: Trial) -> None:
    app, _ = _scene(trial, 0)
    response = _response(trial.delete_account(trial.client(app), VICTIM), "delete_account")
    sent = sorted({name.lower() for name in response.request.headers} & set(CREDENTIAL_HEADERS))
    expect(not sent, f"Your request sent {', '.join(sent)}. The point is to need no "
                     "credentials at all: send no Authorization, X-User or cookie.")
    expect(response.status_code == 204,
           f"The open service answered {response.request.method} {response.request.url.path} "
           f"with {response.status_code}; the admin route is DELETE /admin/users/{{username}}.")
    expect(app.state.service.store.get_user(VICTIM) is None,
           f"{VICTIM} still exists afterwards: delete the account named by `username`.")


@suite.check("delete_account_refused", "the finished service refuses delete_account")
def delete_account_refused(trial: Trial) -> None:
    app, _ = _scene(trial, "final")
    response = _response(trial.delete_account(trial.client(app), VICTIM), "delete_account")
    expect(app.state.service.store.get_user(VICTIM) is not None,
           f"{VICTIM} was deleted from the finished service: that should be impossible.")
    expect(not response.is_success, f"Expected a refusal, got {response.status_code}.")


# -- passwords_from ------------------------------------------------------------------------------


def _passwords(trial: Trial, database: Path) -> dict[object, object]:
    found = trial.passwords_from(database)
    expect_type(found, dict, "passwords_from", "a dict of {username: stored password}")
    assert isinstance(found, dict)
    return found


@suite.check("passwords_readable",
             "passwords_from reads every password from the open service's database")
def passwords_readable(trial: Trial) -> None:
    app, people = _scene(trial, 0)
    found = _passwords(trial, app.state.service.store.path)
    real = {name: account.password for name, account in people.items()}
    missing = sorted(set(real) - set(found))
    expect(not missing, f"No entry for {', '.join(missing)}: return one entry for every row "
                        "of the users table.")
    expect(found == real,
           "Return {username: password} for every row of the users table; the column is "
           "called password_hash, but look at what it holds.")


@suite.check("passwords_hashed", "the finished service's database holds only hashes")
def passwords_hashed(trial: Trial) -> None:
    app, people = _scene(trial, "final")
    found = _passwords(trial, app.state.service.store.path)
    leaked = [name for name, account in people.items() if found.get(name) == account.password]
    expect(not leaked, f"Readable passwords in the finished service: {leaked}.")


# The reference answers to this lesson's exercises: the attacks themselves.
REFERENCE = {
    "steal_note": lesson00.steal_note,
    "delete_account": lesson00.delete_account,
    "passwords_from": lesson00.passwords_from,
}

RULES: tuple[Rule, ...] = (
    Rule("steal_as_mallory", "steal_note",
         "One request, as mallory (X-User: mallory), for the note whose id it was given.",
         ("steal_note_works",)),
    Rule("steal_returns_response", "steal_note",
         "Return the response of the request: the checks read its status and body, on the open "
         "service and on the finished one (which must refuse it).",
         ("steal_note_works", "steal_note_refused")),
    Rule("delete_without_credentials", "delete_account",
         "No credentials of any kind: no Authorization, no X-User, no cookie.",
         ("delete_account_works",)),
    Rule("delete_the_named_account", "delete_account",
         "DELETE /admin/users/{username}: the admin route, for the account it was given.",
         ("delete_account_works",)),
    Rule("delete_returns_response", "delete_account",
         "Return the response of the request (the finished service must refuse it).",
         ("delete_account_works", "delete_account_refused")),
    Rule("passwords_every_row", "passwords_from",
         "{username: what the password column holds}, for every row of the users table.",
         ("passwords_readable",)),
    Rule("passwords_returns_dict", "passwords_from",
         "Return a dict (on the finished service, it must hold no readable password).",
         ("passwords_readable", "passwords_hashed")),
)


# -- near misses ---------------------------------------------------------------------------------


def steal_own_notes(client: httpx2.Client, note_id: int) -> httpx2.Response:
    return client.get("/notes", headers={"X-User": ATTACKER})  # mallory's own list


def steal_note_one(client: httpx2.Client, note_id: int) -> httpx2.Response:
    return client.get("/notes/1", headers={"X-User": ATTACKER})  # always the first note


def steal_as_the_victim(client: httpx2.Client, note_id: int) -> httpx2.Response:
    return client.get(f"/notes/{note_id}", headers={"X-User": VICTIM})


def steal_note_body(client: httpx2.Client, note_id: int) -> Any:
    return client.get(f"/notes/{note_id}", headers={"X-User": ATTACKER}).json()


def delete_as_a_claimed_user(client: httpx2.Client, username: str) -> httpx2.Response:
    return client.delete(f"/admin/users/{username}", headers={"X-User": ATTACKER})


def delete_on_the_users_route(client: httpx2.Client, username: str) -> httpx2.Response:
    return client.delete(f"/users/{username}")


def delete_status_only(client: httpx2.Client, username: str) -> int:
    return client.delete(f"/admin/users/{username}").status_code


def _rows(database: Path, sql: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return list(db.execute(sql))
    finally:
        db.close()


def passwords_first_row(database: Path) -> dict[str, str]:
    return dict(_rows(database, "SELECT username, password_hash FROM users LIMIT 1"))


def passwords_wrong_column(database: Path) -> dict[str, str]:
    return dict(_rows(database, "SELECT username, email FROM users"))


def passwords_as_rows(database: Path) -> list[tuple[str, str]]:
    return _rows(database, "SELECT username, password_hash FROM users")


WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    WrongAnswer("steal_as_mallory", "asks for mallory's own list instead of the note",
                {"steal_note": steal_own_notes}, {"steal_note_works": "was not note"}),
    WrongAnswer("steal_as_mallory", "asks for note 1 whatever id it is given",
                {"steal_note": steal_note_one}, {"steal_note_works": "was not note"}),
    WrongAnswer("steal_as_mallory", "claims to be alice instead of reading as mallory",
                {"steal_note": steal_as_the_victim}, {"steal_note_works": "You are mallory"}),
    WrongAnswer("steal_returns_response", "returns the JSON body, not the response",
                {"steal_note": steal_note_body},
                {"steal_note_works": "should return the response",
                 "steal_note_refused": "should return the response"}),
    WrongAnswer("delete_without_credentials", "names mallory in X-User",
                {"delete_account": delete_as_a_claimed_user},
                {"delete_account_works": "need no credentials"}),
    WrongAnswer("delete_the_named_account", "DELETE /users/{username}, a route that is not there",
                {"delete_account": delete_on_the_users_route},
                {"delete_account_works": "the admin route is DELETE /admin/users"}),
    WrongAnswer("delete_returns_response", "returns the status code, not the response",
                {"delete_account": delete_status_only},
                {"delete_account_works": "should return the response",
                 "delete_account_refused": "should return the response"}),
    WrongAnswer("passwords_every_row", "reads the first row only",
                {"passwords_from": passwords_first_row},
                {"passwords_readable": "No entry for"}),
    WrongAnswer("passwords_every_row", "reads the e-mail column",
                {"passwords_from": passwords_wrong_column},
                {"passwords_readable": "look at what it holds"}),
    WrongAnswer("passwords_returns_dict", "returns the rows as a list of tuples",
                {"passwords_from": passwords_as_rows},
                {"passwords_readable": "it should return a dict",
                 "passwords_hashed": "it should return a dict"}),
)


def check(**answers: Any) -> Report:
    """Run the lesson-00 checks on your answers: ``check(steal_note=..., delete_account=...,
    passwords_from=...)``."""
    return suite.run(**answers)
