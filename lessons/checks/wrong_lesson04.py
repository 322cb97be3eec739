"""Near misses for the lesson-04 exercises, as a learner who gets it almost right writes them.
Each breaks one rule of ``lessons.checks.lesson04.RULES``; ``WRONG_ANSWERS`` there says which
checks each must fail."""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from lessons.tls.certificates import Authority

# -- issue_server_certificate: the reference's recipe with one thing changed -------------------


def _names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _certificate(ca: Authority, public_key: ec.EllipticCurvePublicKey, hosts: Sequence[str], *,
                 names: list[x509.GeneralName] | None = None, critical_san: bool = False,
                 start: timedelta = timedelta(minutes=-5), days: int = 90,
                 issuer: x509.Name | None = None, signer: ec.EllipticCurvePrivateKey | None = None,
                 serial: int | None = None, ca_flag: bool = False, key_cert_sign: bool = False,
                 purposes: list[x509.ObjectIdentifier] | None = None) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer or ca.certificate.subject)
               .public_key(public_key)
               .serial_number(serial if serial is not None else x509.random_serial_number())
               .not_valid_before(now + start)
               .not_valid_after(now + start + timedelta(days=days)))
    if names is None:
        names = _names(hosts)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names),
                                        critical=critical_san)
    return (builder
            .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(purposes or [ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(signer or ca.key, hashes.SHA256()))


def common_name_only(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                     hosts: Sequence[str]) -> x509.Certificate:
    """The host in the common name, as certificates once did; no subjectAltName at all."""
    return _certificate(ca, public_key, hosts, names=[])


def address_as_dns_name(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                        hosts: Sequence[str]) -> x509.Certificate:
    """Every host as a DNSName, 127.0.0.1 included."""
    return _certificate(ca, public_key, hosts, names=[x509.DNSName(host) for host in hosts])


def critical_alt_names(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                       hosts: Sequence[str]) -> x509.Certificate:
    return _certificate(ca, public_key, hosts, critical_san=True)


def fixed_hosts(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                hosts: Sequence[str]) -> x509.Certificate:
    """Names the lesson's two hosts whatever it is asked for."""
    return _certificate(ca, public_key, hosts, names=_names(("localhost", "127.0.0.1")))


def ten_years(ca: Authority, public_key: ec.EllipticCurvePublicKey,
              hosts: Sequence[str]) -> x509.Certificate:
    """Valid for ten years, "so that nobody has to renew it"."""
    return _certificate(ca, public_key, hosts, days=3650)


def starts_in_the_future(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                         hosts: Sequence[str]) -> x509.Certificate:
    """Dated from a local clock two hours ahead of UTC (a naive ``datetime.now()`` east of
    Greenwich is read as UTC)."""
    return _certificate(ca, public_key, hosts, start=timedelta(hours=2))


def self_named_issuer(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                      hosts: Sequence[str]) -> x509.Certificate:
    """Signed by the CA's key, but naming itself as its issuer."""
    return _certificate(ca, public_key, hosts, issuer=x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))


def signed_by_another_key(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                          hosts: Sequence[str]) -> x509.Certificate:
    """Names the CA as issuer, but signs with a key of its own."""
    return _certificate(ca, public_key, hosts, signer=ec.generate_private_key(ec.SECP256R1()))


def serial_one(ca: Authority, public_key: ec.EllipticCurvePublicKey,
               hosts: Sequence[str]) -> x509.Certificate:
    """Serial number 1, every time."""
    return _certificate(ca, public_key, hosts, serial=1)


def may_sign_certificates(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                          hosts: Sequence[str]) -> x509.Certificate:
    """BasicConstraints(ca=True), copied from the CA's recipe."""
    return _certificate(ca, public_key, hosts, ca_flag=True)


def key_usage_of_a_ca(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                      hosts: Sequence[str]) -> x509.Certificate:
    """Not a CA, but its key usage allows signing certificates."""
    return _certificate(ca, public_key, hosts, key_cert_sign=True)


def client_purpose(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                   hosts: Sequence[str]) -> x509.Certificate:
    """ExtendedKeyUsage CLIENT_AUTH: the wrong end of the connection."""
    return _certificate(ca, public_key, hosts, purposes=[ExtendedKeyUsageOID.CLIENT_AUTH])


# -- tls_client --------------------------------------------------------------------------------


def system_trust(base_url: str, ca_file: Path) -> httpx2.Client:
    """Trusts the system's CAs, which never signed the local one."""
    return httpx2.Client(base_url=base_url, timeout=10)


def no_base_url(base_url: str, ca_file: Path) -> httpx2.Client:
    """The right trust, but the client does not know where the service is."""
    return httpx2.Client(verify=ssl.create_default_context(cafile=ca_file), timeout=10)


def plain_http_instead(base_url: str, ca_file: Path) -> httpx2.Client:
    """Swaps https:// for http:// "to make it work"; the server speaks only TLS."""
    return httpx2.Client(base_url=base_url.replace("https://", "http://"), timeout=10)


def no_verification(base_url: str, ca_file: Path) -> httpx2.Client:
    """``verify=False`` "because the certificate is self-made anyway"."""
    return httpx2.Client(base_url=base_url, verify=False, timeout=10)


def no_host_name_check(base_url: str, ca_file: Path) -> httpx2.Client:
    """Trusts the local CA only, but accepts its certificate for any name."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    return httpx2.Client(base_url=base_url, verify=context, timeout=10)


# -- answer_plain_http -------------------------------------------------------------------------

_REFUSAL = {"detail": "Use HTTPS; replace any credential this request carried."}


def _page_load(request: Request) -> bool:
    return request.method in ("GET", "HEAD") and "authorization" not in request.headers


def moved_permanently(request: Request, https_port: int) -> Response:
    """301, the best-known permanent redirect, which lets a client turn a POST into a GET."""
    if _page_load(request):
        return RedirectResponse(request.url.replace(scheme="https", port=https_port), 301)
    return JSONResponse(_REFUSAL, status_code=403)


def same_port(request: Request, https_port: int) -> Response:
    """Changes the scheme and keeps the plain-HTTP port, where no TLS answers."""
    if _page_load(request):
        return RedirectResponse(request.url.replace(scheme="https"), 308)
    return JSONResponse(_REFUSAL, status_code=403)


def path_only(request: Request, https_port: int) -> Response:
    """Rebuilds the address from the path, and drops the query string."""
    if _page_load(request):
        return RedirectResponse(f"https://{request.url.hostname}:{https_port}{request.url.path}",
                                308)
    return JSONResponse(_REFUSAL, status_code=403)


def refuse_everything(request: Request, https_port: int) -> Response:
    """Safe, and useless to a browser: page loads are refused too."""
    return JSONResponse(_REFUSAL, status_code=403)


def refuse_tokens_only(request: Request, https_port: int) -> Response:
    """Refuses what carries Authorization, and redirects a login form's POST."""
    if "authorization" in request.headers:
        return JSONResponse(_REFUSAL, status_code=403)
    return RedirectResponse(request.url.replace(scheme="https", port=https_port), 308)


def refuse_writes_only(request: Request, https_port: int) -> Response:
    """Looks at the method only: a GET with a bearer token is redirected."""
    if request.method in ("GET", "HEAD"):
        return RedirectResponse(request.url.replace(scheme="https", port=https_port), 308)
    return JSONResponse(_REFUSAL, status_code=403)


def refuse_in_plain_text(request: Request, https_port: int) -> Response:
    if _page_load(request):
        return RedirectResponse(request.url.replace(scheme="https", port=https_port), 308)
    return PlainTextResponse("Use HTTPS.", status_code=403)


def forgotten_return(request: Request, https_port: int) -> Response:
    """The refusal is built, and never returned."""
    if _page_load(request):
        return RedirectResponse(request.url.replace(scheme="https", port=https_port), 308)
    JSONResponse(_REFUSAL, status_code=403)
    return None  # type: ignore[return-value]


# -- host_allowed ------------------------------------------------------------------------------

_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::[0-9]{1,5})?")


def _name(host: str | None) -> str | None:
    """The name in a Host header, parsed strictly, as the reference does."""
    match = _HOST.fullmatch(host or "")
    if match is None:
        return None
    return match["ipv6"] if match["ipv6"] is not None else match["name"]


def port_kept(host: str | None, allowed: Collection[str]) -> bool:
    """Compares the whole header, so ``localhost:8443`` is refused."""
    return _name(host) is not None and host.lower() in allowed  # type: ignore[union-attr]


def brackets_kept(host: str | None, allowed: Collection[str]) -> bool:
    """Cuts the port at the last colon, and compares ``[::1]`` with ``::1``."""
    if host is None or _name(host) is None:
        return False
    name, colon, port = host.rpartition(":")
    if not colon or not port.isdigit() or host.endswith("]"):
        name = host
    return name.lower() in allowed


def case_sensitive(host: str | None, allowed: Collection[str]) -> bool:
    name = _name(host)
    return name is not None and name in allowed


def no_host_is_fine(host: str | None, allowed: Collection[str]) -> bool:
    """"Without a host there is nothing to check.\""""
    if host is None:
        return True
    name = _name(host)
    return name is not None and name.lower() in allowed


def any_address(host: str | None, allowed: Collection[str]) -> bool:
    """"An IP address cannot be an attacker's site name.\""""
    name = _name(host)
    if name is None:
        return False
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return name.lower() in allowed


def suffix_match(host: str | None, allowed: Collection[str]) -> bool:
    name = _name(host)
    return name is not None and any(name.lower().endswith(own) for own in allowed)


def prefix_match(host: str | None, allowed: Collection[str]) -> bool:
    name = _name(host)
    return name is not None and any(name.lower().startswith(own) for own in allowed)


def url_parser(host: str | None, allowed: Collection[str]) -> bool:
    """Lets ``urllib.parse`` find the host: it finds one in almost anything."""
    if not host:
        return False
    name = urlsplit(f"//{host}").hostname
    return name is not None and name in allowed
