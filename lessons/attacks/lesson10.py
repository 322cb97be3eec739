"""Lesson 10: attacks on how much the service lets one client do, and how fast.

In process (the scene's client, and clients with addresses of their own):

1. **Guess a password at full speed** on every route that checks one: ``POST /auth/token``,
   ``POST /session/login``, ``GET /basic/me`` and, with a stolen token, the current password
   of ``POST /users/me/password``. 30 wrong guesses, then the right one: nothing slows the
   guesser down (ASVS 5.0 6.3.1; API4:2023, API6:2023).
2. **List the accounts through registration**: each answer says whether a name is taken.
3. Four ways past a limiter that is almost right: a **burst** of parallel guesses through one
   that checks the count, then records a failure; one password **sprayed** over many accounts
   through one that forgets a client's failures at any success; guesses each with a new
   **X-Forwarded-For** through one that believes that header; and a limiter that skips
   **unknown usernames**, whose 429 then tells which accounts exist. And one way to turn a
   limiter against its users: **lock alice out** of her account from another address, through
   one that counts a username's failures over every client.

Over the network (``python -m lessons serve`` in a process of its own, its accounts hashed at
the real cost):

4. **A login flood** of wrong passwords, sent at once, makes alice's own login wait behind all
   of them.
5. **A 48 MiB header** is read whole and answered 200, while ``/health`` stalls for everyone.
6. **Connections that send nothing**, or half a request, stay open as long as their client
   likes.

Each attack is a function the notebook can call step by step, and an entry of ``ATTACKS``.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lessons.attacks import (
    ADMIN,
    ATTACKER,
    LEAVER,
    VICTIM,
    Account,
    Attack,
    AttackResult,
    Scene,
    Variant,
    bearer,
    new_password,
)
from lessons.loadtest import REAL_COST, seed_served, served_environment
from lessons.ratelimit import guard
from lessons.server import serve_lesson

# Where the attacker and the victim connect from, in process (a test client may claim any
# address as its peer) and on a served lesson (through a proxy the served lesson trusts).
MALLORY_ADDRESS, ALICE_ADDRESS = "203.0.113.66", "198.51.100.7"
# The proxy in front of the service, when a scene has one (``trusted_proxies``).
PROXY = "10.0.0.5"
WRONG_GUESSES = 30
# The routes that check a password, as the attacks call them.
ROUTES = ("token", "session", "basic", "password")
ROUTE_NAMES = {"token": "POST /auth/token", "session": "POST /session/login",
               "basic": "GET /basic/me", "password": "POST /users/me/password"}


def statuses(codes: Iterable[int]) -> str:
    """``[429, 401, 401]`` as ``2 × 401, 1 × 429``: how many of each status, in order."""
    counted = Counter(codes)
    return ", ".join(f"{counted[code]} × {code}" for code in sorted(counted)) or "nothing"


def wrong_guess(n: int) -> str:
    """The ``n``-th wrong password of a guessing run (none of them is anyone's)."""
    return f"guess-{n:03d}-{secrets.token_hex(4)}"


def client_at(app: FastAPI, address: str) -> TestClient:
    """An in-process client whose requests come from ``address``, as the server would see it.
    Close it (``with client_at(...) as client:``)."""
    return TestClient(app, base_url="https://testserver", client=(address, 50000),
                      raise_server_exceptions=False)


# -- 1. guessing at full speed ---------------------------------------------------------------------


def try_password(client: httpx2.Client, route: str, username: str, password: str,
                 token: str = "") -> httpx2.Response:
    """One password check on ``route``: ``token``, ``session``, ``basic``, or ``password`` (the
    current password of a password change, sent with ``token``, a token of ``username``)."""
    if route == "token":
        return client.post("/auth/token", data={"username": username, "password": password})
    if route == "session":
        return client.post("/session/login", data={"username": username, "password": password})
    if route == "basic":
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        return client.get("/basic/me", headers={"Authorization": f"Basic {pair}"})
    if route == "password":
        return client.post("/users/me/password", headers=bearer(token),
                           json={"current_password": password, "new_password": new_password()})
    raise ValueError(f"no route {route!r}; choose one of {', '.join(ROUTES)}")


def run_guessing(client: httpx2.Client, route: str, account: Account,
                 wrong: int = WRONG_GUESSES, token: str = "") -> AttackResult:
    """``wrong`` wrong passwords for ``account`` in a row on ``route``, as fast as the answers
    come, then the right one. The attack succeeds when the right one still works: nothing
    stopped the guessing, so the whole of a password list would have been tried."""
    codes = [try_password(client, route, account.username, wrong_guess(n), token).status_code
             for n in range(wrong)]
    right = try_password(client, route, account.username, account.password, token)
    return AttackResult(
        name=f"{ATTACKER} guesses {account.username}'s password on {ROUTE_NAMES[route]}",
        succeeded=right.status_code in (200, 204) and 429 not in codes,
        evidence=f"{wrong} wrong: {statuses(codes)}; then the right one: {right.status_code}"
        + (f" (Retry-After: {right.headers['retry-after']})"
           if "retry-after" in right.headers else ""))


# -- 2. listing accounts through registration ------------------------------------------------------


def register(client: httpx2.Client, username: str) -> httpx2.Response:
    return client.post("/users", json={"username": username, "email": f"{username}@example.org",
                                       "password": new_password()})


def run_registration_listing(client: httpx2.Client, candidates: Iterable[str]) -> AttackResult:
    """Try to register each candidate name: 409 means someone has it. (Each name that was
    free now belongs to the attacker, which costs her nothing.)"""
    answers = {name: register(client, name).status_code for name in candidates}
    taken = [name for name, code in answers.items() if code == 409]
    return AttackResult(
        name=f"{ATTACKER} lists the accounts by registering their names",
        succeeded=429 not in answers.values() and bool(taken),
        evidence=f"{len(answers)} registrations: {statuses(answers.values())}; taken: "
                 f"{', '.join(taken) or 'none found'}")


def candidate_names(count: int = 24) -> list[str]:
    """A guesser's list: the cast's names among common ones (the cast is in every scene)."""
    common = ("admin", "root", "test", "info", "support", "carol", "dave", "erin", "frank",
              "grace", "heidi", "ivan", "judy", "oscar", "peggy", "trent", "victor", "walter")
    return [VICTIM, LEAVER, ADMIN, *common, ATTACKER][:count]


# -- 3. past a limiter that is almost right --------------------------------------------------------


def run_burst(client: httpx2.Client, account: Account, guesses: int = 40,
              limit: int = 5) -> AttackResult:
    """``guesses`` wrong passwords for ``account`` sent at once, each on a connection of its
    own. Every 401 is a password that was checked; a limit of ``limit`` failures should let
    ``limit`` of them be checked, and refuse the rest with 429."""
    with ThreadPoolExecutor(max_workers=guesses) as pool:
        codes = list(pool.map(lambda n: try_password(client, "token", account.username,
                                                     wrong_guess(n)).status_code,
                              range(guesses)))
    checked = codes.count(401)
    return AttackResult(
        name=f"{ATTACKER} sends {guesses} guesses for {account.username} at once",
        succeeded=checked > limit,
        evidence=f"{checked} of {guesses} passwords were checked (the limit is {limit}); "
                 f"answers: {statuses(codes)}")


# The kind of password a sprayer tries on every account: public, and nobody's here.
SPRAYED = "Summer2025!"


def run_spray(client: httpx2.Client, attacker: Account, password: str = SPRAYED,
              accounts: int = 30, own_login_every: int = 10) -> AttackResult:
    """Password spraying: one likely password against ``accounts`` usernames, one guess each
    (so no username's own limit is ever reached), with a login to her own account every
    ``own_login_every`` guesses, in case a success clears her count."""
    names = [f"member{n:03d}" for n in range(accounts)]
    codes = []
    for n, name in enumerate(names, 1):
        codes.append(try_password(client, "token", name, password).status_code)
        if n % own_login_every == 0:
            try_password(client, "token", attacker.username, attacker.password)
    return AttackResult(
        name=f"{ATTACKER} tries one password on {accounts} accounts, logging in to her own "
             "now and then",
        succeeded=429 not in codes,
        evidence=f"{accounts} guesses: {statuses(codes)}")


def forwarded(claimed: str, real: str = MALLORY_ADDRESS) -> dict[str, str]:
    """The ``X-Forwarded-For`` a proxy passes on: what the client claimed, then the address
    the proxy saw the request come from (a proxy appends; it does not replace)."""
    return {"X-Forwarded-For": f"{claimed}, {real}"}


def run_rotating_forwarded_for(app: FastAPI, account: Account,
                               wrong: int = WRONG_GUESSES) -> AttackResult:
    """mallory reaches the service through its proxy (``PROXY``), and claims a new address of
    her own in ``X-Forwarded-For`` with each guess; the proxy appends her real one. A limiter
    that takes the first address counts each guess for someone else."""
    with client_at(app, PROXY) as through_proxy:
        codes = [through_proxy.post("/auth/token", headers=forwarded(f"198.18.{n // 250}."
                                                                     f"{n % 250 + 1}"),
                                    data={"username": account.username,
                                          "password": wrong_guess(n)}).status_code
                 for n in range(wrong)]
        right = through_proxy.post("/auth/token", headers=forwarded("198.18.200.1"),
                                   data={"username": account.username,
                                         "password": account.password})
    return AttackResult(
        name=f"{ATTACKER} claims a new address for each guess (X-Forwarded-For)",
        succeeded=right.status_code == 200 and 429 not in codes,
        evidence=f"{wrong} wrong: {statuses(codes)}; then the right one: {right.status_code}")


def run_existence_oracle(client: httpx2.Client, real: str, unknown: str = "nobody_here",
                         guesses: int = 8) -> AttackResult:
    """The same wrong guesses for a real account and for a name nobody has: if the limiter
    treats them differently, its answers say which accounts exist."""
    answers = {}
    for name in (real, unknown):
        answers[name] = [try_password(client, "token", name, wrong_guess(n)).status_code
                         for n in range(guesses)]
    differ = answers[real] != answers[unknown]
    return AttackResult(
        name=f"{ATTACKER} tells real accounts from unknown names by the limiter's answers",
        succeeded=differ,
        evidence=f"{real}: {statuses(answers[real])}; {unknown}: {statuses(answers[unknown])}")


def run_lockout(app: FastAPI, account: Account, wrong: int = 10) -> AttackResult:
    """mallory fails ``wrong`` times for ``account`` from her address; then the owner logs in
    from hers. The attack succeeds when the owner is refused: anyone can keep her out."""
    with client_at(app, MALLORY_ADDRESS) as mallory, client_at(app, ALICE_ADDRESS) as owner:
        codes = [try_password(mallory, "token", account.username, wrong_guess(n)).status_code
                 for n in range(wrong)]
        answer = try_password(owner, "token", account.username, account.password)
    return AttackResult(
        name=f"{ATTACKER} locks {account.username} out of her account from another address",
        succeeded=answer.status_code == 429,
        evidence=f"mallory's {wrong} wrong guesses: {statuses(codes)}; then "
                 f"{account.username}'s own login from her address: {answer.status_code}")


# -- 4-6. over the network -------------------------------------------------------------------------


_served = itertools.count(1)


@contextlib.contextmanager
def served(scene: Scene, **extra: str) -> Iterator[str]:
    """The scene's lesson served by ``python -m lessons serve --lesson N`` in a process of its
    own, its cast in its database at the real hashing cost, behind a proxy it trusts on
    loopback (``lessons.loadtest.served_environment``); yields the base URL, and stops it at
    the end."""
    data_dir = scene.folder / f"served{next(_served)}"
    seed_served(data_dir, scene.accounts.values())
    env = served_environment(data_dir, scene.variant.settings, **extra)
    with serve_lesson("--lesson", str(scene.variant.upto), env=env) as server:
        yield server.url


def run_login_flood(url: str, account: Account, flood: int = 150,
                    patience: float = 1.0) -> AttackResult:
    """mallory sends ``flood`` wrong logins at once (random usernames, from her address); a
    moment later alice logs in from hers. The attack succeeds when alice waits longer than
    ``patience`` seconds for her answer, or gets none."""
    from_mallory = {"X-Forwarded-For": MALLORY_ADDRESS}
    flood_codes: list[int] = []

    def flood_one(n: int) -> None:
        with httpx2.Client(base_url=url, timeout=60) as client:
            flood_codes.append(client.post("/auth/token", headers=from_mallory, data={
                "username": f"user{n:04d}", "password": wrong_guess(n)}).status_code)

    with ThreadPoolExecutor(max_workers=flood) as pool:
        for n in range(flood):
            pool.submit(flood_one, n)
        time.sleep(0.3)  # the flood is in
        with httpx2.Client(base_url=url, timeout=60) as client:
            began = time.perf_counter()
            answer = client.post("/auth/token", headers={"X-Forwarded-For": ALICE_ADDRESS},
                                 data={"username": account.username,
                                       "password": account.password})
            waited = time.perf_counter() - began
    return AttackResult(
        name=f"{ATTACKER}'s login flood makes {account.username}'s own login wait",
        succeeded=waited > patience or answer.status_code != 200,
        evidence=f"{account.username} waited {waited:.1f} s for {answer.status_code}; "
                 f"the flood of {flood}: {statuses(sorted(flood_codes))}")


def send_huge_header(url: str, size: int = 48 * 1024 * 1024,
                     timeout: float = 60) -> tuple[str, float]:
    """``GET /health`` with one header of ``size`` bytes, on a socket: the status line of the
    answer (or what happened instead) and the seconds until it came."""
    host, port = _host_port(url)
    began = time.perf_counter()
    with socket.create_connection((host, port), timeout=timeout) as connection:
        try:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Padding: "
                               + b"a" * size + b"\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before the header was all sent
        try:
            first = connection.recv(256).split(b"\r\n", 1)[0].decode("latin-1")
        except OSError as error:
            first = f"no answer ({type(error).__name__})"
    return first or "connection closed", time.perf_counter() - began


def health_latencies(url: str, stop: threading.Event, every: float = 0.02) -> list[float]:
    """Seconds each ``GET /health`` took, one after another on new connections, until
    ``stop`` is set (run it in a thread; the list fills as it goes)."""
    host, port = _host_port(url)
    found: list[float] = []

    def probe() -> None:
        while not stop.is_set():
            began = time.perf_counter()
            try:
                with socket.create_connection((host, port), timeout=30) as connection:
                    connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n"
                                       b"Connection: close\r\n\r\n")
                    while connection.recv(4096):
                        pass
            except OSError:
                pass
            found.append(time.perf_counter() - began)
            time.sleep(every)

    threading.Thread(target=probe, name="health-probe", daemon=True).start()
    return found


def run_huge_header(url: str, size: int = 48 * 1024 * 1024) -> AttackResult:
    """One connection sends a ``size``-byte header to ``GET /health`` while another asks
    ``/health`` every 20 ms. The attack succeeds when the server reads the whole header and
    answers it as an ordinary request."""
    stop = threading.Event()
    latencies = health_latencies(url, stop)
    time.sleep(0.2)
    status, seconds = send_huge_header(url, size)
    stop.set()
    time.sleep(0.05)
    worst = max(latencies, default=0.0)
    return AttackResult(
        name=f"{ATTACKER} sends a {size // (1024 * 1024)} MiB header to GET /health",
        succeeded=" 200 " in f"{status} ",
        evidence=f"{status!r} after {seconds:.1f} s; meanwhile the slowest /health of "
                 f"another client took {worst:.1f} s")


def run_idle_connections(url: str, wait: float, silent: int = 10,
                         half_sent: int = 10) -> AttackResult:
    """``silent`` connections that send nothing and ``half_sent`` that send half a request,
    then nothing; after ``wait`` seconds, how many are still open? Each open one holds a
    socket of the server's, and the server has a limited number."""
    host, port = _host_port(url)
    connections = [socket.create_connection((host, port), timeout=5)
                   for _ in range(silent + half_sent)]
    try:
        for connection in connections[silent:]:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        time.sleep(wait)
        still_open = sum(_is_open(connection) for connection in connections)
    finally:
        for connection in connections:
            connection.close()
    return AttackResult(
        name=f"{ATTACKER} holds connections open without finishing a request",
        succeeded=still_open > 0,
        evidence=f"{still_open} of {len(connections)} connections ({silent} silent, "
                 f"{half_sent} with half a request) still open after {wait:g} s")


def _is_open(connection: socket.socket) -> bool:
    """Still open: nothing to read, and no end. Closed by the server: an answer to read (a
    408), the end of the stream, or a reset."""
    connection.settimeout(0.05)
    try:
        connection.recv(1, socket.MSG_PEEK)
    except TimeoutError:
        return True
    except OSError:
        return False
    return False


def _host_port(url: str) -> tuple[str, int]:
    parsed = httpx2.URL(url)
    return parsed.host, parsed.port or 80


# -- the lesson's attacks, each on a scene of its own ----------------------------------------------


def _guessing(route: str) -> Callable[[Scene], AttackResult]:
    def attack(scene: Scene) -> AttackResult:
        account = scene.accounts[VICTIM]
        token = scene.token(VICTIM) if route == "password" else ""
        return run_guessing(scene.client, route, account, token=token)

    attack.__name__ = f"_guess_{route}"
    return attack


def _registration(scene: Scene) -> AttackResult:
    return run_registration_listing(scene.client, candidate_names())


def _burst(scene: Scene) -> AttackResult:
    return run_burst(scene.client, scene.accounts[VICTIM],
                     limit=scene.settings.login_failures_per_user)


def _spray(scene: Scene) -> AttackResult:
    return run_spray(scene.client, scene.accounts[ATTACKER])


def _forwarded_for(scene: Scene) -> AttackResult:
    return run_rotating_forwarded_for(scene.app, scene.accounts[VICTIM])


def _oracle(scene: Scene) -> AttackResult:
    return run_existence_oracle(scene.client, VICTIM)


def _lockout(scene: Scene) -> AttackResult:
    return run_lockout(scene.app, scene.accounts[VICTIM])


def _login_flood(scene: Scene) -> AttackResult:
    with served(scene) as url:
        return run_login_flood(url, scene.accounts[VICTIM])


def _huge_header(scene: Scene) -> AttackResult:
    with served(scene) as url:
        return run_huge_header(url)


def _idle_connections(scene: Scene) -> AttackResult:
    timeout = scene.settings.header_timeout_seconds
    with served(scene) as url:
        return run_idle_connections(url, wait=timeout + 1.5)


# The service as lesson 09 leaves it (on a branch without lesson 09: as lesson 08 does).
BEFORE = Variant(upto=9, label="the service before lesson 10")
# Lesson 10 with a limiter that is wrong in one way each. The burst runs at the real hashing
# cost (the longer a check takes, the wider the gap a check-then-record limiter leaves), with
# a hashing queue large enough to take the whole burst: the queue's fair share would
# otherwise refuse most of it with 503 and hide the limiter's flaw.
REAL_COST_SETTINGS = {name: int(value) for name, value in REAL_COST.items()}
CHECK_THEN_RECORD = Variant(10, seams={"guard_login": guard.check_then_record},
                            settings={**REAL_COST_SETTINGS, "hashing_queue": 64,
                                      "hashing_queue_per_client": 64},
                            label="lesson 10 with a check-then-record limiter")
RESETS_ON_SUCCESS = Variant(10, seams={"guard_login": guard.resets_on_success},
                            label="lesson 10 with a limiter that forgets at any success")
# Behind a proxy, as deployed: X-Forwarded-For reaches the app, with the client's claims in it.
FORWARDED_FOR = Variant(10, seams={"guard_login": guard.keyed_on_forwarded_for},
                        settings={"trusted_proxies": (PROXY,)},
                        label="lesson 10 behind a proxy, with a limiter keyed on "
                              "X-Forwarded-For")
SKIPS_UNKNOWN = Variant(10, seams={"guard_login": guard.skips_unknown_users},
                        label="lesson 10 with a limiter for existing accounts only")
PER_USERNAME = Variant(10, seams={"guard_login": guard.per_username_only},
                       label="lesson 10 with a limiter per username over every client")

ATTACKS: tuple[Attack, ...] = (
    *(Attack(f"guess_{route}", f"guess a password at full speed on {ROUTE_NAMES[route]}",
             _guessing(route), BEFORE, fixed_in=10)
      for route in ROUTES),
    Attack("registration_listing", "list the accounts by registering their names",
           _registration, BEFORE, fixed_in=10),
    Attack("burst", "send 40 guesses at once past a check-then-record limiter", _burst,
           CHECK_THEN_RECORD, fixed_in=10),
    Attack("spray", "spray one password over 30 accounts, logging in to one's own now and "
           "then", _spray, RESETS_ON_SUCCESS, fixed_in=10),
    Attack("forwarded_for", "claim a new address for every guess with X-Forwarded-For",
           _forwarded_for, FORWARDED_FOR, fixed_in=10),
    Attack("existence_oracle", "tell real accounts from unknown names by the 429s", _oracle,
           SKIPS_UNKNOWN, fixed_in=10),
    Attack("lockout", "lock alice out of her account from another address", _lockout,
           PER_USERNAME, fixed_in=10),
    Attack("login_flood", "make alice's login wait behind a flood of wrong logins",
           _login_flood, BEFORE, fixed_in=10, network=True),
    Attack("huge_header", "send a 48 MiB header to GET /health", _huge_header, BEFORE,
           fixed_in=10, network=True),
    Attack("idle_connections", "hold connections open without finishing a request",
           _idle_connections, BEFORE, fixed_in=10, network=True),
)

