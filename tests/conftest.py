"""Shared fixtures: a cheap but real password hash, and apps in private temporary folders."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from logscan import LeakScan

from lessons import logs
from lessons.service import create_app
from lessons.settings import Settings

# Argon2id still runs, with the smallest cost it accepts: tests lower the cost through
# configuration and never skip the hash.
CHEAP_HASHING = {"LESSONS_ARGON2_MEMORY_KIB": "64", "LESSONS_ARGON2_TIME_COST": "1"}


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in CHEAP_HASHING.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path / "home"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(data_dir=tmp_path / "data")


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(tmp_path: Path) -> AppFactory:
    """``make_app(upto, **overrides)``: each call gets its own data folder."""
    count = 0

    def make(upto: int | str = "final", **overrides: Any) -> FastAPI:
        nonlocal count
        count += 1
        return create_app(upto, Settings.from_env(data_dir=tmp_path / f"app{count}"), **overrides)

    return make


@pytest.fixture
def client_for() -> Callable[[FastAPI], TestClient]:
    return TestClient


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log_line() -> Iterator[LeakScan]:
    """Lesson 08: every line the service logs during the whole run is written as the served
    service writes it (JSON, request stamp, redaction) and scanned when the run ends; a
    password, token, cookie or Authorization value in any line fails the run. See
    tests/logscan.py."""
    scan = LeakScan()
    scan.watch_secrets()
    service = logging.getLogger(logs.SERVICE)
    level = service.level
    service.setLevel(logging.INFO)  # as served: the access and audit lines are INFO
    scan.attach(logging.getLogger())  # the service's loggers propagate to the root
    yield scan
    scan.stop()
    service.setLevel(level)
    leaks = scan.leaks()
    assert not leaks, (f"{len(leaks)} of {len(scan.lines)} log lines written during the run "
                       "hold a secret:\n  " + "\n  ".join(leaks[:20]))
