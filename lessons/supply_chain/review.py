"""The maintenance review of our own dependencies: who will fix the next hole?

An audit finds known holes; it says nothing about whether anyone will fix the next one (OWASP
ASVS 5.0 15.1.4 asks to document such risky components). The review is dated prose, so it lives
in a data file, ``lessons/data/maintenance_review.toml``, not in code: each entry says what we
use the package for, its latest release, whether it is maintained, what we decided, and where
each statement comes from.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lessons.supply_chain.pins import canonical_name
from lessons.textfiles import read_text

REVIEW_FILE = Path(__file__).resolve().parents[1] / "data" / "maintenance_review.toml"
STATUSES = ("maintained", "barely maintained", "unmaintained")


@dataclass(frozen=True)
class Review:
    package: str
    used_for: str
    latest: str  # the latest release on PyPI when reviewed
    released: date  # its upload date
    status: str
    verdict: str
    decision: str
    sources: str


@dataclass(frozen=True)
class MaintenanceReview:
    reviewed: date
    packages: tuple[Review, ...]

    def of(self, package: str) -> Review:
        return next(r for r in self.packages
                    if canonical_name(r.package) == canonical_name(package))


def _prose(text: str) -> str:
    return " ".join(text.split())


def load_review(path: Path = REVIEW_FILE) -> MaintenanceReview:
    data = tomllib.loads(read_text(path))
    packages = []
    for entry in data["package"]:
        if entry["status"] not in STATUSES:
            raise ValueError(f"{path.name}: {entry['name']} has status {entry['status']!r}, "
                             f"not one of {STATUSES}")
        packages.append(Review(
            package=entry["name"], used_for=entry["used_for"], latest=entry["latest"],
            released=entry["released"], status=entry["status"],
            verdict=_prose(entry["verdict"]), decision=_prose(entry["decision"]),
            sources=entry["sources"]))
    return MaintenanceReview(reviewed=data["reviewed"], packages=tuple(packages))
