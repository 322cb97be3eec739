from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from lessons.store import DuplicateUser, Session, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "data" / "notes.db")
    yield store
    store.close()


def test_database_and_folder_are_private(store: Store) -> None:
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_users_round_trip_and_duplicates_are_refused(store: Store) -> None:
    store.add_user("alice", "h1", email="alice@example.org")
    assert store.get_user("alice").email == "alice@example.org"
    with pytest.raises(DuplicateUser):
        store.add_user("alice", "h2")
    assert store.get_user("alice").password_hash == "h1"  # the failed insert lost nothing


def test_deleting_a_user_deletes_what_they_own(store: Store) -> None:
    store.add_user("alice", "h")
    note = store.add_note("alice", "t", "b")
    store.add_comment("alice", "hello")
    assert store.delete_user("alice")
    assert store.get_note(note.id) is None
    assert store.list_comments() == []
    assert not store.delete_user("alice")


def test_owned_note_lookup_hides_other_owners(store: Store) -> None:
    store.add_user("alice", "h")
    store.add_user("bob", "h")
    note = store.add_note("alice", "t", "b")
    assert store.get_owned_note("alice", note.id) == note
    assert store.get_owned_note("bob", note.id) is None


def test_search_matches_text_literally(store: Store) -> None:
    store.add_user("alice", "h")
    store.add_user("bob", "h")
    store.add_note("alice", "100% sure", "b")
    store.add_note("alice", "plain", "b")
    store.add_note("bob", "100% bob", "b")
    assert [n.title for n in store.search_notes("alice", "%")] == ["100% sure"]
    assert store.search_notes("alice", "_") == []
    assert store.search_notes("alice", "' OR 1=1 --") == []


def test_unsafe_search_is_injectable(store: Store) -> None:
    store.add_user("alice", "h")
    store.add_user("bob", "h")
    store.add_note("bob", "bob's secret", "b")
    stolen = store.search_notes_unsafe("alice", "%' OR 1=1 --")
    assert [n.owner for n in stolen] == ["bob"]


def test_revocation_is_remembered_until_expiry(store: Store) -> None:
    store.revoke_token("old", 1)  # expired long ago
    store.revoke_token("current", 2**40)
    assert store.is_revoked("current")
    store.revoke_token("another", 2**40)  # each revocation sweeps expired entries
    assert not store.is_revoked("old")


def test_a_tokens_holder_and_its_revocation_come_in_one_answer(store: Store) -> None:
    alice = store.add_user("alice", "h")
    assert store.token_holder(alice.id, "live") == (alice, False)
    store.revoke_token("ended", 2**40)
    assert store.token_holder(alice.id, "ended") == (alice, True)
    assert store.token_holder("no-such-id", "live") == (None, False)
    store.delete_user("alice")
    assert store.token_holder(alice.id, "live") == (None, False)


def test_threads_each_use_their_own_connection(store: Store) -> None:
    store.add_user("alice", "h")
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(20):
                store.add_note("alice", f"{n}-{i}", "b")
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.list_notes("alice")) == 80


def test_connections_of_ended_threads_are_closed(store: Store) -> None:
    """A thread per request (as some test clients do) must not leave an open file each time."""

    def one_query() -> None:
        store.list_users()

    for _ in range(30):
        thread = threading.Thread(target=one_query)
        thread.start()
        thread.join()
    store.list_users()  # this thread's connection sweeps the ended ones
    assert len(store._open) <= 2


def test_every_account_gets_its_own_random_id(store: Store) -> None:
    alice, bob = store.add_user("alice", "h"), store.add_user("bob", "h")
    assert alice.id != bob.id and len(alice.id) == 32
    assert store.get_user_by_id(alice.id) == store.get_user("alice") == alice
    store.delete_user("bob")
    again = store.add_user("bob", "h")
    assert again.id != bob.id and store.get_user_by_id(bob.id) is None


OLD_USERS = """CREATE TABLE users (username TEXT PRIMARY KEY, email TEXT,
    role TEXT NOT NULL DEFAULT 'user', password_hash TEXT NOT NULL, created_at TEXT NOT NULL);
INSERT INTO users VALUES ('alice', NULL, 'user', 'h', '2026-01-01T00:00:00Z');
INSERT INTO users VALUES ('bob', NULL, 'user', 'h', '2026-01-01T00:00:00Z');"""


def test_a_database_from_before_account_ids_is_given_them(tmp_path: Path) -> None:
    path = tmp_path / "data" / "notes.db"
    path.parent.mkdir(mode=0o700)
    old = sqlite3.connect(path)
    old.executescript(OLD_USERS)
    old.close()
    store = Store(path)
    try:
        alice, bob = store.get_user("alice"), store.get_user("bob")
        assert alice.id != bob.id and len(alice.id) == 32 and alice.password_changed_at == 0
        with pytest.raises(sqlite3.IntegrityError):  # the ids are unique, as in a new database
            with store.transaction() as db:
                db.execute("UPDATE users SET id = ? WHERE username = 'bob'", (alice.id,))
    finally:
        store.close()
    again = Store(path)  # opening it again changes nothing
    try:
        assert again.get_user("alice") == alice
    finally:
        again.close()


def test_a_password_change_is_a_compare_and_set_that_ends_the_sessions(store: Store) -> None:
    alice = store.add_user("alice", "old")
    store.add_session(Session("s1", "alice", "csrf", 1, 1))
    assert store.change_password(alice.id, "old", "new", changed_at=100)
    assert store.get_session("s1") is None
    changed = store.get_user_by_id(alice.id)
    assert (changed.password_hash, changed.password_changed_at) == ("new", 100)
    # A second change that verified the old password lost the race: nothing happens.
    assert not store.change_password(alice.id, "old", "other", changed_at=101)
    assert store.get_user_by_id(alice.id).password_hash == "new"
    # The time of the last change never goes back (a clock set back, say).
    assert store.change_password(alice.id, "new", "newer", changed_at=50)
    assert store.get_user_by_id(alice.id).password_changed_at == 100
