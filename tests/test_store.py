from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from lessons.store import DuplicateUser, Store


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
