"""Lesson 10: the limiter's counts. Each attempt is a row (or a sorted-set member on Redis)
under one or more keys, with the time it was made; a key's count is its attempts within the
window.

The one operation that matters is ``hit``: it counts and records in one step that no other
request, worker or machine can split. A limiter that first reads the count, then checks the
password, then records a failure lets every request of a burst read the same count: in a
trial, 40 parallel guesses all got through a check-then-record limiter of 5. So ``hit``
counts the attempt *before* the password is checked, as a failure; a success then takes its
own attempt back (``forgive``), and nothing else.

``SqliteAttempts`` keeps the rows in the service's database: one IMMEDIATE transaction holds
the write lock from the count to the insert, so every worker of one machine sees one count.
``lessons.ratelimit.redis_state`` does the same on Redis, for several machines.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from lessons.store import Store


def key(kind: str, *parts: str) -> str:
    """A limiter key: ``kind`` (what is counted) and a digest of ``parts`` (whose attempts).

    A digest, not the parts themselves: a key has a fixed length whatever a client sends as a
    username, and the store never holds client text."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}:{digest[:32]}"


@dataclass(frozen=True)
class Hit:
    """What ``Attempts.hit`` decided. ``retry_after`` 0: the attempt is allowed, and recorded
    under every key as ``attempt``; more than 0: refused for that many seconds, and recorded
    nowhere."""

    retry_after: int
    attempt: str = ""
    keys: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.retry_after == 0


class Attempts(Protocol):
    """Where the limiter's attempts are counted: every method is a coroutine (each is a
    database or network round trip, kept off the event loop)."""

    async def hit(self, limits: Mapping[str, int], window: int) -> Hit:
        """Atomically: refuse if any key already holds its limit of attempts within the last
        ``window`` seconds (``retry_after``: until the oldest of those leaves the window);
        otherwise record one attempt under every key."""
        ...

    async def count(self, key: str, window: int) -> int:
        """How many attempts ``key`` holds within the last ``window`` seconds (a read only)."""
        ...

    async def record(self, keys: Iterable[str], window: int) -> Hit:
        """Record one attempt under ``keys``, without looking at any limit."""
        ...

    async def forgive(self, hit: Hit) -> None:
        """Take back the one attempt ``hit`` recorded, under each of its keys."""
        ...

    async def clear(self, key: str) -> None:
        """Forget every attempt under ``key``."""
        ...


def wait_seconds(newest: Sequence[float], limit: int, window: int, now: float) -> float:
    """Seconds until a key whose most recent attempt times are ``newest`` (newest first, at
    most ``limit`` of them) holds fewer than ``limit`` attempts within ``window``: when its
    ``limit``-th most recent attempt leaves the window. 0 when it already holds fewer."""
    if limit <= 0:
        return float(window)  # a limit of 0 allows nothing
    if len(newest) < limit:
        return 0.0
    return max(0.0, newest[limit - 1] + window - now)


def whole_seconds(wait: float) -> int:
    """A wait as ``Retry-After`` states it: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait))


def new_attempt() -> str:
    return secrets.token_hex(8)


SCHEMA = (
    "CREATE TABLE IF NOT EXISTS limiter_attempts ("
    " key TEXT NOT NULL, attempt TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL,"
    " PRIMARY KEY (key, attempt))",
    "CREATE INDEX IF NOT EXISTS limiter_attempts_by_time ON limiter_attempts(key, at)",
    "CREATE INDEX IF NOT EXISTS limiter_attempts_by_expiry ON limiter_attempts(expires)",
)


class SqliteAttempts:
    """Attempts in the service's own SQLite database, shared by every worker of the machine.

    ``hit`` runs in one ``BEGIN IMMEDIATE`` transaction: it takes the database's write lock
    before it counts, so no other request (in this worker or another) can count between this
    count and this insert. Rows expire with their window and are deleted as they do."""

    def __init__(self, store: Store) -> None:
        self.store = store
        for statement in SCHEMA:
            store.query(statement)

    async def hit(self, limits: Mapping[str, int], window: int) -> Hit:
        return await anyio.to_thread.run_sync(self._hit, dict(limits), window)

    async def count(self, key: str, window: int) -> int:
        return await anyio.to_thread.run_sync(self._count, key, window)

    async def record(self, keys: Iterable[str], window: int) -> Hit:
        return await anyio.to_thread.run_sync(self._record, tuple(keys), window)

    async def forgive(self, hit: Hit) -> None:
        if hit.attempt:
            await anyio.to_thread.run_sync(self._forgive, hit)

    async def clear(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._clear, key)

    # -- the SQL, run in a worker thread -----------------------------------------------------------

    def _hit(self, limits: dict[str, int], window: int) -> Hit:
        now = time.time()
        with self.store.transaction() as db:
            db.execute("DELETE FROM limiter_attempts WHERE expires <= ?", (now,))
            wait = 0.0
            for name, limit in limits.items():
                newest = [row[0] for row in db.execute(
                    "SELECT at FROM limiter_attempts WHERE key = ? AND at > ?"
                    " ORDER BY at DESC LIMIT ?", (name, now - window, max(limit, 0)))]
                wait = max(wait, wait_seconds(newest, limit, window, now))
            if wait > 0:
                return Hit(whole_seconds(wait))  # the transaction ends, having written nothing
            return self._insert(db, tuple(limits), window, now)

    def _count(self, key: str, window: int) -> int:
        rows = self.store.query("SELECT COUNT(*) FROM limiter_attempts WHERE key = ? AND at > ?",
                                (key, time.time() - window))
        return int(rows[0][0])

    def _record(self, keys: tuple[str, ...], window: int) -> Hit:
        with self.store.transaction() as db:
            return self._insert(db, keys, window, time.time())

    @staticmethod
    def _insert(db: object, keys: tuple[str, ...], window: int, now: float) -> Hit:
        attempt = new_attempt()
        db.executemany(  # type: ignore[attr-defined]
            "INSERT INTO limiter_attempts (key, attempt, at, expires) VALUES (?, ?, ?, ?)",
            [(name, attempt, now, now + window) for name in keys])
        return Hit(0, attempt, keys)

    def _forgive(self, hit: Hit) -> None:
        with self.store.transaction() as db:
            db.executemany("DELETE FROM limiter_attempts WHERE key = ? AND attempt = ?",
                           [(name, hit.attempt) for name in hit.keys])

    def _clear(self, key: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM limiter_attempts WHERE key = ?", (key,))
