"""Lesson 05: attacks on the supply chain, none of which touches the service's own code.

1. A tampered package: someone who can replace a file on the way to you (a mirror, a cache, a
   proxy, a shared wheel folder) changes one byte of its code. ``pip install`` without hashes
   installs whatever it is given; with the hash we recorded (``--require-hashes``) it refuses.
   Everything runs for real: a tiny wheel built here, ``pip`` in a subprocess installing into a
   throw-away folder with ``--no-index --no-deps --target``, never into the running environment.
2. A published advisory nobody acted on: the attacker reads the same public database as the
   defender. An audit that misses an advisory leaves that door open.
3. A package nobody maintains: passlib 1.7.4 meets bcrypt 5, the current release of the library
   it hashes with, and every password fails; no passlib release will ever fix it. (Real pip
   installs into throw-away folders; with PyPI out of reach, the results recorded when the
   lesson was written.)

They are not attacks on the service's seams, so their vulnerable variants choose, through
``Variant(options=...)``, how the project pins (``pin``), audits (``audit``) and which password
library it depends on (``password_library``); the reference's defaults are the lesson's answers.

OWASP ASVS 5.0 V15.2 (dependencies from the expected source, within remediation time frames);
API Security Top 10 2023: API10 (trusting what comes from a third party without checking it).
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lessons.attacks import Attack, AttackResult, Scene, Variant
from lessons.supply_chain import Advisory, Finding, affected, load_snapshot
from lessons.supply_chain.passlib_demo import PASSLIB_CANDIDATES, hash_with, recorded
from lessons.supply_chain.pip_env import pip_environment

PACKAGE, VERSION = "tinyhelper", "1.0"
WHEEL_NAME = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
MODULE = f"{PACKAGE}/__init__.py"
# The code the author published, and the attacker's version: one byte apart.
HONEST_CODE = b'"""A tiny helper package, built by lesson 05."""\n\nVERIFY_TLS = 1\n'
TAMPERED_CODE = HONEST_CODE.replace(b"VERIFY_TLS = 1", b"VERIFY_TLS = 0")
assert sum(a != b for a, b in zip(HONEST_CODE, TAMPERED_CODE, strict=True)) == 1

# Fixed metadata for every archive member, so the same code always gives the same file (and
# the same SHA-256) on any machine: no timestamps, no compression, Unix attributes.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(folder: Path, code: bytes = HONEST_CODE, *, record_code: bytes | None = None
                ) -> Path:
    """A minimal, valid wheel of ``tinyhelper 1.0`` holding ``code``, written to ``folder``.

    Its RECORD file lists a hash of every member, as a real wheel's does; ``record_code`` makes
    RECORD describe other code than the archive holds (an attacker who did not bother)."""
    dist_info = f"{PACKAGE}-{VERSION}.dist-info"
    members = {
        MODULE: code,
        f"{dist_info}/METADATA":
            f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {VERSION}\n".encode(),
        f"{dist_info}/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: lessons.attacks.lesson05\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    described = dict(members, **{MODULE: record_code if record_code is not None else code})
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n"
                     for name, data in described.items())
    members[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WHEEL_NAME
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, _EPOCH)
            info.create_system = 3  # Unix, on every platform
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_STORED)
    return path


def flip_byte_in_place(wheel: Path) -> None:
    """The naive tampering: change the one byte inside the archive file and nothing else."""
    data = bytearray(wheel.read_bytes())
    at = data.index(b"VERIFY_TLS = 1") + len(b"VERIFY_TLS = ")
    data[at] = ord("0")
    wheel.write_bytes(bytes(data))


def tamper(wheel: Path, *, update_record: bool = True) -> None:
    """The attacker's tampering: rebuild the archive around the changed byte, so every check
    the file carries about itself (each member's CRC-32, and the RECORD hashes if
    ``update_record``) matches again. Anyone can do this; no secret is involved."""
    build_wheel(wheel.parent, TAMPERED_CODE,
                record_code=None if update_record else HONEST_CODE)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hash_pin(name: str, version: str, wheel: Path) -> str:
    """The requirement line that accepts this exact file and no other: what a hash-locked
    requirements file holds for every package."""
    return f"{name}=={version} --hash=sha256:{sha256_of(wheel)}"


def plain_pin(name: str, version: str, wheel: Path) -> str:
    """VULNERABLE: pins the version only. Any file that calls itself that version will do."""
    return f"{name}=={version}"


@dataclass(frozen=True)
class Install:
    """What one ``pip install`` into a throw-away folder did."""

    ok: bool
    installed_code: bytes | None  # the module as installed, when it was
    message: str  # pip's complaint, without machine paths; empty when it succeeded

    @property
    def verify_tls(self) -> str | None:
        if self.installed_code is None:
            return None
        match = re.search(rb"VERIFY_TLS = (\d)", self.installed_code)
        return match[1].decode() if match else "?"


def pip_install(lines: Iterable[str], mirror: Path, target: Path, *,
                require_hashes: bool = False, timeout: float = 120) -> Install:
    """Install the requirement ``lines`` from the folder ``mirror`` only (``--no-index``), with
    no dependencies, into ``target`` (which must not exist yet), quietly, in a subprocess. The
    running Python environment is never touched."""
    requirements = target.with_name(target.name + "-requirements.txt")
    requirements.write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-color", "--no-index",
               "--no-deps", "--no-cache-dir", "--no-compile", "--find-links", str(mirror),
               "--target", str(target), "--requirement", str(requirements)]
    if require_hashes:
        command.append("--require-hashes")
    done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8",  # noqa: S603
                          errors="replace", timeout=timeout, check=False,
                          env=pip_environment(offline=True))
    installed = target / MODULE
    code = installed.read_bytes() if done.returncode == 0 and installed.exists() else None
    return Install(ok=done.returncode == 0, installed_code=code,
                   message="" if done.returncode == 0 else _pip_complaint(done.stderr, mirror))


def _pip_complaint(stderr: str, mirror: Path) -> str:
    """The lines of pip's error that say why, with this machine's paths taken out."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", stderr)  # colour codes, should pip add any
    text = text.replace(mirror.resolve().as_uri(), "mirror").replace(str(mirror), "mirror")
    text = re.sub(r"\(from -r \S+ \(line \d+\)\)", "(from the requirements file)", text)
    if "DO NOT MATCH THE HASHES" in text:
        expected = re.search(r"Expected sha256 (\w+)", text)
        got = re.search(r"Got\s+(\w+)", text)
        return ("THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE: expected "
                f"sha256 {expected[1][:16] if expected else '?'}..., "
                f"got {got[1][:16] if got else '?'}...")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR", "zipfile.", "BadZipFile"))]
    return (errors or lines or ["pip failed without a message"])[-1]


@dataclass(frozen=True)
class Mirror:
    """A mirror folder serving the honest wheel, and what the project recorded about it."""

    root: Path
    mirror: Path
    honest_sha256: str


def publish(root: Path) -> Mirror:
    """The author publishes tinyhelper 1.0; we download it once and record its hash."""
    mirror = root / "mirror"
    wheel = build_wheel(mirror)
    return Mirror(root=root, mirror=mirror, honest_sha256=sha256_of(wheel))


def run_tampered_install(root: Path,
                         pin: Callable[[str, str, Path], str] = plain_pin) -> AttackResult:
    """The attack: the project writes its requirement line for the honest file with ``pin``
    (pip is told to require hashes exactly when the line carries one), then the attacker swaps
    the file on the mirror for one with a single byte of code changed and the archive rebuilt
    around it. The attack succeeds when the tampered code is what gets installed."""
    scene = publish(root)
    line = pin(PACKAGE, VERSION, scene.mirror / WHEEL_NAME)
    tamper(scene.mirror / WHEEL_NAME)
    result = pip_install([line], scene.mirror, root / "site", require_hashes="--hash" in line)
    succeeded = result.ok and result.verify_tls == "0"
    evidence = (f"installed; the module says VERIFY_TLS = {result.verify_tls}" if result.ok
                else f"pip refused: {result.message}")
    return AttackResult(name="install a package whose file was swapped for a tampered one",
                        succeeded=succeeded, evidence=evidence)


Audit = Callable[[Mapping[str, str], list[Advisory]], list[Finding]]


def audit_nothing(pins: Mapping[str, str], advisories: list[Advisory]) -> list[Finding]:
    """VULNERABLE: the audit most projects have, which is none."""
    return []


def missed_advisories(pins: Mapping[str, str], advisories: list[Advisory],
                      audit: Audit) -> list[Finding]:
    """The published advisories affecting ``pins`` that ``audit`` does not report: what an
    attacker reading the same database still finds open. (Whatever the audit returns that is
    not a finding reports nothing.)"""
    answer = audit(dict(pins), list(advisories))
    reported = {(getattr(f, "package", None), getattr(f, "id", None))
                for f in (answer if isinstance(answer, list | tuple) else ())}
    return [f for f in affected(pins, advisories) if (f.package, f.id) not in reported]


def run_known_advisories(pins: Mapping[str, str], advisories: list[Advisory],
                         audit: Audit = audit_nothing) -> AttackResult:
    """The attack succeeds when at least one published advisory affecting the pins goes
    unreported by the audit."""
    missed = missed_advisories(pins, advisories, audit)
    shown = ", ".join(f"{f.package} {f.version} {f.id}" for f in missed[:3])
    more = f" and {len(missed) - 3} more" if len(missed) > 3 else ""
    return AttackResult(
        name="exploit a published advisory the audit did not report",
        succeeded=bool(missed),
        evidence=(f"{len(missed)} unreported: {shown}{more}" if missed
                  else "every published advisory for these pins was reported"),
    )


def run_unmaintained_package(requirement: str, workdir: Path) -> AttackResult:
    """The project's password library, installed with the current bcrypt (5.0.0) into a
    throw-away folder, hashes a password in a fresh process. The attack succeeds when it cannot:
    every login of a service built on it fails, and an unmaintained package will not ship the
    fix. Needs PyPI; without it, the outcome recorded when the lesson was written."""
    label = next((k for k, v in PASSLIB_CANDIDATES.items() if v == requirement), requirement)
    outcome = hash_with(label, requirement, workdir)
    note = ""
    if outcome is None:
        outcome, note = recorded().outcomes.get(label, {"ok": True}), " (recorded: no PyPI)"
    return AttackResult(
        name=f"hash a password with {label} and bcrypt 5",
        succeeded=not outcome.get("ok"),
        evidence=(f"hashing fails: {outcome.get('error', '?')}" if not outcome.get("ok")
                  else f"hashes and verifies ({outcome.get('prefix', '?')}... hash)") + note)


def fresh_folder(root: Path, name: str) -> Path:
    """An empty folder ``root/name`` (removed first if a previous run left it)."""
    folder = root / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


# -- the lesson's attacks, each on a scene of its own ----------------------------------------------

# The requirements the advisory attack reads by default: those of a widely read guide.
GUIDE_REQUIREMENTS = """\
# Requirements, in the style of a widely read guide
fastapi==0.65.1
uvicorn[standard]==0.13.4
python-jose[cryptography]==3.3.0   # JWT
passlib[bcrypt]==1.7.4
python-multipart
-e .
"""


def _tampered(scene: Scene) -> AttackResult:
    pin = scene.options.get("pin", hash_pin)
    return run_tampered_install(fresh_folder(scene.folder, "tamper"), pin)


def _advisories(scene: Scene) -> AttackResult:
    from lessons.supply_chain import parse_pins

    pins = parse_pins(scene.options.get("requirements", GUIDE_REQUIREMENTS))
    audit = scene.options.get("audit", affected)
    return run_known_advisories(pins, list(load_snapshot().vulns), audit)


def declared_password_library() -> str:
    """``name==version`` of the password library the service declares (libpass, since lesson
    01), without its extras."""
    from lessons.supply_chain import parse_pins, project

    pins = parse_pins(project.declared_text([project.SERVICE]))
    name = next(name for name in ("libpass", "passlib") if name in pins)
    return f"{name}=={pins[name]}"


def _unmaintained(scene: Scene) -> AttackResult:
    library = scene.options.get("password_library") or declared_password_library()
    return run_unmaintained_package(library, fresh_folder(scene.folder, "hashing"))


BEFORE = 4  # the service as lesson 04 left it: lesson 05 changes none of its code

ATTACKS: tuple[Attack, ...] = (
    Attack("tampered_install", "install a package whose file was swapped for a tampered one",
           _tampered, Variant(BEFORE, options={"pin": plain_pin}, label="version pins only"),
           fixed_in=5, network=True),
    Attack("known_advisories", "exploit a published advisory the audit did not report",
           _advisories, Variant(BEFORE, options={"audit": audit_nothing}, label="no audit"),
           fixed_in=5),
    Attack("unmaintained_package", "rely on a password library nobody maintains",
           _unmaintained,
           Variant(BEFORE, options={"password_library": "passlib==1.7.4"}, label="passlib 1.7.4"),
           fixed_in=5, network=True),
)
