"""Password storage: the plain-text mistake of lesson 00 and the Argon2id fix of lesson 01.

Plain functions and small classes with no FastAPI imports, so they can be read, tested and
reused on their own (the command line uses them too).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import Protocol, TypeVar

import anyio
from passlib.context import CryptContext

from lessons.settings import Settings
from lessons.store import Store

T = TypeVar("T")

# The longest password the service accepts, in characters (the service contract; lesson 07's
# registration refuses longer ones with 422). A login with a longer one is a failed login.
LONGEST_PASSWORD = 128


class PasswordHasher(Protocol):
    """What the service needs from a password store; passlib's ``CryptContext`` fits it."""

    def hash(self, secret: str) -> str: ...

    def verify(self, secret: str, hash: str) -> bool: ...

    def identify(self, hash: str) -> str | None: ...


class PlainTextPasswords:
    """VULNERABLE, lesson 00 only: keeps the password exactly as typed.

    Anyone who can read the database (a backup, a stolen laptop, an SQL injection) can log in
    as every user, and on every other site where those users reused the password.
    """

    def hash(self, secret: str) -> str:
        return secret

    def verify(self, secret: str, hash: str) -> bool:
        return secret == hash

    def identify(self, hash: str) -> str | None:
        return None


def plain_text(settings: Settings) -> PasswordHasher:
    return PlainTextPasswords()


def argon2_hasher(settings: Settings) -> CryptContext:
    """Argon2id with the cost from settings (OWASP's minimum by default).

    Tests lower the cost through ``LESSONS_ARGON2_*`` settings, never by skipping the hash.
    """
    return CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=settings.argon2_memory_kib,
        argon2__time_cost=settings.argon2_time_cost,
        argon2__parallelism=settings.argon2_parallelism,
    )


def upgrade_plaintext_passwords(store: Store, hasher: PasswordHasher) -> int:
    """Replace every stored password the hasher does not recognise as a hash by its hash.

    This is the migration from the lesson-00 database: the plain text is read once, hashed and
    overwritten. Returns how many rows were upgraded.
    """
    upgraded = 0
    for user in store.list_users():
        if hasher.identify(user.password_hash) is None:
            store.set_password_hash(user.username, hasher.hash(user.password_hash))
            upgraded += 1
    return upgraded


def dummy_hash(hasher: PasswordHasher) -> str:
    """A hash of a random password, to verify against when the user does not exist, so that an
    unknown user costs as much time as a wrong password and the two cannot be told apart."""
    return hasher.hash(secrets.token_urlsafe(16))


# Hashing is CPU-bound on purpose. Running it on the event loop freezes every other request,
# and running many at once in threads starves them of CPU; so hashes run in worker threads,
# at most (cores - 1, at least 1) at a time, leaving a core for everything else.
HASHING_SLOTS = anyio.CapacityLimiter(max(1, (os.cpu_count() or 2) - 1))


async def off_the_event_loop(function: Callable[..., T], *args: object) -> T:
    """Run a password hash or verification in a worker thread, within the hashing slots."""
    return await anyio.to_thread.run_sync(function, *args, limiter=HASHING_SLOTS)
