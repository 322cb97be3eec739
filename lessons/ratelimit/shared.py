"""Lesson 10: where the state lives that every worker (and, on Redis, every machine) must see
the same: the limiter's attempts and the revoked tokens.

The ``shared_state`` seam builds it once per app (``Service.shared``). The open service, and
every lesson before 10, keeps both in its own SQLite database, which every worker of one
machine shares. From lesson 10 on, ``LESSONS_REDIS_URL`` moves them to Redis.

Sessions stay in the database: a session belongs to its account (deleted with it, ended by a
password change in the same transaction), and a service on several machines needs a shared
database for its accounts anyway.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from lessons.ratelimit.attempts import Attempts, SqliteAttempts
from lessons.store import Store

if TYPE_CHECKING:
    from lessons.context import Service


class SharedState(Protocol):
    attempts: Attempts

    def close(self) -> None: ...


class DatabaseState:
    """The limiter's attempts in the service's SQLite database (where the revoked tokens are
    too)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @cached_property
    def attempts(self) -> Attempts:  # type: ignore[override]
        """Made on first use: a lesson without a limiter never creates its table."""
        return SqliteAttempts(self.store)

    def close(self) -> None:
        """Nothing of its own to close: the store is the app's, closed with it."""


def in_the_database(service: Service) -> SharedState:
    """The ``shared_state`` seam before lesson 10: the service's own database, whatever the
    settings say."""
    return DatabaseState(service.store)


def shared_state(service: Service) -> SharedState:
    """The ``shared_state`` seam from lesson 10 on: on Redis when ``LESSONS_REDIS_URL`` is
    set, else in the service's database."""
    if service.settings.redis_url:
        from lessons.ratelimit.redis_state import RedisState

        return RedisState(service.settings.redis_url)
    return DatabaseState(service.store)


def share_revocations(service: Service) -> None:
    """Lesson 10's start-up work: on Redis, revoked token ids go there too (the store asks it),
    so a logout on one machine holds on every machine."""
    if service.settings.redis_url:
        from lessons.ratelimit.redis_state import RedisState

        state = service.shared
        if isinstance(state, RedisState):
            service.store.revocations = state
