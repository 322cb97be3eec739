"""Configuration of the Notes service, read from ``LESSONS_*`` environment variables.

Nothing secret is a literal in this file: the signing key comes from the environment or,
in development only, from a random key generated once and kept in the data folder.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lessons.catalog import data_home

PREFIX = "LESSONS_"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 -- a file name, not a secret


class ConfigurationError(RuntimeError):
    """The service cannot start with this configuration; the message says what to change."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=data_home)
    env: str = "development"
    # repr=False: a settings object printed in a notebook or a log never shows the key.
    secret_key: str = field(default="", repr=False)
    # The exact origins (scheme://host[:port]) whose pages may read answers with the user's
    # credentials (lesson 09, CORS); checked when the app is built. Empty: no other origin.
    cors_origins: tuple[str, ...] = ()
    # Origins besides the service's own whose pages may log in and write with the session
    # cookie (lesson 06): a front end on a sibling host, or the public origin when a proxy
    # rewrites the Host header. Empty: the service's own origin only.
    trusted_origins: tuple[str, ...] = ()
    # Addresses (or networks) of the TLS-terminating proxies in front of the service, the only
    # peers whose X-Forwarded-Proto/-For are believed (lesson 04). Empty: believe nobody.
    trusted_proxies: tuple[str, ...] = ()
    # The host names (and addresses) the service answers for; any other Host gets 400
    # (lesson 04). Loopback by default, and "testserver": the name Starlette's in-process
    # TestClient sends, which no DNS resolves. A deployment lists its own names.
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1", "testserver")
    # OWASP Password Storage Cheat Sheet minimum for Argon2id: 19 MiB, 2 iterations, 1 lane.
    argon2_memory_kib: int = 19456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    token_minutes: int = 15
    token_issuer: str = "notes-service"  # noqa: S105 -- public claim values, not secrets
    token_audience: str = "notes-api"  # noqa: S105
    session_idle_minutes: int = 30
    session_absolute_hours: int = 8
    max_body_bytes: int = 64 * 1024
    # Lesson 07: how many comments one user may post within a sliding window of this many
    # seconds; the next one is answered 429 with Retry-After.
    comment_quota: int = 20
    comment_quota_seconds: int = 600
    # Lesson 10: failed password checks allowed within the window, per username from one client
    # address and per client address whatever the username; then 429 with Retry-After.
    login_failures_per_user: int = 5
    login_failures_per_client: int = 20
    login_window_seconds: int = 300
    # Lesson 10: registrations one client address may attempt within the window (each answer
    # says whether a username is taken, and each costs a hash).
    registrations_per_client: int = 10
    registration_window_seconds: int = 3600
    # Lesson 10: each worker's hashing queue: hashes waiting or running at once, and how many
    # of those one client address may hold. A full queue answers 503 with Retry-After.
    hashing_queue: int = 16
    hashing_queue_per_client: int = 4
    # Lesson 10: limits of the server itself, applied by `python -m lessons serve`: the bytes
    # of a request line and headers, the seconds a connection may take to send them, the
    # seconds an idle keep-alive connection stays open, and open connections per worker.
    max_header_bytes: int = 16 * 1024
    header_timeout_seconds: int = 5
    keepalive_timeout_seconds: int = 5
    max_connections: int = 512
    # Lesson 10: where state every worker and machine must share lives (the limiter's counts,
    # revoked tokens): a redis:// URL, or empty for the service's own SQLite database.
    redis_url: str = ""
    log_file: str = ""

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def database(self) -> Path:
        return self.data_dir / "notes.db"

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``LESSONS_<FIELD>`` variables, then ``overrides``, then the secret key."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f.name, raw, f.type)
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.env not in ("development", "production"):
            raise ConfigurationError(
                f"LESSONS_ENV must be 'development' or 'production', not {settings.env!r}."
            )
        return settings.with_secret_key()

    def with_secret_key(self) -> Settings:
        """Fill in the signing key: required in production, generated once in development."""
        if self.secret_key:
            if len(self.secret_key) < 32:
                raise ConfigurationError(
                    "LESSONS_SECRET_KEY is shorter than 32 characters: a short key can be "
                    "guessed offline from any token it signed. Generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
                )
            return self
        if self.production:
            raise ConfigurationError(
                "LESSONS_ENV=production needs LESSONS_SECRET_KEY: the service will not invent "
                "a key in production, where several instances must share the same one."
            )
        return self.replace(secret_key=development_key(self.data_dir))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` readable by its owner only (it holds the database, keys and certificates)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file that is owner-only (0600) from the moment it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def development_key(data_dir: Path) -> str:
    """The development signing key: random, created on first use, stored with 0600 permissions."""
    ensure_private_dir(data_dir)
    path = data_dir / SECRET_KEY_FILE
    try:
        write_private_file(path, secrets.token_urlsafe(32).encode())
    except FileExistsError:
        pass  # another worker or an earlier run made it: use that one, so tokens stay valid
    return path.read_text(encoding="ascii").strip()


def _parse(name: str, raw: str, kind: object) -> object:
    kind = str(kind)
    try:
        if kind == "int":
            return int(raw)
        if kind == "Path":
            return Path(raw)
        if kind.startswith("tuple"):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
    except ValueError:
        raise ConfigurationError(
            f"{PREFIX}{name.upper()}={raw!r} is not a whole number."
        ) from None
    return raw
