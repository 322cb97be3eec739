"""The container recipe's review: the points lesson 05 asks of a ``Containerfile``.

1. a Python base image still under security support (the dates are in
   ``lessons/data/python_support.toml``);
2. a final ``USER`` that is not root;
3. the strict, hash-locked install: ``pip install --require-hashes`` from a lock file, then our
   own package with ``--no-deps``;
4. the service's dependencies only: the image installs ``requirements-service.lock``, never the
   workbook's whole set (Jupyter, sqlmap, sslyze have no business in production: OWASP ASVS 5.0
   15.2.3).

Docker cannot run on the machine the workbook is tested on, so the recipe is read, not built.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from lessons.textfiles import read_text

SUPPORT_FILE = Path(__file__).resolve().parents[1] / "data" / "python_support.toml"
# The lock files that hold more than the service: a production image must not install them.
WORKBOOK_FILES = ("requirements.txt", "requirements.lock")
SERVICE_LOCK_NAME = "requirements-service.lock"


@cache
def python_end_of_life() -> dict[str, date]:
    """``{"3.13": date(2029, 10, 31), ...}``: the end of security support per release."""
    data = tomllib.loads(read_text(SUPPORT_FILE))
    return dict(data["end_of_security_support"])


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
    """The four points above, each as a ``RecipeCheck``."""
    instructions = recipe_instructions(text)
    bases = [args for kind, args in instructions if kind == "FROM"]
    base = bases[-1].split()[0] if bases else ""
    match = re.match(r"(?:[\w.-]+/)*python:(\d+\.\d+)", base)
    if not match:
        python = RecipeCheck("supported Python", False, f"cannot tell the Python of {base!r}")
    else:
        minor = match[1]
        end = python_end_of_life().get(minor)
        python = RecipeCheck(
            "supported Python", end is not None and today <= end,
            f"{base}: Python {minor}, security support until {end}" if end
            else f"{base}: Python {minor} is not a release we know")
    users = [args for kind, args in instructions if kind == "USER"]
    last_user = users[-1].split(":")[0] if users else ""
    user = RecipeCheck("non-root user", bool(last_user) and last_user not in ("root", "0"),
                       f"runs as {last_user!r}" if last_user else "no USER line: runs as root")
    runs = " && ".join(args for kind, args in instructions if kind == "RUN")
    strict = ("--require-hashes" in runs and re.search(r"-r\s+\S*\.lock", runs) is not None
              and re.search(r"pip install[^&;]*--no-deps", runs) is not None)
    install = RecipeCheck("hash-locked install", strict,
                          "pip install --require-hashes -r a lock file, then our own package "
                          "with --no-deps" if strict else
                          "dependencies are not installed from a hash-locked file")
    installed = re.findall(r"-r\s+(\S+)", runs)
    extra = [name for name in installed if Path(name).name in WORKBOOK_FILES]
    service_only = SERVICE_LOCK_NAME in [Path(n).name for n in installed] and not extra
    only = RecipeCheck(
        "service dependencies only", service_only,
        f"installs {SERVICE_LOCK_NAME} and nothing for the notebooks or tools" if service_only
        else f"installs {', '.join(extra)}: the workbook's notebooks and tools too" if extra
        else f"does not install {SERVICE_LOCK_NAME}")
    return [python, user, install, only]
