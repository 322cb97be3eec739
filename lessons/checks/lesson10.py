"""Lesson 10 checks: the learner's ``client_key``, ``guard_login`` and ``hashing_place``, each
on its own and then plugged into the lesson-10 service, where the lesson's attacks must fail.

``guard_login`` is called directly, with requests made up for the occasion and a ``verify``
that stands for the password check (it says whether it was called, and answers success,
failure or "the hashing queue is full"), so that each check sees exactly what the guard
decided; one check runs the guessing attack on every route of a service with the guard in its
seam. ``hashing_place`` is tried on small queues, then in a service whose hashes take long
enough to queue.

``RULES`` lists every rule the exercises state; ``WRONG_ANSWERS`` (in ``wrong_lesson10``) are
near misses, each breaking one rule.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from lessons import passwords, ratelimit
from lessons.attacks import VICTIM, Scene, SceneError, Variant
from lessons.attacks import lesson10 as attacks
from lessons.checks import Fail, Report, Rule, Suite, Trial, expect, expect_type
from lessons.checks.wrong_lesson10 import WRONG_ANSWERS
from lessons.context import Service
from lessons.passwords import HashingBusy, HashingQueue
from lessons.store import User

suite = Suite(10, "Load testing and rate limiting")

MALLORY, ALICE = attacks.MALLORY_ADDRESS, attacks.ALICE_ADDRESS


# -- exercise 1: client_key ------------------------------------------------------------------------


def _key(trial: Trial, address: str) -> str:
    key = trial.client_key(address)
    expect_type(key, str, "client_key", "a str: the key this client's attempts are counted under")
    return key


@suite.check("key_ipv4", "client_key: each IPv4 address is a client of its own")
def key_ipv4(trial: Trial) -> None:
    pairs = (("203.0.113.9", "203.0.113.10"), ("198.51.100.7", "198.51.100.200"),
             ("10.0.0.1", "10.0.1.1"))
    for first, second in pairs:
        expect(_key(trial, first) != _key(trial, second),
               f"{first} and {second} got the same key. An IPv4 address is one client (a "
               "household or an office, behind one address): count each address on its own.")
        expect(_key(trial, first) == _key(trial, first),
               f"{first} got two different keys: the same address must always give one key.")


@suite.check("key_ipv6_network", "client_key: an IPv6 address counts by its /64 network")
def key_ipv6_network(trial: Trial) -> None:
    same = ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2:a:b:c:d")
    keys = {address: _key(trial, address) for address in same}
    expect(len(set(keys.values())) == 1,
           f"The addresses of one /64 got different keys ({sorted(set(keys.values()))[:3]}). "
           "One subscriber gets a whole /64 (2**64 addresses): counted one by one, an attacker "
           "with one connection has a fresh address for every guess. Key an IPv6 address by "
           "its /64 network: `ipaddress.ip_network(f'{address}/64', strict=False)`.")
    for other in ("2001:db8:1:3::1", "2001:db8:2:2::1"):
        expect(_key(trial, other) != keys[same[0]],
               f"{same[0]} and {other} got the same key, but they are in different /64 "
               "networks (two subscribers): use /64, not a shorter prefix such as /48.")


@suite.check("key_ipv6_forms", "client_key: one IPv6 address, however it is written")
def key_ipv6_forms(trial: Trial) -> None:
    forms = ("2001:db8:1:2::1", "2001:0db8:0001:0002:0000:0000:0000:0001", "2001:DB8:1:2::1",
             "2001:db8:1:2:0::1")
    keys = {form: _key(trial, form) for form in forms}
    expect(len(set(keys.values())) == 1,
           f"One IPv6 address, written four ways ({', '.join(forms)}), got "
           f"{len(set(keys.values()))} different keys. Parse it (`ipaddress.ip_address`) "
           "instead of cutting the text: zeros may be left out or written, letters may be "
           "upper or lower case.")


@suite.check("key_mapped", "client_key: an IPv4 address written as IPv6 is that IPv4 address")
def key_mapped(trial: Trial) -> None:
    for plain in ("203.0.113.9", "198.51.100.7"):
        mapped = f"::ffff:{plain}"
        expect(_key(trial, mapped) == _key(trial, plain),
               f"{mapped} and {plain} got different keys, but they are the same client: a "
               "server listening on IPv6 sees IPv4 clients that way. Use `ip.ipv4_mapped` when "
               "it is set (and do not key it by /64: every IPv4 client would share ::/64).")


@suite.check("key_names", "client_key: a name that is no address comes back as it is")
def key_names(trial: Trial) -> None:
    for name in ("testclient", "unix-socket", ""):
        key = _key(trial, name)
        expect(key == name, f"client_key({name!r}) returned {key!r}. Something that is not an "
               "IP address (an in-process test client calls itself 'testclient'; a server on "
               "a Unix socket knows no address) is its own key: return it as it is, without "
               "raising.")


@suite.check("key_in_service", "your service: guesses from one IPv6 /64 are counted together")
def key_in_service(trial: Trial) -> None:
    trial.client_key("2001:db8:1:2::1")
    settings = {"trusted_proxies": (attacks.PROXY,)}
    with Scene(Variant(10, seams={"client_key": trial.client_key}, settings=settings),
               trial.root) as scene, attacks.client_at(scene.app, attacks.PROXY) as proxy:
        codes = []
        for n in range(1, 26):  # a new address of one /64, and a new username, every time
            codes.append(proxy.post("/auth/token", headers=attacks.forwarded(
                "198.18.0.1", f"2001:db8:1:2::{n:x}"), data={
                "username": f"member{n:03d}", "password": attacks.wrong_guess(n)}).status_code)
    limit = scene.settings.login_failures_per_client
    expect(429 in codes[limit:],
           f"{len(codes)} failed logins from addresses of one /64 network answered "
           f"{attacks.statuses(codes)}: the client limit ({limit}) never applied. Each address "
           "was counted as a client of its own.")


# -- exercise 2: guard_login -----------------------------------------------------------------------


@dataclass
class Tried:
    """What the learner's guard did with one attempt."""

    checked: bool = False  # did it call verify?
    returned: Any = None
    status: int | None = None  # the HTTPException it raised
    headers: dict[str, str] = field(default_factory=dict)
    busy: bool = False  # it let HashingBusy through

    @property
    def refused(self) -> bool:
        return self.status is not None


class Guarded:
    """The lesson-10 service (its store, settings and seams), with the learner's guard called
    directly: ``attempt(...)`` makes up a request from ``address`` and a ``verify`` that
    succeeds, fails, or finds the hashing queue full."""

    def __init__(self, trial: Trial, portal: BlockingPortal, members: int = 0,
                 **settings: Any) -> None:
        expect(inspect.iscoroutinefunction(trial.guard_login),
               "guard_login should be a coroutine function (`async def guard_login(...)`): the "
               "routes await it, and it awaits the attempts' store and verify.")
        self.guard = trial.guard_login
        app = trial.app(10, settings=trial.settings(**settings))
        self.service: Service = app.state.service
        self.portal = portal
        store = self.service.store
        # Real accounts, so that a guard which looks accounts up treats these like any other.
        names = (VICTIM, "mallory", *(f"member{n:03d}" for n in range(members)))
        self.users = {name: store.add_user(name, "not-a-hash", email=f"{name}@example.org")
                      for name in names}

    def attempt(self, username: str = VICTIM, address: str = MALLORY, outcome: str = "fail",
                headers: dict[str, str] | None = None, delay: float = 0.0) -> Tried:
        return self.portal.call(self.attempt_async, username, address, outcome, headers, delay)

    async def attempt_async(self, username: str = VICTIM, address: str = MALLORY,
                            outcome: str = "fail", headers: dict[str, str] | None = None,
                            delay: float = 0.0) -> Tried:
        tried = Tried()

        async def verify() -> User | None:
            tried.checked = True
            if delay:
                await anyio.sleep(delay)
            if outcome == "busy":
                raise HashingBusy(1)
            return self.users.get(username) if outcome == "ok" else None

        try:
            tried.returned = await self.guard(self.service, request_from(address, headers),
                                              username, verify)
        except HTTPException as refusal:
            tried.status = refusal.status_code
            tried.headers = {k.lower(): v for k, v in (refusal.headers or {}).items()}
        except HashingBusy:
            tried.busy = True
        return tried


def request_from(address: str, headers: dict[str, str] | None = None) -> Request:
    """A ``POST /auth/token`` as the routes see it after lesson 04's proxy check: from
    ``address``, with ``headers``."""
    return Request({
        "type": "http", "method": "POST", "path": "/auth/token", "raw_path": b"/auth/token",
        "root_path": "", "scheme": "https", "query_string": b"", "http_version": "1.1",
        "server": ("testserver", 443), "client": (address, 50000),
        "headers": [(name.lower().encode(), value.encode())
                    for name, value in (headers or {}).items()],
    })


@contextlib.contextmanager
def _guarded(trial: Trial, members: int = 0, **settings: Any) -> Iterator[Guarded]:
    with start_blocking_portal() as portal:
        yield Guarded(trial, portal, members, **settings)


def _failures(guarded: Guarded, count: int, **attempt: Any) -> list[Tried]:
    return [guarded.attempt(**attempt) for _ in range(count)]


def _describe(tried: Tried) -> str:
    if tried.refused:
        return f"HTTP {tried.status}" + (" without checking the password" if not tried.checked
                                         else " after checking the password")
    if tried.busy:
        return "HashingBusy"
    return ("the password checked, " if tried.checked else "nothing checked, ") + (
        "the user returned" if tried.returned is not None else "None returned")


@suite.check("guard_stops", "guard_login: after 5 failures, the 6th guess is not checked")
def guard_stops(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        first = _failures(guarded, 5)
        expect(all(t.checked and not t.refused for t in first),
               f"The first 5 wrong guesses went: {[_describe(t) for t in first]}. Below the "
               "limit, every attempt is checked (verify is called) and its result returned.")
        sixth = guarded.attempt()
    expect(sixth.refused and not sixth.checked,
           f"The 6th wrong guess for one username from one client: {_describe(sixth)}. Past "
           "the limit, refuse at once (raise an HTTPException) and never call verify: a limit "
           "that still checks the guess still tells the attacker when it is right.")


@suite.check("guard_right_refused", "guard_login: while limited, the right password is refused too")
def guard_right_refused(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        _failures(guarded, 5)
        right = guarded.attempt(outcome="ok")
    expect(right.refused and not right.checked,
           f"After 5 failures, the right password: {_describe(right)}. Count the attempt "
           "before checking it (`attempts.hit`), and refuse past the limit whatever the "
           "password: if the right one still got through, the attacker would learn it.")


@suite.check("guard_burst", "guard_login: 40 guesses at once, and only 5 are checked")
def guard_burst(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        async def burst() -> list[Tried]:
            results: list[Tried] = []
            raised: list[Exception] = []

            async def one() -> None:
                try:
                    results.append(await guarded.attempt_async(delay=0.05))
                except Exception as error:  # the learner's: raised again below, as it is
                    raised.append(error)

            async with anyio.create_task_group() as group:
                for _ in range(40):
                    group.start_soon(one)
            if raised:
                raise raised[0]
            return results

        results = guarded.portal.call(burst)
    checked = sum(t.checked for t in results)
    limit = guarded.service.settings.login_failures_per_user
    expect(checked <= limit,
           f"40 guesses sent at once: {checked} passwords were checked, past a limit of "
           f"{limit}. Each reads the count before any of them records a failure. Count and "
           "record in one atomic step before checking, `await attempts.hit({...}, "
           "window=...)`, and never read a count first (`attempts.count`) and record later.")


@suite.check("guard_429", "guard_login: the refusal is 429 Too Many Requests")
def guard_429(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        _failures(guarded, 5)
        refused = guarded.attempt()
    expect(refused.refused, f"The 6th wrong guess: {_describe(refused)}; it should be refused.")
    expect(refused.status == 429,
           f"The refusal was HTTP {refused.status}. Answer 429 Too Many Requests (RFC 6585): "
           "not 401, which says the credentials are wrong (they may be right), and not 403, "
           "which says they can never work.")


@suite.check("guard_retry_after", "guard_login: the 429 says when to try again (Retry-After)")
def guard_retry_after(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        _failures(guarded, 5)
        refused = guarded.attempt()
    window = guarded.service.settings.login_window_seconds
    expect(refused.refused, f"The 6th wrong guess: {_describe(refused)}; it should be refused.")
    value = refused.headers.get("retry-after", "")
    expect(value.isdigit() and 0 < int(value) <= window,
           f"The refusal's Retry-After header was {value or 'missing'}. Give the whole seconds "
           f"until a guess is allowed again: `headers={{'Retry-After': str(hit.retry_after)}}` "
           f"(at most the window, {window} s).")


@suite.check("guard_lockout", "guard_login: mallory's failures never lock alice out")
def guard_lockout(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        _failures(guarded, 8, address=MALLORY)
        alice = guarded.attempt(address=ALICE, outcome="ok")
    expect(not alice.refused and alice.returned is not None,
           f"mallory failed 8 times for alice from {MALLORY}; then alice, from {ALICE}, with "
           f"her right password: {_describe(alice)}. Counted over every client, a username's "
           "failures let anyone keep its owner out. Count them per username *and* client: "
           "`key('login-user', username, client)`.")


@suite.check("guard_per_client", "guard_login: a client's failures count whatever the usernames")
def guard_per_client(trial: Trial) -> None:
    with _guarded(trial, members=8, login_failures_per_client=7) as guarded:
        limit = guarded.service.settings.login_failures_per_client
        tried = [guarded.attempt(username=f"member{n:03d}") for n in range(limit + 1)]
    expect(tried[-1].refused and not any(t.refused for t in tried[:-1]),
           f"{limit + 1} wrong guesses from one client, each for another username: "
           f"{[_describe(t) for t in tried][-3:]} at the end. One password tried on many "
           f"accounts (spraying) never reaches a username's limit: count the client's failures "
           f"too, `key('login-client', client)`, up to `settings.login_failures_per_client` "
           f"(here {limit}).")


@suite.check("guard_settings", "guard_login: the limit and the window come from the settings")
def guard_settings(trial: Trial) -> None:
    with _guarded(trial, login_failures_per_user=3, login_window_seconds=60) as guarded:
        per_user = _failures(guarded, 4)
    expect(per_user[-1].refused and not per_user[-2].refused,
           f"With login_failures_per_user=3, the 4th wrong guess: {_describe(per_user[-1])}, "
           f"the 3rd: {_describe(per_user[-2])}. Use `settings.login_failures_per_user`.")
    value = per_user[-1].headers.get("retry-after", "0")
    expect(value.isdigit() and int(value) <= 60,
           f"With login_window_seconds=60, Retry-After was {value}: pass "
           "`window=settings.login_window_seconds` to `attempts.hit`.")


@suite.check("guard_forwarded_for", "guard_login: the client is the address lesson 04 resolved")
def guard_forwarded_for(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        tried = [guarded.attempt(headers={"X-Forwarded-For": f"198.18.0.{n}"})
                 for n in range(1, 9)]
    expect(any(t.refused for t in tried),
           f"8 wrong guesses from {MALLORY}, each claiming another address in X-Forwarded-For: "
           f"none was refused. Anyone writes that header: take the client from "
           "`request.client.host`, which lesson 04's proxy check already set to the real "
           "client (from a trusted proxy's header, and only from one).")


@suite.check("guard_ipv6", "guard_login: the address goes through client_key")
def guard_ipv6(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        tried = [guarded.attempt(address=f"2001:db8:1:2::{n:x}") for n in range(1, 9)]
    expect(any(t.refused for t in tried),
           "8 wrong guesses for alice from 8 addresses of one IPv6 /64: none was refused. "
           "Turn the address into the client's key with `service.layers.client_key(...)` "
           "(your exercise 1), so one /64 counts as one client.")


@suite.check("guard_unknown", "guard_login: an unknown username is limited like a real one")
def guard_unknown(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        tried = _failures(guarded, 6, username="nobody_here")
    expect(tried[-1].refused,
           f"6 wrong guesses for a username nobody has: the 6th was {_describe(tried[-1])}, "
           "while the same guesses for alice are refused. That difference tells an attacker "
           "which accounts exist: count every username alike, without looking it up.")


@suite.check("guard_success", "guard_login: a successful login is not a failure")
def guard_success(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        tried = _failures(guarded, 8, address=ALICE, outcome="ok")
    refused = [n for n, t in enumerate(tried, 1) if t.refused]
    expect(not refused and all(t.returned is not None for t in tried),
           f"alice logged in 8 times in a row with her right password; login {refused[:1]} "
           "was refused. A success takes its own attempt back: "
           "`await attempts.forgive(hit)` when verify returns a user.")


@suite.check("guard_spray", "guard_login: a success clears no one's failures")
def guard_spray(trial: Trial) -> None:
    with _guarded(trial, members=21) as guarded:
        limit = guarded.service.settings.login_failures_per_client
        tried = []
        for n in range(limit + 1):
            tried.append(guarded.attempt(username=f"member{n:03d}"))
            if n % 5 == 4:
                guarded.attempt(username="mallory", outcome="ok")  # her own account
    expect(tried[-1].refused,
           f"mallory sprayed {limit + 1} usernames from one address, logging in to her own "
           f"account every 5 guesses: the last guess was {_describe(tried[-1])}. Her "
           "successes cleared her failures. A success takes back its own attempt "
           "(`attempts.forgive(hit)`), nothing more: never `attempts.clear(...)`.")


@suite.check("guard_busy", "guard_login: a check that could not run (503) is not a failure")
def guard_busy(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        busy = _failures(guarded, 7, address=ALICE, outcome="busy")
        after = guarded.attempt(address=ALICE, outcome="ok")
    expect(all(t.busy for t in busy),
           f"verify raised HashingBusy 7 times (the hashing queue was full); your guard "
           f"ended with {_describe(busy[-1])}. Let HashingBusy go on (the service answers it "
           "with 503 and Retry-After) and take the attempt back first, "
           "`await attempts.forgive(hit)`: no password was checked.")
    expect(after.returned is not None,
           f"After 7 of alice's logins found the queue full, her 8th, with the right password: "
           f"{_describe(after)}. Attempts that checked nothing must not count.")


@suite.check("guard_every_route", "your service: guessing stops on every route that checks a "
                                  "password")
def guard_every_route(trial: Trial) -> None:
    with _guarded(trial) as guarded:
        guarded.attempt()  # a stub raises NotImplementedError here, not inside the service
    for route in attacks.ROUTES:
        with Scene(Variant(10, seams={"guard_login": trial.guard_login}), trial.root) as scene:
            try:
                token = scene.token(VICTIM) if route == "password" else ""
            except SceneError as error:
                raise Fail(f"With your guard_login, alice could not log in: {error}") from None
            account = scene.accounts[VICTIM]
            codes = [attacks.try_password(scene.client, route, VICTIM, attacks.wrong_guess(n),
                                          token).status_code for n in range(6)]
            right = attacks.try_password(scene.client, route, VICTIM, account.password, token)
        name = attacks.ROUTE_NAMES[route]
        expect(429 in codes,
               f"On {name}, 6 wrong guesses answered {attacks.statuses(codes)}: no 429.")
        expect(right.status_code == 429 and right.headers.get("retry-after", "").isdigit(),
               f"On {name}, the right password after 6 wrong ones answered "
               f"{right.status_code} (Retry-After: {right.headers.get('retry-after', 'none')}); "
               "it should be 429 with Retry-After.")


# -- exercise 3: hashing_place ---------------------------------------------------------------------


def _queue(trial: Trial, size: int = 4, share: int = 2) -> HashingQueue:
    return HashingQueue(size=size, share=share, place=trial.hashing_place, retry_after=3)


def _take(queue: HashingQueue, places: contextlib.ExitStack, client: str) -> bool:
    """Try to take a place for ``client``, kept until ``places`` closes: True if given."""
    manager = queue.place(queue, client)
    expect(hasattr(manager, "__enter__"),
           f"hashing_place returned {type(manager).__name__}; decorate it with "
           "`@contextlib.contextmanager` and `yield` once, inside the place.")
    try:
        places.enter_context(manager)
    except (HashingBusy, StarletteHTTPException):
        return False  # refused (whether with the right exception is place_busy_error's matter)
    return True


@suite.check("place_share", "hashing_place: one client holds at most its share")
def place_share(trial: Trial) -> None:
    queue = _queue(trial, size=8, share=2)
    with contextlib.ExitStack() as places:
        taken = [_take(queue, places, "203.0.113.66") for _ in range(3)]
        other = _take(queue, places, "198.51.100.7")
    expect(taken[:2] == [True, True] and not taken[2],
           f"One client asked for 3 places of a queue of 8 with a share of 2: {taken}. Refuse "
           "a client that holds `queue.share` places already (`queue.by_client[client]`): one "
           "client must not fill the line for everyone.")
    expect(other, "Another client was refused while the queue had room: the share is per "
           "client.")


@suite.check("place_full", "hashing_place: a full queue gives no place")
def place_full(trial: Trial) -> None:
    queue = _queue(trial, size=4, share=2)
    with contextlib.ExitStack() as places:
        taken = [_take(queue, places, client) for client in "abcde"]
    expect(taken == [True, True, True, True, False],
           f"Places for five clients, one each, in a queue of 4: {taken}. Refuse once "
           "`queue.held` places are taken out of `queue.size`, whoever asks.")


@suite.check("place_boundary", "hashing_place: exactly the share, exactly the size")
def place_boundary(trial: Trial) -> None:
    for size, share, clients in ((3, 3, "aaa"), (4, 2, "aabb"), (1, 1, "a")):
        queue = _queue(trial, size=size, share=share)
        with contextlib.ExitStack() as places:
            given = [_take(queue, places, client) for client in clients]
        expect(all(given),
               f"A queue of {size} with a share of {share} gave places to {given.count(True)} "
               f"of {len(clients)} hashes ({', '.join(clients)}), each within its share and the "
               "size. Give a place while `queue.held < queue.size` and "
               "`queue.by_client[client] < queue.share`: not one fewer.")


@suite.check("place_at_once", "hashing_place: no place is refused at once, never waited for")
def place_at_once(trial: Trial) -> None:
    # Refused for either reason: the queue is full, or the client holds its share.
    for size, share, clients in ((1, 1, "ab"), (4, 1, "aa")):
        queue = _queue(trial, size=size, share=share)
        with contextlib.ExitStack() as places:
            _take(queue, places, clients[0])
            began = time.perf_counter()
            given = _take(queue, places, clients[1])
            took = time.perf_counter() - began
        expect(given or took < 0.2,
               f"Refusing a place took {took:.2f} s. Raise HashingBusy at once: a client told "
               "to come back in a second is better served than one kept waiting, and this code "
               "runs on the event loop, where any wait stalls every request.")


@suite.check("place_released", "hashing_place: the place is given back however the hash ends")
def place_released(trial: Trial) -> None:
    queue = _queue(trial, size=4, share=2)
    with queue.place(queue, "a"):
        pass
    with contextlib.suppress(RuntimeError), queue.place(queue, "a"):
        raise RuntimeError("the hash failed")
    expect(queue.held == 0,
           f"After two hashes ended (one normally, one with an exception), queue.held is "
           f"{queue.held}. Give the place back in a `finally:` around the `yield`: a place "
           "kept by a hash that raised is lost for good.")
    expect(queue.by_client.get("a", 0) == 0,
           f"After the client's hashes ended, queue.by_client['a'] is "
           f"{queue.by_client.get('a')}: give back the client's share too, or after "
           f"{queue.share} hashes it is refused forever.")


@suite.check("place_busy_error", "hashing_place: the refusal is HashingBusy with queue.retry_after")
def place_busy_error(trial: Trial) -> None:
    queue = _queue(trial, size=1, share=1)
    refusal: Exception | None = None
    with contextlib.ExitStack() as places:
        _take(queue, places, "a")
        for client in ("a", "b"):  # over its share, then over the size
            try:
                places.enter_context(queue.place(queue, client))
            except Exception as error:  # the kind of refusal is what this check looks at
                refusal = error
                break
    expect(refusal is not None, "A queue of 1, full, gave more places: nothing was refused.")
    expect(isinstance(refusal, HashingBusy),
           f"The refusal raised {type(refusal).__name__}; raise `HashingBusy(queue.retry_after)`"
           ", which the service answers with 503 and Retry-After.")
    assert isinstance(refusal, HashingBusy)
    expect(refusal.retry_after == queue.retry_after,
           f"HashingBusy said retry after {refusal.retry_after} s; the queue says "
           f"{queue.retry_after}: `raise HashingBusy(queue.retry_after)`.")


class HeldHasher:
    """The reference hasher, except that a verification of ``HELD`` waits until ``release``
    is set: hashes that stay in the queue for exactly as long as a check needs them there."""

    HELD = "held-in-the-queue"

    def __init__(self, settings: Any) -> None:
        self.inner = passwords.argon2_hasher(settings)
        self.release = threading.Event()

    def hash(self, secret: str) -> str:
        return self.inner.hash(secret)

    def identify(self, hash: str) -> str | None:
        return self.inner.identify(hash)

    def verify(self, secret: str, hash: str) -> bool:
        if secret == self.HELD:
            self.release.wait(10)
        return bool(self.inner.verify(secret, hash))


def queue_of(app: Any) -> HashingQueue | None:
    """The hashing queue of a lesson-10 app that has served a request (Starlette builds the
    middleware stack then)."""
    layer = getattr(app, "middleware_stack", None)
    while layer is not None:
        if isinstance(getattr(layer, "queue", None), HashingQueue):
            return layer.queue  # type: ignore[no-any-return]
        layer = getattr(layer, "app", None)
    return None


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def flood_then_alice(scene: Scene, flood: int) -> tuple[list[Any], Any]:
    """mallory sends ``flood`` logins at once, which stay in the hashing queue (or are refused)
    until alice's login has had its answer from the queue; then they are let go. The answers
    to mallory's logins, and alice's."""
    hasher = scene.service.hasher
    assert isinstance(hasher, HeldHasher)
    with attacks.client_at(scene.app, attacks.PROXY) as proxy, \
            ThreadPoolExecutor(max_workers=flood + 1) as pool:
        def mallory(n: int) -> Any:
            return proxy.post("/auth/token", headers=attacks.forwarded("198.18.0.1"),
                              data={"username": f"member{n:03d}", "password": HeldHasher.HELD})

        def alice() -> Any:
            return proxy.post("/auth/token", headers=attacks.forwarded("198.18.0.2", ALICE),
                              data={"username": VICTIM,
                                    "password": scene.accounts[VICTIM].password})

        try:
            sent = [pool.submit(mallory, n) for n in range(flood)]
            wait_until(lambda: queue_of(scene.app) is not None)
            queue = queue_of(scene.app)
            held = (lambda: queue.held) if queue is not None else (lambda: 0)
            # every one of mallory's logins holds a place, or has been refused
            wait_until(lambda: held() + sum(f.done() for f in sent) >= flood)
            before = held()
            answer = pool.submit(alice)
            wait_until(lambda: answer.done() or held() > before)  # placed, or refused
        finally:
            hasher.release.set()
        return [future.result() for future in sent], answer.result()


@suite.check("place_in_service", "your service: mallory's flood leaves alice a place (else 503)")
def place_in_service(trial: Trial) -> None:
    with contextlib.ExitStack() as places:
        _take(_queue(trial), places, "a")
    variant = Variant(10, seams={"hashing_place": trial.hashing_place,
                                 "make_hasher": HeldHasher},
                      settings={"hashing_queue": 4, "hashing_queue_per_client": 2,
                                "trusted_proxies": (attacks.PROXY,)})
    with Scene(variant, trial.root) as scene:
        answers, alice = flood_then_alice(scene, 6)
    busy = [a for a in answers if a.status_code == 503]
    expect(alice.status_code == 200,
           f"While mallory's 6 logins were in the queue, alice's login answered "
           f"{alice.status_code}: mallory's flood took every place.")
    expect(busy and all(a.headers.get("retry-after", "").isdigit() for a in busy),
           f"mallory's 6 logins at once answered {attacks.statuses(a.status_code for a in answers)}"
           "; those beyond her share should be 503 with Retry-After (raise HashingBusy).")


# -- trying an answer in the notebook --------------------------------------------------------------


def try_guard(guard_login: Any, folder: Any) -> None:
    """Print what ``guard_login`` does, called the way the routes call it, with a service of
    its own in ``folder``: six wrong guesses for alice from mallory's address, then alice's
    right password from mallory's address and from her own."""
    import tempfile

    trial = Trial(10, {"guard_login": guard_login}, Path(tempfile.mkdtemp(dir=folder)))
    try:
        with _guarded(trial) as guarded:
            steps = [(f"wrong guess {n} from {MALLORY}", guarded.attempt()) for n in range(1, 7)]
            steps.append((f"alice's password from {MALLORY}", guarded.attempt(outcome="ok")))
            steps.append((f"alice's password from {ALICE}",
                          guarded.attempt(address=ALICE, outcome="ok")))
    except NotImplementedError:
        print("guard_login is not written yet: fill in its cell above, run it, then run this "
              "cell again.")
        return
    finally:
        trial.close()
    for label, tried in steps:
        extra = f" (Retry-After: {tried.headers['retry-after']})" if "retry-after" in \
            tried.headers else ""
        print(f"{label:40} {_describe(tried)}{extra}")


# -- what the notebook's exercises state, and what answers them ------------------------------------

RULES: tuple[Rule, ...] = (
    Rule("key_ipv4", "client_key", "An IPv4 address is a client of its own.", ("key_ipv4",)),
    Rule("key_ipv6_64", "client_key",
         "An IPv6 address is counted by its /64 network: one subscriber holds all of it.",
         ("key_ipv6_network", "key_in_service")),
    Rule("key_one_form", "client_key",
         "One IPv6 address is one key however it is written: parse it, do not cut the text.",
         ("key_ipv6_forms",)),
    Rule("key_mapped", "client_key",
         "An IPv4 address written as IPv6 (::ffff:203.0.113.9) is that IPv4 address.",
         ("key_mapped",)),
    Rule("key_names", "client_key",
         "Something that is not an IP address is returned as it is, without an error.",
         ("key_names",)),
    Rule("count_first", "guard_login",
         "Each attempt is counted before the password is checked, in one atomic step "
         "(attempts.hit): past a limit no password is checked, the right one included.",
         ("guard_stops", "guard_right_refused", "guard_burst", "guard_every_route")),
    Rule("status_429", "guard_login", "The refusal is 429 Too Many Requests.",
         ("guard_429", "guard_every_route")),
    Rule("retry_after", "guard_login",
         "The 429 carries Retry-After: hit.retry_after, the seconds until a guess is allowed.",
         ("guard_retry_after", "guard_every_route")),
    Rule("per_user_and_client", "guard_login",
         "A username's failures are counted per client address: another client's failures "
         "never lock its owner out.", ("guard_lockout",)),
    Rule("per_client", "guard_login",
         "A client's failures are counted whatever the username (spraying is stopped too).",
         ("guard_per_client",)),
    Rule("settings", "guard_login",
         "The limits and the window are the settings' login_failures_per_user, "
         "login_failures_per_client and login_window_seconds.", ("guard_settings",)),
    Rule("resolved_client", "guard_login",
         "The client is request.client.host, the address lesson 04's proxy check resolved; "
         "never a header the client writes.", ("guard_forwarded_for",)),
    Rule("through_client_key", "guard_login",
         "The address becomes a key through service.layers.client_key (exercise 1).",
         ("guard_ipv6",)),
    Rule("unknown_alike", "guard_login",
         "An unknown username is counted exactly like a real one: no lookup, no oracle.",
         ("guard_unknown",)),
    Rule("success_forgiven", "guard_login",
         "A success takes back its own attempt (attempts.forgive(hit)): it is no failure.",
         ("guard_success",)),
    Rule("success_resets_nothing", "guard_login",
         "A success takes back nothing else: never attempts.clear, so a login to one's own "
         "account does not clear a spray's failures.", ("guard_spray",)),
    Rule("busy_forgiven", "guard_login",
         "When no password could be checked (HashingBusy), the attempt is taken back and the "
         "exception goes on (the service answers 503).", ("guard_busy",)),
    Rule("place_share", "hashing_place",
         "One client holds at most queue.share places.", ("place_share", "place_in_service")),
    Rule("place_total", "hashing_place", "The queue holds at most queue.size places in all.",
         ("place_full",)),
    Rule("place_boundaries", "hashing_place",
         "Exactly the share and exactly the size: not one place more, and not one fewer.",
         ("place_share", "place_full", "place_boundary")),
    Rule("place_at_once", "hashing_place",
         "No place is refused at once, never waited for (this runs on the event loop).",
         ("place_at_once",)),
    Rule("place_released", "hashing_place",
         "The place, and the client's share of it, is given back however the block ends.",
         ("place_released",)),
    Rule("place_busy", "hashing_place",
         "The refusal is HashingBusy(queue.retry_after), which the service answers with 503 "
         "and Retry-After.", ("place_busy_error", "place_in_service")),
)

# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "client_key": ratelimit.client_key,
    "guard_login": ratelimit.guard_login,
    "hashing_place": ratelimit.hashing_place,
}


def check(**answers: Any) -> Report:
    """Run the lesson-10 checks: ``check(client_key=..., guard_login=..., hashing_place=...)``."""
    return suite.run(**answers)


__all__ = ["REFERENCE", "RULES", "WRONG_ANSWERS", "check", "suite"]
