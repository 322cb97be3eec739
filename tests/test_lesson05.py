"""Lesson 05: the audit against the advisory snapshot, the lock files' agreement with
pyproject.toml, the tampered-wheel refusal, triage, pip-audit read honestly, the container
recipe, the maintenance review and the PyJWT variant. (The checks' rules and wrong answers are
proved by tests/test_check_suites.py; the attacks by tests/test_attacks.py.)"""

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
from lessons.catalog import ROOT
from lessons.checks import lesson05 as checks
from lessons.checks import run_with
from lessons.supply_chain import (
    Finding,
    container,
    live,
    lockfile,
    passlib_demo,
    project,
    pyjwt_variant,
    review,
    risk_acceptance,
)
from lessons.textfiles import read_text

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


@pytest.mark.parametrize(("value", "said"), [
    (None, "returned NoneType None; it should return a list of Finding"),
    ({"fastapi": "0.65.2"}, "returned dict"),
    ([("fastapi", "PYSEC-2021-100")], "each item should be a Finding"),
    ([Finding("fastapi", "0.65.1", "PYSEC-2021-100", (), "0.65.2 or later")],
     "whose fixed is str '0.65.2 or later'"),
    ([Finding("fastapi", "0.65.1", "PYSEC-2021-100", (), Version("0.65.2"))],  # type: ignore[arg-type]
     "whose fixed is Version"),
    ([Finding("fastapi", "0.65.1", "PYSEC-2021-100", None)],  # type: ignore[arg-type]
     "whose aliases are NoneType"),
])
def test_the_report_names_a_wrong_value_instead_of_crashing(value, said) -> None:
    """Issue 10: the notebook prints the learner's findings with audit_report; InvalidVersion
    from inside the workbook was reported as a crash. Now it says what the function returned."""
    report = supply_chain.audit_report(value, "affected()")
    assert report.startswith("Your affected() returned") and said in report, report


def test_the_declared_groups_are_read_from_pyproject() -> None:
    service = supply_chain.parse_pins(project.declared_text([project.SERVICE]))
    assert service["python-jose"] == "3.5.0" and service["uvicorn"] == "0.54.0"
    everything = supply_chain.parse_pins(project.declared_text(project.GROUPS))
    assert {"jupyterlab", "sslyze", "sqlmap", "locust"} <= set(everything)
    assert not {"jupyterlab", "sslyze", "sqlmap", "pytest", "locust"} & set(service)
    locked = supply_chain.parse_pins(read_text(lockfile.SERVICE_LOCK))
    assert "ecdsa" in locked and "ecdsa" not in service  # the lock has the whole tree
    assert project.declaration_problems() == []


# -- the lock files ------------------------------------------------------------------------------


def test_the_lock_files_agree_with_pyproject() -> None:
    problems = lockfile.all_problems()
    assert not problems, ("The lock files do not agree with pyproject.toml:\n  "
                          + "\n  ".join(problems)
                          + f"\nRegenerate them with `{lockfile.LOCK_COMMAND}`.")


@pytest.mark.parametrize("lock", lockfile.LOCKS, ids=lambda lock: lock.name)
def test_every_locked_file_has_a_hash_and_the_lock_is_universal(lock) -> None:
    text = read_text(lock.path)
    locked = lockfile.parse_lock(text)
    assert all(e.hashes and e.version for entries in locked.values() for e in entries)
    assert all(h.startswith("sha256:") for entries in locked.values() for e in entries
               for h in e.hashes)
    assert lockfile.LOCK_COMMAND in text.splitlines()[1]
    if lock.path != lockfile.BUILD_LOCK:
        markers = " ".join(e.marker for entries in locked.values() for e in entries)
        assert '"win32"' in markers  # Windows-only (or Windows-less) packages are in, marked


def test_the_service_lock_is_the_service_alone() -> None:
    """The image and the audit take the service's dependencies, at the very versions (and with
    the very files) the universal lock gives the tests."""
    service = lockfile.parse_lock(read_text(lockfile.SERVICE_LOCK))
    everything = lockfile.parse_lock(read_text(lockfile.LOCK))
    assert set(service) < set(everything)
    for tool in ("jupyterlab", "ipykernel", "nbval", "pytest", "sqlmap", "sslyze", "nassl",
                 "schemathesis", "pip-audit", "playwright", "locust", "setuptools"):
        assert tool not in service, tool
    assert lockfile.subset_problems(read_text(lockfile.SERVICE_LOCK),
                                    read_text(lockfile.LOCK)) == []
    assert lockfile.subset_problems("fastapi==0.1 \\\n    --hash=sha256:00\n",
                                    read_text(lockfile.LOCK))


def test_requirements_txt_installs_every_group_pinned() -> None:
    assert project.requirements_txt_problems(read_text(project.REQUIREMENTS)) == []
    assert project.requirements_txt_problems("-e .[workbook]\n")
    assert project.requirements_txt_problems("-e .[workbook,tools,load]\nrequests>=2\n")
    data = project.pyproject()
    data["project"]["dependencies"] = [*data["project"]["dependencies"], "requests>=2"]
    assert any("not an exact pin" in p for p in project.declaration_problems(data))


@pytest.mark.parametrize(("requirements", "lock", "problem"), [
    ("a==1.0\n-e .\n", "a==1.1 \\\n    --hash=sha256:00\n", "pinned at 1.0 but locked at 1.1"),
    ("a==1.0\nb==2.0\n", "a==1.0 \\\n    --hash=sha256:00\n",
     "b==2.0 is pinned but not in the lock"),
    ("a==1.0\n", "a==1.0\n", "a is locked without a hash"),
    ("a>=1.0\n", "a==1.0 \\\n    --hash=sha256:00\n", "is not an exact pin"),
])
def test_the_agreement_test_can_fail(requirements, lock, problem) -> None:
    assert any(problem in p for p in lockfile.lock_problems(requirements, lock))


def test_lock_check_command(capsys, monkeypatch) -> None:
    assert author.main(["lock", "--check"]) == 0
    assert "agree with pyproject.toml" in capsys.readouterr().out
    monkeypatch.setattr(lockfile, "all_problems", lambda: ["a is pinned at 1.0 but locked at 1.1"])
    assert author.main(["lock", "--check"]) == 1
    assert lockfile.LOCK_COMMAND in capsys.readouterr().err


def test_audit_command_offline_judges_the_service(capsys) -> None:
    assert cli.main(["audit", "--offline"]) == 0
    out = capsys.readouterr().out
    assert lockfile.SERVICE_LOCK.name in out and "1 accepted with a reason, 0 open" in out


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


@pytest.mark.parametrize("lock", [lockfile.SERVICE_LOCK, lockfile.LOCK], ids=lambda p: p.name)
def test_our_exceptions_file_is_valid_and_covers_our_only_snapshot_finding(lock) -> None:
    exceptions = supply_chain.load_exceptions()
    assert {e.package for e in exceptions} == {"ecdsa", "python-jose"}
    found = supply_chain.affected(supply_chain.parse_pins(read_text(lock)), ADVISORIES)
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
    probe = risk_acceptance.modules_loaded_by_tokens("ecdsa")
    assert probe == {"round_trip": True, "loaded": [],
                     "ec_backend": "jose.backends.cryptography_backend"}


def test_a_malformed_exception_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('[[exception]]\nid = "X"\npackage = "y"\nreview_by = 2030-01-01\n',
                    encoding="utf-8")
    with pytest.raises(risk_acceptance.ExceptionsFileError, match="reason"):
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
    result = live.run_pip_audit(tmp_path / "r.lock")
    assert not result.conclusive and result.audited == 0 and len(result.skipped) == 2
    assert "could not be audited" in result.summary() and "unknown, not safe" in result.summary()


def test_pip_audit_findings_and_crashes(monkeypatch, tmp_path: Path) -> None:
    report = {"dependencies": [{"name": "ecdsa", "version": "0.19.2", "vulns": [
        {"id": "GHSA-wj6h-64fc-37mp", "fix_versions": [], "aliases": ["CVE-2024-23342"]}]},
        {"name": "fastapi", "version": "0.165.0", "vulns": []}], "fixes": []}
    monkeypatch.setattr(subprocess, "run", fake_run(json.dumps(report), returncode=1))
    result = live.run_pip_audit(tmp_path / "r.lock")
    assert result.conclusive and result.audited == 2
    still_open, accepted = supply_chain.triage(result.findings, supply_chain.load_exceptions(),
                                               date(2026, 11, 29))
    assert not still_open and accepted[0].package == "ecdsa"  # matched through its alias
    monkeypatch.setattr(subprocess, "run", fake_run(
        "", "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', "
            "port=443): Max retries exceeded", returncode=1))
    crashed = live.run_pip_audit(tmp_path / "r.lock", service="osv")
    assert crashed.error == "could not connect to api.osv.dev" and not crashed.conclusive


@pytest.mark.slow
def test_pip_audit_really_runs_and_is_read_honestly() -> None:
    (result,) = live.live_audit(lockfile.BUILD_LOCK)[:1]
    assert result.error or result.audited + len(result.skipped) == 3
    assert result.conclusive == (not result.error and result.audited == 3)


# -- the container recipe ----------------------------------------------------------------------


def test_our_container_recipe() -> None:
    text = read_text(ROOT / "Containerfile")
    results = container.check_recipe(text, date.today())
    assert all(r.ok for r in results), [str(r) for r in results]
    runs = " ".join(a for kind, a in container.recipe_instructions(text) if kind == "RUN")
    assert "requirements-build.lock" in runs and "--no-build-isolation" in runs
    assert "requirements-service.lock" in runs and "requirements.lock" not in runs.split()


ALL_FOUR = {"supported Python", "non-root user", "hash-locked install",
            "service dependencies only"}


@pytest.mark.parametrize(("recipe", "failing"), [
    ("FROM python:3.8-slim\nRUN pip install -r requirements.txt\n", ALL_FOUR),
    ("FROM python:3.13-slim\nRUN pip install --require-hashes -r requirements-service.lock \\\n"
     "  && pip install --no-deps .\nUSER app\nUSER root\n", {"non-root user"}),
    ("FROM python:3.10@sha256:" + "0" * 64 + "\nUSER 0:0\n", ALL_FOUR),
    ("FROM python:3.13-slim\nRUN pip install --require-hashes -r requirements.lock "
     "&& pip install --no-deps .\nUSER 10001\n", {"service dependencies only"}),
    ("FROM docker.io/library/python:3.13-slim\n# USER app\nRUN pip install --require-hashes "
     "-r requirements-service.lock && pip install --no-deps -e .\nUSER 10001\n", set()),
])
def test_the_recipe_checks_can_fail(recipe, failing) -> None:
    results = container.check_recipe(recipe, date(2026, 11, 29))
    assert {r.name for r in results if not r.ok} == failing


# -- maintenance review and the PyJWT alternative --------------------------------------------------


def test_the_review_matches_our_pins() -> None:
    pins = supply_chain.parse_pins(project.declared_text(project.GROUPS))
    reviewed = review.load_review()
    assert reviewed.reviewed <= date.today()
    for entry in reviewed.packages:
        assert entry.sources and entry.verdict and entry.decision
        assert entry.released <= reviewed.reviewed
        name = supply_chain.canonical_name(entry.package)
        if name in pins:
            assert entry.latest == pins[name], (
                f"{entry.package} is pinned at {pins[name]}; update its review "
                f"({entry.latest}) in lessons/data/maintenance_review.toml")
    assert reviewed.of("PyJWT").status == "maintained"
    assert {r.package for r in reviewed.packages if r.status == "unmaintained"} == {
        "passlib", "bleach"}


def test_pyjwt_backend_passes_lesson_02_suite_unchanged() -> None:
    from lessons.checks import lesson02

    answers = {"issue_token": pyjwt_variant.issue_token_pyjwt,
               "decode_token": pyjwt_variant.decode_token_pyjwt}
    report = run_with(lesson02.suite, lesson02.REFERENCE, answers)
    assert report.passed, str(report)


def test_tokens_from_either_library_verify_with_the_other(settings) -> None:
    jose_token = tokens.issue_token(settings, "alice", ["notes:read"])
    assert pyjwt_variant.decode_token_pyjwt(settings, jose_token)["sub"] == "alice"
    pyjwt_token = pyjwt_variant.issue_token_pyjwt(settings, "bob", ["notes:read"])
    assert tokens.decode_token(settings, pyjwt_token)["sub"] == "bob"


@pytest.mark.slow
def test_passlib_fails_with_bcrypt_5_and_libpass_works(tmp_path: Path) -> None:
    demo = passlib_demo.passlib_with_bcrypt5(tmp_path)
    if not demo.ran_now:
        pytest.skip("PyPI is not reachable: the demonstration could not run")
    passlib, libpass = demo.outcomes["passlib 1.7.4"], demo.outcomes["libpass 1.9.4"]
    assert not passlib["ok"] and "longer than 72 bytes" in passlib["error"]
    assert libpass["ok"] and libpass["prefix"] == "$2b$" and not libpass["warnings"]


# -- the checks -----------------------------------------------------------------------------------


def test_attacks_succeed_without_an_audit_and_fail_against_the_reference() -> None:
    for text in checks.REQUIREMENT_SETS.values():
        pins = supply_chain.parse_pins(text)
        assert attacks.run_known_advisories(pins, ADVISORIES, attacks.audit_nothing).succeeded
        assert not attacks.run_known_advisories(pins, ADVISORIES,
                                                supply_chain.affected).succeeded


def test_the_recorded_demonstration_says_when_it_was_recorded() -> None:
    demo = passlib_demo.recorded()
    assert not demo.ran_now and "2026-11-29" in demo.note
    assert not demo.outcomes["passlib 1.7.4"]["ok"] and demo.outcomes["libpass 1.9.4"]["ok"]


def test_the_advisory_attack_succeeds_without_an_audit_and_fails_against_the_reference() -> None:
    for text in checks.REQUIREMENT_SETS.values():
        pins = supply_chain.parse_pins(text)
        assert attacks.run_known_advisories(pins, ADVISORIES, attacks.audit_nothing).succeeded
        assert not attacks.run_known_advisories(pins, ADVISORIES,
                                                supply_chain.affected).succeeded
    # An audit that returns something else than findings reports nothing: the attack succeeds.
    assert attacks.run_known_advisories({"ecdsa": "0.9"}, ADVISORIES,
                                        lambda pins, advisories: None).succeeded  # type: ignore


def test_the_unmaintained_package_attack_aims_at_the_declared_library() -> None:
    assert attacks.declared_password_library() == "libpass==1.9.4"
