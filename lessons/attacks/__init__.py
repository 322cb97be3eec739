"""The executable attacks, one module per lesson. Every attack is a real request (or a real
read of a file an attacker could obtain) against a real app, and reports what it achieved.

An attack *succeeding* is bad news for the service: the notebooks show each one succeeding
against the service of the previous lesson, then failing once the lesson's layer is in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from fastapi import FastAPI

from lessons.store import Note


@dataclass(frozen=True)
class AttackResult:
    name: str
    succeeded: bool
    evidence: str

    def __str__(self) -> str:
        verdict = "ATTACK SUCCEEDED" if self.succeeded else "attack failed (the layer held)"
        return f"{verdict}: {self.name}\n  evidence: {self.evidence}"

    __repr__ = __str__


@dataclass
class Account:
    username: str
    password: str = field(repr=False)
    role: str = "user"
    notes: list[Note] = field(default_factory=list)

    @property
    def email(self) -> str:
        return f"{self.username}@example.org"


def seed(app: FastAPI, *accounts: Account, notes_each: int = 2) -> dict[str, Account]:
    """Put accounts (with properly stored passwords) and a few private notes straight into the
    app's store: setting the scene, not part of any attack."""
    service = app.state.service
    for account in accounts:
        service.store.add_user(account.username, service.hasher.hash(account.password),
                               role=account.role, email=account.email)
        for n in range(1, notes_each + 1):
            account.notes.append(service.store.add_note(
                account.username, f"{account.username}'s private note {n}",
                f"Only {account.username} should ever read this ({n}).",
            ))
    return {account.username: account for account in accounts}


def new_password() -> str:
    """A random password for a seeded account: long, and in no common-password list."""
    return secrets.token_urlsafe(18)
