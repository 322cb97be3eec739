"""Lesson 05's plausible wrong answers: each is almost right, breaks one rule of the exercise
text, and must fail exactly the checks its ``WrongAnswer`` names (``tests/test_check_suites.py``).

They are written as a learner would write them, from the exercise text, each with its one
mistake; ``_pins``, ``_affected`` and ``_triage`` hold the right code with a switch for it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import jwt
from jose import JWTError
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from lessons.checks import WrongAnswer
from lessons.settings import Settings
from lessons.supply_chain import AuditException, Finding, canonical_name

# -- parse_pins ----------------------------------------------------------------------------------


def _pins(text: str, *, join_lines: bool = True, strip_comments: bool = True,
          skip_options: bool = True, exact_only: bool = True,
          name_of: Callable[[Requirement, str], str] | None = None) -> dict[str, str]:
    pins = {}
    if join_lines:
        text = re.sub(r"\\\r?\n", " ", text)
    for line in text.splitlines():
        if strip_comments:
            line = re.sub(r"(^|\s)#.*", "", line)
        line = line.strip()
        if not line or (skip_options and line.startswith("-")):
            continue
        spec = line.split(" --")[0]
        try:
            requirement = Requirement(spec)
        except InvalidRequirement:
            continue
        specifiers = list(requirement.specifier)
        if not specifiers:
            continue
        if exact_only and not (len(specifiers) == 1 and specifiers[0].operator == "=="
                               and "*" not in specifiers[0].version):
            continue
        name = name_of(requirement, spec) if name_of else canonical_name(requirement.name)
        pins[name] = specifiers[0].version
    return pins


def pins_keeping_extras(text: str) -> dict[str, str]:
    """Takes the name as everything before '==': 'uvicorn[standard]'."""
    return _pins(text, name_of=lambda r, spec: canonical_name(spec.split("==")[0].split(";")[0]
                                                              .strip()))


def pins_with_comments(text: str) -> dict[str, str]:
    """Skips whole-line comments only: 'fastapi==0.65.1   # pinned' does not parse."""
    return _pins("\n".join(line for line in text.splitlines()
                           if not line.lstrip().startswith("#")), strip_comments=False)


def pins_following_includes(text: str) -> dict[str, str]:
    """Follows '-r base.txt' by opening that file: parse_pins is handed text, and the file is
    on someone else's machine (here, nowhere)."""
    pins = {}
    for line in text.splitlines():
        if line.startswith("-r "):
            pins.update(_pins(Path(line[3:].strip()).read_text(encoding="utf-8")))
    return {**pins, **_pins(text)}


def pins_any_operator(text: str) -> dict[str, str]:
    """Records the version of every requirement that has one: 'requests>=2.31' too."""
    return _pins(text, exact_only=False)


def pins_lower_case(text: str) -> dict[str, str]:
    """Lower-cases the name instead of putting it in canonical form."""
    return _pins(text, name_of=lambda r, spec: r.name.lower())


def pins_line_by_line(text: str) -> dict[str, str]:
    """Reads line by line: a lock's 'name==1.0 \\' lines do not parse."""
    return _pins(text, join_lines=False)


# -- affected ------------------------------------------------------------------------------------


def _affected(pins: Mapping[str, str], advisories: Iterable[Mapping[str, Any]], *,
              ecosystem: bool = True, range_type: bool = True, canonical: bool = True,
              as_version: Callable[[str], Any] = Version, sort_events: bool = True,
              introduced_from_start: bool = False, fix: str = "first above",
              last_affected: bool = True, no_fix: str | None = None,
              first_per_package: bool = False) -> list[Finding]:
    name_of = canonical_name if canonical else (lambda name: name)
    wanted = {name_of(name): version for name, version in pins.items()}
    findings: list[Finding] = []
    reported: set[str] = set()
    for advisory in advisories:
        for entry in advisory.get("affected", []):
            package = entry.get("package", {})
            name = name_of(package.get("name", ""))
            if (ecosystem and package.get("ecosystem") != "PyPI") or name not in wanted:
                continue
            if first_per_package and name in reported:
                continue
            version = as_version(wanted[name])
            for span in entry.get("ranges", []):
                if range_type and span.get("type") != "ECOSYSTEM":
                    continue
                events = [(kind, as_version(text)) for event in span["events"]
                          for kind, text in event.items()]
                if sort_events:
                    events.sort(key=lambda event: event[1])
                hit = False
                for kind, bound in events:
                    if kind == "introduced" and (version >= bound or introduced_from_start):
                        hit = True
                    elif kind == "fixed" and version >= bound:
                        hit = False
                    elif kind == "last_affected" and last_affected and version > bound:
                        hit = False
                if not hit:
                    continue
                fixes = [b for kind, b in events if kind == "fixed"]
                above = [b for b in fixes if b > version]
                chosen = (min(above) if above else None) if fix == "first above" else (
                    max(fixes) if fixes else None)
                findings.append(Finding(
                    package=name, version=wanted[name], id=advisory["id"],
                    aliases=tuple(advisory.get("aliases", [])),
                    fixed=str(chosen) if chosen is not None else no_fix))
                reported.add(name)
                break
    return findings


def affected_any_ecosystem(pins, advisories) -> list[Finding]:
    """Matches the package name, whatever its ecosystem."""
    return _affected(pins, advisories, ecosystem=False)


def affected_every_range(pins, advisories) -> list[Finding]:
    """Reads every range, GIT ones too: a commit id is no version."""
    return _affected(pins, advisories, range_type=False)


def affected_raw_names(pins, advisories) -> list[Finding]:
    """Compares names as written: 'PyJWT' is not 'pyjwt'."""
    return _affected(pins, advisories, canonical=False)


def affected_as_strings(pins, advisories) -> list[Finding]:
    """Compares versions as strings."""
    return _affected(pins, advisories, as_version=str)


def affected_unsorted(pins, advisories) -> list[Finding]:
    """Walks the events in the order the record lists them."""
    return _affected(pins, advisories, sort_events=False)


def affected_from_zero(pins, advisories) -> list[Finding]:
    """Treats every range as starting at the first release."""
    return _affected(pins, advisories, introduced_from_start=True)


def affected_highest_fix(pins, advisories) -> list[Finding]:
    """The right advisories, but the highest 'fixed' of the range as the fix."""
    return _affected(pins, advisories, fix="highest")


def affected_ignoring_last_affected(pins, advisories) -> list[Finding]:
    """Reads introduced and fixed, and forgets last_affected."""
    return _affected(pins, advisories, last_affected=False)


def affected_fix_as_text(pins, advisories) -> list[Finding]:
    """Writes 'none' when there is no fix, instead of None."""
    return _affected(pins, advisories, no_fix="none")


def affected_one_per_package(pins, advisories) -> list[Finding]:
    """Stops at the first advisory of each package."""
    return _affected(pins, advisories, first_per_package=True)


def affected_as_dicts(pins, advisories) -> list[dict[str, Any]]:
    """The right findings, as dicts instead of Finding objects."""
    return [{"package": f.package, "id": f.id, "fixed": f.fixed}
            for f in _affected(pins, advisories)]


# -- triage --------------------------------------------------------------------------------------


def _triage(findings: Iterable[Finding], exceptions: Iterable[AuditException], today: date, *,
            aliases: bool = True, package: bool = True, reason: bool = True,
            review: Callable[[date, date], bool] = lambda today, by: today <= by,
            once: bool = True) -> tuple[list[Finding], list[Finding]]:
    valid = [e for e in exceptions
             if (not reason or e.reason.strip()) and review(today, e.review_by)]
    still_open: list[Finding] = []
    accepted: list[Finding] = []
    for finding in findings:
        names = {finding.id, *finding.aliases} if aliases else {finding.id}
        covering = [e for e in valid
                    if (not package or canonical_name(e.package) == canonical_name(finding.package))
                    and names & ({e.id, *e.aliases} if aliases else {e.id})]
        if not covering:
            still_open.append(finding)
        elif once:
            accepted.append(finding)
        else:
            accepted.extend(finding for _ in covering)
    return still_open, accepted


def triage_by_id_only(findings, exceptions, today):
    """Compares the finding's id with the exception's id, and no aliases."""
    return _triage(findings, exceptions, today, aliases=False)


def triage_any_package(findings, exceptions, today):
    """Matches advisory ids whatever package the exception names."""
    return _triage(findings, exceptions, today, package=False)


def triage_without_reason(findings, exceptions, today):
    """Honours an exception whatever its reason says, blank included."""
    return _triage(findings, exceptions, today, reason=False)


def triage_ignoring_dates(findings, exceptions, today):
    """Never looks at the review date."""
    return _triage(findings, exceptions, today, review=lambda today, by: True)


def triage_before_the_day(findings, exceptions, today):
    """today < review_by: the exception lapses on its review date itself."""
    return _triage(findings, exceptions, today, review=lambda today, by: today < by)


def triage_per_exception(findings, exceptions, today):
    """Appends a finding once per exception that covers it."""
    return _triage(findings, exceptions, today, once=False)


# -- hash_pin ------------------------------------------------------------------------------------


def hash_pin_md5(name, version, wheel) -> str:
    """The right line, with MD5: pip's hash-checking mode refuses it."""
    return f"{name}=={version} --hash=md5:{hashlib.md5(wheel.read_bytes()).hexdigest()}"  # noqa: S324


def hash_pin_of_the_name(name, version, wheel) -> str:
    """Hashes the file's name instead of its bytes."""
    return f"{name}=={version} --hash=sha256:{hashlib.sha256(str(wheel).encode()).hexdigest()}"


def hash_pin_version_only(name, version, wheel) -> str:
    """Pins the version, and no hash."""
    return f"{name}=={version}"


# -- PyJWT ---------------------------------------------------------------------------------------

CLAIMS = ("sub", "iat", "nbf", "exp", "iss", "aud", "jti")


def _issue(settings: Settings, username: str, scopes: Iterable[str], *,
           algorithm: str = "HS256") -> str:
    now = int(time.time())
    return jwt.encode({
        "sub": username, "iat": now, "nbf": now, "exp": now + settings.token_minutes * 60,
        "iss": settings.token_issuer, "aud": settings.token_audience,
        "jti": secrets.token_urlsafe(16), "scope": " ".join(sorted(scopes)),
    }, settings.secret_key, algorithm=algorithm)


def issue_pyjwt_hs512(settings: Settings, username: str, scopes: Iterable[str]) -> str:
    """Signs with HS512 'to be safer': the service decodes HS256 only."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return _issue(settings, username, scopes, algorithm="HS512")


def _decode(settings: Settings, token: str, *, options: dict[str, Any] | None = None,
            issuer: bool = True, convert: bool = True) -> dict[str, Any]:
    try:
        return dict(jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                               audience=settings.token_audience,
                               issuer=settings.token_issuer if issuer else None,
                               options={"require": list(CLAIMS)} if options is None else options))
    except jwt.PyJWTError as error:
        if not convert:
            raise
        raise JWTError(str(error)) from error


def decode_pyjwt_unverified(settings: Settings, token: str) -> dict[str, Any]:
    """Turns off the signature check 'to read the claims first'."""
    return _decode(settings, token, options={"require": list(CLAIMS),
                                             "verify_signature": False})


def decode_pyjwt_no_issuer(settings: Settings, token: str) -> dict[str, Any]:
    """Passes the audience and forgets the issuer."""
    return _decode(settings, token, issuer=False)


def decode_pyjwt_jose_options(settings: Settings, token: str) -> dict[str, Any]:
    """python-jose's option names, which PyJWT silently ignores."""
    return _decode(settings, token, options={f"require_{claim}": True for claim in CLAIMS})


def decode_pyjwt_leaks_its_errors(settings: Settings, token: str) -> dict[str, Any]:
    """Lets PyJWT's own errors out: the service catches python-jose's JWTError."""
    return _decode(settings, token, convert=False)


# -- the wrong answers, each with the checks it must fail ----------------------------------------

SHAPE = "each item should be a Finding"
ALL_AFFECTED = ("affected_finds", "affected_canonical", "affected_versions", "affected_stretches",
                "affected_fix", "affected_introduced", "affected_attack")


def _wrong(rule: str, why: str, exercise: str, answer: Callable[..., Any],
           fails: Mapping[str, str]) -> WrongAnswer:
    return WrongAnswer(rule, why, {exercise: answer}, dict(fails))


WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    _wrong("pins_no_extras", "the name keeps [standard]", "parse_pins", pins_keeping_extras,
           {"pins_extras": "it is not part of its name"}),
    _wrong("pins_skip_comments", "a comment after a pin breaks the line", "parse_pins",
           pins_with_comments, {"pins_comments": "cut it off before parsing"}),
    _wrong("pins_skip_options", "follows -r into a file it was not given", "parse_pins",
           pins_following_includes, {"pins_options": "Your parse_pins raised FileNotFoundError"}),
    _wrong("pins_exact_only", "a range counts as a pin", "parse_pins", pins_any_operator,
           {"pins_exact_only": "Only click==8.1.7 pins one version"}),
    _wrong("pins_canonical", "lower case is not canonical form", "parse_pins", pins_lower_case,
           {"pins_canonical": "every run of -, _ or . as one -"}),
    _wrong("pins_lock_format", "continued lines read one by one", "parse_pins",
           pins_line_by_line, {"pins_lock": "continues a line with a backslash"}),
    _wrong("affected_every_advisory", "one advisory per package", "affected",
           affected_one_per_package,
           {**{check: "expected" for check in ALL_AFFECTED},
            "affected_attack": "An attacker reads the same database you do"}),
    _wrong("affected_every_advisory", "dicts, not Finding objects", "affected",
           affected_as_dicts, {**{check: SHAPE for check in ALL_AFFECTED},
                               "affected_no_fix": SHAPE}),
    _wrong("affected_pypi_only", "an npm package of the same name", "affected",
           affected_any_ecosystem, {"affected_ecosystem": "keep entries whose package ecosystem"}),
    _wrong("affected_ecosystem_ranges", "a GIT range read as versions", "affected",
           affected_every_range,
           {**{check: "Your affected raised InvalidVersion" for check in ALL_AFFECTED
               if check != "affected_canonical"},  # pyjwt's records have no GIT range
            "affected_git_ranges": "A GIT range names commits"}),
    _wrong("affected_canonical", "PyJWT is not pyjwt as written", "affected", affected_raw_names,
           {"affected_canonical": "compare canonical_name() of both"}),
    _wrong("affected_versions", "versions compared as strings", "affected", affected_as_strings,
           {"affected_finds": "expected", "affected_versions": "Compare with packaging.version",
            "affected_fix": "expected", "affected_introduced": "expected",
            "affected_attack": "An attacker reads the same database you do"}),
    _wrong("affected_sorted_events", "events walked in the record's order", "affected",
           affected_unsorted, {"affected_stretches": "sort the events by version",
                               "affected_attack": "An attacker reads the same database"}),
    _wrong("affected_introduced", "every range from the first release", "affected",
           affected_from_zero, {"affected_stretches": "sort the events by version",
                                "affected_introduced": "A range can start later than 0"}),
    _wrong("affected_fix_for_version", "the highest fix of the range", "affected",
           affected_highest_fix, {"affected_stretches": "the wrong fixed version",
                                  "affected_fix": "the wrong fixed version"}),
    _wrong("affected_last_affected", "last_affected forgotten", "affected",
           affected_ignoring_last_affected,
           {"affected_last_affected": "ends with last_affected 3.3.0"}),
    _wrong("affected_no_fix", "'none' instead of None", "affected", affected_fix_as_text,
           {"affected_finds": "whose fixed is str 'none'", "affected_versions": "str 'none'",
            "affected_no_fix": "str 'none'", "affected_attack": "str 'none'"}),
    _wrong("triage_alias", "ids compared without aliases", "triage", triage_by_id_only,
           {"triage_alias": "by its alias GHSA-wj6h-64fc-37mp"}),
    _wrong("triage_package", "an exception for any package", "triage", triage_any_package,
           {"triage_package": "compare canonical package names too"}),
    _wrong("triage_reason", "a blank reason accepted", "triage", triage_without_reason,
           {"triage_reason": "the reason is the point"}),
    _wrong("triage_review_date", "review dates never read", "triage", triage_ignoring_dates,
           {"triage_expired": "it no longer counts"}),
    _wrong("triage_review_date", "today < review_by, off by one day", "triage",
           triage_before_the_day, {"triage_review_day": "that day included"}),
    _wrong("triage_once", "once per covering exception", "triage", triage_per_exception,
           {"triage_once": "each finding should come back exactly once"}),
    _wrong("hash_pin_sha256", "MD5 instead of SHA-256", "hash_pin", hash_pin_md5,
           {"hash_pin_installs": "pip did not install the honest wheel",
            "hash_pin_refuses": "pip refused your line for another reason"}),
    _wrong("hash_pin_sha256", "the hash of the file's name", "hash_pin", hash_pin_of_the_name,
           {"hash_pin_installs": "hex digest of the whole file"}),
    _wrong("hash_pin_refuses_tampering", "a version pin and no hash", "hash_pin",
           hash_pin_version_only,
           {"hash_pin_installs": "pip did not install the honest wheel",
            "hash_pin_refuses": "The tampered wheel was installed"}),
    _wrong("pyjwt_same_tokens", "HS512 instead of HS256", "issue_token_pyjwt", issue_pyjwt_hs512,
           {"pyjwt_issue": "The service's own decode refused your token",
            "pyjwt_lesson02": "of lesson 02's"}),
    _wrong("pyjwt_one_algorithm", "the signature check turned off", "decode_token_pyjwt",
           decode_pyjwt_unverified,
           {"pyjwt_algorithms": "never verify_signature=False",
            "pyjwt_audience_issuer": "issuer=settings.token_issuer",
            "pyjwt_errors": "leave PyJWT's exp check on", "pyjwt_lesson02": "of lesson 02's"}),
    _wrong("pyjwt_audience_issuer", "the issuer forgotten", "decode_token_pyjwt",
           decode_pyjwt_no_issuer, {"pyjwt_audience_issuer": "from another issuer",
                                    "pyjwt_lesson02": "of lesson 02's"}),
    _wrong("pyjwt_requires", "python-jose's option names", "decode_token_pyjwt",
           decode_pyjwt_jose_options, {"pyjwt_requires": 'options={"require": [',
                                       "pyjwt_lesson02": "with PyJWT, see the checks above"}),
    _wrong("pyjwt_jose_errors", "PyJWT's errors let out", "decode_token_pyjwt",
           decode_pyjwt_leaks_its_errors,
           {"pyjwt_algorithms": "let PyJWT's", "pyjwt_audience_issuer": "let PyJWT's",
            "pyjwt_requires": "let PyJWT's", "pyjwt_errors": "raise JWTError from it",
            "pyjwt_lesson02": "of lesson 02's"}),
)
