"""`python -m lessons doctor`: a laptop's readiness in seconds, each problem with what to do."""

from __future__ import annotations

import socket
from pathlib import Path

from helpers import run_cli

from lessons import doctor


def test_a_ready_machine_is_reported_ready(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path / "var"))
    result = run_cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ready for the workshop." in result.stdout
    for part in ("Python", "packages", "Jupyter kernel", "data folder", "the service"):
        assert f"✓ {part}" in result.stdout


def test_each_problem_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finding = doctor.free_port(port)
    assert finding.status == doctor.PROBLEM
    assert f"--port {port + 1}" in finding.fix
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o500)
    monkeypatch.setenv("LESSONS_DATA_DIR", str(readonly / "var"))
    try:
        folder = doctor.data_folder()
    finally:
        readonly.chmod(0o700)
    if folder.status == doctor.PROBLEM:  # root can write anywhere; then there is no problem
        assert "LESSONS_DATA_DIR" in folder.fix


def test_a_package_at_another_version_is_a_problem(tmp_path: Path, monkeypatch) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("fastapi==0.0.1\n-e .\n", encoding="utf-8")
    monkeypatch.setattr(doctor, "pinned_requirements",
                        lambda path=requirements: {"fastapi": "0.0.1"})
    finding = doctor.packages()
    assert finding.status == doctor.PROBLEM
    assert "fastapi" in finding.detail and "pip install -r requirements.txt" in finding.fix
