"""Lesson 05: the audit against the advisory snapshot, the lock files' agreement with
requirements.txt, the tampered-wheel refusal, the container recipe, and the checks (pass the
solution and the reference, "not attempted" on stubs, fail plausible wrong answers)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from lessons import author, cli, supply_chain, tokens
from lessons.attacks import lesson05 as attacks
from lessons.checks import FAILED, PASSED
from lessons.checks import lesson05 as checks
from lessons.checks.lesson05 import REFERENCE
from lessons.supply_chain import AuditException, Finding

NOTEBOOK = "05_dependencies.ipynb"
SNAPSHOT = supply_chain.load_snapshot()
ADVISORIES = list(SNAPSHOT.vulns)


def keys(findings: list[Finding]) -> set[tuple[str, str, str | None]]:
    return {(f.package, f.id, f.fixed) for f in findings}


# -- the snapshot ------------------------------------------------------------------------------


def test_snapshot_says_when_and_where_from() -> None:
    about = SNAPSHOT.about
    assert date.fromisoformat(about["taken"]) >= date.fromisoformat(
        about["newest_record_modified"][:10])
    assert "pypa/advisory-database" in about["database"]
    assert set(about["files"]) == {v["id"] for v in ADVISORIES}
    for record in ADVISORIES:
        assert record["id"].startswith("PYSEC-")
        assert record["aliases"], record["id"]
        assert all(a.startswith(("CVE-", "GHSA-")) for a in record["aliases"])
        for entry in record["affected"]:
            assert entry["package"]["ecosystem"] == "PyPI"
            assert any(r["type"] == "ECOSYSTEM" for r in entry["ranges"])


@pytest.mark.parametrize(("advisory", "package", "alias", "fixed"), [
    ("PYSEC-2024-232", "python-jose", "CVE-2024-33663", "3.4.0"),
    ("PYSEC-2024-233", "python-jose", "CVE-2024-33664", "3.4.0"),
    ("PYSEC-2021-100", "fastapi", "CVE-2021-32677", "0.65.2"),
    ("PYSEC-2023-83", "starlette", "CVE-2023-29159", "0.27.0"),
    ("PYSEC-2026-1325", "ecdsa", "CVE-2024-23342", None),  # Minerva: no fix, ever
])
def test_snapshot_holds_the_advisories_the_lesson_needs(advisory, package, alias, fixed) -> None:
    record = SNAPSHOT.by_id(alias)
    assert record["id"] == advisory
    (entry,) = record["affected"]
    assert entry["package"]["name"] == package
    events = [e for r in entry["ranges"] if r["type"] == "ECOSYSTEM" for e in r["events"]]
    assert [e["fixed"] for e in events if "fixed" in e][:1] == ([fixed] if fixed else [])


# -- the audit -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("pins", "expected"), [
    ({"python-jose": "3.3.0"}, {("python-jose", "PYSEC-2024-232", "3.4.0"),
                                ("python-jose", "PYSEC-2024-233", "3.4.0"),
                                ("python-jose", "PYSEC-2025-185", None)}),
    ({"python-jose": "3.5.0"}, set()),
    ({"fastapi": "0.65.1"}, {("fastapi", "PYSEC-2021-100", "0.65.2"),
                             ("fastapi", "PYSEC-2024-38", "0.109.1")}),
    ({"fastapi": "0.100.0"}, {("fastapi", "PYSEC-2024-38", "0.109.1")}),
    ({"ecdsa": "0.9"}, {("ecdsa", "PYSEC-2026-1325", None),
                        ("ecdsa", "PYSEC-2026-2467", "0.19.2")}),
    ({"ecdsa": "0.19.2"}, {("ecdsa", "PYSEC-2026-1325", None)}),
    ({"urllib3": "1.26.5"}, {("urllib3", "PYSEC-2023-192", "1.26.17"),
                             ("urllib3", "PYSEC-2023-212", "1.26.18")}),
    ({"urllib3": "1.26.17"}, {("urllib3", "PYSEC-2023-212", "1.26.18")}),
    ({"urllib3": "2.0.5"}, {("urllib3", "PYSEC-2023-192", "2.0.6"),
                            ("urllib3", "PYSEC-2023-212", "2.0.7")}),
    ({"urllib3": "2.0.7"}, set()),
    ({"PyJWT": "2.10.0"}, {("pyjwt", "PYSEC-2026-179", "2.13.0"),
                           ("pyjwt", "PYSEC-2026-1814", "2.10.1")}),
    ({"starlette": "0.38.6"}, {("starlette", s, f) for s, f in (
        ("PYSEC-2026-161", "1.0.1"), ("PYSEC-2026-1941", "0.47.2"), ("PYSEC-2026-1943", "0.40.0"),
        ("PYSEC-2026-2280", "1.1.0"), ("PYSEC-2026-2281", "1.1.0"))}),
    ({"starlette": "1.10.0", "fastapi": "0.165.0", "pyjwt": "2.15.1"}, set()),
])
def test_the_audit_finds_each_advisory_with_its_fix(pins, expected) -> None:
    assert keys(supply_chain.affected(pins, ADVISORIES)) == expected


def test_last_affected_is_reported_and_upgrade_advice_follows_it() -> None:
    (finding,) = [f for f in supply_chain.affected({"python-jose": "3.3.0"}, ADVISORIES)
                  if f.id == "PYSEC-2025-185"]
    assert (finding.fixed, finding.last_affected) == (None, "3.3.0")
    assert supply_chain.upgrade_advice([finding]) == {"python-jose": "a release after 3.3.0"}
    report = supply_chain.audit_report(supply_chain.affected({"python-jose": "3.3.0"}, ADVISORIES))
    assert "upgrade to 3.4.0 or later" in report
    report = supply_chain.audit_report(supply_chain.affected({"ecdsa": "0.19.1"}, ADVISORIES))
    assert "upgrade to 0.19.2 or later; 1 with no fixed release: triage" in report


@pytest.mark.parametrize(("version", "expected"), [
    ("0.1", (True, "1.26.17", None)), ("1.26.16", (True, "1.26.17", None)),
    ("1.26.17", (False, None, None)), ("2.0.0", (True, "2.0.6", None)),
    ("2.0.6", (False, None, None)), ("3.0", (False, None, None)),
])
def test_range_events_in_any_order(version, expected) -> None:
    events = [{"introduced": "2.0.0"}, {"fixed": "2.0.6"}, {"introduced": "0"},
              {"fixed": "1.26.17"}]
    assert supply_chain.in_range(Version(version), events) == expected
    assert supply_chain.in_range(Version(version), list(reversed(events))) == expected


def test_pins_are_read_from_our_own_files() -> None:
    pins = supply_chain.parse_pins(supply_chain.REQUIREMENTS.read_text())
    assert pins["python-jose"] == "3.5.0" and pins["uvicorn"] == "0.54.0"
    assert "fastapi-security-workbook" not in pins
    locked = supply_chain.parse_pins(supply_chain.LOCK.read_text())
    assert "ecdsa" in locked and "ecdsa" not in pins  # the lock has the whole tree


# -- the lock files ------------------------------------------------------------------------------


def test_the_lock_files_agree_with_requirements_txt() -> None:
    requirements = supply_chain.REQUIREMENTS.read_text()
    problems = (supply_chain.lock_problems(requirements, supply_chain.LOCK.read_text())
                + supply_chain.build_lock_problems(requirements,
                                                   supply_chain.BUILD_LOCK.read_text()))
    assert not problems, ("The lock files do not agree with requirements.txt:\n  "
                          + "\n  ".join(problems)
                          + f"\nRegenerate them with `{supply_chain.LOCK_COMMAND}`.")


def test_every_locked_file_has_a_hash_and_the_lock_is_universal() -> None:
    locked = supply_chain.parse_lock(supply_chain.LOCK.read_text())
    assert all(e.hashes and e.version for entries in locked.values() for e in entries)
    assert all(h.startswith("sha256:") for entries in locked.values() for e in entries
               for h in e.hashes)
    markers = " ".join(e.marker for entries in locked.values() for e in entries)
    assert 'sys_platform == "win32"' in markers  # Windows-only packages are in, marked
    header = supply_chain.LOCK.read_text().splitlines()[:2]
    assert supply_chain.LOCK_COMMAND in header[1]
    assert "-e" not in supply_chain.lock_input("fastapi==1.0\n-e .\n")


@pytest.mark.parametrize(("requirements", "lock", "problem"), [
    ("a==1.0\n-e .\n", "a==1.1 \\\n    --hash=sha256:00\n", "pinned at 1.0 but locked at 1.1"),
    ("a==1.0\nb==2.0\n", "a==1.0 \\\n    --hash=sha256:00\n",
     "b==2.0 is pinned but not in the lock"),
    ("a==1.0\n", "a==1.0\n", "a is locked without a hash"),
    ("a>=1.0\n", "a==1.0 \\\n    --hash=sha256:00\n", "is not an exact pin"),
])
def test_the_agreement_test_can_fail(requirements, lock, problem) -> None:
    assert any(problem in p for p in supply_chain.lock_problems(requirements, lock))


def test_lock_check_command(capsys, monkeypatch, tmp_path: Path) -> None:
    files = {"REQUIREMENTS": "a==1.0\nsetuptools==80.0\n-e .\n",
             "LOCK": "a==1.0 \\\n    --hash=sha256:00\nsetuptools==80.0 \\\n    --hash=sha256:11\n",
             "BUILD_LOCK": "setuptools==80.0 \\\n    --hash=sha256:11\n"}
    for name, text in files.items():
        (tmp_path / f"{name}.txt").write_text(text)
        monkeypatch.setattr(supply_chain, name, tmp_path / f"{name}.txt")
    assert author.main(["lock", "--check"]) == 0
    assert "agree with REQUIREMENTS.txt" in capsys.readouterr().out
    (tmp_path / "REQUIREMENTS.txt").write_text("a==1.1\nsetuptools==80.0\n")
    assert author.main(["lock", "--check"]) == 1
    assert supply_chain.LOCK_COMMAND in capsys.readouterr().err


def test_audit_command_offline(capsys) -> None:
    assert cli.main(["audit", "--offline"]) == 0
    assert "1 accepted with a reason, 0 open" in capsys.readouterr().out


# -- the tampered wheel --------------------------------------------------------------------------


def test_the_wheel_is_built_the_same_every_time(tmp_path: Path) -> None:
    first = attacks.build_wheel(tmp_path / "a").read_bytes()
    second = attacks.build_wheel(tmp_path / "b").read_bytes()
    assert first == second
    assert hashlib.sha256(first).hexdigest().startswith("fc5de052ad0fe00b")  # as in the notebook


def test_a_tampered_wheel_installs_without_hashes(tmp_path: Path) -> None:
    result = attacks.run_tampered_install(tmp_path, attacks.plain_pin)
    assert result.succeeded and "VERIFY_TLS = 0" in result.evidence


def test_a_tampered_wheel_is_refused_with_require_hashes(tmp_path: Path) -> None:
    result = attacks.run_tampered_install(tmp_path, attacks.hash_pin)
    assert not result.succeeded
    assert "DO NOT MATCH THE HASHES" in result.evidence
    assert str(tmp_path) not in result.evidence  # no machine paths in what the notebook shows


def test_the_honest_wheel_installs_with_require_hashes(tmp_path: Path) -> None:
    scene = attacks.publish(tmp_path)
    line = attacks.hash_pin("tinyhelper", "1.0", scene.mirror / attacks.WHEEL_NAME)
    result = attacks.pip_install([line], scene.mirror, tmp_path / "site", require_hashes=True)
    assert result.ok and result.verify_tls == "1"


def test_what_the_archive_checks_and_what_it_does_not(tmp_path: Path) -> None:
    """A byte flipped in place breaks a CRC (by accident); a rebuilt archive with a stale
    RECORD installs, so pip did not check RECORD; only the recorded hash refuses both."""
    scene = attacks.publish(tmp_path)
    wheel = scene.mirror / attacks.WHEEL_NAME
    attacks.flip_byte_in_place(wheel)
    flipped = attacks.pip_install(["tinyhelper==1.0"], scene.mirror, tmp_path / "s1")
    assert not flipped.ok and "Bad CRC-32" in flipped.message
    attacks.build_wheel(scene.mirror)
    attacks.tamper(wheel, update_record=False)
    stale = attacks.pip_install(["tinyhelper==1.0"], scene.mirror, tmp_path / "s2")
    assert stale.ok and stale.verify_tls == "0"
    refused = attacks.pip_install([f"tinyhelper==1.0 --hash=sha256:{scene.honest_sha256}"],
                                  scene.mirror, tmp_path / "s3", require_hashes=True)
    assert not refused.ok


# -- triage ---------------------------------------------------------------------------------------


def test_our_exceptions_file_is_valid_and_covers_our_only_snapshot_finding() -> None:
    exceptions = supply_chain.load_exceptions()
    assert {e.package for e in exceptions} == {"ecdsa", "python-jose"}
    found = supply_chain.affected(supply_chain.parse_pins(supply_chain.LOCK.read_text()),
                                  ADVISORIES)
    still_open, accepted = supply_chain.triage(found, exceptions,
                                               date.fromisoformat(SNAPSHOT.taken))
    assert still_open == [] and [f.id for f in accepted] == ["PYSEC-2026-1325"]


def test_no_accepted_exception_is_past_its_review_date() -> None:
    """ASVS 15.2.1: an exception past its date is a finding again. When this fails, read the
    reason in lessons/data/audit_exceptions.toml again, then fix the finding or move the date."""
    overdue = [f"{e.package} {e.id} (review by {e.review_by})"
               for e in supply_chain.load_exceptions() if e.review_by < date.today()]
    assert not overdue, f"Exceptions past their review date: {overdue}"


def test_the_ecdsa_exception_rests_on_facts() -> None:
    assert any(r.startswith("ecdsa") for r in metadata.requires("python-jose") or [])
    probe = supply_chain.modules_loaded_by_tokens("ecdsa")
    assert probe == {"round_trip": True, "loaded": [],
                     "ec_backend": "jose.backends.cryptography_backend"}


def test_a_malformed_exception_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('[[exception]]\nid = "X"\npackage = "y"\nreview_by = 2030-01-01\n')
    with pytest.raises(supply_chain.ExceptionsFileError, match="reason"):
        supply_chain.load_exceptions(path)


# -- pip-audit, read honestly ----------------------------------------------------------------------


def fake_run(stdout: str, stderr: str = "", returncode: int = 0):
    def run(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, returncode, stdout, stderr)
    return run


def test_pip_audit_skips_are_not_a_clean_result(monkeypatch, tmp_path: Path) -> None:
    # pip-audit 2.10.1's JSON when PyPI's JSON API answers 404 (seen on this machine); on
    # stderr it says "No known vulnerabilities found" and it exits 0.
    report = {"dependencies": [
        {"name": "python-jose", "skip_reason": "Dependency not found on PyPI and could not be "
                                               "audited: python-jose (3.5.0)"},
        {"name": "starlette", "skip_reason": "Dependency not found on PyPI and could not be "
                                             "audited: starlette (1.10.0)"}], "fixes": []}
    monkeypatch.setattr(subprocess, "run", fake_run(json.dumps(report),
                                                    "No known vulnerabilities found"))
    result = supply_chain.run_pip_audit(tmp_path / "r.lock")
    assert not result.conclusive and result.audited == 0 and len(result.skipped) == 2
    assert "could not be audited" in result.summary() and "unknown, not safe" in result.summary()


def test_pip_audit_findings_and_crashes(monkeypatch, tmp_path: Path) -> None:
    report = {"dependencies": [{"name": "ecdsa", "version": "0.19.2", "vulns": [
        {"id": "GHSA-wj6h-64fc-37mp", "fix_versions": [], "aliases": ["CVE-2024-23342"]}]},
        {"name": "fastapi", "version": "0.165.0", "vulns": []}], "fixes": []}
    monkeypatch.setattr(subprocess, "run", fake_run(json.dumps(report), returncode=1))
    result = supply_chain.run_pip_audit(tmp_path / "r.lock")
    assert result.conclusive and result.audited == 2
    still_open, accepted = supply_chain.triage(result.findings, supply_chain.load_exceptions(),
                                               date(2026, 11, 29))
    assert not still_open and accepted[0].package == "ecdsa"  # matched through its alias
    monkeypatch.setattr(subprocess, "run", fake_run(
        "", "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', "
            "port=443): Max retries exceeded", returncode=1))
    crashed = supply_chain.run_pip_audit(tmp_path / "r.lock", service="osv")
    assert crashed.error == "could not connect to api.osv.dev" and not crashed.conclusive


@pytest.mark.slow
def test_pip_audit_really_runs_and_is_read_honestly() -> None:
    (result,) = supply_chain.live_audit(supply_chain.BUILD_LOCK)[:1]
    assert result.error or result.audited + len(result.skipped) == 1
    assert result.conclusive == (not result.error and result.audited == 1)


# -- the container recipe ----------------------------------------------------------------------


def test_our_container_recipe() -> None:
    text = (supply_chain.ROOT / "Containerfile").read_text()
    results = supply_chain.check_recipe(text, date.today())
    assert all(r.ok for r in results), [str(r) for r in results]
    runs = " ".join(a for kind, a in supply_chain.recipe_instructions(text) if kind == "RUN")
    assert "requirements-build.lock" in runs and "--no-build-isolation" in runs


@pytest.mark.parametrize(("recipe", "failing"), [
    ("FROM python:3.8-slim\nRUN pip install -r requirements.txt\n",
     {"supported Python", "non-root user", "hash-locked install"}),
    ("FROM python:3.13-slim\nRUN pip install --require-hashes -r requirements.lock \\\n"
     "  && pip install --no-deps .\nUSER app\nUSER root\n", {"non-root user"}),
    ("FROM python:3.10@sha256:" + "0" * 64 + "\nUSER 0:0\n",
     {"supported Python", "non-root user", "hash-locked install"}),
    ("FROM docker.io/library/python:3.13-slim\n# USER app\nRUN pip install --require-hashes "
     "-r requirements.lock && pip install --no-deps -e .\nUSER 10001\n", set()),
])
def test_the_recipe_checks_can_fail(recipe, failing) -> None:
    results = supply_chain.check_recipe(recipe, date(2026, 11, 29))
    assert {r.name for r in results if not r.ok} == failing


# -- maintenance review and the PyJWT alternative --------------------------------------------------


def test_the_review_matches_our_pins() -> None:
    pins = supply_chain.parse_pins(supply_chain.REQUIREMENTS.read_text())
    for review in supply_chain.MAINTENANCE_REVIEW:
        assert review.sources and review.verdict
        name = supply_chain.canonical_name(review.package)
        if name in pins:
            assert review.latest.startswith(pins[name] + " "), (
                f"{review.package} is pinned at {pins[name]}; update the review "
                f"({review.latest}) in lessons/supply_chain.py")


def test_pyjwt_backend_passes_lesson_02_suite_unchanged() -> None:
    from lessons.checks import lesson02

    report = lesson02.suite.run(record=False, issue_token=supply_chain.issue_token_pyjwt,
                                decode_token=supply_chain.decode_token_pyjwt,
                                caller_from_token=tokens.caller_from_token)
    assert report.passed, str(report)


def test_tokens_from_either_library_verify_with_the_other(settings) -> None:
    jose_token = tokens.issue_token(settings, "alice", ["notes:read"])
    assert supply_chain.decode_token_pyjwt(settings, jose_token)["sub"] == "alice"
    pyjwt_token = supply_chain.issue_token_pyjwt(settings, "bob", ["notes:read"])
    assert tokens.decode_token(settings, pyjwt_token)["sub"] == "bob"


@pytest.mark.slow
def test_passlib_fails_with_bcrypt_5_and_libpass_works(tmp_path: Path) -> None:
    demo = supply_chain.passlib_with_bcrypt5(tmp_path)
    if not demo.ran_now:
        pytest.skip("PyPI is not reachable: the demonstration could not run")
    passlib, libpass = demo.outcomes["passlib 1.7.4"], demo.outcomes["libpass 1.9.4"]
    assert not passlib["ok"] and "longer than 72 bytes" in passlib["error"]
    assert libpass["ok"] and libpass["prefix"] == "$2b$" and not libpass["warnings"]


# -- the checks -----------------------------------------------------------------------------------


def run_only(names: set[str], **answers: Any):
    """The lesson's suite restricted to some checks, so that wrong answers run quickly."""
    return checks.suite.subset(*names).run(record=False, **answers)


def test_attacks_succeed_without_an_audit_and_fail_against_the_reference() -> None:
    for text in checks.REQUIREMENT_SETS.values():
        pins = supply_chain.parse_pins(text)
        assert attacks.run_known_advisories(pins, ADVISORIES, attacks.audit_nothing).succeeded
        assert not attacks.run_known_advisories(pins, ADVISORIES,
                                                supply_chain.affected).succeeded


# Plausible wrong answers.

def pins_by_splitting(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def versions_as_strings(pins, advisories) -> list[Finding]:
    found = []
    for advisory in advisories:
        for entry in advisory["affected"]:
            name = entry["package"]["name"]
            if name not in pins:
                continue
            for span in entry["ranges"]:
                if span["type"] != "ECOSYSTEM":
                    continue
                start = next(e["introduced"] for e in span["events"] if "introduced" in e)
                fixed = next((e["fixed"] for e in span["events"] if "fixed" in e), None)
                if start <= pins[name] and (fixed is None or pins[name] < fixed):
                    found.append(Finding(name, pins[name], advisory["id"], (), fixed))
                    break
    return found


def first_stretch_only(pins, advisories) -> list[Finding]:
    """Versions compared properly, but only the first introduced/fixed pair of each range."""
    found = []
    for advisory in advisories:
        for entry in advisory["affected"]:
            name = supply_chain.canonical_name(entry["package"]["name"])
            if name not in pins:
                continue
            for span in entry["ranges"]:
                if span["type"] != "ECOSYSTEM":
                    continue
                start = next(e["introduced"] for e in span["events"] if "introduced" in e)
                fixed = next((e["fixed"] for e in span["events"] if "fixed" in e), None)
                last = next((e["last_affected"] for e in span["events"]
                             if "last_affected" in e), None)
                v = Version(pins[name])
                if (v >= Version(start) and (fixed is None or v < Version(fixed))
                        and (last is None or v <= Version(last))):
                    found.append(Finding(name, pins[name], advisory["id"], (), fixed))
                    break
    return found


def highest_fix_reported(pins, advisories) -> list[Finding]:
    """The right advisories, but the highest fixed event of the range as "the" fix."""
    found = supply_chain.affected(pins, advisories)
    result = []
    for f in found:
        record = next(a for a in advisories if a["id"] == f.id)
        fixes = [Version(e["fixed"]) for r in record["affected"][0]["ranges"]
                 if r["type"] == "ECOSYSTEM" for e in r["events"] if "fixed" in e]
        result.append(Finding(f.package, f.version, f.id, f.aliases,
                              str(max(fixes)) if fixes else None))
    return result


def ignoring_last_affected(pins, advisories) -> list[Finding]:
    no_last = [{**a, "affected": [{**e, "ranges": [
        {**r, "events": [x for x in r["events"] if "last_affected" not in x]}
        for r in e["ranges"]]} for e in a["affected"]]} for a in advisories]
    return supply_chain.affected(pins, no_last)


def triage_ignoring_dates(findings, exceptions, today):
    return supply_chain.triage(findings, exceptions, date(1970, 1, 1))


def triage_by_id_only(findings, exceptions, today):
    ids = {e.id for e in exceptions}
    return ([f for f in findings if f.id not in ids], [f for f in findings if f.id in ids])


def triage_ignoring_package(findings, exceptions, today):
    anywhere = [AuditException(e.id, "*", e.reason, e.review_by, e.aliases) for e in exceptions]
    still_open, accepted = [], []
    for f in findings:
        hit = any(e.ids & f.ids and e.reason.strip() and today <= e.review_by for e in anywhere)
        (accepted if hit else still_open).append(f)
    return still_open, accepted


def md5_pin(name, version, wheel) -> str:
    return f"{name}=={version} --hash=md5:{hashlib.md5(wheel.read_bytes()).hexdigest()}"


def hash_of_the_name(name, version, wheel) -> str:
    return f"{name}=={version} --hash=sha256:{hashlib.sha256(name.encode()).hexdigest()}"


def decode_without_required_claims(settings, token):
    import jwt
    from jose import JWTError
    try:
        return jwt.decode(token, settings.secret_key, algorithms=["HS256"],
                          audience=settings.token_audience, issuer=settings.token_issuer)
    except jwt.PyJWTError as error:
        raise JWTError(str(error)) from error


PARSE = {"parse_pins reads exact pins from requirements and lock files"}
AUDIT = {"affected finds the snapshot's advisories, with the release that fixes each",
         "affected compares versions as versions, not as strings",
         "affected follows ranges with several events and reports the right fix",
         "affected handles last_affected and advisories with no fix",
         "no published advisory slips past your audit (the attack)"}
TRIAGE = {"triage accepts only matching, unexpired exceptions with a reason"}
HASH = {"hash_pin writes a line pip installs with --require-hashes",
        "a tampered wheel is refused with your hash_pin line (the attack)"}
PYJWT = {"optional: lesson 02's checks and attacks pass with your PyJWT backend"}


@pytest.mark.parametrize(("wrong", "names", "must_fail"), [
    ({"parse_pins": pins_by_splitting}, PARSE, PARSE),
    ({"affected": versions_as_strings}, AUDIT,
     {"affected compares versions as versions, not as strings"}),
    ({"affected": first_stretch_only}, AUDIT,
     {"affected follows ranges with several events and reports the right fix"}),
    ({"affected": highest_fix_reported}, AUDIT,
     {"affected follows ranges with several events and reports the right fix"}),
    ({"affected": ignoring_last_affected}, AUDIT,
     {"affected handles last_affected and advisories with no fix"}),
    ({"triage": triage_ignoring_dates}, TRIAGE, TRIAGE),
    ({"triage": triage_by_id_only}, TRIAGE, TRIAGE),
    ({"triage": triage_ignoring_package}, TRIAGE, TRIAGE),
    ({"hash_pin": md5_pin}, HASH, HASH),
    ({"hash_pin": hash_of_the_name}, HASH,
     {"hash_pin writes a line pip installs with --require-hashes"}),
    ({"hash_pin": attacks.plain_pin}, HASH,
     {"a tampered wheel is refused with your hash_pin line (the attack)"}),
    ({"decode_token_pyjwt": decode_without_required_claims}, PYJWT, PYJWT),
], ids=lambda value: value.__name__ if callable(value) else None)
def test_checks_fail_plausible_wrong_answers(wrong, names, must_fail) -> None:
    report = run_only(names, **{**REFERENCE, **wrong})
    for name in must_fail:
        assert report.status_of(name) == FAILED, str(report)
    assert all(o.hint for o in report.outcomes if o.status == FAILED)
    assert all(o.status in (PASSED, FAILED) for o in report.outcomes)
