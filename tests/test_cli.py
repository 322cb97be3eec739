"""The command line, run as a learner runs it: a real process, a real port."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from helpers import run_cli as run
from helpers import serving


def test_users_add_reads_the_password_from_stdin(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    result = run("users", "add", "alice", "--role", "admin", stdin="a-long-enough-password\n")
    assert result.returncode == 0, result.stderr
    assert "a-long-enough-password" not in result.stdout + result.stderr

    from lessons.passwords import argon2_hasher
    from lessons.settings import Settings
    from lessons.store import Store

    settings = Settings.from_env()
    user = Store(settings.database).get_user("alice")
    assert user.role == "admin"
    assert argon2_hasher(settings).verify("a-long-enough-password", user.password_hash)


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("users", "add", "Alice!"), "a-long-enough-password\n", "not a valid username"),
    (("users", "add", "alice"), "short\n", "12 to 128 characters"),
    (("users", "add", "alice", "--role", "root"), "", "invalid choice"),
    (("serve", "--lesson", "99"), "", "no lesson '99'"),
    (("serve", "--port", "70000"), "", "not a TCP port"),
])
def test_bad_arguments_get_a_clear_error(args, stdin, message, tmp_path: Path,
                                         monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    result = run(*args, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_duplicate_user_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    assert run("users", "add", "alice", stdin="a-long-enough-password\n").returncode == 0
    again = run("users", "add", "alice", stdin="a-long-enough-password\n")
    assert again.returncode == 2 and "exists already" in again.stderr


@pytest.mark.slow
def test_serve_lesson_0_answers_and_lists_added_users(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    assert run("users", "add", "alice", stdin="a-long-enough-password\n").returncode == 0
    with serving("--lesson", "0") as server:
        health = httpx2.get(f"{server.url}/health", timeout=5)
        assert health.json() == {"status": "ok"}
        users = httpx2.get(f"{server.url}/admin/users", timeout=5).json()
        assert [u["username"] for u in users] == ["alice"]
    assert "after lesson 00" in server.output


def test_lessons_lists_the_course() -> None:
    result = run("lessons")
    assert result.returncode == 0
    assert "00  Tour and threat model" in result.stdout
    assert "00_tour.ipynb" in result.stdout


def test_a_taken_port_says_which_option_to_use(tmp_path: Path, monkeypatch) -> None:
    import socket

    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--lesson", "1", "--port", str(port))
    assert result.returncode == 2
    assert f"127.0.0.1:{port} is taken" in result.stderr
    assert f"--port {port + 1}" in result.stderr
    assert "Errno" not in result.stderr
