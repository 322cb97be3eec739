"""Password storage: the plain-text mistake of lesson 00 and the Argon2id fix of lesson 01;
and where hashing runs: off the event loop, in a few slots, behind lesson 10's bounded queue.

Plain functions and small classes with no FastAPI imports, so they can be read, tested and
reused on their own (the command line uses them too).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
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


class HashingSlots:
    """At most ``total_tokens`` hashes at once in this process, whichever event loop asks.

    anyio's ``CapacityLimiter`` would do in a served worker, which has one event loop; but it
    belongs to one loop, and released from another it never wakes the next waiter. In-process
    test clients run each request on a loop of its own, in a thread of its own: a burst of
    logins through one of them waited forever. So the line is kept under a thread lock, and a
    freed slot is handed to the next waiter on that waiter's own loop."""

    def __init__(self, total_tokens: int) -> None:
        self.total_tokens = total_tokens
        self._lock = threading.Lock()
        self._borrowed = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def borrowed_tokens(self) -> int:
        return self._borrowed

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._borrowed < self.total_tokens and not self._waiters:
                self._borrowed += 1
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                still_waiting = (loop, waiter) in self._waiters
                if still_waiting:
                    self._waiters.remove((loop, waiter))
            if not still_waiting and waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just before the cancellation: pass it on
            raise

    def release(self) -> None:
        with self._lock:
            if not self._waiters:
                self._borrowed -= 1
                return
            loop, waiter = self._waiters.popleft()
        loop.call_soon_threadsafe(self._hand_over, waiter)  # the slot stays borrowed

    def _hand_over(self, waiter: asyncio.Future[None]) -> None:
        if waiter.cancelled():
            self.release()  # its request went away while the slot was on its way
        else:
            waiter.set_result(None)


# Hashing is CPU-bound on purpose. Running it on the event loop freezes every other request,
# and running many at once in threads starves them of CPU; so hashes run in worker threads,
# at most (cores - 1, at least 1) at a time, leaving a core for everything else.
HASHING_SLOTS = HashingSlots(max(1, (os.cpu_count() or 2) - 1))


class HashingBusy(Exception):
    """The hashing queue has no place for this hash (it is full, or this client holds its
    share of it): answered 503 with ``Retry-After`` at once, instead of waiting in line."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(f"the hashing queue is full; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class HashingQueue:
    """One worker's hashes that hold a place: waiting for a hashing slot, or running in one.

    Lesson 10 bounds it: at most ``size`` places, at most ``share`` of them for one client.
    ``place`` (the ``hashing_place`` seam) decides, under ``lock``, whether a hash gets a
    place; ``client_key`` turns a client's address into the key its share is counted by."""

    size: int
    share: int
    place: Callable[[HashingQueue, str], AbstractContextManager[None]]
    client_key: Callable[[str], str] = str
    held: int = 0
    by_client: Counter[str] = field(default_factory=Counter)
    # Requests of one worker share one event loop, but in-process test clients run each
    # request on a loop of its own, in a thread of its own: the counts are changed under a lock.
    lock: threading.Lock = field(default_factory=threading.Lock)
    # A hint for the refused client: a full queue drains in well under a second at the
    # default cost, so one second is a fair wait before trying again.
    retry_after: int = 1


@contextmanager
def any_place(queue: HashingQueue, client: str) -> Iterator[None]:
    """The open service's ``hashing_place``: every hash waits in line, however long the line
    (a flood of logins makes every other login wait for all of them)."""
    yield


# The hashing queue of the app serving the current request, and the client's address; set by
# lesson 10's middleware (``lessons.ratelimit.queue``), unset before lesson 10 (no bound).
HASHING: ContextVar[tuple[HashingQueue, str] | None] = ContextVar("hashing", default=None)


async def off_the_event_loop(function: Callable[..., T], *args: object) -> T:
    """Run a password hash or verification in a worker thread, within the hashing slots; from
    lesson 10 on, only once the request's hashing queue has given it a place (else
    ``HashingBusy``, at once)."""
    queued = HASHING.get()
    if queued is None:
        return await _in_a_slot(function, *args)
    queue, address = queued
    with queue.place(queue, queue.client_key(address)):
        return await _in_a_slot(function, *args)


async def _in_a_slot(function: Callable[..., T], *args: object) -> T:
    await HASHING_SLOTS.acquire()
    try:
        return await anyio.to_thread.run_sync(function, *args)
    finally:
        HASHING_SLOTS.release()
