"""The hash-locked requirements files: what they hold, how they are made, and the test that
they agree with what ``pyproject.toml`` declares.

Three locks, each universal (one file for Linux, macOS and Windows, every supported Python),
every file of every locked version hashed:

- ``requirements.lock``: the service and every extra, what a learner's machine installs;
- ``requirements-service.lock``: the service alone, what the container image installs and
  what lesson 05's audit judges. It is the universal lock cut down to the service (compiled
  with the universal lock as constraints), so every version in it is the version the tests ran;
- ``requirements-build.lock``: the build tools, installed first by the strict install so that
  a package published only as source is built with hash-checked tools (pip's hash-checking
  mode does not cover what it fetches into an isolated build environment).

One command writes all three: ``python -m lessons.author lock`` (uv, from PyPI).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lessons.catalog import ROOT
from lessons.supply_chain import project
from lessons.supply_chain.pins import (
    canonical_name,
    loose_requirements,
    parse_pins,
    requirements,
)
from lessons.textfiles import read_text, write_text

LOCK = ROOT / "requirements.lock"
SERVICE_LOCK = ROOT / "requirements-service.lock"
BUILD_LOCK = ROOT / "requirements-build.lock"

# The one command that regenerates the lock files from pyproject.toml.
LOCK_COMMAND = "python -m lessons.author lock"
# The oldest Python the workbook supports; pyproject.toml's requires-python says the newest.
LOCK_PYTHON = "3.11"


@dataclass(frozen=True)
class Lock:
    """One lock file and the groups of ``pyproject.toml`` it covers."""

    path: Path
    groups: tuple[str, ...]
    purpose: str

    @property
    def name(self) -> str:
        return self.path.name


LOCKS: tuple[Lock, ...] = (
    Lock(LOCK, project.GROUPS, "everything a learner installs"),
    Lock(SERVICE_LOCK, (project.SERVICE,), "the service alone: the container, the audit"),
    Lock(BUILD_LOCK, (project.BUILD,), "the build tools, installed first"),
)


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    hashes: tuple[str, ...]
    marker: str = ""


def parse_lock(text: str) -> dict[str, list[LockedPackage]]:
    """The entries of a hash-locked requirements file, by canonical name. A universal lock may
    list one name more than once, for different Python versions or platforms."""
    locked: dict[str, list[LockedPackage]] = {}
    for line, spec, requirement in requirements(text):
        if requirement is None:
            continue
        name = canonical_name(requirement.name)
        version = parse_pins(spec).get(name, "")
        locked.setdefault(name, []).append(LockedPackage(
            name=name, version=version, hashes=tuple(re.findall(r"--hash=(\S+)", line)),
            marker=str(requirement.marker or ""),
        ))
    return locked


def brought_in_by(lock_text: str, parent: str) -> list[str]:
    """The locked packages whose ``# via`` notes name ``parent``: what installing it drags in."""
    wanted, found, current = canonical_name(parent), [], ""
    for line in lock_text.splitlines():
        entry = re.match(r"([A-Za-z0-9][\w.-]*)\s*==", line)
        if entry:
            current = canonical_name(entry[1])
            continue
        via = re.match(r"\s+#\s+(?:via\s+)?([A-Za-z0-9][\w.-]*)\s*$", line)
        if via and canonical_name(via[1]) == wanted and current not in found:
            found.append(current)
    return found


# -- agreement ----------------------------------------------------------------------------------


def marked_pins(text: str) -> list[tuple[str, str, str]]:
    """``(name, version, marker)`` for every exact pin; the marker is "" when there is none."""
    found = []
    for _, spec, requirement in requirements(text):
        if requirement is not None and (version := parse_pins(spec).get(
                canonical_name(requirement.name))):
            found.append((canonical_name(requirement.name), version,
                          str(requirement.marker or "")))
    return found


def lock_problems(requirements_text: str, lock_text: str) -> list[str]:
    """Why the lock does not agree with the requirements (empty when it does): every exact pin
    must be locked at the same version, every locked package must carry hashes, and every
    requirement must be an exact pin."""
    problems = [f"{line!r} is not an exact pin (name==version)"
                for line in loose_requirements(requirements_text)]
    locked = parse_lock(lock_text)
    for name, version, marker in sorted(marked_pins(requirements_text)):
        entries = locked.get(name)
        if not entries:
            problems.append(f"{name}=={version} is pinned but not in the lock")
            continue
        # A pin for some environments only (a marker) must be among the locked versions; a
        # pin for all of them must be the only one.
        other = sorted({e.version for e in entries if e.version != version})
        if (marker and len(other) == len(entries)) or (not marker and other):
            problems.append(f"{name} is pinned at {version} but locked at {', '.join(other)}")
    for name, entries in sorted(locked.items()):
        if any(not e.hashes for e in entries):
            problems.append(f"{name} is locked without a hash")
        if any(not e.version for e in entries):
            problems.append(f"{name} is in the lock without an exact version")
    return problems


def subset_problems(part_text: str, whole_text: str) -> list[str]:
    """Why a lock is not a part of another (the service lock of the universal one): each of its
    packages must be in the whole at the same version, with the same files."""
    whole = parse_lock(whole_text)
    problems = []
    for name, entries in sorted(parse_lock(part_text).items()):
        for entry in entries:
            same = [e for e in whole.get(name, []) if e.version == entry.version]
            if not same:
                problems.append(f"{name}=={entry.version} is not in the universal lock")
            elif set(entry.hashes) != set(same[0].hashes):
                problems.append(f"{name}=={entry.version} has other files than in the "
                                "universal lock")
    return problems


def all_problems() -> list[str]:
    """Everything that makes the declaration and the three locks disagree."""
    data = project.pyproject()
    problems = project.declaration_problems(data)
    problems += project.requirements_txt_problems(read_text(project.REQUIREMENTS), data)
    texts = {}
    for lock in LOCKS:
        if not lock.path.exists():
            problems.append(f"{lock.name} does not exist")
            continue
        texts[lock.name] = read_text(lock.path)
        problems += [f"{lock.name}: {problem}" for problem in
                     lock_problems(project.declared_text(lock.groups, data), texts[lock.name])]
    if LOCK.name in texts and SERVICE_LOCK.name in texts:
        problems += [f"{SERVICE_LOCK.name}: {problem}" for problem in
                     subset_problems(texts[SERVICE_LOCK.name], texts[LOCK.name])]
    return problems


# -- compiling ------------------------------------------------------------------------------------


def _uv(arguments: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "uv", "pip", "compile", *arguments, "--universal",
               "--generate-hashes", "--python-version", LOCK_PYTHON, "--custom-compile-command",
               LOCK_COMMAND, "--quiet", "--no-config"]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True,  # noqa: S603
                          check=False, encoding="utf-8")


def constraints(lock_text: str) -> str:
    """The versions of a universal lock as constraints (``name==version ; marker``)."""
    return "".join(f"{e.name}=={e.version}" + (f" ; {e.marker}" if e.marker else "") + "\n"
                   for entries in parse_lock(lock_text).values() for e in entries)


def compile_locks() -> subprocess.CompletedProcess[str]:
    """Regenerate the three lock files with uv; stops at the first failure and returns it."""
    extras = [argument for extra in project.EXTRAS for argument in ("--extra", extra)]
    done = _uv(["pyproject.toml", *extras, "--output-file", str(LOCK)], ROOT)
    if done.returncode != 0:
        return done
    with tempfile.TemporaryDirectory(prefix="lessons-lock-") as folder:
        pinned = Path(folder) / "universal-versions.txt"
        write_text(pinned, constraints(read_text(LOCK)))
        done = _uv(["pyproject.toml", "--constraint", str(pinned), "--output-file",
                    str(SERVICE_LOCK)], ROOT)
    if done.returncode != 0:
        return done
    return _uv(["--group", f"pyproject.toml:{project.BUILD}", "--output-file", str(BUILD_LOCK)],
               ROOT)
