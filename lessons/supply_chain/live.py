"""pip-audit, live: the full, current audit, read honestly.

The snapshot is a selection from one day; ``pip-audit`` (the PyPA's tool) asks PyPI's JSON API,
or OSV.dev, about every locked package. What it could not look up is unknown, not safe: a
package it skipped is counted as not audited, whatever its summary line says, and a crash is an
error, not an empty report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from lessons.supply_chain.advisories import Finding
from lessons.supply_chain.lockfile import SERVICE_LOCK
from lessons.supply_chain.pins import canonical_name


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
                              timeout=timeout, check=False, encoding="utf-8")
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


def live_audit(requirement_file: Path = SERVICE_LOCK) -> list[LiveAudit]:
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
