"""Does every locked package install on every laptop of the room?

A universal lock says which release of each package to install everywhere; it does not say
that the release has a file for every platform. sslyze 6.3.1 needs nassl 5.4.0, which publishes
no wheel for macOS on Intel and no source to build one: ``pip install`` fails there. This
module answers the question for each platform and Python the workbook claims, without those
machines: it evaluates the lock's environment markers as each one would, and looks, among the
files the index offers for each locked release, for one that machine's pip would take.

"Installable" means a wheel whose tags that machine accepts and whose hash is in the lock, or a
source release of a package known to be pure Python (it builds anywhere with the locked
setuptools: ``SOURCE_BUILDS``). A package with compiled code and no wheel is not installable:
a learner's laptop has no compiler.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import parse_wheel_filename

from lessons.supply_chain.index import IndexFile, many_release_files
from lessons.supply_chain.lockfile import LockedPackage, parse_lock

# The oldest system each platform is claimed for: the tags its pip accepts depend on it.
GLIBC = (2, 31)  # Ubuntu 20.04, Debian 11
MACOS = (12, 0)  # Monterey, the oldest macOS still installed on many Intel Macs


def _manylinux(arch: str) -> tuple[str, ...]:
    modern = [f"manylinux_{GLIBC[0]}_{minor}_{arch}" for minor in range(GLIBC[1], 16, -1)]
    legacy = {"x86_64": ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"],
              "aarch64": ["manylinux2014_aarch64"]}[arch]
    return (*modern, *legacy, f"linux_{arch}")


@dataclass(frozen=True)
class Platform:
    """One kind of laptop: what Python reports there, and the platform tags its pip accepts."""

    id: str
    label: str
    sys_platform: str
    platform_system: str
    platform_machine: str
    os_name: str
    tags: tuple[str, ...]
    # How pip download names it (`--platform`, several allowed) and how uv does.
    pip_platforms: tuple[str, ...]
    uv_platform: str


PLATFORMS: tuple[Platform, ...] = (
    Platform("linux-x86_64", "Linux on x86_64", "linux", "Linux", "x86_64", "posix",
             _manylinux("x86_64"), _manylinux("x86_64")[:-1], "x86_64-unknown-linux-gnu"),
    Platform("linux-aarch64", "Linux on ARM (aarch64)", "linux", "Linux", "aarch64", "posix",
             _manylinux("aarch64"), _manylinux("aarch64")[:-1], "aarch64-unknown-linux-gnu"),
    Platform("macos-x86_64", "macOS on Intel", "darwin", "Darwin", "x86_64", "posix",
             tuple(mac_platforms(MACOS, "x86_64")), tuple(mac_platforms(MACOS, "x86_64")),
             "x86_64-apple-darwin"),
    Platform("macos-arm64", "macOS on Apple silicon", "darwin", "Darwin", "arm64", "posix",
             tuple(mac_platforms(MACOS, "arm64")), tuple(mac_platforms(MACOS, "arm64")),
             "aarch64-apple-darwin"),
    Platform("windows-x86_64", "Windows on x86_64", "win32", "Windows", "AMD64", "nt",
             ("win_amd64",), ("win_amd64",), "x86_64-pc-windows-msvc"),
)
PYTHONS: tuple[str, ...] = ("3.11", "3.12", "3.13", "3.14")

# Packages published as source only that are pure Python: they build into one
# ``py3-none-any`` wheel on any machine with the locked setuptools (the wheelhouse command
# checks that it does). Any other package without a wheel for a platform cannot install there.
SOURCE_BUILDS: dict[str, str] = {
    "sslyze": "pure Python; its compiled part is nassl, which ships wheels",
}


@dataclass(frozen=True)
class Target:
    """One platform with one Python: a laptop of the room."""

    platform: Platform
    python: str

    @property
    def id(self) -> str:
        return f"{self.platform.id}-py{self.python}"

    def __str__(self) -> str:
        return f"{self.platform.label}, Python {self.python}"

    @property
    def environment(self) -> dict[str, str]:
        """The values of PEP 508 environment markers on this machine (CPython)."""
        return {
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "implementation_version": f"{self.python}.0", "python_version": self.python,
            "python_full_version": f"{self.python}.0", "os_name": self.platform.os_name,
            "sys_platform": self.platform.sys_platform,
            "platform_system": self.platform.platform_system,
            "platform_machine": self.platform.platform_machine,
            "platform_release": "", "platform_version": "", "extra": "",
        }

    @cached_property
    def tags(self) -> frozenset[Tag]:
        """Every wheel tag this machine's pip accepts."""
        version = tuple(int(part) for part in self.python.split("."))
        interpreter = f"cp{version[0]}{version[1]}"
        platforms = list(self.platform.tags)
        return frozenset((*cpython_tags(version, [interpreter], platforms),
                          *compatible_tags(version, interpreter, platforms)))

    def applies(self, entry: LockedPackage) -> bool:
        return not entry.marker or Marker(entry.marker).evaluate(self.environment)

    def accepts(self, file: IndexFile) -> bool:
        """Would this machine's pip install this wheel?"""
        if not file.is_wheel or file.yanked or not self._python_ok(file):
            return False
        return bool(parse_wheel_filename(file.filename)[3] & self.tags)

    def _python_ok(self, file: IndexFile) -> bool:
        try:
            return not file.requires_python or SpecifierSet(file.requires_python).contains(
                f"{self.python}.0", prereleases=True)
        except InvalidSpecifier:
            return True  # pip ignores a requires-python it cannot read


TARGETS: tuple[Target, ...] = tuple(Target(p, v) for p in PLATFORMS for v in PYTHONS)


@dataclass(frozen=True)
class Choice:
    """What one target installs for one locked package: a wheel, a source build, or nothing."""

    target: Target
    package: LockedPackage
    file: IndexFile | None
    problem: str = ""

    @property
    def builds_from_source(self) -> bool:
        return self.file is not None and not self.file.is_wheel


def locked_entries(lock_text: str) -> list[LockedPackage]:
    return [entry for entries in parse_lock(lock_text).values() for entry in entries]


def choose(target: Target, entry: LockedPackage, files: Iterable[IndexFile]) -> Choice:
    """The file ``target`` installs for ``entry``: a wheel it accepts, with a locked hash; else
    the source of a pure-Python package; else a problem saying what is missing."""
    files = list(files)
    hashes = {h.removeprefix("sha256:") for h in entry.hashes}
    wheels = [f for f in files if target.accepts(f)]
    hashed = [f for f in wheels if f.sha256 in hashes]
    if hashed:
        return Choice(target, entry, hashed[0])
    if wheels:
        return Choice(target, entry, None, f"{entry.name}=={entry.version}: the wheel "
                      f"{wheels[0].filename} is not in the lock's hashes (run the lock command "
                      "again)")
    sources = [f for f in files if not f.is_wheel and not f.yanked and f.sha256 in hashes]
    if sources and entry.name in SOURCE_BUILDS:
        return Choice(target, entry, sources[0])
    have = ", ".join(sorted(f.filename for f in files if f.is_wheel)[:4]) or "none"
    why = (f"only a source release ({sources[0].filename}), and it is not known to be pure "
           "Python" if sources else "no source release either")
    return Choice(target, entry, None,
                  f"{entry.name}=={entry.version}: no wheel for {target} ({why}; wheels: "
                  f"{have}{', ...' if len([f for f in files if f.is_wheel]) > 4 else ''})")


def plan(lock_text: str, targets: Iterable[Target] = TARGETS,
         files: Mapping[tuple[str, str], list[IndexFile]] | None = None
         ) -> dict[Target, list[Choice]]:
    """For each target, what it installs for every locked package whose marker applies there.
    Reads the index (``many_release_files``) unless ``files`` is given."""
    entries = locked_entries(lock_text)
    if files is None:
        files = many_release_files((e.name, e.version) for e in entries)
    return {target: [choose(target, e, files[(e.name, e.version)])
                     for e in entries if target.applies(e)] for target in targets}


def problems(lock_text: str, targets: Iterable[Target] = TARGETS,
             files: Mapping[tuple[str, str], list[IndexFile]] | None = None) -> list[str]:
    """Every locked package that some target cannot install, with why."""
    return [f"{target.id}: {choice.problem}"
            for target, choices in plan(lock_text, targets, files).items()
            for choice in choices if choice.problem]
