"""Lesson 05, reference layer: dependency security.

The service's own code is a small part of what runs; the rest is other people's packages. This
package holds what the lesson builds around them (OWASP ASVS 5.0 V15.1 and V15.2), one module
per job:

- ``pins``: exact pins read from a requirements or lock file;
- ``project``: what ``pyproject.toml`` declares, by purpose (the service, the workbook, the
  tools, load testing, the build tools);
- ``advisories``: advisories in OSV format, the audit of pins against them, upgrade advice, and
  the dated snapshot of real advisories that ships in ``lessons/data``;
- ``risk_acceptance``: triage, findings accepted in writing, with a reason and a review date;
- ``lockfile``: the hash-locked requirements files, how they are made and the test that they
  agree with ``pyproject.toml``;
- ``live``: ``pip-audit``, run live and read honestly;
- ``review``: the maintenance review of our own dependencies (its dated prose is data);
- ``container``: the container recipe's review;
- ``platforms`` and ``index``: does every locked package install on every laptop of the room?
- ``wheelhouse``: a package cache for a room without internet;
- ``pyjwt_variant``: the token seam with PyJWT instead of python-jose;
- ``passlib_demo``: passlib 1.7.4 and libpass with bcrypt 5 (errata 13);
- ``pip_env``: how the lesson runs pip, as on a learner's laptop.

The names the exercises use are importable from here directly. Nothing here runs at import
time or touches the network unless asked to.
"""

from lessons.supply_chain.advisories import (
    Advisory,
    Finding,
    Snapshot,
    affected,
    audit_report,
    findings_problem,
    in_range,
    load_snapshot,
    upgrade_advice,
)
from lessons.supply_chain.pins import canonical_name, parse_pins
from lessons.supply_chain.risk_acceptance import AuditException, load_exceptions, triage

__all__ = [
    "Advisory",
    "AuditException",
    "Finding",
    "Snapshot",
    "affected",
    "audit_report",
    "canonical_name",
    "findings_problem",
    "in_range",
    "load_exceptions",
    "load_snapshot",
    "parse_pins",
    "triage",
    "upgrade_advice",
]
