"""A package cache for a room without internet: ``python -m lessons.author wheelhouse``.

One folder holds, for every platform and Python of the room, the very files the lock allows
(each checked against its hash as it is downloaded): a wheel per locked package and target,
the build tools, and the source release of each package published only as source. Laptops
then install from it with no index at all::

    pip install --no-index --find-links wheelhouse -r requirements.txt

Why source releases and not wheels built here: a wheel built on this machine has a hash no lock
knows, so the hash-checked install would refuse it. The packages published only as source are
pure Python (``platforms.SOURCE_BUILDS``), so every laptop builds them in seconds with the
setuptools and wheel of the cache. The command proves it: it builds each one from the cache
alone, with no index, and checks that the result is a ``py3-none-any`` wheel, one file for
every platform. A package that needed a compiler would be refused here, not in the room.
"""

from __future__ import annotations

import platform as host
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import parse_wheel_filename

from lessons.supply_chain.lockfile import BUILD_LOCK, LOCK, LockedPackage
from lessons.supply_chain.pip_env import pip_environment
from lessons.supply_chain.platforms import (
    PLATFORMS,
    SOURCE_BUILDS,
    Target,
    locked_entries,
)
from lessons.textfiles import read_text, write_text


@dataclass
class Wheelhouse:
    """What a run put in the folder, and what went wrong."""

    folder: Path
    targets: list[Target]
    problems: list[str] = field(default_factory=list)
    built: dict[str, str] = field(default_factory=dict)  # source package -> wheel built from it

    @property
    def files(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_file())


def this_machine() -> Target:
    """The target this Python runs on (for a test, or a room of identical laptops)."""
    system, machine = sys.platform, host.machine().lower()
    for candidate in PLATFORMS:
        if candidate.sys_platform == system and candidate.platform_machine.lower() == machine:
            return Target(candidate, f"{sys.version_info[0]}.{sys.version_info[1]}")
    raise ValueError(f"This machine ({system}, {machine}) is none of the room's platforms.")


def _line(entry: LockedPackage) -> str:
    hashes = " ".join(f"--hash={h}" for h in entry.hashes)
    return f"{entry.name}=={entry.version} {hashes}\n"


def _pip(arguments: Sequence[str], index_url: str | None,
         timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """pip, as on a learner's laptop (no machine-wide configuration), quietly."""
    index = ["--index-url", index_url] if index_url else []
    command = [sys.executable, "-m", "pip", *arguments, "--quiet", "--no-color",
               "--disable-pip-version-check", *index]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                          check=False, env=pip_environment(), encoding="utf-8")


def _complaint(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")] or lines
    return errors[-1] if errors else f"pip exited with status {done.returncode}"


def download_wheels(folder: Path, target: Target, entries: Iterable[LockedPackage],
                    index_url: str | None = None) -> list[str]:
    """The wheels ``target`` installs for ``entries`` (those whose markers apply there; the
    source-only packages are fetched apart), each checked against the lock's hashes."""
    wanted = [e for e in entries if target.applies(e) and e.name not in SOURCE_BUILDS]
    if not wanted:
        return []
    version = target.python.replace(".", "")
    with tempfile.TemporaryDirectory(prefix="lessons-wheelhouse-") as scratch:
        requirements = Path(scratch) / "requirements.txt"
        # pip download evaluates sys_platform markers for the machine it runs on, not for
        # --platform: the lines go without markers, already chosen for the target.
        write_text(requirements, "".join(_line(e) for e in wanted))
        platforms = [arg for tag in target.platform.pip_platforms
                     for arg in ("--platform", tag)]
        done = _pip(["download", "--no-deps", "--only-binary=:all:", "--require-hashes",
                     *platforms, "--python-version", target.python, "--implementation", "cp",
                     "--abi", f"cp{version}", "--requirement", str(requirements),
                     "--dest", str(folder)], index_url)
    return [] if done.returncode == 0 else [f"{target.id}: {_complaint(done)}"]


def download_sources(folder: Path, entries: Iterable[LockedPackage],
                     index_url: str | None = None) -> list[str]:
    """The source releases of the packages published only as source (hash-checked)."""
    wanted = sorted({(e.name, e.version): e for e in entries
                     if e.name in SOURCE_BUILDS}.values(), key=lambda e: e.name)
    if not wanted:
        return []
    with tempfile.TemporaryDirectory(prefix="lessons-wheelhouse-") as scratch:
        requirements = Path(scratch) / "requirements.txt"
        write_text(requirements, "".join(_line(e) for e in wanted))
        done = _pip(["download", "--no-deps", "--no-binary=:all:", "--require-hashes",
                     "--requirement", str(requirements), "--dest", str(folder)], index_url)
    return [] if done.returncode == 0 else [f"sources: {_complaint(done)}"]


def prove_source_builds(house: Wheelhouse) -> None:
    """Build each source release from the cache alone (no index: the build tools come from the
    cache too) and check that the wheel is pure Python, one file for every platform."""
    for source in sorted(house.folder.glob("*.tar.gz")):
        with tempfile.TemporaryDirectory(prefix="lessons-build-") as out:
            done = _pip(["wheel", "--no-deps", "--no-index", "--find-links", str(house.folder),
                         "--wheel-dir", out, str(source)], None, timeout=600)
            if done.returncode != 0:
                house.problems.append(f"{source.name} does not build from the cache alone: "
                                      f"{_complaint(done)}")
                continue
            (wheel,) = Path(out).glob("*.whl")
            tags = {str(tag) for tag in parse_wheel_filename(wheel.name)[3]}
            if tags != {"py3-none-any"}:
                house.problems.append(f"{source.name} builds {wheel.name}, which is not pure "
                                      "Python: every platform needs a wheel built for it")
            house.built[source.name] = wheel.name


def build(folder: Path, targets: Sequence[Target], lock: Path = LOCK,
          index_url: str | None = None) -> Wheelhouse:
    """Fill ``folder`` for ``targets`` from ``lock`` and the build lock; see the module's
    docstring. Files already there are kept (pip skips what it already has)."""
    folder.mkdir(parents=True, exist_ok=True)
    house = Wheelhouse(folder, list(targets))
    entries = locked_entries(read_text(lock))
    build_tools = locked_entries(read_text(BUILD_LOCK))
    # The build tools are pure Python: the first target's pip takes the one wheel of each.
    house.problems += download_wheels(folder, targets[0], build_tools, index_url)
    for target in targets:
        house.problems += download_wheels(folder, target, entries, index_url)
    house.problems += download_sources(folder, entries, index_url)
    if not house.problems:
        prove_source_builds(house)
    return house


def targets_for(platform_ids: Iterable[str] = (), pythons: Iterable[str] = ()) -> list[Target]:
    """The room's targets: the given platforms and Pythons (default: every one claimed)."""
    from lessons.supply_chain.platforms import PYTHONS

    chosen_platforms = list(platform_ids) or [p.id for p in PLATFORMS]
    chosen_pythons = list(pythons) or list(PYTHONS)
    known = {p.id: p for p in PLATFORMS}
    unknown = [p for p in chosen_platforms if p not in known]
    if unknown:
        raise ValueError(f"Unknown platform {', '.join(unknown)}: choose from "
                         f"{', '.join(known)}.")
    return [Target(known[p], v) for p in chosen_platforms for v in chosen_pythons]
