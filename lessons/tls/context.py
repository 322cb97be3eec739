"""Lesson 04: the TLS contexts, the server's hardened one and the client's verifying one.

- The server context accepts TLS 1.2 and 1.3 only, AEAD cipher suites only, and ECDHE key
  exchange on X25519/P-256 only: Mozilla's "intermediate" profile (OWASP ASVS 5.0 12.1.1,
  12.1.2). Python's default server context also accepts CBC suites and more groups, so it is
  hardened here, in the context uvicorn itself builds (``ssl_context_factory``).
- The client context trusts the local CA and nothing else, and checks the host name
  (ASVS 5.0 12.3.2, 12.3.4).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from lessons.tls.certificates import TlsFiles

# TLS 1.2 suites of Mozilla's "intermediate" profile: ECDHE key exchange (forward secrecy) and
# AEAD encryption (GCM, ChaCha20-Poly1305) only. Python's default also allows CBC suites.
# The DHE suites of the profile are left out: they would need DH parameters, and nothing
# needs them. TLS 1.3 suites are not set here: all of them are AEAD already.
AEAD_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
))
KEY_EXCHANGE_GROUPS = "X25519:prime256v1"
FALLBACK_GROUP = "prime256v1"


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """Restrict a server context to the Mozilla "intermediate" profile; returns it."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(AEAD_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION  # no TLS compression (CRIME); already Python's default
    _limit_key_exchange(context)
    return context


def _limit_key_exchange(context: ssl.SSLContext) -> None:
    """Key exchange on the profile's groups only. OpenSSL 3 would also accept X448 and P-521.

    Python 3.15 adds ``SSLContext.set_groups``, which takes a list. Before it, the only knob is
    ``set_ecdh_curve``, which allows exactly one group: P-256, which every client supports
    (X25519 is newer than some of the profile's oldest clients)."""
    set_groups = getattr(context, "set_groups", None)
    if set_groups is not None:
        try:
            set_groups(KEY_EXCHANGE_GROUPS)
            return
        except (ValueError, ssl.SSLError):
            pass
    context.set_ecdh_curve(FALLBACK_GROUP)


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A hardened server context holding the server certificate and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.certfile, files.keyfile)
    return harden(context)


def uvicorn_context(config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """For uvicorn's ``ssl_context_factory``: uvicorn's own context (certificate, key and
    ALPN, from ``ssl_certfile``/``ssl_keyfile``), hardened. A module-level function, so that
    ``--workers`` can hand it to worker processes."""
    return harden(default())


def https_options(files: TlsFiles) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``/``uvicorn.Config`` that serve the hardened TLS."""
    return {"ssl_certfile": str(files.certfile), "ssl_keyfile": str(files.keyfile),
            "ssl_context_factory": uvicorn_context}


# -- the client --------------------------------------------------------------------------------


def client_context(ca_file: Path) -> ssl.SSLContext:
    """A client context that trusts the local CA only, and checks the host name."""
    return ssl.create_default_context(cafile=str(ca_file))


def tls_client(base_url: str, ca_file: Path) -> httpx2.Client:
    """An HTTP client for ``base_url`` that verifies the server against the local CA."""
    return httpx2.Client(base_url=base_url, verify=client_context(ca_file), timeout=10)


def tls_error(error: BaseException) -> str:
    """A short, stable description of why a TLS connection failed (no traceback, no paths)."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"{type(error).__name__}: certificate verify failed: {cause.verify_message}"
    if isinstance(cause, ssl.SSLError):
        return f"{type(error).__name__}: {cause.reason or cause.strerror}"
    return f"{type(error).__name__}: {error}"

