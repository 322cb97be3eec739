"""The seams of the Notes service and what fills each of them after lesson N.

A seam is one small, typed function (or model) that the routes call without knowing which
lesson provided it. The open service of lesson 00 fills every seam with its deliberately
vulnerable stand-in; each lesson module declares, in its ``LAYER`` mapping, the reference
implementations it plugs in. ``Layers.upto(n)`` applies lessons 1..n in order, so a lesson
builds on the reference of every earlier one, never on a learner's earlier answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from lessons import access, basic_auth, passwords, schemas, tokens
from lessons.context import Service
from lessons.identity import IdentityDependency, claimed_identity
from lessons.passwords import PasswordHasher
from lessons.settings import Settings
from lessons.store import Note, Store, User

# The lesson modules that provide reference layers, in course order. Lessons that change no
# seam of the app (04 HTTPS is served differently, 05 is about the supply chain) are absent.
LAYER_MODULES: dict[int, ModuleType] = {
    1: basic_auth,
    2: tokens,
    3: access,
}


def _identity_of_lesson_0(service: Service) -> IdentityDependency:
    return claimed_identity(service.store)


@dataclass(frozen=True)
class Layers:
    """One field per seam. Defaults are the open service of lesson 00."""

    # 01: how passwords are stored and checked
    make_hasher: Callable[[Settings], PasswordHasher] = passwords.plain_text
    authenticate: Callable[[Store, PasswordHasher, str, str], User | None] = (
        basic_auth.authenticate_naive
    )
    # 01, 02, 06: how the caller proves who they are (a factory of a FastAPI dependency)
    identity: Callable[[Service], IdentityDependency] = _identity_of_lesson_0
    # 02: bearer tokens
    issue_token: Callable[[Settings, str, Iterable[str]], str] = tokens.issue_token_naive
    decode_token: Callable[[Settings, str], dict[str, Any]] = tokens.decode_token_naive
    # 03: authorization
    grant_scopes: Callable[[str, Iterable[str]], frozenset[str]] = access.grant_requested
    check_scopes: Callable[[frozenset[str], Sequence[str]], None] = access.allow_any
    find_note: Callable[[Store, str, int], Note | None] = access.any_note
    user_model: type[BaseModel] = schemas.UserRecord
    # 07: input handling
    search_notes: Callable[[Store, str, str], list[Note]] = Store.search_notes_unsafe

    @classmethod
    def upto(cls, lesson: int) -> Layers:
        """The reference layers of lessons 1..``lesson`` on top of the open service."""
        layers = cls()
        for number, module in sorted(LAYER_MODULES.items()):
            if number <= lesson:
                layers = dataclasses.replace(layers, **module.LAYER)
        return layers

    def replace(self, **seams: Any) -> Layers:
        """These layers with some seams filled by other implementations (a learner's)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(seams) - known)
        if unknown:
            raise TypeError(
                f"No seam called {', '.join(unknown)}. The seams are: {', '.join(sorted(known))}."
            )
        return dataclasses.replace(self, **seams)
