from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lessons.settings import SECRET_KEY_FILE, ConfigurationError, Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_values_come_from_prefixed_environment_variables(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "LESSONS_DATA_DIR": str(tmp_path),
        "LESSONS_TOKEN_MINUTES": "5",
        "LESSONS_CORS_ORIGINS": "https://a.example, https://b.example,",
    })
    assert settings.data_dir == tmp_path
    assert settings.token_minutes == 5
    assert settings.cors_origins == ("https://a.example", "https://b.example")


def test_a_number_that_is_not_one_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LESSONS_TOKEN_MINUTES='soon' is not a whole"):
        Settings.from_env({"LESSONS_DATA_DIR": str(tmp_path), "LESSONS_TOKEN_MINUTES": "soon"})


def test_development_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = Settings.from_env({"LESSONS_DATA_DIR": str(tmp_path)})
    second = Settings.from_env({"LESSONS_DATA_DIR": str(tmp_path)})
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert mode(tmp_path / SECRET_KEY_FILE) == 0o600
    assert mode(tmp_path) == 0o700


def test_the_key_never_shows_in_a_repr(tmp_path: Path) -> None:
    settings = Settings.from_env({"LESSONS_DATA_DIR": str(tmp_path)})
    assert settings.secret_key not in repr(settings)


def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs LESSONS_SECRET_KEY"):
        Settings.from_env({"LESSONS_DATA_DIR": str(tmp_path), "LESSONS_ENV": "production"})
    assert not (tmp_path / SECRET_KEY_FILE).exists()


def test_a_short_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="shorter than 32"):
        Settings.from_env({"LESSONS_DATA_DIR": str(tmp_path), "LESSONS_SECRET_KEY": "secret"})


def test_unknown_environment_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LESSONS_ENV"):
        Settings.from_env({"LESSONS_DATA_DIR": str(tmp_path), "LESSONS_ENV": "prod"})


def test_production_turns_the_interactive_docs_off(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from lessons.service import create_app

    settings = Settings.from_env({"LESSONS_DATA_DIR": str(tmp_path), "LESSONS_ENV": "production",
                                  "LESSONS_SECRET_KEY": "k" * 40})
    client = TestClient(create_app(0, settings))
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/health").status_code == 200
