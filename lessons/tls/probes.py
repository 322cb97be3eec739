"""Lesson 04: what a client sees of a server's TLS, to prove the profile.

``try_handshake`` makes one handshake with Python's ``ssl`` module, offering only what it is
asked to; ``mozilla_compliance`` runs sslyze against Mozilla's "intermediate" profile.
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from lessons import optional
from lessons.tls.context import client_context


@dataclass(frozen=True)
class Handshake:
    offered: str
    accepted: bool
    outcome: str

    def __str__(self) -> str:
        verdict = "accepted" if self.accepted else "refused "
        return f"{self.offered:<48} {verdict}  {self.outcome}"


def try_handshake(host: str, port: int, ca_file: Path, *,
                  version: ssl.TLSVersion | None = None, ciphers: str | None = None,
                  legacy: bool = False) -> Handshake:
    """One TLS handshake from Python's ``ssl`` module, offering only ``version`` (and only
    ``ciphers``) when given; reports what was agreed or why it failed.

    Python's client cannot offer TLS 1.0 or 1.1 as it comes: its cipher list leaves out the
    SHA-1 suites, the only ones those versions can use. ``legacy=True`` makes it an
    old-fashioned client (OpenSSL's DEFAULT list, at security level 0 so that it would accept
    the old handshake too), so that the question really reaches the server.
    """
    context = client_context(ca_file)
    offered = version.name if version else "TLS 1.2 or 1.3"
    if ciphers:
        offered += f" with {ciphers}"
    if legacy:
        offered += " (legacy client)"
    with warnings.catch_warnings():
        # Python deprecates naming TLS 1.0/1.1 at all; this probe names them on purpose.
        warnings.simplefilter("ignore", DeprecationWarning)
        if version is not None:
            context.minimum_version = context.maximum_version = version
        if ciphers or legacy:
            context.set_ciphers((ciphers or "DEFAULT") + (":@SECLEVEL=0" if legacy else ""))
    try:
        with socket.create_connection((host, port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            agreed = f"{tls.version()} {tls.cipher()[0]}"  # type: ignore[index]
        return Handshake(offered, True, agreed)
    except ssl.SSLError as error:
        return Handshake(offered, False, f"{type(error).__name__}: {error.reason}")


def sslyze_command(port: int, ca_file: Path, host: str = "127.0.0.1") -> list[str]:
    """``sslyze --mozilla_config intermediate --certinfo_ca_file CA HOST:PORT``, run with this
    Python, so that the sslyze of the workbook's environment is the one used."""
    return [sys.executable, "-m", "sslyze", "--mozilla_config", "intermediate",
            "--certinfo_ca_file", str(ca_file), f"{host}:{port}"]


def mozilla_compliance(port: int, ca_file: Path, host: str = "127.0.0.1") -> list[str]:
    """The compliance lines of an sslyze scan against Mozilla's "intermediate" profile, with
    the sets in them sorted (sslyze prints Python sets, whose order changes from run to run).

    Where sslyze cannot be installed (macOS on Intel), one line saying so and what the scan
    would have shown, instead of a failure."""
    if not optional.available("sslyze"):
        return [optional.absence("sslyze")]
    command = sslyze_command(port, ca_file, host)  # a fixed argument list, no shell
    result = subprocess.run(command, capture_output=True, text=True, encoding="utf-8",  # noqa: S603
                            errors="replace", timeout=300, check=False)
    verdict = result.stdout.split("COMPLIANCE AGAINST TLS CONFIGURATION")[-1]
    lines = [line.strip() for line in verdict.splitlines()
             if line.strip().startswith((f"{host}:", "*"))]
    return [re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m[1].split(", "))) + "}",
                   line) for line in lines] or [f"sslyze did not finish: {result.stderr[-300:]}"]
