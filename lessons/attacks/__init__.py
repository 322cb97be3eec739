"""The executable attacks, one module per lesson, all of one shape.

Every attack is a real request (or a real read of a file an attacker could obtain) against a
real service, and reports what it achieved in an ``AttackResult``. An attack *succeeding* is
bad news for the service: the notebooks show each one succeeding against a vulnerable variant
of the service, then failing once the lesson's layer is in.

The shape, shared by every lesson:

- each lesson module exports ``ATTACKS``, a tuple of ``Attack``: a stable id, a title, the
  function that runs it on a ``Scene``, and the ``Variant`` of the service it succeeds
  against (the lesson's reference is the variant it must fail against);
- a ``Scene`` is the service under attack with its cast of accounts, an in-process client, a
  private folder, and real loopback servers when an attack crosses the network;
- ``run_all`` runs attacks, each on a fresh scene, and ``table`` prints their results.

``tests/test_attacks.py`` runs every attack of every lesson both ways.
"""

from __future__ import annotations

import itertools
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lessons.server import BackgroundServer, serve_in_background, stop_servers
from lessons.store import Note

# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttackResult:
    name: str
    succeeded: bool
    evidence: str

    def __str__(self) -> str:
        verdict = "ATTACK SUCCEEDED" if self.succeeded else "attack failed (the layer held)"
        return f"{verdict}: {self.name}\n  evidence: {self.evidence}"

    __repr__ = __str__


class SceneError(RuntimeError):
    """The scene could not be set up (say, logging in failed): no verdict on the attack."""


def table(results: Sequence[AttackResult]) -> str:
    """One line per attack: whether it succeeded, what it was, what the service answered."""
    if not results:
        return "(no attacks)"
    width = max(len(r.name) for r in results)
    return "\n".join(
        f"{'SUCCEEDED' if r.succeeded else 'failed':9}  {r.name.ljust(width)}  {r.evidence}"
        for r in results
    )


# -- the cast --------------------------------------------------------------------------------------


@dataclass
class Account:
    username: str
    password: str = field(repr=False)
    role: str = "user"
    notes: list[Note] = field(default_factory=list)

    @property
    def email(self) -> str:
        return f"{self.username}@example.org"


def bearer(token: str) -> dict[str, str]:
    """The headers that present ``token`` as a bearer token (RFC 6750)."""
    return {"Authorization": f"Bearer {token}"}


def new_password() -> str:
    """A random password for a seeded account: long, and in no common-password list."""
    return secrets.token_urlsafe(18)


VICTIM, ATTACKER, LEAVER, ADMIN = "alice", "mallory", "bob", "ada"
# Who is in every scene: alice (the victim), bob (whose account will be deleted), mallory (the
# attacker, with an ordinary account of her own) and ada (an admin). Their passwords are random,
# made once per process, so that their hashes can be made once per hasher too.
CAST: tuple[tuple[str, str], ...] = ((VICTIM, "user"), (LEAVER, "user"), (ATTACKER, "user"),
                                     (ADMIN, "admin"))
_CAST_PASSWORDS = {name: new_password() for name, _ in CAST}


_HASHES: dict[tuple[tuple[Any, ...], str], str] = {}


def _hash_for(hasher_key: tuple[Any, ...], hasher: Any, password: str) -> str:
    """One hash per hasher configuration and password. Keyed by the configuration, not by the
    hasher object: every app makes its own, and a cache keyed by it never hits."""
    found = _HASHES.get((hasher_key, password))
    if found is None:
        if len(_HASHES) >= 256:
            _HASHES.clear()  # bounded, as the cast's passwords are few
        found = _HASHES[(hasher_key, password)] = str(hasher.hash(password))
    return found


def seed(app: FastAPI, *accounts: Account, notes_each: int = 2) -> dict[str, Account]:
    """Put accounts (with properly stored passwords) and a few private notes straight into the
    app's store: setting the scene, not part of any attack."""
    service = app.state.service
    settings = service.settings
    key = (service.layers.make_hasher, settings.argon2_memory_kib, settings.argon2_time_cost,
           settings.argon2_parallelism)
    for account in accounts:
        service.store.add_user(account.username, _hash_for(key, service.hasher, account.password),
                               role=account.role, email=account.email)
        for n in range(1, notes_each + 1):
            account.notes.append(service.store.add_note(
                account.username, f"{account.username}'s private note {n}",
                f"Only {account.username} should ever read this ({n}).",
            ))
    return {account.username: account for account in accounts}


def cast() -> list[Account]:
    return [Account(name, _CAST_PASSWORDS[name], role) for name, role in CAST]


# -- variants of the service -----------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """A version of the service to attack: the reference layers of lessons 0..``upto``, with
    ``seams`` filled by other implementations (a vulnerable variant, or a learner's answers),
    ``settings`` changed, and ``options`` for attacks on things that are not the service's seams
    (lesson 05's installs and audits)."""

    upto: int
    seams: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        for name in ("seams", "settings", "options"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def with_seams(self, **seams: Any) -> Variant:
        return Variant(self.upto, {**self.seams, **seams}, self.settings, self.options,
                       self.label)


def reference(lesson: int) -> Variant:
    return Variant(upto=lesson, label="reference")


@dataclass(frozen=True)
class Attack:
    """One attack of a lesson: ``run`` it on a scene of ``vulnerable`` and it succeeds; on a
    scene of the reference after lesson ``fixed_in`` (and of the final service) it fails."""

    id: str
    title: str
    run: Callable[[Scene], AttackResult]
    vulnerable: Variant
    fixed_in: int
    # Crosses a real network (loopback servers) or runs an external tool: slower, and marked
    # slow in the tests.
    network: bool = False


# -- the scene -------------------------------------------------------------------------------------

_scenes = itertools.count(1)


class Scene:
    """The service under attack: the app of a ``Variant`` in a private folder, its cast of
    accounts (each with ``notes_each`` private notes), an in-process client, and real loopback
    servers started on demand. Use it in a ``with`` block, or call ``close()``: its servers stop
    and its folder is removed.

    The client sees what any client on the network sees: a server error is a 500 answer, not
    an exception here. Its base URL is ``https://testserver``, so Secure cookies are sent back
    (browsers send them over HTTPS only)."""

    def __init__(self, variant: Variant, folder: Path | None = None, *,
                 notes_each: int = 1, accounts: Iterable[Account] | None = None) -> None:
        from lessons.service import create_app
        from lessons.settings import Settings, ensure_private_dir

        self.variant = variant
        self._own_folder = folder is None
        base = Path(tempfile.mkdtemp(prefix="lessons-scene-")) if folder is None else folder
        self.folder = ensure_private_dir(base / f"scene{next(_scenes)}")
        self._servers: list[BackgroundServer] = []
        self._clients: list[httpx2.Client] = []
        settings = Settings.from_env(data_dir=self.folder / "data", **dict(variant.settings))
        self.app = create_app(variant.upto, settings, **dict(variant.seams))
        self.accounts = seed(self.app, *(cast() if accounts is None else accounts),
                             notes_each=notes_each)
        self.client = TestClient(self.app, base_url="https://testserver",
                                 raise_server_exceptions=False)

    @property
    def service(self) -> Any:
        return self.app.state.service

    def raising(self) -> Scene:
        """This scene with a client that raises what the service raises instead of answering
        500: for the checks and the notebooks' try-it cells, where an exception (a stub's
        ``NotImplementedError`` above all) belongs to the learner's code and must be seen as
        such. An attacker's client, like any client on the network, sees only the 500."""
        self.client.close()
        self.client = TestClient(self.app, base_url="https://testserver")
        return self

    @property
    def settings(self) -> Any:
        return self.service.settings

    @property
    def store(self) -> Any:
        return self.service.store

    @property
    def options(self) -> Mapping[str, Any]:
        return self.variant.options

    # -- logging in, as the service's own routes allow -------------------------------------------

    def token_response(self, username: str, scopes: Iterable[str] = ()) -> httpx2.Response:
        account = self.accounts[username]
        form = {"username": account.username, "password": account.password}
        if scopes:
            form["scope"] = " ".join(scopes)
        return self.client.post("/auth/token", data=form)

    def token(self, username: str, scopes: Iterable[str] = ()) -> str:
        """A real token from ``POST /auth/token`` (the OAuth2 password form)."""
        response = self.token_response(username, scopes)
        if response.status_code != 200:
            raise SceneError(f"{username} could not log in: POST /auth/token answered "
                             f"{response.status_code} {response.text[:120]}")
        return str(response.json()["access_token"])

    # -- the network -----------------------------------------------------------------------------

    def serve(self, app: Any = None, **options: Any) -> BackgroundServer:
        """Serve ``app`` (default: this scene's) on a free loopback port, until ``close()``."""
        server = serve_in_background(self.app if app is None else app, **options)
        self._servers.append(server)
        return server

    def http(self, server: BackgroundServer, **options: Any) -> httpx2.Client:
        """A real HTTP client for a server this scene started, closed with the scene."""
        client = httpx2.Client(base_url=server.url, timeout=10, **options)
        self._clients.append(client)
        return client

    # -- the end -----------------------------------------------------------------------------------

    def close(self) -> None:
        for client in self._clients:
            client.close()
        stop_servers(self._servers)
        self._clients.clear()
        self._servers.clear()
        self.client.close()
        self.store.close()
        shutil.rmtree(self.folder if not self._own_folder else self.folder.parent,
                      ignore_errors=True)

    def __enter__(self) -> Scene:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def run(attack: Attack, variant: Variant | None = None, folder: Path | None = None) -> AttackResult:
    """``attack`` on a fresh scene of ``variant`` (default: the vulnerable one it was made for)."""
    with Scene(attack.vulnerable if variant is None else variant, folder) as scene:
        return attack.run(scene)


def run_all(attacks: Iterable[Attack], variant: Variant | str = "vulnerable",
            folder: Path | None = None, **seams: Any) -> list[AttackResult]:
    """Each attack on a fresh scene of its own: ``"vulnerable"`` (each attack's own vulnerable
    variant), ``"reference"`` (its lesson's reference), or a given ``Variant``; ``seams`` are
    plugged into whichever it is (a learner's answers, say)."""
    results = []
    for attack in attacks:
        chosen = (attack.vulnerable if variant == "vulnerable"
                  else reference(attack.fixed_in) if variant == "reference" else variant)
        assert isinstance(chosen, Variant), f"unknown variant {variant!r}"
        results.append(run(attack, chosen.with_seams(**seams) if seams else chosen, folder))
    return results
