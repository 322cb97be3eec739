"""What the project declares it needs, by purpose (``pyproject.toml``).

- ``service``: what ``python -m lessons serve`` needs (``[project] dependencies``). The
  container image installs this group alone, and lesson 05's audit judges it: it is what would
  run in production.
- ``workbook``, ``tools``, ``load`` (``[project.optional-dependencies]``, extras): the
  notebooks and their tests; the audit and attack tools (sslyze, sqlmap, schemathesis,
  pip-audit, uv); load testing. They run on the learner's own machine, against a service on
  localhost, never in production.
- ``build`` (``[dependency-groups]``): the tools that build packages published only as source,
  and this project; locked on their own and installed first by the strict install.

Every requirement is an exact pin. ``requirements.txt`` installs this project with every extra,
so that one command still installs everything a learner needs.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from lessons.catalog import ROOT
from lessons.supply_chain.pins import canonical_name, exact_version, requirements
from lessons.textfiles import read_text

PYPROJECT = ROOT / "pyproject.toml"
REQUIREMENTS = ROOT / "requirements.txt"

SERVICE = "service"
EXTRAS = ("workbook", "tools", "load")
BUILD = "build"
GROUPS = (SERVICE, *EXTRAS)  # what a learner installs; the build group is installed apart


def pyproject(text: str | None = None) -> dict[str, Any]:
    return tomllib.loads(read_text(PYPROJECT) if text is None else text)


def declared(group: str, data: Mapping[str, Any] | None = None) -> list[str]:
    """The requirement strings of one group, as written in ``pyproject.toml``."""
    data = pyproject() if data is None else data
    if group == SERVICE:
        return list(data["project"].get("dependencies", []))
    if group == BUILD:
        return list(data.get("dependency-groups", {}).get(BUILD, []))
    return list(data["project"].get("optional-dependencies", {}).get(group, []))


def declared_text(groups: Iterable[str], data: Mapping[str, Any] | None = None) -> str:
    """The groups' requirements as the text of a requirements file (one per line)."""
    data = pyproject() if data is None else data
    return "".join(f"{line}\n" for group in groups for line in declared(group, data))


def project_name(data: Mapping[str, Any] | None = None) -> str:
    return canonical_name(str((pyproject() if data is None else data)["project"]["name"]))


def declaration_problems(data: Mapping[str, Any] | None = None) -> list[str]:
    """What is wrong with the declaration itself: a requirement that is not an exact pin, a
    package declared in two groups (one version, one place), a group that is missing, and a
    build backend that is not the locked one."""
    data = pyproject() if data is None else data
    problems = []
    seen: dict[str, str] = {}
    for group in (*GROUPS, BUILD):
        lines = declared(group, data)
        if not lines:
            problems.append(f"pyproject.toml declares no {group} group")
        for line, _, requirement in requirements("\n".join(lines)):
            if requirement is None or exact_version(requirement) is None:
                problems.append(f"{group}: {line!r} is not an exact pin (name==version)")
                continue
            # One package, one place; pins for different Pythons or platforms (each with its
            # own environment marker) may sit side by side in that place.
            name = canonical_name(requirement.name)
            if name in seen and (seen[name] != group or requirement.marker is None):
                problems.append(f"{name} is declared in {seen[name]} and again in {group}")
            seen[name] = group
    extras = set(data["project"].get("optional-dependencies", {}))
    if extras != set(EXTRAS):
        problems.append(f"pyproject.toml's extras are {sorted(extras)}, not {list(EXTRAS)}")
    backend = data.get("build-system", {}).get("requires", [])
    build = set(declared(BUILD, data))
    problems += [f"[build-system] requires {line!r}, which the build group does not pin"
                 for line in backend if line not in build]
    return problems


def requirements_txt_problems(text: str, data: Mapping[str, Any] | None = None) -> list[str]:
    """Why ``requirements.txt`` would not install exactly what the project pins: it must install
    this checkout with every extra (``-e .[workbook,tools,load]``), and anything else it lists
    must be an exact pin."""
    data = pyproject() if data is None else data
    problems = []
    editable = [line.strip() for line in text.splitlines()
                if re.match(r"\s*(-e|--editable)\s+\.", line)]
    wanted = set(EXTRAS)
    if not editable:
        problems.append("requirements.txt does not install this checkout (-e .[...])")
    for line in editable:
        extras = re.search(r"\[([^\]]*)\]", line)
        have = {e.strip() for e in extras[1].split(",")} if extras else set()
        if have != wanted:
            problems.append(f"{line!r} installs the extras {sorted(have)}, not "
                            f"{sorted(wanted)}")
    for line, _, requirement in requirements(text):
        if requirement is None or exact_version(requirement) is None:
            problems.append(f"requirements.txt: {line!r} is not an exact pin")
    return problems
