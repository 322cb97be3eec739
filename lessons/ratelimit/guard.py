"""Lesson 10, reference layer: the limiter's decision around every password check, and around
registration (OWASP ASVS 5.0 6.3.1, API4:2023 and API6:2023).

Every route that checks a password (``POST /auth/token``, ``POST /session/login``,
``GET /basic/me``, ``POST /users/me/password``) hands the check to the ``guard_login`` seam as
``verify``, a coroutine that runs it off the event loop and returns the user or None. The
reference guard:

- counts the attempt **before** the password is checked, in one atomic ``hit`` of the shared
  store, under two keys: this username from this client address (5 by default), and this
  client address whatever the username (20): a client past either limit gets 429 with
  ``Retry-After`` at once, the right password included, and no password is checked;
- counts an unknown username exactly like a real one (the key is the name that was sent), so
  a 429 says nothing about which accounts exist;
- takes back only its own attempt when the password was right (a success is not a failure),
  or when no password could be checked (the hashing queue was full): it resets nothing, so
  neither a login of alice's nor one of mallory's own account clears mallory's failures;
- keys on the client address that lesson 04's trusted-proxy rule resolved (``request.client``
  after the ``trusted_proxies`` middleware), through the ``client_key`` seam, which counts an
  IPv6 client by its /64 network.

Why the per-username limit is per client too: counted over all clients, 5 failures from
anywhere would lock alice out of her own account, so any stranger could keep her out. Per
client, mallory's failures lock out mallory. The cost: an attacker with many addresses gets 5
guesses per username from each; the per-client limit, the password policy of lesson 07 (no
common passwords) and the audit trail of lesson 08 are what stand against that.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request, status

from lessons.passwords import HashingBusy
from lessons.ratelimit.attempts import Attempts, Hit, key
from lessons.store import User

if TYPE_CHECKING:
    from lessons.context import Service

# What the routes hand the guard: the password check itself, returning the user or None.
Verify = Callable[[], Awaitable[User | None]]
TOO_MANY = "Too many attempts: try again later."


def address_of(request: Request) -> str:
    """The client's address as lesson 04 left it (a trusted proxy's X-Forwarded-For already
    applied, anyone else's ignored); "" when the server does not know it."""
    return request.client.host if request.client else ""


def too_many(retry_after: int) -> HTTPException:
    """429 Too Many Requests, with how long to wait in ``Retry-After`` (RFC 6585 section 4)."""
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, TOO_MANY,
                         headers={"Retry-After": str(retry_after)})


# -- exercise 1: whose attempts are counted together -----------------------------------------------


def client_key(address: str) -> str:
    """The key a client's attempts are counted under: an IPv4 address as it is, an IPv6 address
    by its /64 network (one subscriber's share: one attacker holds all 2**64 of its addresses),
    an IPv4 address written as IPv6 (``::ffff:203.0.113.9``) as the IPv4 address it is, and a
    name that is no address (an in-process test client's) as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def address_as_is(address: str) -> str:
    """The open service's ``client_key``: every address counts on its own."""
    return address


# -- exercise 2: the limiter's decision around one password check ----------------------------------


async def guard_login(service: Service, request: Request, username: str,
                      verify: Verify) -> User | None:
    """Check a password under the limits: the attempt counts as a failure before the check,
    atomically, per username from this client and per client; past either limit, 429 with
    Retry-After and no check at all. A success takes its own attempt back, and only that."""
    client = service.layers.client_key(address_of(request))
    return await guard_client(service, username, client, verify)


async def guard_client(service: Service, username: str, client: str,
                       verify: Verify) -> User | None:
    """``guard_login`` for a client whose key is known, however it was found."""
    settings = service.settings
    attempts = service.shared.attempts
    hit = await attempts.hit({
        key("login-user", username, client): settings.login_failures_per_user,
        key("login-client", client): settings.login_failures_per_client,
    }, window=settings.login_window_seconds)
    if hit.retry_after:
        raise too_many(hit.retry_after)
    return await verify_counted(attempts, hit, verify)


async def verify_counted(attempts: Attempts, hit: Hit, verify: Verify) -> User | None:
    """The password check after an allowed ``hit``, whose attempt is already counted as a
    failure: it is taken back when the password was right, or when none could be checked."""
    try:
        user = await verify()
    except HashingBusy:
        await attempts.forgive(hit)  # no password was checked: not a failure either
        raise
    if user is not None:
        await attempts.forgive(hit)  # a success is not a failure: this attempt only
    return user


async def unguarded_login(service: Service, request: Request, username: str,
                          verify: Verify) -> User | None:
    """VULNERABLE, the open service's ``guard_login`` (every lesson before 10): every guess is
    checked, as fast as a client can send them."""
    return await verify()


# -- registration ----------------------------------------------------------------------------------


async def guard_registration(service: Service, request: Request) -> None:
    """Before a registration is even validated against the database: at most
    ``registrations_per_client`` attempts per client address in the window, successes and
    failures alike. Each answer says whether a username is taken (409 or 201), and each costs
    a hash; unlimited, registration lists the accounts as fast as one can ask."""
    settings = service.settings
    client = service.layers.client_key(address_of(request))
    hit = await service.shared.attempts.hit(
        {key("register", client): settings.registrations_per_client},
        window=settings.registration_window_seconds)
    if hit.retry_after:
        raise too_many(hit.retry_after)


async def unguarded_registration(service: Service, request: Request) -> None:
    """VULNERABLE, the open service's ``guard_registration``: no limit at all."""


# -- vulnerable guards, each wrong in one way, for the attacks -------------------------------------


async def check_then_record(service: Service, request: Request, username: str,
                            verify: Verify) -> User | None:
    """VULNERABLE: reads the count, checks the password, and records a failure afterwards.

    Right for one guess at a time. A burst of parallel guesses all read the count before any
    of them records a failure, so every one of them is checked: the limit is a suggestion."""
    settings = service.settings
    client = service.layers.client_key(address_of(request))
    attempts, window = service.shared.attempts, settings.login_window_seconds
    per_user, per_client = key("login-user", username, client), key("login-client", client)
    if (await attempts.count(per_user, window) >= settings.login_failures_per_user
            or await attempts.count(per_client, window) >= settings.login_failures_per_client):
        raise too_many(window)
    user = await verify()
    if user is None:
        await attempts.record((per_user, per_client), window)
    return user


async def keyed_on_forwarded_for(service: Service, request: Request, username: str,
                                 verify: Verify) -> User | None:
    """VULNERABLE: counts by the first address of ``X-Forwarded-For``, which any client writes
    as it likes: a new made-up address for every guess, and no guess is ever the sixth."""
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    client = service.layers.client_key(forwarded or address_of(request))
    return await guard_client(service, username, client, verify)


async def per_username_only(service: Service, request: Request, username: str,
                            verify: Verify) -> User | None:
    """VULNERABLE: counts a username's failures over every client. Five wrong guesses from
    anywhere lock the account's owner out too: anyone can keep alice out of her account."""
    settings = service.settings
    attempts = service.shared.attempts
    hit = await attempts.hit({key("login-user", username): settings.login_failures_per_user},
                             window=settings.login_window_seconds)
    if hit.retry_after:
        raise too_many(hit.retry_after)
    return await verify_counted(attempts, hit, verify)


async def resets_on_success(service: Service, request: Request, username: str,
                            verify: Verify) -> User | None:
    """VULNERABLE: a successful login clears the client's failures, "so a user who finally
    remembers the password starts afresh". mallory logs in to her own account now and then,
    and tries one password on any number of other accounts (password spraying)."""
    settings = service.settings
    client = service.layers.client_key(address_of(request))
    attempts = service.shared.attempts
    per_client = key("login-client", client)
    hit = await attempts.hit({
        key("login-user", username, client): settings.login_failures_per_user,
        per_client: settings.login_failures_per_client,
    }, window=settings.login_window_seconds)
    if hit.retry_after:
        raise too_many(hit.retry_after)
    user = await verify_counted(attempts, hit, verify)
    if user is not None:
        await attempts.clear(per_client)
    return user


async def skips_unknown_users(service: Service, request: Request, username: str,
                              verify: Verify) -> User | None:
    """VULNERABLE: limits only the accounts that exist ("there is nothing to protect"). A
    username that answers 429 after five guesses exists; one that answers 401 forever does not."""
    if service.store.get_user(username) is None:
        return await verify()
    return await guard_login(service, request, username, verify)
