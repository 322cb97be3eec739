"""Lesson 03 checks: the four pieces of the authorization layer on their own, then the
lesson's attacks against the service with each piece plugged into its seam, where every one
of them must fail.

Each attack check plugs in only the answer it is about (every other seam keeps its reference),
so a learner who has written one exercise sees that one judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException as FastAPIHTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from lessons import access
from lessons.access import NOTES_READ, NOTES_WRITE, ROLE_SCOPES, USERS_ADMIN
from lessons.attacks import (
    ADMIN,
    ATTACKER,
    LEAVER,
    VICTIM,
    AttackResult,
    Scene,
    Variant,
    lesson03,
    new_password,
)
from lessons.checks import Report, Rule, Suite, Trial, WrongAnswer, expect, expect_type
from lessons.store import Note, Store

suite = Suite(3, "Roles, scopes and ownership")

USER_DEFAULTS = {NOTES_READ, NOTES_WRITE}
ALL_SCOPES = {NOTES_READ, NOTES_WRITE, USERS_ADMIN}


# -- helpers -------------------------------------------------------------------------------------


def _granted(trial: Trial, role: str, requested: Iterable[str]) -> set[str]:
    result = trial.grant_scopes(role, list(requested))
    expect_type(result, (set, frozenset), "grant_scopes",
                "a set of scope names, such as frozenset({'notes:read'})")
    return set(result)


def _refusal(trial: Trial, role: str, granted: set[str], required: list[str]) -> int | None:
    """The status check_scopes raised with, or None when it let the caller through."""
    try:
        result = trial.check_scopes(role, frozenset(granted), list(required))
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
    for name in (VICTIM, ATTACKER):
        store.add_user(name, "not-a-real-hash", email=f"{name}@example.org")
        notes[name] = store.add_note(name, f"{name}'s note", f"Only {name} may read this.")
    return store, notes


def _model(trial: Trial) -> type[BaseModel]:
    model = trial.registration_model()
    expect(isinstance(model, type) and issubclass(model, BaseModel),
           "registration_model should return the model class itself (`return UserCreate`), "
           f"not {type(model).__name__}.")
    return model


def _registration(username: str, **fields: Any) -> dict[str, Any]:
    return {"username": username, "email": f"{username}@example.org", "password": new_password(),
            **fields}


def _failed(result: AttackResult, hint: str) -> None:
    expect(not result.succeeded, f"{hint} (The attack got: {result.evidence}.)")


@contextmanager
def _scene(trial: Trial, **seams: Any) -> Iterator[tuple[Scene, TestClient]]:
    """The lesson-03 reference with the given answers in their seams and the cast seeded, in
    the trial's folder, with a client that raises what the app raises: a stub is then "not
    attempted" and an error in your code is reported as yours (the scene's own client, like
    any client on the network, would just see a 500)."""
    with Scene(Variant(3, seams=seams), trial.root) as scene:
        yield scene, scene.raising().client


def _token(scene: Scene, client: TestClient, name: str, scopes: Iterable[str] = ()) -> str:
    return lesson03.login(client, scene.accounts[name], scopes)


# -- grant_scopes --------------------------------------------------------------------------------


@suite.check("grant_defaults",
             "grant_scopes gives each role its own scopes when none are asked for")
def grant_defaults(trial: Trial) -> None:
    user = _granted(trial, "user", [])
    expect(user == USER_DEFAULTS,
           f"With no scope requested, a user should get {sorted(USER_DEFAULTS)}, not "
           f"{sorted(user)}: look the role up in ROLE_SCOPES.")
    admin = _granted(trial, "admin", [])
    expect(admin == ALL_SCOPES,
           f"With no scope requested, an admin should get {sorted(ALL_SCOPES)}, not "
           f"{sorted(admin)}.")


@suite.check("grant_intersection",
             "grant_scopes grants only what was asked for and the role allows")
def grant_intersection(trial: Trial) -> None:
    asked = [NOTES_READ, USERS_ADMIN]
    user = _granted(trial, "user", asked)
    expect(USERS_ADMIN not in user,
           "A user who asks for users:admin must not get it: grant only the requested scopes "
           "that the role allows, never simply what was requested.")
    expect(user == {NOTES_READ},
           f"A user asking for {asked} should get ['notes:read'], not {sorted(user)}.")
    admin = _granted(trial, "admin", [NOTES_READ])
    expect(admin == {NOTES_READ},
           f"An admin asking for notes:read only should get just that, not {sorted(admin)}: a "
           "token may carry less than its owner's role allows, and that is the point of scopes.")
    made_up = _granted(trial, "admin", ["notes:everything"])
    expect(not made_up, f"A scope nobody defined was granted: {sorted(made_up)}.")


@suite.check("grant_unknown_role", "grant_scopes gives an unknown role nothing")
def grant_unknown_role(trial: Trial) -> None:
    granted = _granted(trial, "guest", [NOTES_READ])
    expect(not granted,
           f"The role 'guest' is in no table, yet it got {sorted(granted)}. Deny by default: "
           "ROLE_SCOPES.get(role, frozenset()).")


# -- check_scopes --------------------------------------------------------------------------------


@suite.check("scopes_allow", "check_scopes lets through a caller who has every required scope")
def check_allows(trial: Trial) -> None:
    expect(_refusal(trial, "user", USER_DEFAULTS, [NOTES_READ]) is None,
           "A user's token with notes:read was refused a route that needs notes:read.")
    expect(_refusal(trial, "admin", ALL_SCOPES, [NOTES_READ, USERS_ADMIN]) is None,
           "An admin's token with every scope was refused a route that needs two of them.")
    expect(_refusal(trial, "user", set(), []) is None,
           "A route that needs no scope (GET /users/me) was refused: with nothing required, "
           "there is nothing to refuse.")


@suite.check("scopes_forbid", "check_scopes answers 403, not 401, for a missing scope")
def check_forbids(trial: Trial) -> None:
    status = _refusal(trial, "user", USER_DEFAULTS, [USERS_ADMIN])
    expect(status is not None, "A user's token was let through to a route that needs "
           "users:admin: raise HTTPException when a required scope is not granted.")
    expect(status != 401,
           "Your check answers 401. The token is valid and the caller is known, they are just "
           "not allowed: that is 403. A 401 tells a client to log in again, which cannot help.")
    expect(status == 403, f"A missing scope should be 403 Forbidden, not {status}.")


@suite.check("scopes_need_all", "check_scopes needs every required scope, not just one of them")
def check_needs_all(trial: Trial) -> None:
    status = _refusal(trial, "user", {NOTES_READ}, [NOTES_READ, NOTES_WRITE])
    expect(status is not None,
           "A token with notes:read only was let through a route that needs notes:read *and* "
           "notes:write. Every required scope must be granted (`all`, or a subset test), not "
           "any one of them.")


@suite.check("scopes_current_role",
             "check_scopes counts only the scopes the caller's current role allows")
def check_current_role(trial: Trial) -> None:
    demoted = _refusal(trial, "user", ALL_SCOPES, [USERS_ADMIN])
    expect(demoted is not None,
           "A token that says users:admin, held by someone whose role is now 'user', was let "
           "through to an admin route: an admin demoted in the database keeps her powers "
           "until the token expires. Count only the token's scopes that ROLE_SCOPES[role] "
           "still allows.")
    stranger = _refusal(trial, "guest", {NOTES_READ}, [NOTES_READ])
    expect(stranger is not None,
           "The role 'guest' is in no table, yet its token's notes:read was let through. Deny "
           "by default: ROLE_SCOPES.get(role, frozenset()).")


@suite.check("scopes_token_bound", "check_scopes lets a token do no more than it was granted")
def check_token_bound(trial: Trial) -> None:
    narrowed = _refusal(trial, "admin", {NOTES_READ}, [USERS_ADMIN])
    expect(narrowed is not None,
           "An admin's token granted notes:read only was let through to an admin route. The "
           "token's scopes count, not everything the role allows: otherwise no token can be "
           "narrowed, and a leaked backup token can delete accounts.")


# -- owned_note ----------------------------------------------------------------------------------


def _owned(trial: Trial, store: Store, username: str, note_id: int) -> object:
    try:
        return trial.owned_note(store, username, note_id)
    except HTTPException as refusal:
        return refusal


def _own_note_shape(trial: Trial, store: Store, username: str, note_id: int) -> None:
    """Before the service uses owned_note: it returns a Note (or None), not something else."""
    found = _owned(trial, store, username, note_id)
    if not isinstance(found, HTTPException):
        expect_type(found, (Note, type(None)), "owned_note",
                    "the Note itself, or None (the route answers with the note's fields)")


@suite.check("owned_own", "owned_note returns the caller's own note")
def owned_note_own(trial: Trial) -> None:
    store, notes = _store(trial)
    found = _owned(trial, store, VICTIM, notes[VICTIM].id)
    expect_type(found, Note, "owned_note", "the Note itself (the route answers with its fields)")
    expect(found == notes[VICTIM], f"alice asked for her own note and got {found!r}.")


@suite.check("owned_others",
             "owned_note returns None for someone else's note and for a missing one")
def owned_note_others(trial: Trial) -> None:
    store, notes = _store(trial)
    for note_id, what in ((notes[VICTIM].id, "alice's note"),
                          (9001, "a note that does not exist")):
        found = _owned(trial, store, ATTACKER, note_id)
        expect(not isinstance(found, HTTPException),
               f"Your code raised HTTPException {getattr(found, 'status_code', '')} for "
               f"{what}. Return None instead: the route then answers 404, exactly as for a "
               "note that does not exist, so nobody learns which ids exist.")
        expect(found is None, f"mallory asked for {what} and got {found!r}, not None.")


# -- registration_model --------------------------------------------------------------------------


@suite.check("model_accepts", "the registration model accepts a normal registration")
def model_accepts(trial: Trial) -> None:
    client = trial.client(trial.app(user_model=_model(trial)))
    for username, body in (("carol", _registration("carol")),
                           ("dan", {"username": "dan", "password": new_password()})):
        response = client.post("/users", json=body)
        expect(response.status_code == 201,
               f"Registering with {', '.join(body)} got HTTP {response.status_code}; the model "
               "needs exactly username, email and password, and email is optional.")
        expect(response.json().get("role") == "user",
               f"A new account should have the role 'user' ({username} did not).")


@suite.check("model_forbids", "the registration model rejects unknown fields with 422")
def model_forbids(trial: Trial) -> None:
    client = trial.client(trial.app(user_model=_model(trial)))
    for username, extra in (("dave", {"role": "admin"}), ("erin", {"is_admin": True})):
        response = client.post("/users", json=_registration(username, **extra))
        field = next(iter(extra))
        expect(response.status_code != 201 or response.json().get("role") != "admin",
               f'Registering with {field!r} made an admin: the model must not have a {field} '
               "field at all.")
        expect(response.status_code == 422,
               f"A body with {field!r} got HTTP {response.status_code}. Your model ignores unknown "
               "fields instead of rejecting them: set model_config = ConfigDict(extra=\"forbid\") "
               "so that the client learns at once that it cannot set them.")


# -- the attacks, against the service with each answer in its seam -------------------------------


@suite.check("attack_function_level", "attack fails: mallory lists and deletes users (API5)")
def attack_function_level(trial: Trial) -> None:
    with _scene(trial, check_scopes=trial.check_scopes) as (scene, client):
        token = _token(scene, client, ATTACKER)
        hint = "A user's token still reaches the admin routes: check_scopes must refuse it."
        _failed(lesson03.run_list_users(client, token), hint)
        _failed(lesson03.run_delete_user(client, token, LEAVER), hint)
        response = lesson03.list_users(client, _token(scene, client, ADMIN, [USERS_ADMIN]))
        expect(response.status_code == 200,
               f"ada's token with users:admin got HTTP {response.status_code} from "
               "/admin/users: the admin must still get in.")


@suite.check("attack_demoted_admin", "attack fails: ada, demoted, uses her old admin token")
def attack_demoted_admin(trial: Trial) -> None:
    with _scene(trial, check_scopes=trial.check_scopes) as (scene, client):
        token = _token(scene, client, ADMIN, [USERS_ADMIN])
        result = lesson03.run_demoted_admin(client, token,
                                            lambda: scene.store.set_role(ADMIN, "user"))
        _failed(result, "ada's role is 'user' now, but her token still opens the admin "
                        "routes: count only the token's scopes that her current role allows.")


@suite.check("attack_object_level",
             "attack fails: mallory reads and deletes alice's note by id (API1)")
def attack_object_level(trial: Trial) -> None:
    with _scene(trial, find_note=trial.owned_note) as (scene, client):
        _own_note_shape(trial, scene.store, ATTACKER, scene.accounts[ATTACKER].notes[0].id)
        token = _token(scene, client, ATTACKER)
        note = scene.accounts[VICTIM].notes[0]
        hint = "mallory reached alice's note: owned_note must return None unless she owns it."
        _failed(lesson03.run_read_note(client, token, note.id, VICTIM), hint)
        _failed(lesson03.run_delete_note(client, token, note.id, VICTIM), hint)
        expect(scene.store.get_note(note.id) is not None, "alice's note is gone.")
        own = lesson03.read_note(client, token, scene.accounts[ATTACKER].notes[0].id)
        expect(own.status_code == 200, f"mallory's own note got HTTP {own.status_code}.")


@suite.check("attack_enumeration",
             "attack fails: mallory tells others' note ids from missing ones")
def attack_enumeration(trial: Trial) -> None:
    with _scene(trial, find_note=trial.owned_note) as (scene, client):
        _own_note_shape(trial, scene.store, ATTACKER, scene.accounts[ATTACKER].notes[0].id)
        others = [scene.accounts[name].notes[0].id for name in (VICTIM, LEAVER)]
        _failed(lesson03.run_enumerate_notes(client, _token(scene, client, ATTACKER), others),
                "Someone else's note must get exactly the answer of a missing one (404, same "
                "body): return None for both, and raise nothing yourself.")


@suite.check("attack_mass_assignment", 'attack fails: registering with "role": "admin" (API3)')
def attack_mass_assignment(trial: Trial) -> None:
    client = trial.client(trial.app(user_model=_model(trial)))
    _failed(lesson03.run_register_as_admin(client),
            "The registration model lets the client choose its own role.")


@suite.check("attack_scope_escalation", "attack fails: mallory asks for the users:admin scope")
def attack_scope_escalation(trial: Trial) -> None:
    with _scene(trial, grant_scopes=trial.grant_scopes) as (scene, client):
        _failed(lesson03.run_request_scope(client, scene.accounts[ATTACKER]),
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

RULES: tuple[Rule, ...] = (
    Rule("grant_defaults", "grant_scopes",
         "With no scope requested, a token gets everything its role allows.",
         ("grant_defaults",)),
    Rule("grant_intersection", "grant_scopes",
         "Grant only the requested scopes that the role allows: never more than the role, and "
         "no more than was asked for.",
         ("grant_intersection", "attack_scope_escalation")),
    Rule("grant_unknown_role", "grant_scopes",
         "A role that is not in ROLE_SCOPES is allowed nothing (deny by default).",
         ("grant_unknown_role",)),
    Rule("grant_returns_set", "grant_scopes",
         "Return the scopes as a set (a frozenset of names), not as one string.",
         ("grant_defaults", "grant_intersection", "grant_unknown_role")),
    Rule("scopes_empty", "check_scopes",
         "Let the caller through when every required scope counts, and when none is required.",
         ("scopes_allow",)),
    Rule("scopes_403", "check_scopes",
         "Refuse by raising HTTPException with 403 (the caller is known, not allowed), never "
         "401, never by returning a value the service ignores.",
         ("scopes_forbid", "attack_function_level")),
    Rule("scopes_all", "check_scopes",
         "Every required scope must count, not just one of them.",
         ("scopes_need_all",)),
    Rule("scopes_current_role", "check_scopes",
         "Only the token's scopes that the caller's current role still allows count: a demoted "
         "admin's old token loses users:admin at once; an unknown role counts nothing.",
         ("scopes_current_role", "attack_demoted_admin")),
    Rule("scopes_token_bound", "check_scopes",
         "The token's scopes bound the request: an admin's notes:read token cannot reach the "
         "admin routes (roles are not scopes).",
         ("scopes_token_bound",)),
    Rule("owned_returns_note", "owned_note",
         "Return the caller's own note, the Note itself.",
         ("owned_own",)),
    Rule("owned_none_for_others", "owned_note",
         "Someone else's note gives None, exactly like a missing one: no 403, no note.",
         ("owned_others", "attack_object_level", "attack_enumeration")),
    Rule("model_fields", "registration_model",
         "Return the model class with exactly username, email (optional) and password.",
         ("model_accepts",)),
    Rule("model_forbids", "registration_model",
         "Reject any other field, such as role or is_admin, with 422 (extra=\"forbid\").",
         ("model_forbids", "attack_mass_assignment")),
)


# -- near misses ---------------------------------------------------------------------------------


def grant_nothing_by_default(role: str, requested: Iterable[str]) -> frozenset[str]:
    return ROLE_SCOPES.get(role, frozenset()) & frozenset(requested)


def grant_what_was_asked(role: str, requested: Iterable[str]) -> frozenset[str]:
    return frozenset(requested) or ROLE_SCOPES.get(role, frozenset())


def grant_whole_role(role: str, requested: Iterable[str]) -> frozenset[str]:
    return ROLE_SCOPES.get(role, frozenset())


def grant_user_scopes_to_strangers(role: str, requested: Iterable[str]) -> frozenset[str]:
    return access.grant_scopes(role if role in ROLE_SCOPES else "user", requested)


def grant_as_text(role: str, requested: Iterable[str]) -> str:
    return " ".join(sorted(access.grant_scopes(role, requested)))  # the token's claim, not a set


def _counted(role: str, granted: frozenset[str]) -> frozenset[str]:
    return granted & ROLE_SCOPES.get(role, frozenset())


def scopes_refusing_scopeless_tokens(role: str, granted: frozenset[str],
                                     required: Sequence[str]) -> None:
    counted = _counted(role, granted)
    if not counted or not set(required) <= counted:  # "a token with no scope can do nothing"
        raise FastAPIHTTPException(403, "Not allowed")


def scopes_with_401(role: str, granted: frozenset[str], required: Sequence[str]) -> None:
    if not set(required) <= _counted(role, granted):
        raise FastAPIHTTPException(401, "Not allowed")


def scopes_returning_false(role: str, granted: frozenset[str], required: Sequence[str]) -> bool:
    return set(required) <= _counted(role, granted)


def scopes_any_one(role: str, granted: frozenset[str], required: Sequence[str]) -> None:
    if required and not set(required) & _counted(role, granted):
        raise FastAPIHTTPException(403, "Not allowed")


def scopes_with_a_known_role(role: str, granted: frozenset[str], required: Sequence[str]) -> None:
    if not set(required) <= granted & ROLE_SCOPES[role]:  # a KeyError for any other role
        raise FastAPIHTTPException(403, "Not allowed")


def owned_note_as_dict(store: Store, username: str, note_id: int) -> dict[str, Any] | None:
    note = store.get_owned_note(username, note_id)
    return None if note is None else {"id": note.id, "owner": note.owner, "title": note.title}


def owned_note_by_id_only(store: Store, username: str, note_id: int) -> Note | None:
    return store.get_note(note_id)


def model_that_ignores() -> type[BaseModel]:
    class UserCreate(BaseModel):
        username: str
        email: str | None = None
        password: str
    return UserCreate


def model_with_a_role() -> type[BaseModel]:
    class UserCreate(BaseModel):
        model_config = ConfigDict(extra="forbid")
        username: str
        email: str | None = None
        password: str
        role: str = "user"
    return UserCreate


def model_email_required() -> type[BaseModel]:
    class UserCreate(BaseModel):
        model_config = ConfigDict(extra="forbid")
        username: str
        email: str
        password: str
    return UserCreate


def model_instance_not_class() -> BaseModel:
    return access.UserCreate(username="xavier", password=new_password())


WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    WrongAnswer("grant_defaults", "nothing asked, nothing granted",
                {"grant_scopes": grant_nothing_by_default},
                {"grant_defaults": "look the role up in ROLE_SCOPES"}),
    WrongAnswer("grant_intersection", "grants whatever was asked for",
                {"grant_scopes": grant_what_was_asked},
                {"grant_intersection": "must not get it",
                 "grant_unknown_role": "Deny by default",
                 "attack_scope_escalation": "grant only what her role allows"}),
    WrongAnswer("grant_intersection", "grants the whole role whatever was asked for",
                {"grant_scopes": grant_whole_role},
                {"grant_intersection": "should get ['notes:read']"}),
    WrongAnswer("grant_unknown_role", "an unknown role treated as a user",
                {"grant_scopes": grant_user_scopes_to_strangers},
                {"grant_unknown_role": "Deny by default"}),
    WrongAnswer("grant_returns_set", "returns the space-separated string of the token's claim",
                {"grant_scopes": grant_as_text},
                {"grant_defaults": "should return a set", "grant_intersection":
                 "should return a set", "grant_unknown_role": "should return a set"}),
    WrongAnswer("scopes_empty", "refuses a token with no scope, even where none is needed",
                {"check_scopes": scopes_refusing_scopeless_tokens},
                {"scopes_allow": "nothing to refuse"}),
    WrongAnswer("scopes_403", "401 for a missing scope",
                {"check_scopes": scopes_with_401},
                {"scopes_forbid": "that is 403"}),
    WrongAnswer("scopes_403", "returns False instead of raising",
                {"check_scopes": scopes_returning_false},
                {"scopes_forbid": "returned False", "scopes_need_all": "returned False",
                 "scopes_current_role": "returned False", "scopes_token_bound": "returned False",
                 "attack_function_level": "check_scopes must refuse it",
                 "attack_demoted_admin": "her token still opens the admin routes"}),
    WrongAnswer("scopes_all", "any one required scope is enough",
                {"check_scopes": scopes_any_one},
                {"scopes_need_all": "Every required scope"}),
    WrongAnswer("scopes_current_role", "the token's scopes alone (the role never looked at)",
                {"check_scopes": access.check_token_scopes},
                {"scopes_current_role": "admin demoted in the database",
                 "attack_demoted_admin": "her token still opens the admin routes"}),
    WrongAnswer("scopes_current_role", "ROLE_SCOPES[role]: an unknown role raises KeyError",
                {"check_scopes": scopes_with_a_known_role},
                {"scopes_current_role": "Your check_scopes raised KeyError"}),
    WrongAnswer("scopes_token_bound", "the role's scopes instead of the token's (the errata)",
                {"check_scopes": access.role_as_scopes},
                {"scopes_token_bound": "a leaked backup token can delete accounts",
                 "scopes_need_all": "Every required scope"}),
    WrongAnswer("owned_returns_note", "a dict instead of the Note",
                {"owned_note": owned_note_as_dict},
                {"owned_own": "it should return the Note itself",
                 "attack_object_level": "it should return the Note itself",
                 "attack_enumeration": "it should return the Note itself"}),
    WrongAnswer("owned_none_for_others", "a 403 for someone else's note",
                {"owned_note": access.owned_note_or_403},
                {"owned_others": "Return None instead",
                 "attack_enumeration": "exactly the answer of a missing one"}),
    WrongAnswer("owned_none_for_others", "the note by id, whoever owns it",
                {"owned_note": owned_note_by_id_only},
                {"owned_others": "not None",
                 "attack_object_level": "must return None unless she owns it",
                 "attack_enumeration": "exactly the answer of a missing one"}),
    WrongAnswer("model_fields", "an instance instead of the class",
                {"registration_model": model_instance_not_class},
                {"model_accepts": "the model class itself",
                 "model_forbids": "the model class itself",
                 "attack_mass_assignment": "the model class itself"}),
    WrongAnswer("model_fields", "email required",
                {"registration_model": model_email_required},
                {"model_accepts": "email is optional"}),
    WrongAnswer("model_forbids", "unknown fields ignored, not refused",
                {"registration_model": model_that_ignores},
                {"model_forbids": "ignores unknown fields"}),
    WrongAnswer("model_forbids", "a role field with a default",
                {"registration_model": model_with_a_role},
                {"model_forbids": "must not have a role field",
                 "attack_mass_assignment": "choose its own role"}),
)


def check(**answers: Any) -> Report:
    """Run the lesson-03 checks: ``check(grant_scopes=..., check_scopes=..., owned_note=...,
    registration_model=...)``."""
    return suite.run(**answers)
