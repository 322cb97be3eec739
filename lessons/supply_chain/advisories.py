"""Advisories in OSV format, and the audit of pinned versions against them.

OSV is the format of the PyPA advisory database, which PyPI, ``pip-audit`` and OSV.dev publish.
A record names the affected versions as ranges of events (``introduced``, ``fixed``,
``last_affected``, ``limit``). The audit (``affected``) compares versions as versions, walks
every stretch of a range, and reports the release that fixes each finding; ``audit_report``
turns findings into the lines the notebook prints, and ``upgrade_advice`` into what to install.
A dated snapshot of real advisories ships in ``lessons/data`` so that the audit runs offline and
gives the same answer every time (OWASP ASVS 5.0 15.2.1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from lessons.supply_chain.pins import canonical_name
from lessons.textfiles import read_text

SNAPSHOT_FILE = Path(__file__).resolve().parents[1] / "data" / "osv_snapshot.json"

Advisory = Mapping[str, Any]  # one OSV record, as parsed from JSON


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
    data = json.loads(read_text(path))
    return Snapshot(about=data["snapshot"], vulns=tuple(data["vulns"]))


# -- one range ------------------------------------------------------------------------------

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


# -- the audit ------------------------------------------------------------------------------


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


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _same_version(version: Version, listed: str) -> bool:
    try:
        return Version(listed) == version
    except InvalidVersion:
        return False


def upgrade_advice(findings: Iterable[Finding]) -> dict[str, str | None]:
    """``{package: the lowest release that clears every finding}`` ("a release after X" when an
    advisory only names its last affected release), or None when one finding has no fix at
    all: then the choices are an exception with a reason, or another package."""
    findings = list(findings)
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


# -- the report, from findings that may come from a learner's function --------------------


def _describe(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:57] + '...' if len(text) > 60 else text}"


def findings_problem(findings: object, source: str = "affected()") -> str | None:
    """Why ``findings`` cannot be reported (None when they can): not a list, an item that is not
    a ``Finding``, or a version that is not a version. The notebook prints a learner's findings
    through ``audit_report``; a wrong value must be reported as theirs, never crash the
    workbook's own code."""
    if not isinstance(findings, list | tuple):
        return (f"Your {source} returned {_describe(findings)}; it should return a list of "
                "Finding objects.")
    for item in findings:
        if not isinstance(item, Finding):
            return (f"Your {source} returned a list holding {_describe(item)}; each item should "
                    "be a Finding(package=..., version=..., id=..., aliases=..., fixed=...).")
        for field_name in ("package", "id"):
            if not isinstance(getattr(item, field_name), str):
                return (f"Your {source} returned a Finding whose {field_name} is "
                        f"{_describe(getattr(item, field_name))}; it should be a str.")
        if not (isinstance(item.aliases, list | tuple)
                and all(isinstance(a, str) for a in item.aliases)):
            return (f"Your {source} returned a Finding for {item.package} {item.id} whose aliases "
                    f"are {_describe(item.aliases)}; they should be a tuple of str.")
        for field_name in ("version", "fixed", "last_affected"):
            value = getattr(item, field_name)
            if value is None and field_name != "version":
                continue
            if not (isinstance(value, str) and _is_version(value)):
                return (f"Your {source} returned a Finding for {item.package} {item.id} whose "
                        f"{field_name} is {_describe(value)}; it should be a version string "
                        "such as '3.4.0'" + (" or None." if field_name != "version" else "."))
    return None


def audit_report(findings: Sequence[Finding], source: str = "affected()") -> str:
    """Findings as lines of plain text, grouped by package, with what clears them; or, when the
    findings are not a list of well-formed ``Finding`` objects, what is wrong with them."""
    problem = findings_problem(findings, source)
    if problem:
        return problem
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
