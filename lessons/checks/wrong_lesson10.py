"""Near misses for the lesson-10 exercises: what a learner who gets it almost right writes.

Each breaks one rule of ``lessons.checks.lesson10.RULES`` and must fail exactly the checks its
``WrongAnswer`` names (``tests/test_check_suites.py``). They are written the way the reference
is, with one thing wrong: a prefix too short, a header believed, a count read before it is
recorded, a status that says the wrong thing, a ``finally`` forgotten.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from lessons.checks import WrongAnswer
from lessons.passwords import HashingBusy, HashingQueue
from lessons.ratelimit import guard
from lessons.ratelimit.attempts import key
from lessons.ratelimit.guard import Verify
from lessons.store import User

if TYPE_CHECKING:
    from lessons.context import Service

# -- client_key ------------------------------------------------------------------------------------


def v4_by_network(address: str) -> str:
    """Counts IPv4 clients by their /24, "as for IPv6": a whole office building is one client."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ipaddress.IPv4Network((ip.ipv4_mapped, 24), strict=False))
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ipaddress.IPv4Network((ip, 24), strict=False))


def v6_by_address(address: str) -> str:
    """Normalises every address, and counts each IPv6 address on its own."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def v6_by_48(address: str) -> str:
    """A /48 "to be safe": every subscriber of a provider's /48 is one client."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 48), strict=False))
    return str(ip)


def v6_text_prefix(address: str) -> str:
    """The /64 as the first four groups of the text: right for one way of writing it."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return ":".join(address.split(":")[:4])
    return str(ip)


def mapped_by_network(address: str) -> str:
    """Keys every IPv6 address by its /64, IPv4 clients written as IPv6 included."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def parses_everything(address: str) -> str:
    """Parses without a ``try``: a name that is no address raises ``ValueError``."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


# -- guard_login -----------------------------------------------------------------------------------


def _client(service: Service, request: Request) -> str:
    return service.layers.client_key(guard.address_of(request))


def _limits(service: Service, username: str, client: str) -> dict[str, int]:
    settings = service.settings
    return {key("login-user", username, client): settings.login_failures_per_user,
            key("login-client", client): settings.login_failures_per_client}


async def _guarded(service: Service, limits: dict[str, int], verify: Verify,
                   window: int | None = None) -> User | None:
    """The reference's steps with the given keys, limits and window (the settings' window
    unless one is given)."""
    attempts = service.shared.attempts
    hit = await attempts.hit(limits, window=window or service.settings.login_window_seconds)
    if hit.retry_after:
        raise guard.too_many(hit.retry_after)
    return await guard.verify_counted(attempts, hit, verify)


async def verify_then_count(service: Service, request: Request, username: str,
                            verify: Verify) -> User | None:
    """Checks the password first and counts only a failure: the right password always works,
    so the limit only slows down the guesses that were wrong anyway."""
    user = await verify()
    if user is None:
        hit = await service.shared.attempts.hit(
            _limits(service, username, _client(service, request)),
            window=service.settings.login_window_seconds)
        if hit.retry_after:
            raise guard.too_many(hit.retry_after)
    return user


async def answers_401(service: Service, request: Request, username: str,
                      verify: Verify) -> User | None:
    """Refuses with 401 "like any failed login", which says the credentials were wrong."""
    try:
        return await guard.guard_login(service, request, username, verify)
    except HTTPException as refused:
        if refused.status_code != 429:
            raise
        raise HTTPException(401, "Too many attempts.", headers={
            **(refused.headers or {}), "WWW-Authenticate": "Bearer"}) from None


async def no_retry_after(service: Service, request: Request, username: str,
                         verify: Verify) -> User | None:
    """429, without saying when to come back."""
    try:
        return await guard.guard_login(service, request, username, verify)
    except HTTPException as refused:
        if refused.status_code != 429:
            raise
        raise HTTPException(429, "Too many attempts: try again later.") from None


async def per_username_everywhere(service: Service, request: Request, username: str,
                                  verify: Verify) -> User | None:
    """Counts a username's failures over every client: anyone can lock its owner out."""
    settings, client = service.settings, _client(service, request)
    return await _guarded(service, {
        key("login-user", username): settings.login_failures_per_user,
        key("login-client", client): settings.login_failures_per_client}, verify)


async def no_client_limit(service: Service, request: Request, username: str,
                          verify: Verify) -> User | None:
    """Counts a username's failures per client, and nothing else: spraying goes through."""
    client = _client(service, request)
    return await _guarded(service, {
        key("login-user", username, client): service.settings.login_failures_per_user},
        verify)


async def hard_coded_limits(service: Service, request: Request, username: str,
                            verify: Verify) -> User | None:
    """The numbers of the exercise's text, typed in: 5, 20, 300."""
    client = _client(service, request)
    return await _guarded(service, {key("login-user", username, client): 5,
                                    key("login-client", client): 20}, verify, window=300)


async def raw_address(service: Service, request: Request, username: str,
                      verify: Verify) -> User | None:
    """Uses the address as it is, without ``client_key``: each IPv6 address is a client."""
    return await _guarded(service, _limits(service, username, guard.address_of(request)),
                          verify)


async def never_forgives(service: Service, request: Request, username: str,
                         verify: Verify) -> User | None:
    """Counts every attempt, successes too: a user who logs in often is locked out."""
    attempts = service.shared.attempts
    hit = await attempts.hit(_limits(service, username, _client(service, request)),
                             window=service.settings.login_window_seconds)
    if hit.retry_after:
        raise guard.too_many(hit.retry_after)
    try:
        return await verify()
    except HashingBusy:
        await attempts.forgive(hit)
        raise


async def busy_counted(service: Service, request: Request, username: str,
                       verify: Verify) -> User | None:
    """Keeps the attempt when the hashing queue was full: a crowded service locks users out."""
    attempts = service.shared.attempts
    hit = await attempts.hit(_limits(service, username, _client(service, request)),
                             window=service.settings.login_window_seconds)
    if hit.retry_after:
        raise guard.too_many(hit.retry_after)
    user = await verify()
    if user is not None:
        await attempts.forgive(hit)
    return user


async def busy_swallowed(service: Service, request: Request, username: str,
                         verify: Verify) -> User | None:
    """Takes the attempt back when the queue was full, then answers as for a wrong password."""
    try:
        return await guard.guard_login(service, request, username, verify)
    except HashingBusy:
        return None


# -- hashing_place ---------------------------------------------------------------------------------


@contextlib.contextmanager
def no_share(queue: HashingQueue, client: str) -> Iterator[None]:
    """Bounds the queue, and lets one client take all of it."""
    with queue.lock:
        if queue.held >= queue.size:
            raise HashingBusy(queue.retry_after)
        queue.held += 1
        queue.by_client[client] += 1
    try:
        yield
    finally:
        with queue.lock:
            queue.held -= 1
            queue.by_client[client] -= 1


@contextlib.contextmanager
def no_total(queue: HashingQueue, client: str) -> Iterator[None]:
    """Keeps each client to its share, and the queue to no size at all."""
    with queue.lock:
        if queue.by_client[client] >= queue.share:
            raise HashingBusy(queue.retry_after)
        queue.held += 1
        queue.by_client[client] += 1
    try:
        yield
    finally:
        with queue.lock:
            queue.held -= 1
            queue.by_client[client] -= 1


@contextlib.contextmanager
def one_too_many(queue: HashingQueue, client: str) -> Iterator[None]:
    """``>`` where ``>=`` belongs: one place more than the share, and than the size."""
    with queue.lock:
        if queue.held > queue.size or queue.by_client[client] > queue.share:
            raise HashingBusy(queue.retry_after)
        queue.held += 1
        queue.by_client[client] += 1
    try:
        yield
    finally:
        with queue.lock:
            queue.held -= 1
            queue.by_client[client] -= 1


@contextlib.contextmanager
def one_too_few(queue: HashingQueue, client: str) -> Iterator[None]:
    """Counts the place being asked for twice: one fewer than the share."""
    with queue.lock:
        if queue.held >= queue.size or queue.by_client[client] + 1 >= queue.share:
            raise HashingBusy(queue.retry_after)
        queue.held += 1
        queue.by_client[client] += 1
    try:
        yield
    finally:
        with queue.lock:
            queue.held -= 1
            queue.by_client[client] -= 1


@contextlib.contextmanager
def waits_for_a_place(queue: HashingQueue, client: str) -> Iterator[None]:
    """Waits up to a second for a place "to be kind", then refuses: on the event loop."""
    deadline = time.monotonic() + 1
    while True:
        with queue.lock:
            if queue.held < queue.size and queue.by_client[client] < queue.share:
                queue.held += 1
                queue.by_client[client] += 1
                break
        if time.monotonic() > deadline:
            raise HashingBusy(queue.retry_after)
        time.sleep(0.01)
    try:
        yield
    finally:
        with queue.lock:
            queue.held -= 1
            queue.by_client[client] -= 1


@contextlib.contextmanager
def no_finally(queue: HashingQueue, client: str) -> Iterator[None]:
    """Gives the place back after the ``yield``, which a hash that raises never reaches."""
    with queue.lock:
        if queue.held >= queue.size or queue.by_client[client] >= queue.share:
            raise HashingBusy(queue.retry_after)
        queue.held += 1
        queue.by_client[client] += 1
    yield
    with queue.lock:
        queue.held -= 1
        queue.by_client[client] -= 1


@contextlib.contextmanager
def keeps_client_share(queue: HashingQueue, client: str) -> Iterator[None]:
    """Gives the place back, and forgets the client's share of it."""
    with queue.lock:
        if queue.held >= queue.size or queue.by_client[client] >= queue.share:
            raise HashingBusy(queue.retry_after)
        queue.held += 1
        queue.by_client[client] += 1
    try:
        yield
    finally:
        with queue.lock:
            queue.held -= 1


@contextlib.contextmanager
def http_503(queue: HashingQueue, client: str) -> Iterator[None]:
    """Raises the 503 itself, "the status is what matters": without Retry-After, and as a
    5xx HTTPException the service's error answer keeps nothing of it but its status."""
    with queue.lock:
        if queue.held >= queue.size or queue.by_client[client] >= queue.share:
            raise StarletteHTTPException(503, "Busy, try again.")
        queue.held += 1
        queue.by_client[client] += 1
    try:
        yield
    finally:
        with queue.lock:
            queue.held -= 1
            queue.by_client[client] -= 1


@contextlib.contextmanager
def default_retry_after(queue: HashingQueue, client: str) -> Iterator[None]:
    """``HashingBusy()`` with its default, whatever the queue says."""
    with queue.lock:
        if queue.held >= queue.size or queue.by_client[client] >= queue.share:
            raise HashingBusy()
        queue.held += 1
        queue.by_client[client] += 1
    try:
        yield
    finally:
        with queue.lock:
            queue.held -= 1
            queue.by_client[client] -= 1


WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    WrongAnswer("key_ipv4", "IPv4 clients counted by /24", {"client_key": v4_by_network},
                {"key_ipv4": "got the same key"}),
    WrongAnswer("key_ipv6_64", "every IPv6 address a client of its own",
                {"client_key": v6_by_address},
                {"key_ipv6_network": "Key an IPv6 address by its /64",
                 "key_in_service": "never applied"}),
    WrongAnswer("key_ipv6_64", "IPv6 clients counted by /48", {"client_key": v6_by_48},
                {"key_ipv6_network": "not a shorter prefix"}),
    WrongAnswer("key_one_form", "the /64 cut from the text", {"client_key": v6_text_prefix},
                {"key_ipv6_forms": "Parse it"}),
    WrongAnswer("key_mapped", "IPv4-mapped addresses keyed as IPv6",
                {"client_key": mapped_by_network}, {"key_mapped": "ipv4_mapped"}),
    WrongAnswer("key_names", "no try around ip_address", {"client_key": parses_everything},
                {"key_names": "raised ValueError"}),
    WrongAnswer("count_first", "the password checked first, failures counted after",
                {"guard_login": verify_then_count},
                {"guard_stops": "never call verify", "guard_right_refused": "Count the attempt",
                 "guard_burst": "atomic", "guard_every_route": "should be 429"}),
    WrongAnswer("count_first", "check-then-record: the count read, the failure recorded after",
                {"guard_login": guard.check_then_record}, {"guard_burst": "atomic"}),
    WrongAnswer("status_429", "401 instead of 429", {"guard_login": answers_401},
                {"guard_429": "not 401", "guard_every_route": "no 429"}),
    WrongAnswer("retry_after", "429 without Retry-After", {"guard_login": no_retry_after},
                {"guard_retry_after": "missing", "guard_every_route": "with Retry-After"}),
    WrongAnswer("per_user_and_client", "a username's failures counted over every client",
                {"guard_login": per_username_everywhere}, {"guard_lockout": "keep its owner out"}),
    WrongAnswer("per_client", "no limit per client", {"guard_login": no_client_limit},
                {"guard_per_client": "spraying", "guard_spray": "sprayed"}),
    WrongAnswer("settings", "the limits typed in", {"guard_login": hard_coded_limits},
                {"guard_settings": "login_failures_per_user",
                 "guard_per_client": "login_failures_per_client"}),
    WrongAnswer("resolved_client", "the client taken from X-Forwarded-For",
                {"guard_login": guard.keyed_on_forwarded_for},
                {"guard_forwarded_for": "request.client.host"}),
    WrongAnswer("through_client_key", "the address used as it is",
                {"guard_login": raw_address}, {"guard_ipv6": "client_key"}),
    WrongAnswer("unknown_alike", "unknown usernames not limited",
                {"guard_login": guard.skips_unknown_users}, {"guard_unknown": "which accounts"}),
    WrongAnswer("success_forgiven", "successes counted as failures",
                {"guard_login": never_forgives}, {"guard_success": "forgive"}),
    WrongAnswer("success_resets_nothing", "a success clears the client's failures",
                {"guard_login": guard.resets_on_success}, {"guard_spray": "never"}),
    WrongAnswer("busy_forgiven", "a full hashing queue counted as a failure",
                {"guard_login": busy_counted}, {"guard_busy": "HashingBusy"}),
    WrongAnswer("busy_forgiven", "a full hashing queue answered as a wrong password",
                {"guard_login": busy_swallowed}, {"guard_busy": "go on"}),
    WrongAnswer("place_share", "no share per client", {"hashing_place": no_share},
                {"place_share": "one client must not fill", "place_in_service": "every place"}),
    WrongAnswer("place_total", "no bound on the queue", {"hashing_place": no_total},
                {"place_full": "whoever asks"}),
    WrongAnswer("place_boundaries", "> where >= belongs", {"hashing_place": one_too_many},
                {"place_share": "queue.share", "place_full": "queue.size"}),
    WrongAnswer("place_boundaries", "one place fewer than the share",
                {"hashing_place": one_too_few},
                {"place_boundary": "not one fewer", "place_share": "queue.share"}),
    WrongAnswer("place_at_once", "waits for a place", {"hashing_place": waits_for_a_place},
                {"place_at_once": "at once"}),
    WrongAnswer("place_released", "no finally", {"hashing_place": no_finally},
                {"place_released": "finally"}),
    WrongAnswer("place_released", "the client's share never given back",
                {"hashing_place": keeps_client_share}, {"place_released": "share too"}),
    WrongAnswer("place_busy", "an HTTPException(503) of its own", {"hashing_place": http_503},
                {"place_busy_error": "raised HTTPException", "place_in_service": "503 with "
                 "Retry-After"}),
    WrongAnswer("place_busy", "HashingBusy without the queue's retry_after",
                {"hashing_place": default_retry_after}, {"place_busy_error": "the queue says"}),
)
