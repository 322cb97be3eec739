"""A browser without a screen: just enough of a real browser's cookie and form rules to show
what another page can make a logged-in browser send (lesson 06).

It is a small, readable stand-in for Chromium or Firefox, so that the lesson runs on any laptop
with nothing but this repository's requirements. It follows these rules, after RFC 6265 and its
update (draft "rfc6265bis"), and the HTML and Fetch standards:

- **Cookies belong to a host, not to an origin.** A cookie set without ``Domain`` by
  ``https://127.0.0.1:8443`` is sent to every port of 127.0.0.1 (RFC 6265, section 8.5: cookies
  do not isolate by port). With ``Domain=example.org`` it also goes to every subdomain.
- **Secure:** a ``Secure`` cookie is accepted from, and sent to, ``https`` URLs only. (Browsers
  disagree about plain ``http://localhost``: Firefox treats loopback as a secure context for
  cookies, Chromium does for ``Secure`` but not for the ``__Host-`` and ``__Secure-`` names,
  Safari for neither. This client takes the strict rule, so the lesson serves HTTPS.)
- **Prefixes:** a ``__Secure-`` cookie must be Secure; a ``__Host-`` cookie must be Secure,
  have an explicit ``Path=/`` and no ``Domain``, so that it is bound to exactly one host.
- **SameSite**, judged against the page that started the request: the *site* is the scheme
  plus the registrable domain (for an IP address or ``localhost``, the host itself), and ports
  do not count. So ``https://127.0.0.1:8443`` and ``https://127.0.0.1:9443`` are the same site,
  while ``https://localhost:9443`` is another site. On a cross-site request ``Strict`` cookies
  are never sent, ``Lax`` ones only on a top-level GET or HEAD navigation, ``None`` ones always
  (and ``None`` requires ``Secure``). A cookie without ``SameSite`` counts as ``Lax``, as in
  Chromium.
- **Forms** are submitted as top-level navigations, encoded as
  ``application/x-www-form-urlencoded`` or ``text/plain``, the two encodings a form can use
  without a file.
- **Where a request comes from:** every request carries ``Sec-Fetch-Site`` (``same-origin``,
  ``same-site``, ``cross-site``, or ``none`` for an address typed by the person), and every
  request that is not a GET or HEAD carries the ``Origin`` of the page that started it. A page
  can set neither: browsers forbid scripts to.
- **Scripts** may only make same-origin requests here (``fetch``): there is no CORS, so a
  page's script cannot reach another origin at all.

Left out: JavaScript itself (``submit`` does what a page's one-line auto-submit script
would), CORS, the public suffix list (the registrable domain is taken to be the last two
labels), redirects (never followed), caching, HSTS, ``Referer`` and ``Referrer-Policy`` (which
can turn a form's ``Origin`` into ``null``), multipart forms, cookie size limits, partitioned
cookies and third-party-cookie blocking, and Chromium's two-minute "Lax-allowing-unsafe"
exception for cookies without a ``SameSite`` attribute.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import httpx2

SAFE_NAVIGATION = ("GET", "HEAD")


@dataclass
class StoredCookie:
    name: str
    value: str = field(repr=False)
    host: str
    path: str
    secure: bool
    http_only: bool
    same_site: str  # "Strict", "Lax" or "None"
    host_only: bool
    expires: float | None = None  # None: until the browser closes


@dataclass(frozen=True)
class Form:
    action: str
    method: str
    enctype: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    html: str
    forms: tuple[Form, ...]


@dataclass(frozen=True)
class Sent:
    """One request as the browser sent it: what a server would see, without cookie values."""

    method: str
    url: str
    cookies: tuple[str, ...]
    origin: str | None
    fetch_site: str
    status: int

    def __str__(self) -> str:
        cookies = ", ".join(self.cookies) or "no cookie"
        return (f"{self.method} {self.url} (Sec-Fetch-Site: {self.fetch_site}; "
                f"sent {cookies}) -> {self.status}")


# -- sites and origins -------------------------------------------------------------------------


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def registrable_domain(host: str) -> str:
    """The part of a host name that decides its site. Without the public suffix list this is
    the last two labels (wrong for names like ``example.co.uk``); an IP address or a
    single-label name such as ``localhost`` is its own site."""
    if _is_ip(host) or "." not in host:
        return host
    return ".".join(host.split(".")[-2:])


def site_of(url: str) -> tuple[str, str]:
    """A URL's site: its scheme and registrable domain. The port plays no part."""
    parts = urlsplit(url)
    return parts.scheme, registrable_domain(parts.hostname or "")


def fetch_site(initiator: str | None, url: str) -> str:
    """The value of ``Sec-Fetch-Site`` for a request to ``url`` started by ``initiator``."""
    if initiator is None:
        return "none"  # typed in the address bar, or a bookmark
    if origin_of(initiator) == origin_of(url):
        return "same-origin"
    return "same-site" if site_of(initiator) == site_of(url) else "cross-site"


# -- Set-Cookie ---------------------------------------------------------------------------------


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    """``name``, ``value`` and the attributes (lower-case names) of one Set-Cookie header."""
    pair, *attributes = header.split(";")
    name, _, value = pair.partition("=")
    parsed: dict[str, str] = {}
    for attribute in attributes:
        key, _, attribute_value = attribute.strip().partition("=")
        parsed[key.strip().lower()] = attribute_value.strip()
    return name.strip(), value.strip(), parsed


def _default_path(url: str) -> str:
    path = urlsplit(url).path or "/"
    return path[: path.rfind("/")] or "/" if path.startswith("/") else "/"


def _path_matches(request_path: str, cookie_path: str) -> bool:
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/")


def _domain_matches(host: str, cookie: StoredCookie) -> bool:
    if cookie.host_only:
        return host == cookie.host
    return host == cookie.host or (not _is_ip(host) and host.endswith("." + cookie.host))


class _FormFinder(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.forms: list[Form] = []
        self._open: dict[str, str] | None = None
        self._fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._open, self._fields = values, []
        elif tag in ("input", "textarea") and self._open is not None and values.get("name"):
            if values.get("type", "text").lower() not in ("submit", "button", "file"):
                self._fields.append((values["name"], values.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._open is not None:
            self.forms.append(Form(
                action=urljoin(self.base, self._open.get("action", "")),
                method=self._open.get("method", "get").upper(),
                enctype=self._open.get("enctype", "application/x-www-form-urlencoded").lower(),
                fields=tuple(self._fields),
            ))
            self._open = None


# -- the browser --------------------------------------------------------------------------------


class Browser:
    """One person's browser: a cookie jar and the rules above. ``ca_file`` is the local
    certificate authority the person has chosen to trust (lesson 04)."""

    def __init__(self, ca_file: Path | None = None, timeout: float = 10) -> None:
        verify: ssl.SSLContext | bool = (ssl.create_default_context(cafile=str(ca_file))
                                         if ca_file else True)
        self._http = httpx2.Client(verify=verify, timeout=timeout, follow_redirects=False)
        self.jar: list[StoredCookie] = []
        self.history: list[Sent] = []
        self.refused: list[str] = []  # why Set-Cookie headers were ignored

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what a person or a page does ------------------------------------------------------

    def visit(self, url: str) -> Page:
        """Type ``url`` into the address bar: a top-level GET that no page started."""
        response = self._send("GET", url, initiator=None, navigation=True)
        finder = _FormFinder(url)
        finder.feed(response.text)
        return Page(url=url, status=response.status_code, html=response.text,
                    forms=tuple(finder.forms))

    def submit(self, page: Page, index: int = 0) -> httpx2.Response:
        """Submit a form of ``page``, as its auto-submit script (or a click) would: a
        top-level navigation started by the page, wherever the form's action points."""
        form = page.forms[index]
        if form.enctype == "text/plain":
            body = "".join(f"{name}={value}\r\n" for name, value in form.fields).encode()
        else:
            body = urlencode(form.fields).encode()
        if form.method in SAFE_NAVIGATION:
            separator = "&" if "?" in form.action else "?"
            return self._send(form.method, form.action + separator + body.decode(),
                              initiator=page.url, navigation=True)
        return self._send(form.method, form.action, initiator=page.url, navigation=True,
                          content=body, headers={"Content-Type": form.enctype})

    def fetch(self, method: str, url: str, *, page: str, headers: dict[str, str] | None = None,
              data: dict[str, str] | None = None,
              json: object | None = None) -> httpx2.Response:
        """A request made by a script of ``page`` (same origin only: this browser has no CORS)."""
        if origin_of(page) != origin_of(url):
            raise ValueError("This browser implements no CORS: a page's script may only call "
                             "its own origin.")
        return self._send(method, url, initiator=page, navigation=False, headers=headers,
                          data=data, json=json)

    def cookie_names(self, url: str) -> list[str]:
        """The cookies this browser holds for ``url`` (names only)."""
        parts = urlsplit(url)
        return [c.name for c in self._matching(parts.hostname or "", parts.path or "/",
                                               parts.scheme == "https")]

    # -- the machinery -----------------------------------------------------------------------

    def _send(self, method: str, url: str, *, initiator: str | None, navigation: bool,
              headers: dict[str, str] | None = None, **body: object) -> httpx2.Response:
        site = fetch_site(initiator, url)
        cookies = self._cookies_for(method, url, initiator, navigation)
        sent = dict(headers or {})
        sent["Sec-Fetch-Site"] = site
        sent["Sec-Fetch-Mode"] = "navigate" if navigation else "cors"
        if cookies:
            sent["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in cookies)
        origin = None
        if initiator is not None and method not in SAFE_NAVIGATION:
            # The Fetch standard's rule for navigations and same-origin requests (the only
            # script requests here): Origin on anything but GET and HEAD.
            origin = origin_of(initiator)
            sent["Origin"] = origin
        self._http.cookies.clear()  # httpx's own jar plays no part: this class is the jar
        response = self._http.request(method, url, headers=sent, **body)  # type: ignore[arg-type]
        self._http.cookies.clear()
        for header in response.headers.get_list("set-cookie"):
            self._store(url, header)
        self.history.append(Sent(method, url, tuple(c.name for c in cookies), origin, site,
                                 response.status_code))
        return response

    def _matching(self, host: str, path: str, secure: bool) -> list[StoredCookie]:
        now = time.time()
        self.jar = [c for c in self.jar if c.expires is None or c.expires > now]
        found = [c for c in self.jar if _domain_matches(host, c) and _path_matches(path, c.path)
                 and (secure or not c.secure)]
        return sorted(found, key=lambda c: -len(c.path))  # longer paths first

    def _cookies_for(self, method: str, url: str, initiator: str | None,
                     navigation: bool) -> list[StoredCookie]:
        parts = urlsplit(url)
        candidates = self._matching(parts.hostname or "", parts.path or "/",
                                    parts.scheme == "https")
        if initiator is None or site_of(initiator) == site_of(url):
            return candidates
        lax_allowed = navigation and method in SAFE_NAVIGATION
        return [c for c in candidates
                if c.same_site == "None" or (c.same_site == "Lax" and lax_allowed)]

    def _store(self, url: str, header: str) -> None:
        name, value, attributes = parse_set_cookie(header)
        parts = urlsplit(url)
        host = parts.hostname or ""
        secure_origin = parts.scheme == "https"
        secure = "secure" in attributes
        same_site = attributes.get("samesite", "lax").capitalize()
        if same_site not in ("Strict", "Lax", "None"):
            same_site = "Lax"
        problem = None
        if not name:
            problem = "no name"
        elif secure and not secure_origin:
            problem = "Secure, but set over plain HTTP"
        elif name.lower().startswith("__secure-") and not (secure and secure_origin):
            problem = "__Secure- needs Secure over HTTPS"
        elif name.lower().startswith("__host-") and not (
                secure and secure_origin and "domain" not in attributes
                and attributes.get("path") == "/"):
            problem = "__Host- needs Secure over HTTPS, Path=/ and no Domain"
        elif same_site == "None" and not secure:
            problem = "SameSite=None needs Secure"
        domain = attributes.get("domain", "").lstrip(".").lower()
        if problem is None and domain and domain != host and (
                _is_ip(host) or not host.endswith("." + domain) or "." not in domain):
            problem = f"Domain={domain} does not cover {host}"
        if problem:
            self.refused.append(f"{name}: {problem}")
            return
        expires: float | None = None
        if "max-age" in attributes:
            try:
                expires = time.time() + int(attributes["max-age"])
            except ValueError:
                expires = None
        elif attributes.get("expires"):
            try:
                expires = parsedate_to_datetime(attributes["expires"]).timestamp()
            except (TypeError, ValueError):
                expires = None
        cookie = StoredCookie(
            name=name, value=value, host=domain or host,
            path=attributes.get("path") if attributes.get("path", "").startswith("/")
            else _default_path(url),
            secure=secure, http_only="httponly" in attributes, same_site=same_site,
            host_only=not domain, expires=expires,
        )
        # The same name, host and path replace an older cookie; an expiry in the past deletes.
        self.jar = [c for c in self.jar if (c.name, c.host, c.path, c.host_only) !=
                    (cookie.name, cookie.host, cookie.path, cookie.host_only)]
        if expires is None or expires > time.time():
            self.jar.append(cookie)
