"""Lesson 05 checks: the learner's audit (``parse_pins``, ``affected``), ``triage`` and
``hash_pin``, run on small requirement sets and on the advisory snapshot, and the lesson's
attacks re-run against them; optionally, the token seam written with PyJWT.

Each check isolates one rule of the exercise text: every other input is valid, so a failure
happens for the reason its hint names. What a learner's function returns is looked at before it
is used (a list of ``Finding`` objects, a pair of lists, a str), so that a wrong shape is
reported as theirs ("your affected returned ..."), never as an error inside the workbook.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

import jwt as pyjwt  # PyJWT: the checks make their own tokens, signed or not
from jose import JOSEError, JWTError
from jwt.warnings import InsecureKeyLengthWarning
from packaging.version import InvalidVersion

from lessons import tokens
from lessons.attacks import lesson05 as attacks
from lessons.attacks.lesson05 import GUIDE_REQUIREMENTS
from lessons.checks import (
    FAILED,
    NOT_ATTEMPTED,
    WORKBOOK_ERROR,
    Fail,
    Report,
    Rule,
    Suite,
    Trial,
    expect,
    expect_type,
    run_with,
)
from lessons.settings import Settings, ensure_private_dir
from lessons.supply_chain import (
    AuditException,
    Finding,
    affected,
    canonical_name,
    findings_problem,
    load_snapshot,
    parse_pins,
    triage,
)
from lessons.supply_chain.pyjwt_variant import decode_token_pyjwt, issue_token_pyjwt

suite = Suite(5, "Dependency security")

SNAPSHOT = load_snapshot()
ADVISORIES = list(SNAPSHOT.vulns)
TODAY = date(2026, 11, 29)

# A hash-locked file, in lower case so that only the lock's own format is tested here.
LOCK_EXCERPT = """\
# A hash-locked file (the hashes here are placeholders)
ecdsa==0.19.1 \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111 \\
    --hash=sha256:2222222222222222222222222222222222222222222222222222222222222222
    # via python-jose
starlette==0.38.6 \\
    --hash=sha256:3333333333333333333333333333333333333333333333333333333333333333
    # via fastapi
uvloop==0.23.0 ; platform_python_implementation != 'PyPy' and sys_platform != 'win32' \\
    --hash=sha256:4444444444444444444444444444444444444444444444444444444444444444
urllib3==1.26.17 \\
    --hash=sha256:5555555555555555555555555555555555555555555555555555555555555555
"""
# Requirement sets the advisory attack is re-run on. The first is in the style of a widely read
# guide.
REQUIREMENT_SETS = {
    "the guide's requirements": GUIDE_REQUIREMENTS,
    "a lock file excerpt": LOCK_EXCERPT,
    "old JWT libraries": "python-jose==3.4.0\nPyJWT==2.10.0\necdsa==0.9\n",
    "an old framework": "fastapi==0.100.0\nstarlette==0.9.0\nurllib3==2.0.5\n",
}

Key = tuple[str, str, str | None]


# -- parse_pins ----------------------------------------------------------------------------------


def _pins(trial: Trial, text: str) -> dict[str, str]:
    got = trial.parse_pins(text)
    expect_type(got, dict, "parse_pins", "a dict {name: version}")
    expect(all(isinstance(k, str) and isinstance(v, str) for k, v in got.items()),
           f"Your parse_pins returned {got!r}; names and versions should both be str.")
    return dict(got)


def _expect_pins(trial: Trial, text: str, expected: dict[str, str], hint: str) -> None:
    got = _pins(trial, text)
    expect(got == expected, f"From\n{text.strip()}\nyou returned {got}, expected {expected}. "
                            f"{hint}")


@suite.check("pins_extras", "parse_pins: names without extras such as [standard]")
def pins_extras(trial: Trial) -> None:
    _expect_pins(trial, "uvicorn[standard]==0.13.4\npython-jose[cryptography]==3.3.0\n",
                 {"uvicorn": "0.13.4", "python-jose": "3.3.0"},
                 "An extra ([standard]) chooses optional parts of a package; it is not part of "
                 "its name: Requirement(line).name leaves it out.")


@suite.check("pins_comments", "parse_pins: comments, whole-line and after a pin, are skipped")
def pins_comments(trial: Trial) -> None:
    _expect_pins(trial, "# the framework\nfastapi==0.65.1   # pinned in 2021\n\n",
                 {"fastapi": "0.65.1"},
                 "A # starts a comment, at the start of a line or after white space: cut it off "
                 "before parsing the requirement.")


@suite.check("pins_options", "parse_pins: options such as -e . and -r file are skipped")
def pins_options(trial: Trial) -> None:
    _expect_pins(trial, "-r base.txt\n--index-url https://pypi.org/simple\nfastapi==0.65.1\n"
                        "-e .\n",
                 {"fastapi": "0.65.1"},
                 "A line starting with - is an option for pip (-e ., -r file, --index-url), "
                 "not a requirement.")


@suite.check("pins_exact_only", "parse_pins: only exact pins (==), no ranges, wildcards or URLs")
def pins_exact_only(trial: Trial) -> None:
    _expect_pins(trial, "requests>=2.31\nhttpx~=0.27\nrich==13.*\npython-multipart\n"
                        "mypkg @ https://example.org/mypkg-1.0.tar.gz\nclick==8.1.7\n",
                 {"click": "8.1.7"},
                 "Only click==8.1.7 pins one version. A range (>=, ~=), a wildcard (==13.*), a "
                 "URL or a bare name lets the next install choose another version.")


@suite.check("pins_canonical", "parse_pins: names in canonical form (PEP 503)")
def pins_canonical(trial: Trial) -> None:
    _expect_pins(trial, "Zope.Interface==8.7\nStarlette==0.38.6\nruamel_yaml==0.18.6\n",
                 {"zope-interface": "8.7", "starlette": "0.38.6", "ruamel-yaml": "0.18.6"},
                 "PyPI compares names in canonical form: lower case, and every run of -, _ or "
                 ". as one - (canonical_name).")


@suite.check("pins_lock", "parse_pins: lock files (continued lines, --hash, markers)")
def pins_lock(trial: Trial) -> None:
    _expect_pins(trial, LOCK_EXCERPT,
                 {"ecdsa": "0.19.1", "starlette": "0.38.6", "uvloop": "0.23.0",
                  "urllib3": "1.26.17"},
                 "A lock continues a line with a backslash (the --hash=... lines belong to the "
                 "requirement above: join them first, and drop the options), and may add an "
                 "environment marker after ';'.")


# -- affected ------------------------------------------------------------------------------------


def _key(finding: Finding) -> Key:
    return canonical_name(finding.package), finding.id, finding.fixed


def _findings(trial: Trial, pins: Mapping[str, str],
              advisories: Iterable[Mapping[str, Any]] = ADVISORIES) -> set[Key]:
    found = trial.affected(dict(pins), list(advisories))
    problem = findings_problem(found, "affected")
    expect(problem is None, f"{problem} (from lessons.supply_chain import Finding)")
    return {_key(f) for f in found}


def _describe(keys: Iterable[Key]) -> str:
    return ", ".join(f"{p} {i} (fixed {fx})" for p, i, fx in sorted(keys, key=str)) or "nothing"


def _expect_findings(trial: Trial, pins: Mapping[str, str], expected: set[Key], hint: str,
                     advisories: Iterable[Mapping[str, Any]] = ADVISORIES) -> None:
    got = _findings(trial, pins, advisories)
    missing, extra = expected - got, got - expected
    wrong_fix = {(p, i) for p, i, _ in missing} & {(p, i) for p, i, _ in extra}
    expect(not wrong_fix,
           f"For {dict(pins)} you reported the right advisories but the wrong fixed version for "
           f"{sorted(wrong_fix)}: the fix for a version is the first 'fixed' event above it, "
           f"on its own stretch of the range. Expected {_describe(expected)}. {hint}")
    expect(not missing and not extra,
           f"For {dict(pins)} expected {_describe(expected)}; you reported {_describe(got)}. "
           f"{hint}")


def _advisory(advisory_id: str, ecosystem: str, name: str,
              ranges: list[dict[str, Any]]) -> dict[str, Any]:
    """A made-up OSV record, for the rules the snapshot has no example of."""
    return {"id": advisory_id, "aliases": [], "summary": "made up by the check",
            "affected": [{"package": {"ecosystem": ecosystem, "name": name}, "ranges": ranges}]}


@suite.check("affected_finds", "affected: every advisory of the snapshot, with its fix")
def affected_finds(trial: Trial) -> None:
    _expect_findings(trial, {"fastapi": "0.65.1", "python-jose": "3.3.0"}, {
        ("fastapi", "PYSEC-2021-100", "0.65.2"), ("fastapi", "PYSEC-2024-38", "0.109.1"),
        ("python-jose", "PYSEC-2024-232", "3.4.0"), ("python-jose", "PYSEC-2024-233", "3.4.0"),
        ("python-jose", "PYSEC-2025-185", None),
    }, "Report one Finding per advisory that affects the pin, every one of them.")


@suite.check("affected_ecosystem", "affected: only packages of the PyPI ecosystem")
def affected_ecosystem(trial: Trial) -> None:
    npm = _advisory("TEST-NPM-1", "npm", "fastapi",
                    [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}])
    _expect_findings(trial, {"fastapi": "0.165.0"}, set(),
                     "This made-up advisory is for an npm package that happens to be called "
                     "fastapi: keep entries whose package ecosystem is 'PyPI'.", [npm])


@suite.check("affected_git_ranges", "affected: only ranges of type ECOSYSTEM, never GIT")
def affected_git_ranges(trial: Trial) -> None:
    git = _advisory("TEST-GIT-1", "PyPI", "fastapi", [
        {"type": "GIT", "repo": "https://github.com/fastapi/fastapi",
         "events": [{"introduced": "0"}, {"fixed": "9c6f2a1e5d"}]},
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.100.0"}]}])
    hint = ("A GIT range names commits, not releases: read only ranges whose type is "
            "'ECOSYSTEM'.")
    try:
        _expect_findings(trial, {"fastapi": "0.165.0"}, set(), hint, [git])
    except InvalidVersion as error:
        raise Fail(f"Your affected raised InvalidVersion ({error}) on a range of type GIT. "
                   f"{hint}") from None


@suite.check("affected_canonical", "affected: package names compared in canonical form")
def affected_canonical(trial: Trial) -> None:
    _expect_findings(trial, {"PyJWT": "2.10.0"}, {
        ("pyjwt", "PYSEC-2026-179", "2.13.0"), ("pyjwt", "PYSEC-2026-1814", "2.10.1")},
        "The pins say PyJWT, the advisories pyjwt: compare canonical_name() of both.")


@suite.check("affected_versions", "affected: versions compared as versions, not as strings")
def affected_versions(trial: Trial) -> None:
    _expect_findings(trial, {"ecdsa": "0.9"}, {
        ("ecdsa", "PYSEC-2026-1325", None), ("ecdsa", "PYSEC-2026-2467", "0.19.2"),
    }, "As text '0.9' > '0.19.2'; as versions 0.9 < 0.19.2. Compare with "
       "packaging.version.Version.")
    _expect_findings(trial, {"fastapi": "0.100.0"}, {("fastapi", "PYSEC-2024-38", "0.109.1")},
                     "As text '0.100.0' < '0.65.2', but version 0.100.0 came after 0.65.2. "
                     "Compare with packaging.version.Version.")


URLLIB3_HINT = ("urllib3's ranges list two stretches in one range (introduced 2.0.0, fixed "
                "2.0.6, introduced 0, fixed 1.26.17), not in order: sort the events by version "
                "and walk them, so that 1.26.x is fixed on the 1.26 line and 2.0.x on the 2.0 "
                "line.")


@suite.check("affected_stretches", "affected: every stretch of a range, events sorted")
def affected_stretches(trial: Trial) -> None:
    _expect_findings(trial, {"urllib3": "2.0.5"}, {
        ("urllib3", "PYSEC-2023-192", "2.0.6"), ("urllib3", "PYSEC-2023-212", "2.0.7")},
        URLLIB3_HINT)
    _expect_findings(trial, {"urllib3": "2.0.7"}, set(), URLLIB3_HINT)
    _expect_findings(trial, {"urllib3": "1.26.17"}, {("urllib3", "PYSEC-2023-212", "1.26.18")},
                     URLLIB3_HINT)


@suite.check("affected_fix", "affected: the fix for the pinned version's own line")
def affected_fix(trial: Trial) -> None:
    _expect_findings(trial, {"urllib3": "1.26.5"}, {
        ("urllib3", "PYSEC-2023-192", "1.26.17"), ("urllib3", "PYSEC-2023-212", "1.26.18")},
        "1.26.5 is fixed by 1.26.17, on its own line; 2.0.6 fixes the 2.0 line.")


@suite.check("affected_introduced", "affected: versions before 'introduced' are not affected")
def affected_introduced(trial: Trial) -> None:
    hint = "A range can start later than 0: versions before 'introduced' are not affected."
    _expect_findings(trial, {"pyjwt": "2.9.0"}, {("pyjwt", "PYSEC-2026-179", "2.13.0")}, hint)
    _expect_findings(trial, {"starlette": "0.38.6"}, {
        ("starlette", "PYSEC-2026-161", "1.0.1"), ("starlette", "PYSEC-2026-1941", "0.47.2"),
        ("starlette", "PYSEC-2026-1943", "0.40.0"), ("starlette", "PYSEC-2026-2280", "1.1.0"),
        ("starlette", "PYSEC-2026-2281", "1.1.0"),
    }, "starlette 0.38.6 is older than 0.39.0, where PYSEC-2026-1942 was introduced. " + hint)


@suite.check("affected_last_affected", "affected: releases after 'last_affected' are safe")
def affected_last_affected(trial: Trial) -> None:
    _expect_findings(trial, {"python-jose": "3.4.0"}, set(),
                     "PYSEC-2025-185 ends with last_affected 3.3.0: 3.4.0 is not affected.")


@suite.check("affected_no_fix", "affected: an advisory with no fix has fixed=None")
def affected_no_fix(trial: Trial) -> None:
    _expect_findings(trial, {"ecdsa": "0.19.2"}, {("ecdsa", "PYSEC-2026-1325", None)},
                     "PYSEC-2026-1325 has only 'introduced 0': every version is affected and "
                     "there is no fixed release (fixed=None).")


@suite.check("affected_attack", "no published advisory slips past your audit (the attack)")
def affected_attack(trial: Trial) -> None:
    for label, text in REQUIREMENT_SETS.items():
        pins = parse_pins(text)
        _findings(trial, pins)  # the shape first, so that a wrong one is named as such
        result = attacks.run_known_advisories(pins, ADVISORIES, trial.affected)
        expect(not result.succeeded,
               f"In {label}: {result.evidence}. An attacker reads the same database you do.")


# -- triage --------------------------------------------------------------------------------------

MINERVA = Finding("ecdsa", "0.19.2", "PYSEC-2026-1325", ("CVE-2024-23342", "GHSA-wj6h-64fc-37mp"))
CONFUSION = Finding("python-jose", "3.3.0", "PYSEC-2024-232",
                    ("CVE-2024-33663", "GHSA-6c5p-j8vq-pqhj"), "3.4.0")
REVIEW_BY = date(2027, 5, 31)


def _triage(trial: Trial, findings: list[Finding], exceptions: list[AuditException],
            today: date = TODAY) -> tuple[set[str], set[str]]:
    result = trial.triage(list(findings), list(exceptions), today)
    expect_type(result, tuple, "triage", "a pair (still_open, accepted) of lists of findings")
    expect(len(result) == 2 and all(isinstance(part, list | tuple) for part in result),
           f"Your triage returned {result!r:.80}; it should return a pair (still_open, "
           "accepted) of lists of findings.")
    expect(all(isinstance(f, Finding) for part in result for f in part),
           "Your triage should return the Finding objects it was given, split in two lists.")
    still_open, accepted = ([f.id for f in part] for part in result)
    return set(still_open), set(accepted)


@suite.check("triage_alias", "triage: an exception names an advisory by its id or an alias")
def triage_alias(trial: Trial) -> None:
    by_alias = AuditException("GHSA-wj6h-64fc-37mp", "ecdsa", "We never sign with ECDSA.",
                              REVIEW_BY)
    _, accepted = _triage(trial, [MINERVA], [by_alias])
    expect(accepted == {MINERVA.id},
           "The exception names the ecdsa advisory by its alias GHSA-wj6h-64fc-37mp: compare "
           "the exception's id and aliases with the finding's id and aliases.")


@suite.check("triage_package", "triage: an exception holds only for the package it names")
def triage_package(trial: Trial) -> None:
    other = AuditException(CONFUSION.id, "pyjwt", "We do not use python-jose's keys.",
                           REVIEW_BY)
    still_open, _ = _triage(trial, [CONFUSION], [other])
    expect(still_open == {CONFUSION.id},
           "An exception for pyjwt must not accept a python-jose finding with the same id: "
           "compare canonical package names too.")


@suite.check("triage_reason", "triage: an exception with a blank reason accepts nothing")
def triage_reason(trial: Trial) -> None:
    blank = AuditException(MINERVA.id, "ecdsa", "   ", REVIEW_BY)
    still_open, _ = _triage(trial, [MINERVA], [blank])
    expect(still_open == {MINERVA.id},
           "An exception whose reason is blank accepts nothing: the reason is the point.")


@suite.check("triage_expired", "triage: an exception past its review date accepts nothing")
def triage_expired(trial: Trial) -> None:
    stale = AuditException(MINERVA.id, "ecdsa", "We never sign with ECDSA.", date(2026, 6, 30))
    still_open, _ = _triage(trial, [MINERVA], [stale])
    expect(still_open == {MINERVA.id},
           "The exception's review date (2026-06-30) has passed (today is 2026-11-29): it no "
           "longer counts.")


@suite.check("triage_review_day", "triage: an exception still holds on its review date")
def triage_review_day(trial: Trial) -> None:
    today = AuditException(MINERVA.id, "ecdsa", "We never sign with ECDSA.", TODAY)
    _, accepted = _triage(trial, [MINERVA], [today])
    expect(accepted == {MINERVA.id},
           "An exception holds until its review date, that day included: today <= review_by.")


@suite.check("triage_once", "triage: every finding comes back once, open or accepted")
def triage_once(trial: Trial) -> None:
    exceptions = [AuditException(MINERVA.id, "ecdsa", "We never sign with ECDSA.", REVIEW_BY),
                  AuditException("CVE-2024-23342", "ecdsa", "Said twice, by its CVE.",
                                 REVIEW_BY)]
    result = trial.triage([MINERVA, CONFUSION], list(exceptions), TODAY)
    _triage(trial, [MINERVA, CONFUSION], exceptions)  # the shape, checked
    still_open, accepted = ([f.id for f in part] for part in result)
    expect(still_open == [CONFUSION.id] and accepted == [MINERVA.id],
           f"You returned still open {still_open}, accepted {accepted}: each finding should "
           "come back exactly once (two exceptions may cover the same one), in (still_open, "
           "accepted) order.")


# -- hash_pin ------------------------------------------------------------------------------------


def _hash_pin_line(trial: Trial, wheel: Any) -> str:
    line = trial.hash_pin(attacks.PACKAGE, attacks.VERSION, wheel)
    expect_type(line, str, "hash_pin", "a str: name==version --hash=sha256:<hex digest>")
    return str(line)


@suite.check("hash_pin_installs", "hash_pin: pip installs the honest wheel with your line")
def hash_pin_installs(trial: Trial) -> None:
    root = ensure_private_dir(trial.root / "honest")
    mirror = attacks.publish(root)
    line = _hash_pin_line(trial, mirror.mirror / attacks.WHEEL_NAME)
    result = attacks.pip_install([line], mirror.mirror, root / "site", require_hashes=True)
    expect(result.ok and result.verify_tls == "1",
           f"pip did not install the honest wheel from your line {line!r}: {result.message} "
           "Write name==version --hash=sha256:<hex digest of the whole file>.")


@suite.check("hash_pin_refuses", "a tampered wheel is refused with your hash_pin line (the attack)")
def hash_pin_refuses(trial: Trial) -> None:
    root = ensure_private_dir(trial.root / "tampered")
    result = attacks.run_tampered_install(root, pin=lambda n, v, w: _hash_pin_line(trial, w))
    expect(not result.succeeded,
           f"The tampered wheel was installed ({result.evidence}). The line must carry the "
           "SHA-256 of the file you tested, so that pip has something to compare.")
    expect("DO NOT MATCH THE HASHES" in result.evidence,
           f"pip refused your line for another reason ({result.evidence}), so it would refuse "
           "the honest wheel too. Write name==version --hash=sha256:<hex digest>.")


# -- optional: the token seam with PyJWT ---------------------------------------------------------

PYJWT_REQUIRE = ('PyJWT checks a claim only when the token has it, unless told to require it: '
                 'options={"require": ["sub", "iat", "nbf", "exp", "iss", "aud", "jti"]}. '
                 "(python-jose's require_exp and the like mean nothing to PyJWT.)")


def _claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "alice", "iat": now, "nbf": now, "exp": now + 600,
              "iss": settings.token_issuer, "aud": settings.token_audience,
              "jti": secrets.token_urlsafe(8), "scope": "notes:read"}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _signed(settings: Settings, algorithm: str = tokens.ALGORITHM, key: str | None = None,
            **changes: Any) -> str:
    with warnings.catch_warnings():
        # HS512 with the service's 43-character key: PyJWT warns that the key is short for
        # SHA-512. The token is the attacker's; the warning is not the learner's business.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return pyjwt.encode(_claims(settings, **changes), key or settings.secret_key,
                            algorithm=algorithm)


def _unsigned(settings: Settings) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(_claims(settings))}."


def _accepted(trial: Trial, settings: Settings, token: str) -> bool:
    """Did the learner's decode accept ``token``? Only ``JWTError`` counts as a refusal."""
    try:
        trial.decode_token_pyjwt(settings, token)
    except JOSEError:
        return False
    except pyjwt.PyJWTError as error:
        raise Fail(f"Your decode_token_pyjwt let PyJWT's {type(error).__name__} out: the "
                   "seam's contract is python-jose's error, so catch jwt.PyJWTError and raise "
                   "JWTError from it (from jose import JWTError).") from None
    return True


@suite.check("pyjwt_issue", "optional: issue_token_pyjwt makes the service's tokens (HS256)")
def pyjwt_issue(trial: Trial) -> None:
    settings = trial.settings()
    token = trial.issue_token_pyjwt(settings, "alice", ["notes:read"])
    expect_type(token, str, "issue_token_pyjwt", "the str jwt.encode returns")
    try:
        header = pyjwt.get_unverified_header(token)
        claims = tokens.decode_token(settings, token)  # the reference decode, python-jose
    except (pyjwt.PyJWTError, JOSEError) as error:
        raise Fail(f"The service's own decode refused your token ({error}). Sign with "
                   "jwt.encode(claims, settings.secret_key, algorithm=\"HS256\"), with sub, "
                   "iat, nbf, exp, iss, aud, jti and scope, as in lesson 02.") from None
    expect(header.get("alg") == tokens.ALGORITHM, "The token's header should say HS256.")
    expect(claims.get("sub") == "alice" and claims.get("scope") == "notes:read",
           "sub should be the user the token is for, and scope the scopes, separated by "
           "spaces.")


@suite.check("pyjwt_algorithms", "optional: decode_token_pyjwt verifies the HS256 signature")
def pyjwt_algorithms(trial: Trial) -> None:
    settings = trial.settings()
    expect(_accepted(trial, settings, _signed(settings)),
           "Your decode refused a valid HS256 token signed with settings.secret_key.")
    forged = {"unsigned (alg: none)": _unsigned(settings),
              "signed with another key": _signed(settings, key=secrets.token_urlsafe(32)),
              "signed with HS512": _signed(settings, algorithm="HS512")}
    let_in = [name for name, token in forged.items() if _accepted(trial, settings, token)]
    expect(not let_in, f"Your decode accepted tokens {', '.join(let_in)}. Verify the signature "
                       "with jwt.decode(token, settings.secret_key, algorithms=[\"HS256\"]): "
                       "never verify_signature=False, and one algorithm only.")


@suite.check("pyjwt_audience_issuer", "optional: decode_token_pyjwt checks audience and issuer")
def pyjwt_audience_issuer(trial: Trial) -> None:
    settings = trial.settings()
    wrong = {"for another audience": _signed(settings, aud="https://other.example"),
             "from another issuer": _signed(settings, iss="https://issuer.example")}
    let_in = [name for name, token in wrong.items() if _accepted(trial, settings, token)]
    expect(not let_in, f"Your decode accepted tokens {', '.join(let_in)}: pass "
                       "audience=settings.token_audience and issuer=settings.token_issuer.")


@suite.check("pyjwt_requires", "optional: decode_token_pyjwt requires every registered claim")
def pyjwt_requires(trial: Trial) -> None:
    settings = trial.settings()
    let_in = [claim for claim in tokens.REQUIRED_CLAIMS
              if _accepted(trial, settings, _signed(settings, **{claim: None}))]
    expect(not let_in, f"Your decode accepted tokens with no {', '.join(let_in)}. "
                       + PYJWT_REQUIRE)


@suite.check("pyjwt_errors", "optional: decode_token_pyjwt raises python-jose's JWTError")
def pyjwt_errors(trial: Trial) -> None:
    settings = trial.settings()
    expired = _signed(settings, exp=int(time.time()) - 60)
    try:
        trial.decode_token_pyjwt(settings, expired)
    except JWTError:
        return
    except pyjwt.PyJWTError as error:
        raise Fail(f"Your decode let PyJWT's {type(error).__name__} out. The service catches "
                   "python-jose's JWTError: catch jwt.PyJWTError and raise JWTError from "
                   "it.") from None
    raise Fail("Your decode accepted an expired token: leave PyJWT's exp check on.")


@suite.check("pyjwt_lesson02", "optional: lesson 02's checks and attacks pass with PyJWT")
def pyjwt_lesson02(trial: Trial) -> None:
    from lessons.checks import lesson02  # the lesson-02 suite itself, unchanged

    answers = {"issue_token": trial.issue_token_pyjwt, "decode_token": trial.decode_token_pyjwt}
    report = run_with(lesson02.suite, lesson02.REFERENCE, answers)
    failed = [o for o in report.outcomes if o.status in (FAILED, WORKBOOK_ERROR)]
    if not failed and any(o.status == NOT_ATTEMPTED for o in report.outcomes):
        raise NotImplementedError("issue_token_pyjwt, decode_token_pyjwt")
    if failed:
        first = failed[0]
        raise Fail(f"{len(failed)} of lesson 02's {len(report.outcomes)} checks did not pass "
                   f"with your PyJWT functions, first '{first.title}': {first.hint}"
                   " (Lesson 02's hints speak of python-jose; with PyJWT, see the checks "
                   "above.)")


# -- the rules the exercise text states, and the reference answers -----------------------------

RULES: tuple[Rule, ...] = (
    Rule("pins_no_extras", "parse_pins", "names without extras such as [standard]",
         ("pins_extras",)),
    Rule("pins_skip_comments", "parse_pins", "skip comments", ("pins_comments",)),
    Rule("pins_skip_options", "parse_pins", "skip options (-e ., -r file)", ("pins_options",)),
    Rule("pins_exact_only", "parse_pins",
         "skip anything that is not an exact pin (>=, ~=, ==1.*, URLs)", ("pins_exact_only",)),
    Rule("pins_canonical", "parse_pins", "names in canonical form (canonical_name)",
         ("pins_canonical",)),
    Rule("pins_lock_format", "parse_pins", "lock files: a backslash continues a line, and an "
         "environment marker may follow ';'", ("pins_lock",)),
    Rule("affected_every_advisory", "affected", "a Finding for every advisory that affects a "
         "pinned version (no published advisory slips past the audit)",
         ("affected_finds", "affected_attack")),
    Rule("affected_pypi_only", "affected", "keep entries whose package is in the PyPI "
         "ecosystem", ("affected_ecosystem",)),
    Rule("affected_ecosystem_ranges", "affected", "only ranges of type ECOSYSTEM (GIT ranges "
         "name commits)", ("affected_git_ranges",)),
    Rule("affected_canonical", "affected", "compare canonical names", ("affected_canonical",)),
    Rule("affected_versions", "affected", "compare versions with Version, never as strings",
         ("affected_versions",)),
    Rule("affected_sorted_events", "affected", "sort a range's events by version and walk them: "
         "a range can hold several stretches", ("affected_stretches",)),
    Rule("affected_introduced", "affected", "introduced makes later versions affected, not "
         "earlier ones", ("affected_introduced",)),
    Rule("affected_fix_for_version", "affected", "fixed is the release that fixes it for that "
         "version: the first fixed event above it", ("affected_fix",)),
    Rule("affected_last_affected", "affected", "last_affected makes versions after it safe",
         ("affected_last_affected",)),
    Rule("affected_no_fix", "affected", "fixed is None when there is no fix",
         ("affected_no_fix",)),
    Rule("triage_alias", "triage", "shares an id: the finding's id or aliases against the "
         "exception's id or aliases", ("triage_alias",)),
    Rule("triage_package", "triage", "names the same package (canonical names)",
         ("triage_package",)),
    Rule("triage_reason", "triage", "has a reason that is not blank", ("triage_reason",)),
    Rule("triage_review_date", "triage", "today is on or before its review_by date",
         ("triage_expired", "triage_review_day")),
    Rule("triage_once", "triage", "every finding comes back exactly once, in (still_open, "
         "accepted)", ("triage_once",)),
    Rule("hash_pin_sha256", "hash_pin", "name==version --hash=sha256: and the hexadecimal "
         "SHA-256 of the whole file", ("hash_pin_installs", "hash_pin_refuses")),
    Rule("hash_pin_refuses_tampering", "hash_pin", "pip refuses a file whose hash was not "
         "recorded (the tampered wheel)", ("hash_pin_refuses",)),
    Rule("pyjwt_same_tokens", "issue_token_pyjwt", "the same claims as lesson 02, HS256 with "
         "settings.secret_key", ("pyjwt_issue", "pyjwt_lesson02")),
    Rule("pyjwt_one_algorithm", "decode_token_pyjwt", "a decode that verifies the signature "
         "with its one algorithm", ("pyjwt_algorithms", "pyjwt_lesson02")),
    Rule("pyjwt_audience_issuer", "decode_token_pyjwt", "checks audience and issuer",
         ("pyjwt_audience_issuer", "pyjwt_lesson02")),
    Rule("pyjwt_requires", "decode_token_pyjwt", "requires sub, iat, nbf, exp, iss, aud, jti "
         "(PyJWT's options={\"require\": [...]})", ("pyjwt_requires", "pyjwt_lesson02")),
    Rule("pyjwt_jose_errors", "decode_token_pyjwt", "catch jwt.PyJWTError and raise "
         "jose.JWTError instead", ("pyjwt_errors", "pyjwt_lesson02")),
)

REFERENCE: dict[str, Callable[..., Any]] = {
    "parse_pins": parse_pins,
    "affected": affected,
    "triage": triage,
    "hash_pin": attacks.hash_pin,
    "issue_token_pyjwt": issue_token_pyjwt,
    "decode_token_pyjwt": decode_token_pyjwt,
}


def check(**answers: Any) -> Report:
    """Run the lesson-05 checks: ``check(parse_pins=..., affected=..., triage=...,
    hash_pin=..., issue_token_pyjwt=..., decode_token_pyjwt=...)`` (the last two optional)."""
    return suite.run(**answers)


from lessons.checks.wrong_lesson05 import WRONG_ANSWERS  # noqa: E402 - they use the suite's data

__all__ = ["REFERENCE", "RULES", "WRONG_ANSWERS", "check", "suite"]
