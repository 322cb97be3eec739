"""Triage: findings we accept, each with a reason and a date to read it again.

Not every finding is a fire: an advisory may concern code we never run. Such a finding is
accepted in writing, in ``lessons/data/audit_exceptions.toml``, for one package and one advisory
(by id or alias), with the reason, until a review date (OWASP ASVS 5.0 15.1.1: documented,
risk-based remediation time frames). After that date the finding is open again.

``modules_loaded_by_tokens`` is the evidence behind our one accepted snapshot finding: it shows,
in a fresh process, that our token code never imports ``ecdsa``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from lessons.supply_chain.advisories import Finding
from lessons.supply_chain.pins import canonical_name
from lessons.textfiles import read_text

EXCEPTIONS_FILE = Path(__file__).resolve().parents[1] / "data" / "audit_exceptions.toml"


@dataclass(frozen=True)
class AuditException:
    """A finding we accept, for one package, until a date: the reason is the part that matters,
    and the review date makes sure someone reads it again."""

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
    data = tomllib.loads(read_text(path))
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


# -- the evidence: does our token code ever load a module? ---------------------------------------

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
                          timeout=60, encoding="utf-8")
    return dict(json.loads(done.stdout))
