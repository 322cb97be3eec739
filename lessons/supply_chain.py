"""Lesson 05, reference layer: dependency security.

The service's own code is a small part of what runs; the rest is other people's packages. This
module holds what the lesson builds around them (OWASP ASVS 5.0 V15.1 and V15.2):

- reading exact pins from a requirements or lock file (``parse_pins``);
- an audit of those pins against advisories in OSV format (``affected``), with a dated snapshot
  of real advisories shipped in ``lessons/data`` and ``pip-audit`` run live when it can be;
- triage: findings that do not reach our code, accepted in a small exceptions file with a
  reason and a review date (``triage``, ``load_exceptions``);
- the hash-locked requirements file: how it is made (``compile_lock``, one command:
  ``python -m lessons.author lock``) and the test that it agrees with ``requirements.txt``
  (``lock_problems``);
- the container recipe's checks (a supported Python, a non-root user, the strict install).

Plain functions and small dataclasses; nothing here runs at import time or touches the network
unless asked to.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import jwt as pyjwt  # PyJWT, imported under another name: python-jose also offers a `jwt`
from jose import JWTError
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from lessons import tokens
from lessons.catalog import ROOT
from lessons.settings import Settings

DATA = Path(__file__).resolve().parent / "data"
SNAPSHOT_FILE = DATA / "osv_snapshot.json"
EXCEPTIONS_FILE = DATA / "audit_exceptions.toml"
REQUIREMENTS = ROOT / "requirements.txt"
LOCK = ROOT / "requirements.lock"
# The build tools, locked on their own: installed first, so that a package published only as
# source (sslyze) is built with a hash-checked setuptools. pip's hash-checking mode does not
# cover the build dependencies it fetches into an isolated build environment.
BUILD_LOCK = ROOT / "requirements-build.lock"
BUILD_TOOLS = ("setuptools",)

# The one command that regenerates requirements.lock from requirements.txt.
LOCK_COMMAND = "python -m lessons.author lock"
# The oldest Python the workbook supports: the lock must install there and on every newer one.
LOCK_PYTHON = "3.11"

Advisory = Mapping[str, Any]  # one OSV record, as parsed from JSON


# --------------------------------------------------------------------------------------------
# Pins
# --------------------------------------------------------------------------------------------


def canonical_name(name: str) -> str:
    """The name PyPI compares (PEP 503): case and runs of ``-``, ``_``, ``.`` do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(text: str) -> Iterator[str]:
    """The logical lines of a requirements file: continuations joined, comments and blank lines
    dropped. (A ``#`` starts a comment at the start of a line or after white space only; in a
    URL such as ``...#egg=x`` it does not.)"""
    joined = re.sub(r"\\\r?\n", " ", text)
    for raw in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            yield line


def parse_pins(text: str) -> dict[str, str]:
    """``{canonical name: version}`` for every requirement pinned exactly with ``==``.

    Options (``-e .``, ``-r``, ``--hash=...``), version ranges, URLs and wildcards are not exact
    pins and are left out; extras (``uvicorn[standard]``) and environment markers are dropped
    from the name."""
    pins: dict[str, str] = {}
    for line in requirement_lines(text):
        if line.startswith("-"):
            continue
        spec = line.split(" --", 1)[0]  # per-requirement options such as --hash
        try:
            requirement = Requirement(spec)
        except InvalidRequirement:
            continue
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1:
            continue
        (only,) = specifiers
        if only.operator in ("==", "===") and "*" not in only.version:
            pins[canonical_name(requirement.name)] = only.version
    return pins


def requirements(text: str) -> Iterator[tuple[str, str, Requirement | None]]:
    """Each requirement of a requirements file (options such as ``-e .`` skipped) as
    ``(line, spec, parsed)``: the spec without per-requirement options such as ``--hash``,
    and the parsed requirement, or None when the spec is not one."""
    for line in requirement_lines(text):
        if line.startswith("-"):
            continue
        spec = line.split(" --", 1)[0]
        try:
            yield line, spec, Requirement(spec)
        except InvalidRequirement:
            yield line, spec, None


def loose_requirements(text: str) -> list[str]:
    """Requirement lines that are not exact pins (``fastapi>=0.100``, ``requests``): each one
    lets the next install pick a different version from the one you tested."""
    return [line for line, spec, requirement in requirements(text)
            if requirement is None or canonical_name(requirement.name) not in parse_pins(spec)]


# --------------------------------------------------------------------------------------------
# Advisories (OSV format) and the audit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One advisory that affects one pinned package."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fixed: str | None = None  # the first release that fixes it on this line, if there is one
    summary: str = ""
    # When the advisory names no fix but the last affected release: later ones are not affected.
    last_affected: str | None = None

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.id, *self.aliases))

    def __str__(self) -> str:
        also = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.package} {self.version}: {self.id}{also}, {self.remedy}"

    @property
    def remedy(self) -> str:
        if self.fixed:
            return f"fixed in {self.fixed}"
        if self.last_affected:
            return f"releases after {self.last_affected} are not affected"
        return "no fixed release"


@dataclass(frozen=True)
class Snapshot:
    """Advisories saved at a known date from a known source, so an audit can run offline and
    give the same answer every time; ``about`` says when and where from."""

    about: Mapping[str, Any]
    vulns: tuple[Advisory, ...]

    @property
    def taken(self) -> str:
        return str(self.about.get("taken", ""))

    def by_id(self, advisory_id: str) -> Advisory:
        return next(v for v in self.vulns if advisory_id in (v["id"], *v.get("aliases", [])))


def load_snapshot(path: Path = SNAPSHOT_FILE) -> Snapshot:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Snapshot(about=data["snapshot"], vulns=tuple(data["vulns"]))


_EVENT_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 1, "limit": 1}


def _event(event: Mapping[str, str]) -> tuple[str, Version | None, str]:
    """``(kind, version, text)`` of one OSV range event; ``introduced: "0"`` is ``None``, which
    sorts before every version."""
    ((kind, text),) = event.items()
    return kind, (None if text == "0" else Version(text)), text


def _sort_key(item: tuple[str, Version | None, str]) -> tuple[int, Version, int]:
    kind, version, _ = item
    return (0, Version("0"), 0) if version is None else (1, version, _EVENT_ORDER.get(kind, 2))


def in_range(version: Version, events: Sequence[Mapping[str, str]]
             ) -> tuple[bool, str | None, str | None]:
    """``(affected, fixed, last_affected)`` for ``version`` and one OSV ``ECOSYSTEM`` range:
    whether it falls in the range, and the event that ends the stretch it is in: the ``fixed``
    release, or the ``last_affected`` one (releases after it are not affected, though the
    advisory names no fix), or neither when nothing ends it.

    The events of a range may describe several stretches (``introduced 0, fixed 1.26.17,
    introduced 2.0.0, fixed 2.0.6``) and may be listed in any order: they are sorted by version
    and walked in order, as the OSV specification describes."""
    affected = False
    for kind, bound, text in sorted((_event(e) for e in events), key=_sort_key):
        if kind == "introduced":
            if bound is not None and version < bound:
                return affected, None, None
            affected = True
        elif kind == "fixed":
            if bound is not None and version < bound:
                return (True, text, None) if affected else (False, None, None)
            affected = False
        elif kind == "last_affected":
            if bound is None or version <= bound:
                return (True, None, text) if affected else (False, None, None)
            affected = False
        elif kind == "limit":
            if bound is None or version < bound:
                return affected, None, None
            affected = False
    return affected, None, None


def affected(pins: Mapping[str, str], advisories: Iterable[Advisory]) -> list[Finding]:
    """Every advisory that affects a pinned version, with the release that fixes it.

    Only PyPI packages and ``ECOSYSTEM`` ranges are read (``GIT`` ranges name commits, not
    releases); versions are compared as versions (``0.9 < 0.19.2``), never as strings; a version
    listed in an advisory's ``versions`` counts as affected too."""
    wanted = {canonical_name(name): version for name, version in pins.items()}
    findings: list[Finding] = []
    for advisory in advisories:
        for entry in advisory.get("affected", []):
            package = entry.get("package", {})
            name = canonical_name(package.get("name", ""))
            if package.get("ecosystem") != "PyPI" or name not in wanted:
                continue
            version = Version(wanted[name])
            hit, fixed, last = False, None, None
            for span in entry.get("ranges", []):
                if span.get("type") != "ECOSYSTEM":
                    continue
                try:
                    hit, fixed, last = in_range(version, span.get("events", []))
                except InvalidVersion:
                    continue  # a range we cannot read; the versions list below may still say
                if hit:
                    break
            if not hit:
                hit = any(_same_version(version, listed) for listed in entry.get("versions", []))
            if hit:
                findings.append(Finding(
                    package=name, version=wanted[name], id=advisory["id"],
                    aliases=tuple(advisory.get("aliases", ())), fixed=fixed,
                    summary=advisory.get("summary") or advisory.get("details", "")[:120],
                    last_affected=last,
                ))
                break  # one finding per advisory and package
    return sorted(findings, key=lambda f: (f.package, f.id))


def _same_version(version: Version, listed: str) -> bool:
    try:
        return Version(listed) == version
    except InvalidVersion:
        return False


def upgrade_advice(findings: Iterable[Finding]) -> dict[str, str | None]:
    """``{package: the lowest release that clears every finding}`` ("a release after X" when an
    advisory only names its last affected release), or None when one finding has no fix at
    all: then the choices are an exception with a reason, or another package."""
    advice: dict[str, str | None] = {}
    for package in sorted({f.package for f in findings}):
        mine = [f for f in findings if f.package == package]
        if any(not f.fixed and not f.last_affected for f in mine):
            advice[package] = None
            continue
        fixed = max((Version(f.fixed) for f in mine if f.fixed), default=None)
        floor = max((Version(f.last_affected) for f in mine if f.last_affected), default=None)
        if floor is not None and (fixed is None or fixed <= floor):
            advice[package] = f"a release after {floor}"
        else:
            advice[package] = str(fixed)
    return advice


def audit_report(findings: Sequence[Finding]) -> str:
    """Findings as lines of plain text, grouped by package, with what clears them."""
    if not findings:
        return "No advisory in the snapshot affects these pins."
    lines = []
    for package in sorted({f.package for f in findings}):
        mine = [f for f in findings if f.package == package]
        fixable = [f for f in mine if f.fixed or f.last_affected]
        todo = []
        if fixable:
            target = upgrade_advice(fixable)[package] or ""
            todo.append(f"upgrade to {target}"
                        + ("" if target.startswith("a release") else " or later"))
        if len(fixable) < len(mine):
            todo.append(f"{len(mine) - len(fixable)} with no fixed release: triage")
        count = f"{len(mine)} advisor{'y' if len(mine) == 1 else 'ies'}"
        lines.append(f"{package} {mine[0].version}: {count}; {'; '.join(todo)}")
        lines.extend(f"    {f.id:<16} {', '.join(f.aliases):<36} {f.remedy}" for f in mine)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Triage: accepted exceptions with a reason and a review date
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditException:
    """A finding we accept, for one package, until a date: the reason is the part that matters,
    and the review date makes sure someone reads it again (ASVS 5.0 15.1.1: documented,
    risk-based remediation time frames)."""

    id: str
    package: str
    reason: str
    review_by: date
    aliases: tuple[str, ...] = ()

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.id, *self.aliases))

    def covers(self, finding: Finding) -> bool:
        return (canonical_name(self.package) == canonical_name(finding.package)
                and bool(self.ids & finding.ids))


class ExceptionsFileError(ValueError):
    """The exceptions file is malformed; the message says which entry and what is missing."""


def load_exceptions(path: Path = EXCEPTIONS_FILE) -> list[AuditException]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    exceptions = []
    for number, entry in enumerate(data.get("exception", []), 1):
        missing = [key for key in ("id", "package", "reason", "review_by") if not entry.get(key)]
        if missing:
            raise ExceptionsFileError(f"{path.name}, exception {number}: missing {missing}.")
        if not isinstance(entry["review_by"], date):
            raise ExceptionsFileError(f"{path.name}, exception {number}: review_by must be a "
                                      "TOML date such as 2027-05-31.")
        exceptions.append(AuditException(
            id=entry["id"], package=entry["package"], reason=" ".join(entry["reason"].split()),
            review_by=entry["review_by"], aliases=tuple(entry.get("aliases", ())),
        ))
    return exceptions


def triage(findings: Iterable[Finding], exceptions: Iterable[AuditException],
           today: date) -> tuple[list[Finding], list[Finding]]:
    """``(still open, accepted)``. An exception is honoured only for the package it names,
    for an advisory id or alias it lists, with a reason, and only until its review date."""
    valid = [e for e in exceptions if e.reason.strip() and today <= e.review_by]
    still_open, accepted = [], []
    for finding in findings:
        (accepted if any(e.covers(finding) for e in valid) else still_open).append(finding)
    return still_open, accepted


# --------------------------------------------------------------------------------------------
# The hash-locked requirements file
# --------------------------------------------------------------------------------------------


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


def lock_input(requirements_text: str) -> str:
    """``requirements.txt`` as the lock is compiled from it: without the editable install of
    this checkout (``-e .``), which has no version on an index and so no hash to lock."""
    kept = []
    for line in requirements_text.splitlines():
        option = line.strip()
        if option.startswith(("-e ", "--editable", "-e.")) or option in (".", "./"):
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def build_lock_input(requirements_text: str) -> str:
    """The pins of the build tools only, from ``requirements.txt``."""
    pins = parse_pins(lock_input(requirements_text))
    return "".join(f"{name}=={pins[name]}\n" for name in BUILD_TOOLS if name in pins)


def build_lock_problems(requirements_text: str, build_lock_text: str) -> list[str]:
    """Why ``requirements-build.lock`` does not agree with ``requirements.txt``."""
    problems = lock_problems(build_lock_input(requirements_text), build_lock_text)
    extra = sorted(set(parse_lock(build_lock_text)) - set(BUILD_TOOLS))
    problems += [f"{name} is in the build lock but is no build tool" for name in extra]
    missing = [n for n in BUILD_TOOLS if n not in parse_pins(build_lock_input(requirements_text))]
    problems += [f"{name} is not pinned in requirements.txt" for name in missing]
    return [f"{BUILD_LOCK.name}: {problem}" for problem in problems]


def lock_problems(requirements_text: str, lock_text: str) -> list[str]:
    """Why the lock does not agree with the requirements (empty when it does): every exact pin
    must be locked at the same version, every locked package must carry hashes, and every
    requirement must be an exact pin."""
    problems = [f"{line!r} is not an exact pin (name==version)"
                for line in loose_requirements(lock_input(requirements_text))]
    locked = parse_lock(lock_text)
    for name, version in sorted(parse_pins(lock_input(requirements_text)).items()):
        entries = locked.get(name)
        if not entries:
            problems.append(f"{name}=={version} is pinned but not in the lock")
            continue
        other = sorted({e.version for e in entries if e.version != version})
        if other:
            problems.append(f"{name} is pinned at {version} but locked at {', '.join(other)}")
    for name, entries in sorted(locked.items()):
        if any(not e.hashes for e in entries):
            problems.append(f"{name} is locked without a hash")
        if any(not e.version for e in entries):
            problems.append(f"{name} is in the lock without an exact version")
    return problems


def compile_lock(requirements: Path = REQUIREMENTS, lock: Path = LOCK,
                 build_lock: Path = BUILD_LOCK,
                 python_version: str = LOCK_PYTHON) -> subprocess.CompletedProcess[str]:
    """Regenerate ``lock`` (and ``build_lock``, the build tools alone) from ``requirements``
    with uv: universal (one file for Linux, macOS and Windows, Python ``python_version`` and
    newer), every file of every locked version hashed."""
    text = requirements.read_text(encoding="utf-8")
    done: subprocess.CompletedProcess[str] | None = None
    for source, target in ((lock_input(text), lock), (build_lock_input(text), build_lock)):
        with tempfile.TemporaryDirectory(prefix="lessons-lock-") as folder:
            # Compiled from a copy named requirements.txt, so the "# via" notes say so.
            (Path(folder) / "requirements.txt").write_text(source, encoding="utf-8")
            command = [sys.executable, "-m", "uv", "pip", "compile", "requirements.txt",
                       "--universal", "--generate-hashes", "--python-version", python_version,
                       "--custom-compile-command", LOCK_COMMAND,
                       "--output-file", str(target.resolve()), "--quiet"]
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True,  # noqa: S603
                                  check=False)
        if done.returncode != 0:
            break
    assert done is not None
    return done


# --------------------------------------------------------------------------------------------
# pip-audit, live
# --------------------------------------------------------------------------------------------


@dataclass
class LiveAudit:
    """What ``pip-audit`` could and could not say. ``audited`` counts packages it really looked
    up; a package it skipped was *not* checked, whatever the summary line says."""

    service: str
    audited: int = 0
    findings: list[Finding] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def conclusive(self) -> bool:
        return not self.error and self.audited > 0 and not self.skipped

    def summary(self) -> str:
        if self.error:
            return f"pip-audit ({self.service}) did not run to the end: {self.error}"
        total = self.audited + len(self.skipped)
        text = (f"pip-audit ({self.service}) looked up {self.audited} of {total} packages and "
                f"reported {len(self.findings)} advisories")
        if self.skipped:
            reason = next(iter(self.skipped.values()))
            text += (f"; {len(self.skipped)} could not be audited (for example: {reason}). "
                     "Those are unknown, not safe.")
        return text


def run_pip_audit(requirement_file: Path, *, service: str = "pypi",
                  timeout: float = 300) -> LiveAudit:
    """Run ``pip-audit`` on a hash-locked requirements file without installing anything
    (``--disable-pip``), and read its JSON report honestly: a dependency it skipped (for
    example "not found on PyPI" when PyPI's JSON API does not answer) is counted as not audited
    rather than as clean, and a crash is an error, not an empty report."""
    result = LiveAudit(service=service)
    command = [sys.executable, "-m", "pip_audit", "--requirement", str(requirement_file),
               "--require-hashes", "--disable-pip", "--format", "json",
               "--progress-spinner", "off", "--vulnerability-service", service, "--timeout", "15"]
    try:
        done = subprocess.run(command, capture_output=True, text=True,  # noqa: S603
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        result.error = f"no answer within {timeout:.0f} seconds"
        return result
    try:
        report = json.loads(done.stdout)
    except ValueError:
        result.error = _short_error(done.stderr) or f"exit status {done.returncode}"
        return result
    for dependency in report.get("dependencies", []):
        name = canonical_name(dependency.get("name", ""))
        if "skip_reason" in dependency:
            result.skipped[name] = _without_paths(dependency["skip_reason"])
            continue
        result.audited += 1
        for vuln in dependency.get("vulns", []):
            fixes = sorted(vuln.get("fix_versions", []), key=Version)
            result.findings.append(Finding(
                package=name, version=dependency.get("version", ""), id=vuln["id"],
                aliases=tuple(vuln.get("aliases", ())), fixed=fixes[0] if fixes else None,
                summary=(vuln.get("description") or "")[:120],
            ))
    return result


def live_audit(requirement_file: Path = LOCK) -> list[LiveAudit]:
    """pip-audit with PyPI's vulnerability data, then with OSV.dev if PyPI gave no answer."""
    first = run_pip_audit(requirement_file, service="pypi")
    if first.conclusive:
        return [first]
    return [first, run_pip_audit(requirement_file, service="osv")]


def _short_error(stderr: str) -> str:
    """The gist of a crash: which host could not be reached, or the last line, shortened."""
    host = re.search(r"host='([^']+)'", stderr)
    if host and re.search(r"NameResolutionError|ConnectionError|Max retries", stderr):
        return f"could not connect to {host[1]}"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return _without_paths(lines[-1])[:200] if lines else ""


def _without_paths(text: str) -> str:
    """No machine paths in what the notebook shows."""
    return re.sub(r"(file://)?(/[\w.@+-]+){2,}/?", "<path>", text).strip()


# --------------------------------------------------------------------------------------------
# Maintenance review of our own dependencies (dated; every statement has its source)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    package: str
    used_for: str
    latest: str  # latest release and its upload date on PyPI when reviewed
    verdict: str
    sources: str


REVIEWED = "2026-11-29"
MAINTENANCE_REVIEW: tuple[Review, ...] = (
    Review("python-jose", "JWT tokens (lesson 02)", "3.5.0 (2025-05-28)",
           "Barely maintained: nothing between 3.3.0 (2021-06) and 3.4.0 (2025-02), which fixed "
           "the two 2024 advisories. A report that the 3.4.0 fix is incomplete (DER-encoded "
           "keys, issue #414, July 2026) has no maintainer answer and no release.",
           "PyPI upload times; python-jose CHANGELOG; issues #340 and #414"),
    Review("ecdsa", "nothing: python-jose requires it", "0.19.2 (2026-03-26)",
           "Maintained, but side channels are out of scope for the project: the Minerva "
           "timing advisory has no fix and will not get one.",
           "PYSEC-2026-1325 (CVE-2024-23342) in the snapshot"),
    Review("PyJWT", "the alternative JWT library", "2.15.1 (2026-09-28)",
           "Active, with several releases in 2026, some of them security fixes (e.g. "
           "PYSEC-2026-179, fixed in 2.13.0). FastAPI's tutorial and project template moved "
           "to it in May 2024.",
           "PyPI; snapshot; fastapi PR #11589, full-stack-fastapi-template PR #1203"),
    Review("passlib", "not installed: we install libpass", "1.7.4 (2020-10-08)",
           "Unmaintained: no release for six years. Breaks with bcrypt 5 and warns about the "
           "crypt module on Python 3.11 and 3.12. A PEP 541 request to take over the name "
           "(pypi/support #9290, February 2026) says its author did not answer.",
           "PyPI upload times; pypi/support #9290; the errata demonstration below"),
    Review("libpass", "password hashing (lesson 01), imported as passlib",
           "1.9.4 (2026-10-17)",
           "Maintained fork with the same import and API, and fixes for bcrypt 5 and the "
           "crypt removal. Its own metadata still says 'Development Status :: 3 - Alpha'.",
           "PyPI upload times; libpass 1.9.4 package metadata"),
    Review("bleach", "HTML sanitizing (lesson 07)", "6.4.0 (2026-06-05)",
           "Deprecated since 2023-01-23; 6.4.0 says 'Bleach is no longer maintained. There will "
           "be no future releases including for security issues.' Classifier: "
           "'Development Status :: 7 - Inactive'.",
           "bleach 6.4.0 README and metadata; mozilla/bleach issue #698"),
    Review("nh3", "the replacement bleach's users move to", "0.3.8 (2026-11-17)",
           "Active: Python bindings to ammonia, an HTML sanitizer written in Rust.",
           "PyPI upload times and summary"),
)


# --------------------------------------------------------------------------------------------
# The container recipe
# --------------------------------------------------------------------------------------------

# End of security support per Python release, from the CPython release cycle (peps.python.org
# release-cycle data; the month the release managers give, as its last day).
PYTHON_END_OF_LIFE: dict[str, date] = {
    "3.7": date(2023, 6, 27), "3.8": date(2024, 10, 7), "3.9": date(2025, 10, 31),
    "3.10": date(2026, 10, 31), "3.11": date(2027, 10, 31), "3.12": date(2028, 10, 31),
    "3.13": date(2029, 10, 31), "3.14": date(2030, 10, 31), "3.15": date(2031, 10, 31),
}


@dataclass(frozen=True)
class RecipeCheck:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def recipe_instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` for each instruction of a Dockerfile/Containerfile."""
    joined = re.sub(r"\\\r?\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    found = []
    for line in joined.splitlines():
        match = re.match(r"\s*([A-Za-z]+)\s+(.*)", line)
        if match:
            found.append((match[1].upper(), match[2].strip()))
    return found


def check_recipe(text: str, today: date) -> list[RecipeCheck]:
    """The three things the lesson asks of a container recipe: a Python base image still under
    security support, a final USER that is not root, and the strict, hash-locked install."""
    instructions = recipe_instructions(text)
    bases = [args for kind, args in instructions if kind == "FROM"]
    base = bases[-1].split()[0] if bases else ""
    match = re.match(r"(?:[\w.-]+/)*python:(\d+\.\d+)", base)
    if not match:
        python = RecipeCheck("supported Python", False, f"cannot tell the Python of {base!r}")
    else:
        minor = match[1]
        end = PYTHON_END_OF_LIFE.get(minor)
        python = RecipeCheck(
            "supported Python", end is not None and today <= end,
            f"{base}: Python {minor}, security support until {end}" if end
            else f"{base}: Python {minor} is not a release we know")
    users = [args for kind, args in instructions if kind == "USER"]
    last_user = users[-1].split(":")[0] if users else ""
    user = RecipeCheck("non-root user", bool(last_user) and last_user not in ("root", "0"),
                       f"runs as {last_user!r}" if last_user else "no USER line: runs as root")
    runs = " && ".join(args for kind, args in instructions if kind == "RUN")
    strict = ("--require-hashes" in runs and "requirements.lock" in runs
              and re.search(r"pip install[^&;]*--no-deps", runs) is not None)
    install = RecipeCheck("hash-locked install", strict,
                          "pip install --require-hashes -r requirements.lock, then our own "
                          "package with --no-deps" if strict else
                          "dependencies are not installed from the hash-locked file")
    return [python, user, install]


# --------------------------------------------------------------------------------------------
# Errata 13: passlib 1.7.4 and libpass with bcrypt 5, each in a throw-away folder
# --------------------------------------------------------------------------------------------

_HASH_PROBE = r"""
import json, logging, sys, warnings
sys.path.insert(0, sys.argv[1])
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger().addHandler(Keep())
outcome = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        from passlib.context import CryptContext
        context = CryptContext(schemes=["bcrypt"])
        digest = context.hash("a demo passphrase")
        outcome = {"ok": context.verify("a demo passphrase", digest), "prefix": digest[:4]}
    except Exception as error:
        outcome = {"ok": False, "error": f"{type(error).__name__}: {error}"}
# Named in words ("deprecation warning: ..."): this is a report about warnings, not a warning.
outcome["warnings"] = sorted({
    f"{w.category.__name__.removesuffix('Warning').lower()} warning: {w.message}" for w in caught
})
outcome["log"] = records
print(json.dumps(outcome))
"""

PASSLIB_CANDIDATES = {"passlib 1.7.4": "passlib==1.7.4", "libpass 1.9.4": "libpass==1.9.4"}
BCRYPT = "bcrypt==5.0.0"

# What the demonstration printed here on 2026-11-29 (Python 3.11.7, Linux), shown when PyPI
# cannot be reached.
RECORDED_HASHING = {
    "passlib 1.7.4": {
        "ok": False,
        "error": "ValueError: password cannot be longer than 72 bytes, truncate manually if "
                 "necessary (e.g. my_password[:72])",
        "warnings": ["deprecation warning: 'crypt' is deprecated and slated for removal in "
                     "Python 3.13"],
        "log": ["(trapped) error reading bcrypt version"],
    },
    "libpass 1.9.4": {"ok": True, "prefix": "$2b$", "warnings": [], "log": []},
}


@dataclass
class HashingDemo:
    ran_now: bool
    outcomes: dict[str, dict[str, Any]]
    note: str = ""


def passlib_with_bcrypt5(workdir: Path, timeout: float = 180) -> HashingDemo:
    """Install each of passlib 1.7.4 and libpass 1.9.4, with bcrypt 5, into its own throw-away
    folder (never the running environment), hash a password with each in a separate Python
    process, and report what happened: result, warnings and log lines. Needs PyPI; without it,
    returns the results recorded when this lesson was written."""
    outcomes: dict[str, dict[str, Any]] = {}
    for label, requirement in PASSLIB_CANDIDATES.items():
        target = workdir / canonical_name(label.replace(" ", "-"))
        installed = subprocess.run(  # noqa: S603 - a fixed argument list
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-color", "--no-deps",
             "--only-binary",
             ":all:", "--retries", "1", "--timeout", "15", "--target", str(target),
             requirement, BCRYPT],
            capture_output=True, text=True, timeout=timeout, check=False, env=pip_environment())
        if installed.returncode != 0:
            return HashingDemo(False, RECORDED_HASHING,
                               "PyPI could not be reached: these are the results recorded "
                               "when the lesson was written (2026-11-29, Python 3.11).")
        command = [sys.executable, "-I", "-c", _HASH_PROBE, str(target)]
        probe = subprocess.run(command, capture_output=True, text=True,  # noqa: S603
                               timeout=timeout, check=False)
        outcomes[label] = json.loads(probe.stdout)
    version = ".".join(map(str, sys.version_info[:2]))
    return HashingDemo(True, outcomes, f"Ran now, on Python {version}.")


def pip_environment(offline: bool = False) -> dict[str, str]:
    """The environment for a pip run of the lesson: no machine-wide pip configuration (extra
    indexes or local wheel folders), so the run behaves as on a learner's laptop; the CA
    bundle setting is kept."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if offline:
        env["PIP_NO_INDEX"] = "1"
    return env


# --------------------------------------------------------------------------------------------
# The alternative behind the same seam: PyJWT instead of python-jose
# --------------------------------------------------------------------------------------------


def issue_token_pyjwt(settings: Settings, username: str, scopes: Iterable[str]) -> str:
    """``lessons.tokens.issue_token`` with PyJWT: the same claims, the same HS256 signature, so
    tokens from either library verify with the other."""
    now = int(time.time())
    claims = {
        "sub": username, "iat": now, "nbf": now, "exp": now + settings.token_minutes * 60,
        "iss": settings.token_issuer, "aud": settings.token_audience,
        "jti": secrets.token_urlsafe(16), "scope": " ".join(sorted(scopes)),
    }
    return pyjwt.encode(claims, settings.secret_key, algorithm=tokens.ALGORITHM)


def decode_token_pyjwt(settings: Settings, token: str) -> dict[str, Any]:
    """``lessons.tokens.decode_token`` with PyJWT. PyJWT makes ``algorithms`` mandatory and
    checks ``exp``, ``nbf``, ``aud`` and ``iss`` when present or asked for; ``require`` makes a
    token without any of the registered claims invalid, as the reference does. The seam's
    contract is python-jose's ``JWTError``, so PyJWT's errors are re-raised as that."""
    try:
        return pyjwt.decode(
            token, settings.secret_key, algorithms=[tokens.ALGORITHM],
            audience=settings.token_audience, issuer=settings.token_issuer,
            options={"require": list(tokens.REQUIRED_CLAIMS)},
        )
    except pyjwt.PyJWTError as error:
        raise JWTError(str(error)) from error



# --------------------------------------------------------------------------------------------
# Triage evidence: does our token code ever load a module?
# --------------------------------------------------------------------------------------------

_ROUND_TRIP_PROBE = """
import json, secrets, sys
from lessons import tokens
from lessons.settings import Settings
settings = Settings(secret_key=secrets.token_urlsafe(32))
token = tokens.issue_token(settings, "alice", ["notes:read"])
claims = tokens.decode_token(settings, token)
from jose import backends
print(json.dumps({"round_trip": claims["sub"] == "alice",
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] == sys.argv[1]),
                  "ec_backend": backends.ECKey.__module__}))
"""


def modules_loaded_by_tokens(package: str = "ecdsa") -> dict[str, Any]:
    """Issue and decode a token with the reference layer in a fresh Python process and report
    which modules of ``package`` were imported on the way (none means our token path never
    runs its code), and which backend python-jose chose for EC keys."""
    command = [sys.executable, "-c", _ROUND_TRIP_PROBE, package]
    done = subprocess.run(command, capture_output=True, text=True, check=True,  # noqa: S603
                          timeout=60)
    return json.loads(done.stdout)
