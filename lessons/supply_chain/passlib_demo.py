"""Errata 13: passlib 1.7.4, its last release, fails with bcrypt 5; libpass, its maintained fork,
does not. Each is installed with bcrypt 5 into its own throw-away folder (never the running
environment) and asked to hash a password in a separate Python process.

It needs PyPI. Without it, the results recorded when the lesson was written are shown, and say
so (``lessons/data/passlib_bcrypt5_recorded.json``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lessons.supply_chain.pins import canonical_name
from lessons.supply_chain.pip_env import pip_environment
from lessons.textfiles import read_text

RECORDED_FILE = Path(__file__).resolve().parents[1] / "data" / "passlib_bcrypt5_recorded.json"

PASSLIB_CANDIDATES = {"passlib 1.7.4": "passlib==1.7.4", "libpass 1.9.4": "libpass==1.9.4"}
BCRYPT = "bcrypt==5.0.0"

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


@dataclass
class HashingDemo:
    ran_now: bool
    outcomes: dict[str, dict[str, Any]]
    note: str = ""


def recorded() -> HashingDemo:
    data = json.loads(read_text(RECORDED_FILE))
    return HashingDemo(False, data["outcomes"],
                       f"PyPI could not be reached: these are the results recorded when the "
                       f"lesson was written ({data['recorded']}, Python {data['python']}).")


def hash_with(label: str, requirement: str, workdir: Path,
              timeout: float = 180) -> dict[str, Any] | None:
    """Install ``requirement`` with bcrypt 5 into a folder of its own and hash a password with
    it in a fresh process: the outcome, or None when pip could not install it (no PyPI)."""
    target = workdir / canonical_name(label.replace(" ", "-"))
    installed = subprocess.run(  # noqa: S603 - a fixed argument list
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-color", "--no-deps",
         "--only-binary", ":all:", "--retries", "1", "--timeout", "15", "--target",
         str(target), requirement, BCRYPT],
        capture_output=True, text=True, timeout=timeout, check=False, env=pip_environment(),
        encoding="utf-8")
    if installed.returncode != 0:
        return None
    probe = subprocess.run([sys.executable, "-I", "-c", _HASH_PROBE, str(target)],  # noqa: S603
                           capture_output=True, text=True, timeout=timeout, check=False,
                           encoding="utf-8")
    return dict(json.loads(probe.stdout))


def passlib_with_bcrypt5(workdir: Path, timeout: float = 180) -> HashingDemo:
    """Each candidate in turn (``hash_with``); the recorded results when PyPI is out of reach."""
    outcomes: dict[str, dict[str, Any]] = {}
    for label, requirement in PASSLIB_CANDIDATES.items():
        outcome = hash_with(label, requirement, workdir, timeout)
        if outcome is None:
            return recorded()
        outcomes[label] = outcome
    version = ".".join(map(str, sys.version_info[:2]))
    return HashingDemo(True, outcomes, f"Ran now, on Python {version}.")
