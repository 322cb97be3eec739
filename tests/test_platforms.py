"""Every laptop of the room can install the workbook (issue 14): each locked package has, for
each claimed platform and Python, a wheel that platform's pip takes (with its hash in the lock)
or a source release that builds anywhere (pure Python).

It reads PyPI's file lists (the Simple API pip and uv use), cached on disk, so a second run
takes a second. Without PyPI it skips locally, saying why, and fails in CI (LESSONS_CI).
"""

from __future__ import annotations

import os

import pytest

from lessons.supply_chain import lockfile, platforms
from lessons.supply_chain.index import IndexFile, IndexUnreachable, many_release_files
from lessons.supply_chain.lockfile import LockedPackage
from lessons.textfiles import read_text

CLAIMED = {"linux-x86_64", "linux-aarch64", "macos-x86_64", "macos-arm64", "windows-x86_64"}


@pytest.fixture(scope="module")
def files() -> dict[tuple[str, str], list[IndexFile]]:
    entries = [e for lock in lockfile.LOCKS
               for e in platforms.locked_entries(read_text(lock.path))]
    try:
        return many_release_files((e.name, e.version) for e in entries)
    except IndexUnreachable as error:
        if os.environ.get("LESSONS_CI"):
            pytest.fail(f"CI must reach the package index: {error}")
        pytest.skip(f"the package index cannot be reached, so installability is unknown: {error}")


def test_the_claims_match_pyproject() -> None:
    assert {p.id for p in platforms.PLATFORMS} == CLAIMED
    requires = lockfile.project.pyproject()["project"]["requires-python"]
    assert requires == f">={platforms.PYTHONS[0]},<3.{int(platforms.PYTHONS[-1][2:]) + 1}"


@pytest.mark.parametrize("lock", lockfile.LOCKS, ids=lambda lock: lock.name)
@pytest.mark.parametrize("platform", platforms.PLATFORMS, ids=lambda p: p.id)
def test_every_locked_package_installs_there(lock, platform, files) -> None:
    targets = [platforms.Target(platform, python) for python in platforms.PYTHONS]
    problems = platforms.problems(read_text(lock.path), targets, files)
    assert not problems, "\n".join(problems)


def test_sslyze_is_left_out_where_nassl_has_no_wheel(files) -> None:
    plan = platforms.plan(read_text(lockfile.LOCK), platforms.TARGETS, files)
    for target, choices in plan.items():
        names = {choice.package.name for choice in choices}
        intel_mac = target.platform.id == "macos-x86_64"
        assert ("sslyze" in names) != intel_mac, target
        assert ("nassl" in names) != intel_mac, target
        built = {c.package.name for c in choices if c.builds_from_source}
        assert built <= set(platforms.SOURCE_BUILDS), target


# -- the test can fail ----------------------------------------------------------------------------

WHEELS = [IndexFile("nassl-5.4.0-cp311-cp311-macosx_11_0_arm64.whl", "aa"),
          IndexFile("nassl-5.4.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
                    "bb")]
NASSL = LockedPackage("nassl", "5.4.0", ("sha256:aa", "sha256:bb"))


def target(platform_id: str, python: str = "3.11") -> platforms.Target:
    return platforms.Target(next(p for p in platforms.PLATFORMS if p.id == platform_id), python)


def test_a_package_without_a_wheel_there_is_a_problem() -> None:
    assert platforms.choose(target("linux-x86_64"), NASSL, WHEELS).file == WHEELS[1]
    assert platforms.choose(target("macos-arm64"), NASSL, WHEELS).file == WHEELS[0]
    intel = platforms.choose(target("macos-x86_64"), NASSL, WHEELS)
    assert intel.file is None and "no wheel for macOS on Intel" in intel.problem
    assert "no source release either" in intel.problem
    newer = platforms.choose(target("linux-x86_64", "3.12"), NASSL, WHEELS)
    assert newer.file is None  # a cp311 wheel is no use to Python 3.12


def test_a_wheel_missing_from_the_lock_and_a_compiled_source_are_problems() -> None:
    unhashed = LockedPackage("nassl", "5.4.0", ("sha256:aa",))
    assert "not in the lock's hashes" in platforms.choose(target("linux-x86_64"), unhashed,
                                                           WHEELS).problem
    source = [IndexFile("gevent-26.9.0.tar.gz", "cc")]
    gevent = LockedPackage("gevent", "26.9.0", ("sha256:cc",))
    assert "not known to be pure Python" in platforms.choose(target("macos-x86_64"), gevent,
                                                              source).problem
    sslyze = LockedPackage("sslyze", "6.3.1", ("sha256:dd",))
    built = platforms.choose(target("windows-x86_64"), sslyze,
                             [IndexFile("sslyze-6.3.1.tar.gz", "dd")])
    assert built.builds_from_source and not built.problem


def test_markers_are_evaluated_as_each_platform_would() -> None:
    marked = LockedPackage("sslyze", "6.3.1", ("sha256:dd",),
                           "platform_machine != 'x86_64' or sys_platform != 'darwin'")
    assert not target("macos-x86_64").applies(marked)
    assert target("macos-arm64").applies(marked) and target("windows-x86_64").applies(marked)
    old = LockedPackage("gevent", "25.5.1", ("sha256:ee",), "python_full_version < '3.12'")
    assert target("linux-x86_64", "3.11").applies(old)
    assert not target("linux-x86_64", "3.14").applies(old)
