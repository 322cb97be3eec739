"""The Notes service's data: SQLite through the standard library, parameterized queries only.

One connection per thread (SQLite connections must not be shared between threads at the same
time), WAL mode so that readers never wait for a writer, and short transactions so that
several uvicorn workers can share the file.

The one deliberate exception to "parameterized only" is :meth:`Store.search_notes_unsafe`, the
string-built query that lesson 07 attacks. It is named for what it is and only the lessons that
attack it use it.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from lessons.settings import ensure_private_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username      TEXT PRIMARY KEY,
    email         TEXT,
    role          TEXT NOT NULL DEFAULT 'user',
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    -- Lesson 02: what a token's sub names (see new_user_id), and the second of the last
    -- password change (tokens issued in it or before it are refused).
    id                  TEXT NOT NULL UNIQUE,
    password_changed_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS notes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner      TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_by_owner ON notes(owner);
CREATE TABLE IF NOT EXISTS comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    author     TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_by_author ON comments(author, created_at);
CREATE TABLE IF NOT EXISTS revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash    TEXT PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(username);
"""


@dataclass(frozen=True)
class User:
    username: str
    email: str | None
    role: str
    password_hash: str
    created_at: str
    # The account's id: random, never reused, never changed. A token's ``sub`` names it, so a
    # token stands for one account forever, even once its name is free and taken again.
    id: str
    # Unix second of the last password change (0: never): no token issued in it or before it
    # is accepted any more (lesson 02).
    password_changed_at: int = 0


@dataclass(frozen=True)
class Note:
    id: int
    owner: str
    title: str
    body: str
    created_at: str


@dataclass(frozen=True)
class Comment:
    id: int
    author: str
    body: str
    created_at: str


@dataclass(frozen=True)
class Session:
    id_hash: str
    username: str
    csrf_token: str
    created_at: int
    last_seen: int


class Revocations(Protocol):
    """A place for revoked token ids other than the database (lesson 10: Redis)."""

    def revoke_token(self, jti: str, expires_at: int) -> None: ...

    def is_revoked(self, jti: str) -> bool: ...


class DuplicateUser(ValueError):
    """A user with this name exists already."""


class OverQuota(Exception):
    """A comment refused because its author has posted their quota; ``retry_after`` is how
    many seconds until the next one is allowed."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"over the comment quota; retry after {retry_after} s")
        self.retry_after = retry_after


class UnknownUser(LookupError):
    """A write names a user who does not exist: in the service, an account deleted while a
    request of its own was on its way, so that the database's foreign key refused the row."""

    def __init__(self, username: str) -> None:
        super().__init__(username)
        self.username = username


# The largest integer SQLite stores (64 bits, signed). A larger Python int passed as a
# parameter is an OverflowError inside the driver: a 500, unless it is refused first.
SQLITE_MAX_INTEGER = 2**63 - 1


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_user_id() -> str:
    """A new account id: 128 random bits as 32 hex digits. Random, so it says nothing about
    the account and is never made twice; not a secret (every token of the account shows it)."""
    return secrets.token_hex(16)


# The comment quota (lesson 07) compares these stored times with a window in seconds.
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


def _timestamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(TIMESTAMP)


def _seconds(timestamp: str) -> int:
    return int(datetime.strptime(timestamp, TIMESTAMP).replace(tzinfo=UTC).timestamp())


class Store:
    """Every query the service makes, one method each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        ensure_private_dir(path.parent)
        self._local = threading.local()
        # Every open connection with the thread that owns it, so that close() can close them
        # all and connections of threads that have ended are closed instead of piling up.
        self._open: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        # Lesson 10: where revoked token ids live when not in this database (on Redis, shared
        # by every machine: lessons.ratelimit.share_revocations). None: right here.
        self.revocations: Revocations | None = None
        db = self._connection()
        db.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the database file
        db.executescript(SCHEMA)
        self._upgrade()
        # The database holds password hashes and session ids: owner-only, like the folder.
        for suffix in ("", "-wal", "-shm"):
            part = path.with_name(path.name + suffix)
            if part.exists():
                part.chmod(0o600)

    def _upgrade(self) -> None:
        """Bring a database made by an older release up to SCHEMA: give every account an id
        (lesson 02). One transaction, so workers starting together upgrade it once."""
        with self.transaction() as db:
            columns = {row["name"] for row in db.execute("PRAGMA table_info(users)")}
            if "id" not in columns:
                # SQLite cannot add a UNIQUE column: fill it, then index it as unique.
                db.execute("ALTER TABLE users ADD COLUMN id TEXT NOT NULL DEFAULT ''")
                for (username,) in db.execute("SELECT username FROM users").fetchall():
                    db.execute("UPDATE users SET id = ? WHERE username = ?",
                               (new_user_id(), username))
                db.execute("CREATE UNIQUE INDEX users_by_id ON users(id)")
            if "password_changed_at" not in columns:
                db.execute("ALTER TABLE users ADD COLUMN password_changed_at INTEGER NOT NULL"
                           " DEFAULT 0")

    # -- connections -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # check_same_thread=False only so that close() may run from another thread;
            # each connection is still used by the one thread that opened it.
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=5000")
            self._local.db = db
            with self._lock:
                self._close_orphans()
                self._open.append((threading.current_thread(), db))
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction; IMMEDIATE takes the write lock up front, so two workers
        never both read, then both try to upgrade and one fails with "database is locked"."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    @contextmanager
    def _owned_by(username: str) -> Iterator[None]:
        """A write of a row that belongs to ``username``: the foreign key's refusal, when the
        account is gone, becomes ``UnknownUser`` (a fact about the request, for the service to
        answer), not an ``IntegrityError`` (which would be a 500)."""
        try:
            yield
        except sqlite3.IntegrityError as error:
            if "FOREIGN KEY" not in str(error):
                raise
            raise UnknownUser(username) from None

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            for _, db in self._open:
                db.close()
            self._open.clear()
        self._local = threading.local()

    def _close_orphans(self) -> None:
        """Close the connections of threads that have ended (a short-lived thread per request,
        as in some test clients, would otherwise leave one open file behind each time)."""
        alive = []
        for thread, db in self._open:
            if thread.is_alive():
                alive.append((thread, db))
            else:
                db.close()
        self._open = alive

    # -- users -------------------------------------------------------------------------------

    def add_user(self, username: str, password_hash: str, role: str = "user",
                 email: str | None = None) -> User:
        user = User(username, email, role, password_hash, utc_now(), id=new_user_id())
        try:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO users (username, email, role, password_hash, created_at, id)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (user.username, user.email, user.role, user.password_hash, user.created_at,
                     user.id),
                )
        except sqlite3.IntegrityError:
            raise DuplicateUser(username) from None
        return user

    def get_user(self, username: str) -> User | None:
        rows = self.query("SELECT * FROM users WHERE username = ?", (username,))
        return User(**rows[0]) if rows else None

    def get_user_by_id(self, user_id: str) -> User | None:
        rows = self.query("SELECT * FROM users WHERE id = ?", (user_id,))
        return User(**rows[0]) if rows else None

    def token_holder(self, user_id: str, jti: str) -> tuple[User | None, bool]:
        """The account ``user_id`` (None if there is none) and whether the token ``jti`` was
        revoked: what a bearer token needs checked on every request, in one indexed query.
        (With no such account the token is refused anyway, and revoked comes back False.)"""
        if self.revocations is not None:  # on Redis: a lookup in each place
            return self.get_user_by_id(user_id), self.is_revoked(jti)
        rows = self.query(
            "SELECT *, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?) AS revoked"
            " FROM users WHERE id = ?", (jti, user_id))
        if not rows:
            return None, False
        fields = dict(rows[0])
        revoked = bool(fields.pop("revoked"))
        return User(**fields), revoked

    def list_users(self) -> list[User]:
        return [User(**row) for row in self.query("SELECT * FROM users ORDER BY username")]

    def delete_user(self, username: str) -> bool:
        """Delete a user; their notes, comments and sessions go with them (foreign keys)."""
        with self.transaction() as db:
            return db.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount > 0

    def set_password_hash(self, username: str, password_hash: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                       (password_hash, username))

    def change_password(self, user_id: str, verified_hash: str, new_hash: str,
                        changed_at: int) -> bool:
        """Replace the password whose hash was ``verified_hash`` and end everything the old
        one opened, in one transaction: the user's sessions are deleted, and
        ``password_changed_at`` makes every token issued up to ``changed_at`` invalid.

        False (and nothing changed) when the account is gone or its password is no longer
        ``verified_hash``: another change came first, so the current password that was
        checked is not current any more."""
        with self.transaction() as db:
            changed = db.execute(
                "UPDATE users SET password_hash = ?,"
                " password_changed_at = MAX(password_changed_at, ?)"
                " WHERE id = ? AND password_hash = ?",
                (new_hash, changed_at, user_id, verified_hash)).rowcount > 0
            if changed:
                db.execute("DELETE FROM sessions WHERE username ="
                           " (SELECT username FROM users WHERE id = ?)", (user_id,))
        return changed

    def set_role(self, username: str, role: str) -> bool:
        """Change a user's role (an operator's decision); False when there is no such user."""
        with self.transaction() as db:
            return db.execute("UPDATE users SET role = ? WHERE username = ?",
                              (role, username)).rowcount > 0

    # -- notes -------------------------------------------------------------------------------

    def add_note(self, owner: str, title: str, body: str) -> Note:
        created = utc_now()
        with self._owned_by(owner), self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO notes (owner, title, body, created_at) VALUES (?, ?, ?, ?)",
                (owner, title, body, created),
            )
        assert cursor.lastrowid is not None
        return Note(cursor.lastrowid, owner, title, body, created)

    def get_note(self, note_id: int) -> Note | None:
        rows = self.query("SELECT id, owner, title, body, created_at FROM notes WHERE id = ?",
                          (note_id,))
        return Note(**rows[0]) if rows else None

    def get_owned_note(self, owner: str, note_id: int) -> Note | None:
        """The note only if ``owner`` owns it: one query, so there is no gap between the
        existence check and the ownership check for timing or races to show."""
        rows = self.query("SELECT id, owner, title, body, created_at FROM notes"
                          " WHERE id = ? AND owner = ?", (note_id, owner))
        return Note(**rows[0]) if rows else None

    def list_notes(self, owner: str) -> list[Note]:
        rows = self.query("SELECT id, owner, title, body, created_at FROM notes"
                          " WHERE owner = ? ORDER BY id", (owner,))
        return [Note(**row) for row in rows]

    def delete_note(self, note_id: int) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount > 0

    def search_notes(self, owner: str, text: str) -> list[Note]:
        """The owner's notes whose title contains ``text``, matched literally.

        ``text`` travels as a parameter, so it can never change the query; LIKE's own wildcards
        (``%`` and ``_``) are escaped so that they, too, are only characters to look for.
        """
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.query(
            "SELECT id, owner, title, body, created_at FROM notes"
            " WHERE owner = ? AND title LIKE ? ESCAPE '\\' ORDER BY id",
            (owner, pattern),
        )
        return [Note(**row) for row in rows]

    def search_notes_unsafe(self, owner: str, text: str) -> list[Note]:
        """VULNERABLE, for lesson 07 only: builds SQL from the request's text.

        A quote in ``text`` ends the string literal and the rest is read as SQL, so
        ``%' OR 1=1 --`` returns every user's notes and a UNION can read other tables.
        """
        sql = ("SELECT id, owner, title, body, created_at FROM notes "  # noqa: S608 -- on purpose
               f"WHERE owner = '{owner}' AND title LIKE '%{text}%' ORDER BY id")
        return [Note(*row) for row in self._connection().execute(sql).fetchall()]

    # -- comments ----------------------------------------------------------------------------

    def add_comment(self, author: str, body: str) -> Comment:
        created = utc_now()
        with self._owned_by(author), self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO comments (author, body, created_at) VALUES (?, ?, ?)",
                (author, body, created),
            )
        assert cursor.lastrowid is not None
        return Comment(cursor.lastrowid, author, body, created)

    def add_comment_within(self, author: str, body: str, window_seconds: int,
                           wait: Callable[[list[int], int], int]) -> Comment:
        """Add a comment unless its author must wait first; then raise ``OverQuota``.

        ``wait(times, now)`` gets the times (Unix seconds, oldest first) of the author's
        comments of the last ``window_seconds`` seconds, and the time now; it answers how
        many seconds to wait (0: post now). Counting and inserting happen in one IMMEDIATE
        transaction, which holds the database's write lock: two workers posting for the same
        author at the same moment cannot both see room for one more comment.
        """
        now = int(time.time())
        with self._owned_by(author), self.transaction() as db:
            rows = db.execute(
                "SELECT created_at FROM comments WHERE author = ? AND created_at > ?"
                " ORDER BY created_at, id", (author, _timestamp(now - window_seconds)),
            ).fetchall()
            seconds = wait([_seconds(row[0]) for row in rows], now)
            if seconds > 0:
                raise OverQuota(seconds)  # rolls the transaction back: nothing was written
            created = _timestamp(now)
            cursor = db.execute(
                "INSERT INTO comments (author, body, created_at) VALUES (?, ?, ?)",
                (author, body, created),
            )
        assert cursor.lastrowid is not None
        return Comment(cursor.lastrowid, author, body, created)

    def list_comments(self, limit: int | None = None, before: int | None = None) -> list[Comment]:
        """Comments, newest first: at most ``limit`` of them (None: every one), and only those
        older than the comment ``before`` (a cursor: the last id of the previous page)."""
        # SQLite reads a negative LIMIT as "no limit at all". None is spelled -1 here on
        # purpose; a negative number from a client must never get this far (lesson 07's
        # page parameters refuse it). A cursor past every id SQLite can hold means "older than
        # any comment": the first page, not an overflow inside the driver.
        if before is not None:
            before = min(before, SQLITE_MAX_INTEGER)
        rows = self.query(
            "SELECT id, author, body, created_at FROM comments WHERE (? IS NULL OR id < ?)"
            " ORDER BY id DESC LIMIT ?",
            (before, before, -1 if limit is None else limit),
        )
        return [Comment(**row) for row in rows]

    # -- revoked tokens ----------------------------------------------------------------------

    def revoke_token(self, jti: str, expires_at: int) -> None:
        """Remember ``jti`` until the token would have expired anyway, then forget it."""
        if self.revocations is not None:
            self.revocations.revoke_token(jti, expires_at)
            return
        with self.transaction() as db:
            db.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (int(time.time()),))
            db.execute("INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
                       (jti, expires_at))

    def is_revoked(self, jti: str) -> bool:
        if self.revocations is not None:
            return self.revocations.is_revoked(jti)
        return bool(self.query("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)))

    # -- server-side sessions ----------------------------------------------------------------

    def add_session(self, session: Session) -> None:
        with self._owned_by(session.username), self.transaction() as db:
            db.execute(
                "INSERT INTO sessions (id_hash, username, csrf_token, created_at, last_seen)"
                " VALUES (?, ?, ?, ?, ?)",
                (session.id_hash, session.username, session.csrf_token,
                 session.created_at, session.last_seen),
            )

    def get_session(self, id_hash: str) -> Session | None:
        rows = self.query("SELECT * FROM sessions WHERE id_hash = ?", (id_hash,))
        return Session(**rows[0]) if rows else None

    def touch_session(self, id_hash: str, now: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, id_hash))

    def delete_session(self, id_hash: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))

    def delete_expired_sessions(self, idle_since: int, created_before: int) -> int:
        """Remove sessions idle since before ``idle_since`` or created before
        ``created_before`` (lesson 06's housekeeping); returns how many."""
        with self.transaction() as db:
            return db.execute(
                "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
                (idle_since, created_before),
            ).rowcount
