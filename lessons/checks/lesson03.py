"""Lesson 03 checks: the four pieces of the authorization layer on their own, then the
lesson's attacks against the service with each piece plugged into its seam, where every one
of them must fail.

Each attack check plugs in only the answer it is about (every other seam keeps its reference),
so a learner who has written one exercise sees that one judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel
from starlette.exceptions import HTTPException

from lessons import access
from lessons.access import NOTES_READ, NOTES_WRITE, USERS_ADMIN
from lessons.attacks import lesson03, new_password
from lessons.checks import Report, Suite, Trial, expect
from lessons.store import Note, Store

suite = Suite(3, "Roles, scopes and ownership")

USER_DEFAULTS = {NOTES_READ, NOTES_WRITE}
ALL_SCOPES = {NOTES_READ, NOTES_WRITE, USERS_ADMIN}


# -- helpers -------------------------------------------------------------------------------------


def _granted(grant: Callable[..., Any], role: str, requested: Iterable[str]) -> set[str]:
    result = grant(role, list(requested))
    expect(isinstance(result, (set, frozenset)),
           f"grant_scopes should return a set of scope names (a frozenset), not "
           f"{type(result).__name__}.")
    return set(result)


def _refusal(check: Callable[..., Any], granted: set[str], required: list[str]) -> int | None:
    """The status check_scopes raised with, or None when it let the caller through."""
    try:
        result = check(frozenset(granted), list(required))
    except HTTPException as refusal:
        return refusal.status_code
    expect(result is None or result is True,
           f"check_scopes returned {result!r}. The service ignores what it returns: refuse by "
           "raising HTTPException(status_code=403, ...), and return nothing to let the caller "
           "through.")
    return None


def _store(trial: Trial) -> tuple[Store, dict[str, Note]]:
    """A store with alice's and mallory's notes (no hashing needed: nobody logs in here)."""
    store = trial.store()
    notes = {}
    for name in ("alice", "mallory"):
        store.add_user(name, "not-a-real-hash", email=f"{name}@example.org")
        notes[name] = store.add_note(name, f"{name}'s note", f"Only {name} may read this.")
    return store, notes


def _model(trial: Trial) -> type[BaseModel]:
    model = trial.registration_model()
    expect(isinstance(model, type) and issubclass(model, BaseModel),
           "registration_model should return the model class itself (`return UserCreate`), "
           f"not {type(model).__name__}.")
    return model


def _registration(username: str) -> dict[str, str]:
    return {"username": username, "email": f"{username}@example.org", "password": new_password()}


def _failed(result: lesson03.AttackResult, hint: str) -> None:
    expect(not result.succeeded, f"{hint} (The attack got: {result.evidence}.)")


# -- grant_scopes --------------------------------------------------------------------------------


@suite.check("grant_scopes gives each role its own scopes when none are asked for")
def grant_defaults(trial: Trial) -> None:
    user = _granted(trial.grant_scopes, "user", [])
    expect(user == USER_DEFAULTS,
           f"With no scope requested, a user should get {sorted(USER_DEFAULTS)}, not "
           f"{sorted(user)}: look the role up in ROLE_SCOPES.")
    admin = _granted(trial.grant_scopes, "admin", [])
    expect(admin == ALL_SCOPES,
           f"With no scope requested, an admin should get {sorted(ALL_SCOPES)}, not "
           f"{sorted(admin)}.")


@suite.check("grant_scopes grants only what was asked for and the role allows")
def grant_intersection(trial: Trial) -> None:
    asked = [NOTES_READ, USERS_ADMIN]
    user = _granted(trial.grant_scopes, "user", asked)
    expect(USERS_ADMIN not in user,
           "A user who asks for users:admin must not get it: grant only the requested scopes "
           "that the role allows, never simply what was requested.")
    expect(user == {NOTES_READ},
           f"A user asking for {asked} should get ['notes:read'], not {sorted(user)}.")
    admin = _granted(trial.grant_scopes, "admin", [NOTES_READ])
    expect(admin == {NOTES_READ},
           f"An admin asking for notes:read only should get just that, not {sorted(admin)}: a "
           "token may carry less than its owner's role allows, and that is the point of scopes.")
    made_up = _granted(trial.grant_scopes, "admin", ["notes:everything"])
    expect(not made_up, f"A scope nobody defined was granted: {sorted(made_up)}.")


@suite.check("grant_scopes gives an unknown role nothing")
def grant_unknown_role(trial: Trial) -> None:
    granted = _granted(trial.grant_scopes, "guest", [NOTES_READ])
    expect(not granted,
           f"The role 'guest' is in no table, yet it got {sorted(granted)}. Deny by default: "
           "ROLE_SCOPES.get(role, frozenset()).")


# -- check_scopes --------------------------------------------------------------------------------


@suite.check("check_scopes lets through a caller who has every required scope")
def check_allows(trial: Trial) -> None:
    expect(_refusal(trial.check_scopes, USER_DEFAULTS, [NOTES_READ]) is None,
           "A token with notes:read was refused a route that needs notes:read.")
    expect(_refusal(trial.check_scopes, ALL_SCOPES, [NOTES_READ, NOTES_WRITE]) is None,
           "A token with every scope was refused a route that needs two of them.")
    expect(_refusal(trial.check_scopes, set(), []) is None,
           "A route that needs no scope (GET /users/me) was refused: with nothing required, "
           "there is nothing to refuse.")


@suite.check("check_scopes answers 403, not 401, for a missing scope")
def check_forbids(trial: Trial) -> None:
    status = _refusal(trial.check_scopes, USER_DEFAULTS, [USERS_ADMIN])
    expect(status is not None, "A user's token was let through to a route that needs "
           "users:admin: raise HTTPException when a required scope is not granted.")
    expect(status != 401,
           "Your check answers 401. The token is valid and the caller is known, they are just "
           "not allowed: that is 403. A 401 tells a client to log in again, which cannot help.")
    expect(status == 403, f"A missing scope should be 403 Forbidden, not {status}.")


@suite.check("check_scopes needs every required scope, not just one of them")
def check_needs_all(trial: Trial) -> None:
    status = _refusal(trial.check_scopes, {NOTES_READ}, [NOTES_READ, NOTES_WRITE])
    expect(status == 403,
           "A token with notes:read only was let through a route that needs notes:read *and* "
           "notes:write. Every required scope must be granted (`all`, or a subset test), not "
           "any one of them.")


# -- owned_note ----------------------------------------------------------------------------------


@suite.check("owned_note returns the caller's own note")
def owned_note_own(trial: Trial) -> None:
    store, notes = _store(trial)
    found = trial.owned_note(store, "alice", notes["alice"].id)
    expect(found == notes["alice"], f"alice asked for her own note and got {found!r}.")


@suite.check("owned_note returns None for someone else's note and for a missing one")
def owned_note_others(trial: Trial) -> None:
    store, notes = _store(trial)
    for note_id, what in ((notes["alice"].id, "alice's note"),
                          (9001, "a note that does not exist")):
        try:
            found = trial.owned_note(store, "mallory", note_id)
        except HTTPException as refusal:
            found = refusal
        expect(not isinstance(found, HTTPException),
               f"Your code raised HTTPException {getattr(found, 'status_code', '')} for "
               f"{what}. Return None instead: the route then answers 404, exactly as for a "
               "note that does not exist, so nobody learns which ids exist.")
        expect(found is None, f"mallory asked for {what} and got {found!r}, not None.")


# -- registration_model --------------------------------------------------------------------------


@suite.check("the registration model accepts a normal registration")
def model_accepts(trial: Trial) -> None:
    client = trial.client(trial.app(user_model=_model(trial)))
    response = client.post("/users", json=_registration("carol"))
    expect(response.status_code == 201,
           f"Registering with username, email and password got HTTP {response.status_code}; "
           "the model needs exactly those three fields (email may be optional).")
    expect(response.json().get("role") == "user", "A new account should have the role 'user'.")


@suite.check("the registration model rejects unknown fields with 422")
def model_forbids(trial: Trial) -> None:
    client = trial.client(trial.app(user_model=_model(trial)))
    for username, extra in (("dave", {"role": "admin"}), ("erin", {"is_admin": True})):
        response = client.post("/users", json={**_registration(username), **extra})
        field = next(iter(extra))
        expect(response.status_code != 201 or response.json().get("role") != "admin",
               f'Registering with {field!r} made an admin: the model must not have a {field} '
               "field at all.")
        expect(response.status_code == 422,
               f"A body with {field!r} got HTTP {response.status_code}. Your model ignores unknown "
               "fields instead of rejecting them: set model_config = ConfigDict(extra=\"forbid\") "
               "so that the client learns at once that it cannot set them.")


# -- the attacks, against the service with each answer in its seam -------------------------------


@suite.check("attack fails: mallory lists and deletes users (API5)")
def attack_function_level(trial: Trial) -> None:
    client, people = lesson03.stage(trial.app(check_scopes=trial.check_scopes))
    token = lesson03.login(client, people[lesson03.ATTACKER])
    hint = "A user's token still reaches the admin routes: check_scopes must refuse it."
    _failed(lesson03.run_list_users(client, token), hint)
    _failed(lesson03.run_delete_user(client, token, "alice"), hint)
    admin = lesson03.login(client, people["ada"], [USERS_ADMIN])
    response = lesson03.list_users(client, admin)
    expect(response.status_code == 200,
           f"ada's token with users:admin got HTTP {response.status_code} from /admin/users: "
           "the admin must still get in.")


@suite.check("attack fails: mallory reads and deletes alice's note by id (API1)")
def attack_object_level(trial: Trial) -> None:
    app = trial.app(find_note=trial.owned_note)
    client, people = lesson03.stage(app)
    token = lesson03.login(client, people[lesson03.ATTACKER])
    note = people["alice"].notes[0]
    hint = "mallory reached alice's note: owned_note must return None unless she owns it."
    _failed(lesson03.run_read_note(client, token, note.id, "alice"), hint)
    _failed(lesson03.run_delete_note(client, token, note.id, "alice"), hint)
    expect(app.state.service.store.get_note(note.id) is not None, "alice's note is gone.")
    own = lesson03.read_note(client, token, people[lesson03.ATTACKER].notes[0].id)
    expect(own.status_code == 200, f"mallory's own note got HTTP {own.status_code}.")


@suite.check("attack fails: mallory tells others' note ids from missing ones")
def attack_enumeration(trial: Trial) -> None:
    client, people = lesson03.stage(trial.app(find_note=trial.owned_note))
    token = lesson03.login(client, people[lesson03.ATTACKER])
    others = [people["alice"].notes[0].id, people["bob"].notes[0].id]
    _failed(lesson03.run_enumerate_notes(client, token, others),
            "Someone else's note must get exactly the answer of a missing one (404, same body): "
            "return None for both, and raise nothing yourself.")


@suite.check('attack fails: registering with "role": "admin" (API3)')
def attack_mass_assignment(trial: Trial) -> None:
    client = trial.client(trial.app(user_model=_model(trial)))
    _failed(lesson03.run_register_as_admin(client),
            "The registration model lets the client choose its own role.")


@suite.check("attack fails: mallory asks for the users:admin scope")
def attack_scope_escalation(trial: Trial) -> None:
    client, people = lesson03.stage(trial.app(grant_scopes=trial.grant_scopes))
    _failed(lesson03.run_request_scope(client, people[lesson03.ATTACKER]),
            "mallory's token carries users:admin: grant only what her role allows.")


def _registration_model() -> type[BaseModel]:
    return access.UserCreate


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "grant_scopes": access.grant_scopes,
    "check_scopes": access.check_scopes,
    "owned_note": access.owned_note,
    "registration_model": _registration_model,
}


def check(**answers: Any) -> Report:
    """Run the lesson-03 checks: ``check(grant_scopes=..., check_scopes=..., owned_note=...,
    registration_model=...)``."""
    return suite.run(**answers)
