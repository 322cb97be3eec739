"""The offline room (issue 14): a package cache filled by `python -m lessons.author wheelhouse`
installs the service into a fresh virtual environment with no index at all, every file checked
against the locks, and the packages published only as source build from the cache alone.

Slow (it downloads the service's wheels for this machine, about 45 files, and installs them),
and it needs PyPI to fill the cache: it skips without it locally and fails in CI."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

from lessons import author
from lessons.catalog import ROOT
from lessons.supply_chain import lockfile, platforms, wheelhouse
from lessons.supply_chain.pip_env import pip_environment
from lessons.textfiles import read_text


def _skip_or_fail(why: str) -> None:
    if os.environ.get("LESSONS_CI"):
        pytest.fail(why)
    pytest.skip(why)


def _pip(python: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "pip", *arguments, "--quiet",
                           "--disable-pip-version-check"], capture_output=True, text=True,
                          timeout=600, env=pip_environment(offline=True), cwd=ROOT,
                          encoding="utf-8")


@pytest.mark.slow
def test_the_service_installs_from_the_cache_with_no_index(tmp_path: Path) -> None:
    cache = tmp_path / "wheelhouse"
    target = wheelhouse.this_machine()
    house = wheelhouse.build(cache, [target], lockfile.SERVICE_LOCK)
    if any("Could not" in p or "connection" in p.lower() for p in house.problems):
        _skip_or_fail(f"PyPI cannot be reached to fill the cache: {house.problems[0]}")
    assert not house.problems, "\n".join(house.problems)
    assert len(house.files) >= 40

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    find = ["--no-index", "--find-links", str(cache)]
    # The strict path, offline: every file matches a hash of the locks.
    for step in (["install", *find, "--require-hashes", "-r", str(lockfile.BUILD_LOCK)],
                 ["install", *find, "--require-hashes", "--no-build-isolation",
                  "-r", str(lockfile.SERVICE_LOCK)],
                 ["install", "--no-index", "--no-deps", "--no-build-isolation", "."]):
        done = _pip(python, *step)
        assert done.returncode == 0, done.stderr[-2000:]
    probe = subprocess.run(
        [str(python), "-c", "import tempfile, pathlib; from fastapi.testclient import "
         "TestClient; from lessons.service import create_app; from lessons.settings import "
         "Settings; app = create_app('final', Settings.from_env(data_dir=pathlib.Path("
         "tempfile.mkdtemp()))); print(TestClient(app).get('/health').status_code)"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, encoding="utf-8",
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert probe.stdout.strip() == "200", probe.stderr[-2000:]


@pytest.mark.slow
def test_source_only_packages_build_from_the_cache_alone(tmp_path: Path) -> None:
    cache = tmp_path / "wheelhouse"
    house = wheelhouse.Wheelhouse(cache, [wheelhouse.this_machine()])
    cache.mkdir()
    house.problems += wheelhouse.download_wheels(
        cache, house.targets[0], platforms.locked_entries(read_text(lockfile.BUILD_LOCK)))
    house.problems += wheelhouse.download_sources(
        cache, platforms.locked_entries(read_text(lockfile.LOCK)))
    if house.problems and "sources" not in house.problems[0]:
        _skip_or_fail(f"PyPI cannot be reached to fill the cache: {house.problems[0]}")
    assert not house.problems, house.problems
    wheelhouse.prove_source_builds(house)
    assert not house.problems, house.problems
    assert house.built == {"sslyze-6.3.1.tar.gz": "sslyze-6.3.1-py3-none-any.whl"}


def test_the_command_names_its_targets(capsys, monkeypatch, tmp_path: Path) -> None:
    seen = {}

    def fake_build(folder, targets, lock, index_url=None):
        seen.update(folder=folder, targets=targets, lock=lock)
        folder.mkdir(parents=True, exist_ok=True)
        return wheelhouse.Wheelhouse(folder, list(targets), built={"x.tar.gz": "x.whl"})

    monkeypatch.setattr(wheelhouse, "build", fake_build)
    assert author.main(["wheelhouse", "--dest", str(tmp_path / "wh"),
                        "--platform", "macos-x86_64", "--python", "3.12"]) == 0
    assert [t.id for t in seen["targets"]] == ["macos-x86_64-py3.12"]
    assert seen["lock"] == lockfile.LOCK
    out = capsys.readouterr().out
    assert "--no-index --find-links" in out and "pure Python" in out
    assert author.main(["wheelhouse", "--platform", "solaris"]) == 2
