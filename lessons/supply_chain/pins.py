"""Reading requirements: exact pins (``name==version``) from a requirements or lock file.

An exact pin is the inventory of what runs (OWASP ASVS 5.0 15.1.2): a range (``>=``), a
wildcard (``==2.*``) or an unpinned name lets the next install pick another version than the one
that was tested and audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement


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


def exact_version(requirement: Requirement) -> str | None:
    """The version of an exact pin (one ``==`` or ``===`` specifier, no wildcard), else None."""
    specifiers = list(requirement.specifier)
    if len(specifiers) != 1:
        return None
    (only,) = specifiers
    if only.operator in ("==", "===") and "*" not in only.version:
        return only.version
    return None


def parse_pins(text: str) -> dict[str, str]:
    """``{canonical name: version}`` for every requirement pinned exactly with ``==``.

    Options (``-e .``, ``-r``, ``--hash=...``), version ranges, URLs and wildcards are not exact
    pins and are left out; extras (``uvicorn[standard]``) and environment markers are dropped
    from the name."""
    pins: dict[str, str] = {}
    for _, _, requirement in requirements(text):
        version = exact_version(requirement) if requirement is not None else None
        if requirement is not None and version is not None and requirement.url is None:
            pins[canonical_name(requirement.name)] = version
    return pins


def loose_requirements(text: str) -> list[str]:
    """Requirement lines that are not exact pins (``fastapi>=0.100``, ``requests``): each one
    lets the next install pick a different version from the one you tested."""
    return [line for line, spec, requirement in requirements(text)
            if requirement is None or canonical_name(requirement.name) not in parse_pins(spec)]
