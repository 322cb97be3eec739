"""Lesson 05 checks: the learner's audit (parse_pins, affected), triage and hash_pin, run on
several requirement sets against the advisory snapshot, and the lesson's two attacks re-run
against them. An optional check runs lesson 02's whole suite against a PyJWT token backend."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from lessons import supply_chain, tokens
from lessons.attacks import lesson05
from lessons.attacks import lesson05 as attacks
from lessons.checks import FAILED, NOT_ATTEMPTED, Report, Suite, Trial, expect
from lessons.settings import ensure_private_dir
from lessons.supply_chain import AuditException, Finding, canonical_name, load_snapshot

suite = Suite(5, "Dependency security")

SNAPSHOT = load_snapshot()
ADVISORIES = list(SNAPSHOT.vulns)

# Requirement sets the checks audit. The first is in the style of a widely read guide.
GUIDE_REQUIREMENTS = """\
# Requirements, in the style of a widely read guide
fastapi==0.65.1
uvicorn[standard]==0.13.4
python-jose[cryptography]==3.3.0   # JWT
passlib[bcrypt]==1.7.4
python-multipart
-e .
"""
LOCK_EXCERPT = """\
# A hash-locked file (the hashes here are placeholders)
ecdsa==0.19.1 \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111 \\
    --hash=sha256:2222222222222222222222222222222222222222222222222222222222222222
    # via python-jose
Starlette==0.38.6 \\
    --hash=sha256:3333333333333333333333333333333333333333333333333333333333333333
    # via fastapi
uvloop==0.23.0 ; platform_python_implementation != 'PyPy' and sys_platform != 'win32' \\
    --hash=sha256:4444444444444444444444444444444444444444444444444444444444444444
urllib3==1.26.17 \\
    --hash=sha256:5555555555555555555555555555555555555555555555555555555555555555
"""
REQUIREMENT_SETS = {
    "the guide's requirements": GUIDE_REQUIREMENTS,
    "a lock file excerpt": LOCK_EXCERPT,
    "old JWT libraries": "python-jose==3.4.0\nPyJWT==2.10.0\necdsa==0.9\n",
    "an old framework": "fastapi==0.100.0\nstarlette==0.9.0\nurllib3==2.0.5\n",
}
TODAY = date(2026, 11, 29)


def _key(finding: Any) -> tuple[str, str, str | None]:
    return (canonical_name(str(getattr(finding, "package", ""))), str(getattr(finding, "id", "")),
            getattr(finding, "fixed", "?"))


def _findings(trial: Trial, pins: dict[str, str]) -> set[tuple[str, str, str | None]]:
    found = trial.affected(dict(pins), list(ADVISORIES))
    expect(isinstance(found, list), "affected should return a list of Finding objects, not "
                                    f"{type(found).__name__}.")
    expect(all(hasattr(f, "package") and hasattr(f, "id") for f in found),
           "Return Finding(package=..., version=..., id=..., aliases=..., fixed=...) objects "
           "(from lessons.supply_chain import Finding).")
    return {_key(f) for f in found}


def _describe(keys: Iterable[tuple[str, str, str | None]]) -> str:
    return ", ".join(f"{p} {i} (fixed {fx})" for p, i, fx in sorted(keys, key=str)) or "nothing"


def _expect_findings(trial: Trial, pins: dict[str, str],
                     expected: set[tuple[str, str, str | None]], hint: str) -> None:
    got = _findings(trial, pins)
    missing, extra = expected - got, got - expected
    wrong_fix = {(p, i) for p, i, _ in missing} & {(p, i) for p, i, _ in extra}
    expect(not wrong_fix,
           f"For {pins} you reported the right advisories but the wrong fixed version for "
           f"{sorted(wrong_fix)}: the fix is the 'fixed' event that ends the stretch of "
           "versions your pin is in. Expected " + _describe(expected) + ".")
    expect(not missing and not extra,
           f"For {pins} expected {_describe(expected)}; you reported {_describe(got)}. {hint}")


@suite.check("parse_pins reads exact pins from requirements and lock files")
def pins_read(trial: Trial) -> None:
    got = trial.parse_pins(GUIDE_REQUIREMENTS)
    expect(isinstance(got, dict), f"parse_pins should return a dict, not {type(got).__name__}.")
    expect(got == {"fastapi": "0.65.1", "uvicorn": "0.13.4", "python-jose": "3.3.0",
                   "passlib": "1.7.4"},
           f"From the guide's requirements you returned {got}. Drop extras such as "
           "[standard] from the name, ignore comments, and leave out python-multipart (no "
           "version) and -e . (an option).")
    got = trial.parse_pins(LOCK_EXCERPT)
    expect(got == {"ecdsa": "0.19.1", "starlette": "0.38.6", "uvloop": "0.23.0",
                   "urllib3": "1.26.17"},
           f"From a lock file you returned {got}. A lock continues lines with a backslash "
           "(--hash=... lines belong to the requirement above), may add an environment marker "
           "after ';', and names are compared in canonical form: lower case, runs of -_. "
           "as one '-'.")


@suite.check("parse_pins leaves out what is not an exact pin")
def pins_only_exact(trial: Trial) -> None:
    text = ("-r base.txt\n--index-url https://pypi.org/simple\nrequests>=2.31\n"
            "httpx~=0.27\nrich==13.*\nmypkg @ https://example.org/mypkg-1.0.tar.gz\n"
            "Zope.Interface==8.7  # exact\n-e .\n")
    got = trial.parse_pins(text)
    expect(got == {"zope-interface": "8.7"},
           f"Only Zope.Interface==8.7 is an exact pin here; you returned {got}. Ranges (>=, ~=), "
           "wildcards (==13.*), URLs and options are not pins; the name is canonical "
           "(zope-interface).")


@suite.check("affected finds the snapshot's advisories, with the release that fixes each")
def finds_snapshot_advisories(trial: Trial) -> None:
    _expect_findings(trial, {"fastapi": "0.65.1", "python-jose": "3.3.0"}, {
        ("fastapi", "PYSEC-2021-100", "0.65.2"), ("fastapi", "PYSEC-2024-38", "0.109.1"),
        ("python-jose", "PYSEC-2024-232", "3.4.0"), ("python-jose", "PYSEC-2024-233", "3.4.0"),
        ("python-jose", "PYSEC-2025-185", None),
    }, "Read only ranges of type ECOSYSTEM (GIT ranges name commits), for packages in the "
       "PyPI ecosystem.")
    _expect_findings(trial, {"starlette": "0.38.6", "passlib": "1.7.4"}, {
        ("starlette", "PYSEC-2026-161", "1.0.1"), ("starlette", "PYSEC-2026-1941", "0.47.2"),
        ("starlette", "PYSEC-2026-1943", "0.40.0"), ("starlette", "PYSEC-2026-2280", "1.1.0"),
        ("starlette", "PYSEC-2026-2281", "1.1.0"),
    }, "starlette 0.38.6 is older than 0.39.0, where PYSEC-2026-1942 was introduced, and "
       "newer than 0.27.0, which fixed PYSEC-2023-83.")


@suite.check("affected compares versions as versions, not as strings")
def compares_versions(trial: Trial) -> None:
    _expect_findings(trial, {"ecdsa": "0.9"}, {
        ("ecdsa", "PYSEC-2026-1325", None), ("ecdsa", "PYSEC-2026-2467", "0.19.2"),
    }, "As text '0.9' > '0.19.2'; as versions 0.9 < 0.19.2. Compare with "
       "packaging.version.Version.")
    _expect_findings(trial, {"fastapi": "0.100.0"}, {("fastapi", "PYSEC-2024-38", "0.109.1")},
                     "As text '0.100.0' < '0.65.2', but version 0.100.0 came after 0.65.2. "
                     "Compare with packaging.version.Version.")


@suite.check("affected follows ranges with several events and reports the right fix")
def several_events(trial: Trial) -> None:
    hint = ("urllib3's ranges list two stretches in one range (introduced 2.0.0, fixed 2.0.6, "
            "introduced 0, fixed 1.26.17), not in order: sort the events by version and walk "
            "them, so 1.26.x is fixed on the 1.26 line and 2.0.x on the 2.0 line.")
    _expect_findings(trial, {"urllib3": "1.26.5"}, {
        ("urllib3", "PYSEC-2023-192", "1.26.17"), ("urllib3", "PYSEC-2023-212", "1.26.18")},
        hint)
    _expect_findings(trial, {"urllib3": "1.26.17"}, {("urllib3", "PYSEC-2023-212", "1.26.18")},
                     hint)
    _expect_findings(trial, {"urllib3": "2.0.5"}, {
        ("urllib3", "PYSEC-2023-192", "2.0.6"), ("urllib3", "PYSEC-2023-212", "2.0.7")}, hint)
    _expect_findings(trial, {"urllib3": "2.0.7"}, set(), hint)
    hint = "A range can start later than 0: versions before 'introduced' are not affected."
    _expect_findings(trial, {"pyjwt": "2.9.0"}, {("pyjwt", "PYSEC-2026-179", "2.13.0")}, hint)
    _expect_findings(trial, {"PyJWT": "2.10.0"}, {
        ("pyjwt", "PYSEC-2026-179", "2.13.0"), ("pyjwt", "PYSEC-2026-1814", "2.10.1")}, hint)
    _expect_findings(trial, {"starlette": "0.49.0"}, {
        ("starlette", "PYSEC-2026-161", "1.0.1"), ("starlette", "PYSEC-2026-1942", "0.49.1"),
        ("starlette", "PYSEC-2026-2280", "1.1.0"), ("starlette", "PYSEC-2026-2281", "1.1.0")},
        hint)


@suite.check("affected handles last_affected and advisories with no fix")
def no_fix(trial: Trial) -> None:
    _expect_findings(trial, {"python-jose": "3.4.0"}, set(),
                     "PYSEC-2025-185 ends with last_affected 3.3.0: 3.4.0 is not affected.")
    _expect_findings(trial, {"ecdsa": "0.19.2"}, {("ecdsa", "PYSEC-2026-1325", None)},
                     "PYSEC-2026-1325 has only 'introduced 0': every version is affected and "
                     "there is no fixed release (fixed=None).")


@suite.check("no published advisory slips past your audit (the attack)")
def no_advisory_missed(trial: Trial) -> None:
    def audit(pins: dict[str, str], advisories: list[dict[str, Any]]) -> list[Finding]:
        return trial.affected(pins, advisories)

    for label, text in REQUIREMENT_SETS.items():
        pins = trial.parse_pins(text)
        result = lesson05.run_known_advisories(pins, ADVISORIES, audit)
        expect(not result.succeeded,
               f"In {label}: {result.evidence}. An attacker reads the same database you do.")


@suite.check("triage accepts only matching, unexpired exceptions with a reason")
def triage_rules(trial: Trial) -> None:
    minerva = Finding("ecdsa", "0.19.2", "PYSEC-2026-1325",
                      ("CVE-2024-23342", "GHSA-wj6h-64fc-37mp"))
    confusion = Finding("python-jose", "3.3.0", "PYSEC-2024-232",
                        ("CVE-2024-33663", "GHSA-6c5p-j8vq-pqhj"), "3.4.0")
    traversal = Finding("starlette", "0.26.1", "PYSEC-2023-83",
                        ("CVE-2023-29159", "GHSA-v5gw-mw7f-84px"), "0.27.0")
    bomb = Finding("python-jose", "3.3.0", "PYSEC-2024-233",
                   ("CVE-2024-33664", "GHSA-cjwg-qfpm-7377"), "3.4.0")
    exceptions = [
        AuditException("GHSA-wj6h-64fc-37mp", "ecdsa", "We never sign with ECDSA.",
                       date(2027, 5, 31)),  # matched by an alias
        AuditException("PYSEC-2024-232", "pyjwt", "Wrong package.", date(2027, 5, 31)),
        AuditException("PYSEC-2023-83", "starlette", "No StaticFiles.", date(2026, 6, 30)),
        AuditException("PYSEC-2024-233", "python-jose", "  ", date(2027, 5, 31)),
    ]
    findings = [minerva, confusion, traversal, bomb]
    result = trial.triage(list(findings), list(exceptions), TODAY)
    expect(isinstance(result, tuple) and len(result) == 2,
           "triage should return a pair: (still open, accepted).")
    still_open, accepted = ({f.id for f in part} for part in result)
    expect("PYSEC-2026-1325" in accepted,
           "The ecdsa exception names the advisory by its alias GHSA-wj6h-64fc-37mp: compare "
           "the exception's id and aliases with the finding's id and aliases.")
    expect("PYSEC-2024-232" in still_open,
           "An exception for pyjwt must not accept a python-jose finding with the same id.")
    expect("PYSEC-2023-83" in still_open,
           "The starlette exception's review date (2026-06-30) has passed: it no longer counts.")
    expect("PYSEC-2024-233" in still_open,
           "An exception whose reason is blank accepts nothing: the reason is the point.")
    expect(still_open | accepted == {f.id for f in findings} and not still_open & accepted,
           "Every finding should come back exactly once, open or accepted.")
    on_the_day = trial.triage([traversal], [AuditException(
        "PYSEC-2023-83", "starlette", "No StaticFiles.", TODAY)], TODAY)
    expect([f.id for f in on_the_day[1]] == ["PYSEC-2023-83"],
           "An exception still holds on its review date itself (today <= review_by).")


def _hash_pin_line(trial: Trial, wheel: Any) -> str:
    line = trial.hash_pin(lesson05.PACKAGE, lesson05.VERSION, wheel)
    expect(isinstance(line, str), f"hash_pin should return a str, not {type(line).__name__}.")
    return line


@suite.check("hash_pin writes a line pip installs with --require-hashes")
def hash_pin_installs(trial: Trial) -> None:
    root = ensure_private_dir(trial.root / "honest")
    scene = lesson05.publish(root)
    line = _hash_pin_line(trial, scene.mirror / lesson05.WHEEL_NAME)
    result = lesson05.pip_install([line], scene.mirror, root / "site", require_hashes=True)
    expect(result.ok and result.verify_tls == "1",
           f"pip did not install the honest wheel from your line {line!r}: {result.message} "
           "Write name==version --hash=sha256:<hex digest of the whole file>.")


@suite.check("a tampered wheel is refused with your hash_pin line (the attack)")
def tampered_refused(trial: Trial) -> None:
    root = ensure_private_dir(trial.root / "tampered")
    result = lesson05.run_tampered_install(root, pin=lambda n, v, w: _hash_pin_line(trial, w))
    expect(not result.succeeded,
           f"The tampered wheel was installed ({result.evidence}). The line must carry the "
           "SHA-256 of the file you tested, so that pip has something to compare.")
    expect("DO NOT MATCH THE HASHES" in result.evidence,
           f"pip refused your line for another reason ({result.evidence}), so it would refuse "
           "the honest wheel too. Write name==version --hash=sha256:<hex digest>.")


# -- optional: the token seam with PyJWT --------------------------------------------------------


@suite.check("optional: lesson 02's checks and attacks pass with your PyJWT backend")
def pyjwt_backend(trial: Trial) -> None:
    from lessons.checks import lesson02  # the lesson-02 suite itself, unchanged

    report = lesson02.suite.run(record=False, issue_token=trial.issue_token_pyjwt,
                                decode_token=trial.decode_token_pyjwt,
                                caller_from_token=tokens.caller_from_token)
    failed = [o for o in report.outcomes if o.status == FAILED]
    if not failed and any(o.status == NOT_ATTEMPTED for o in report.outcomes):
        raise NotImplementedError("issue_token_pyjwt, decode_token_pyjwt")
    expect(not failed,
           f"{len(failed)} of lesson 02's {len(report.outcomes)} checks did not pass, first "
           f"'{failed[0].name}': {failed[0].hint or failed[0].status}" if failed else "")


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "parse_pins": supply_chain.parse_pins,
    "affected": supply_chain.affected,
    "triage": supply_chain.triage,
    "hash_pin": attacks.hash_pin,
    "issue_token_pyjwt": supply_chain.issue_token_pyjwt,
    "decode_token_pyjwt": supply_chain.decode_token_pyjwt,
}


def check(**answers: Any) -> Report:
    """Run the lesson-05 checks: ``check(parse_pins=..., affected=..., triage=...,
    hash_pin=..., issue_token_pyjwt=..., decode_token_pyjwt=...)`` (the last two optional)."""
    return suite.run(**answers)
