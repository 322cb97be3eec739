"""What every layer may need at run time, made once per app by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from lessons.identity import IdentityDependency, authorized
from lessons.passwords import PasswordHasher
from lessons.settings import Settings
from lessons.store import Store

if TYPE_CHECKING:
    from lessons.layers import Layers
    from lessons.ratelimit.shared import SharedState


@dataclass(frozen=True)
class Service:
    settings: Settings
    store: Store
    hasher: PasswordHasher
    layers: Layers

    @cached_property
    def caller(self) -> IdentityDependency:
        """Who is calling, with the scope check: routes declare
        ``Security(service.caller, scopes=[...])``. Made once per app, from the ``identity``
        and ``check_scopes`` seams."""
        return authorized(self.layers.identity(self), self.layers.check_scopes)

    @cached_property
    def shared(self) -> SharedState:
        """The state every worker must see the same: the limiter's counts and the revoked
        tokens. Made on first use, from the ``shared_state`` seam (the service's database;
        from lesson 10 on, Redis when ``LESSONS_REDIS_URL`` is set)."""
        return self.layers.shared_state(self)

    def close(self) -> None:
        """Close the database and, if it was made, the shared state's connections."""
        shared = self.__dict__.get("shared")
        if shared is not None:
            shared.close()
        self.store.close()
