"""Lesson 01 checks: ``same_text``, ``make_hasher`` and ``authenticate`` each do their job, and
the lesson's four attacks fail against the service built with them.

Every check builds its own app in a fresh data folder, sends real requests, and hashes for real
(Argon2id with a lowered cost where the cost does not matter). The timing attack alone pins a
cost high enough to measure: it looks for the time one verification takes.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import HTTPException

from lessons import basic_auth
from lessons.attacks import Account, new_password, seed
from lessons.attacks import lesson01 as attacks
from lessons.attacks.lesson00 import passwords_from
from lessons.basic_auth import plain_text_check
from lessons.checks import Fail, Report, Suite, Trial, expect
from lessons.passwords import PasswordHasher, argon2_hasher, plain_text
from lessons.settings import Settings
from lessons.store import Store, User

suite = Suite(1, "HTTP Basic auth")

# Argon2id cost for the checks that do not measure time: real hashes, but quick ones.
CHECK_COST = {"argon2_memory_kib": 1024, "argon2_time_cost": 1}
# The timing attack needs one verification to take clearly longer than a request's overhead
# (15 to 35 ms on a busy 2-core machine, against 3 to 5 ms); the default 19 MiB cost is slower.
TIMING_COST = {"argon2_memory_kib": 8192, "argon2_time_cost": 2}
NON_ASCII_PASSWORD = "bøb-demo-€-passphrase"  # noqa: S105 - a demo value
ARGON2_PARAMETERS = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")
DUMMY_HINT = ("verify the password against a dummy hash made once with the same hasher "
              "(basic_auth.dummy_hash_for(hasher) gives you one)")


# -- same_text ---------------------------------------------------------------------------------


def _compare(trial: Trial, given: str, expected: str) -> object:
    try:
        return trial.same_text(given, expected)
    except TypeError as error:
        raise Fail(f"same_text raised TypeError ({error}). secrets.compare_digest accepts str "
                   "only when both are ASCII: compare given.encode('utf-8') with "
                   "expected.encode('utf-8').") from None
    except UnicodeEncodeError as error:
        raise Fail(f"same_text could not encode {error.object[error.start]!r} with "
                   f"{error.encoding}: use UTF-8, which encodes every character.") from None


@suite.check("same_text tells equal text from different text")
def same_text_compares(trial: Trial) -> None:
    cases = [("alice-demo-passphrase", "alice-demo-passphrase", True),
             ("alice-demo-passphrase", "alice-demo-passphrasf", False),
             ("alice-demo-passphrase", "alice-demo-pass", False),
             ("", "", True), ("", "x", False)]
    for given, expected, answer in cases:
        result = _compare(trial, given, expected)
        expect(isinstance(result, bool),
               f"same_text should return True or False, not {type(result).__name__}.")
        expect(result is answer, f"same_text({given!r}, {expected!r}) gave {result}, "
                                 f"expected {answer}.")


@suite.check("same_text compares non-ASCII text as UTF-8 bytes")
def same_text_non_ascii(trial: Trial) -> None:
    cases = [("pässwörd-€-密码", "pässwörd-€-密码", True),
             ("pässwörd-€-密码", "pässwörd-€-密马", False),
             ("pässwörd", "passwörd", False),
             ("ascii-only", "ascii-önly", False)]
    for given, expected, answer in cases:
        result = _compare(trial, given, expected)
        expect(result is answer, f"same_text({given!r}, {expected!r}) gave {result}, "
                                 f"expected {answer}.")


class _WatchedBytes(bytes):
    """Bytes that notice being compared with ``==`` or ``!=``."""

    seen: list[str]

    def __eq__(self, other: object) -> bool:
        self.seen.append("==")
        return bytes.__eq__(self, other)  # type: ignore[operator]

    def __ne__(self, other: object) -> bool:
        self.seen.append("!=")
        return bytes.__ne__(self, other)  # type: ignore[operator]

    __hash__ = bytes.__hash__


class _WatchedText(str):
    """Text that notices being compared with ``==``, directly or once encoded."""

    seen: list[str]

    def __eq__(self, other: object) -> bool:
        self.seen.append("==")
        return str.__eq__(self, other)  # type: ignore[operator]

    def __ne__(self, other: object) -> bool:
        self.seen.append("!=")
        return str.__ne__(self, other)  # type: ignore[operator]

    __hash__ = str.__hash__

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        encoded = _WatchedBytes(str.encode(self, encoding, errors))
        encoded.seen = self.seen
        return encoded


def _watched(text: str, seen: list[str]) -> _WatchedText:
    watched = _WatchedText(text)
    watched.seen = seen
    return watched


def _time_one(function: Callable[[str, str], object], given: str, expected: str) -> float:
    started = time.perf_counter()
    function(given, expected)
    return time.perf_counter() - started


@suite.check("same_text takes as long for a near miss as for a wild guess")
def same_text_constant_time(trial: Trial) -> None:
    # 1. Watch the values: `==` and `!=` stop at the first difference, on str and bytes alike.
    seen: list[str] = []
    _compare(trial, _watched("alice-demo-passphrase", seen),
             _watched("alice-demo-passphrasf", seen))
    expect(not seen, f"same_text compares with {' and '.join(sorted(set(seen)))}, which "
                     "stops at the first character that differs: how long it takes tells an "
                     "attacker how much they got right. Use secrets.compare_digest on the "
                     "UTF-8 bytes.")
    # 2. Time it: a miss in the last character against a miss in the first, alternately, on
    #    long text. A comparison that stops early answers the second about 100 times sooner;
    #    a constant-time one takes the same time for both.
    size = 1 << 20
    expected = "a" * size
    near, far = "a" * (size - 1) + "b", "b" + "a" * (size - 1)
    near_times, far_times = [], []
    for round_number in range(11):
        order = [(near, near_times), (far, far_times)]
        for given, times in (order if round_number % 2 else order[::-1]):
            times.append(_time_one(trial.same_text, given, expected))
    near_median, far_median = statistics.median(near_times), statistics.median(far_times)
    expect(far_median * 4 > near_median,
           f"same_text answered a miss in the first character in {far_median * 1e6:.0f} µs and "
           f"a miss in the last in {near_median * 1e6:.0f} µs: it stops at the first "
           "difference. Use secrets.compare_digest on the UTF-8 bytes.")


@suite.check("with same_text, the naive check answers 401, not 500, to non-ASCII credentials")
def same_text_in_the_naive_check(trial: Trial) -> None:
    trial.same_text("probe", "probe")  # an unwritten exercise is "not attempted", not a 500
    app = trial.app(1, make_hasher=plain_text, authenticate=plain_text_check(trial.same_text))
    seed(app, Account(attacks.ATTACKER, new_password()),
         Account("bob", NON_ASCII_PASSWORD), notes_each=0)
    client = attacks.outside_client(app)
    result = attacks.run_non_ascii(client, attacks.ATTACKER)
    expect(not result.succeeded, f"The attack still works: {result.evidence}. Compare bytes, "
                                 "not str.")
    response = client.get("/basic/me", headers=attacks.basic("bob", NON_ASCII_PASSWORD))
    expect(response.status_code == 200,
           f"bob, whose password is {NON_ASCII_PASSWORD!r}, got HTTP {response.status_code} "
           "with his right password: encode both values as UTF-8 before comparing.")


# -- make_hasher -------------------------------------------------------------------------------


def _hasher(trial: Trial, settings: Settings) -> PasswordHasher:
    hasher = trial.make_hasher(settings)
    for method in ("hash", "verify", "identify"):
        expect(callable(getattr(hasher, method, None)),
               f"make_hasher should return a passlib CryptContext (it has .{method}), not "
               f"{type(hasher).__name__}.")
    return hasher


@suite.check("make_hasher makes Argon2id hashes that verify")
def hasher_is_argon2id(trial: Trial) -> None:
    hasher = _hasher(trial, trial.settings())
    stored = hasher.hash(NON_ASCII_PASSWORD)
    expect(isinstance(stored, str) and stored.startswith("$argon2id$"),
           f"The hash begins {str(stored)[:12]!r}, not '$argon2id$'. "
           + ("Ask for the id variant: argon2__type='ID'." if str(stored).startswith("$argon2")
              else "Use CryptContext(schemes=['argon2'], ...)."))
    expect(hasher.verify(NON_ASCII_PASSWORD, stored) is True,
           "hasher.verify rejects the password the hash was made from.")
    expect(hasher.verify("bob-demo-passphrase", stored) is False,
           "hasher.verify accepts a wrong password.")
    expect(hasher.identify("a plain-text password") is None,
           "hasher.identify recognises plain text as a hash; the upgrade of the lesson-00 "
           "rows relies on it answering None. Return passlib's CryptContext itself.")


@suite.check("make_hasher takes the Argon2 cost from the settings")
def hasher_follows_settings(trial: Trial) -> None:
    for cost in ({"argon2_memory_kib": 1024, "argon2_time_cost": 3, "argon2_parallelism": 1},
                 {"argon2_memory_kib": 2048, "argon2_time_cost": 1, "argon2_parallelism": 2}):
        stored = _hasher(trial, trial.settings(**cost)).hash("alice-demo-passphrase")
        match = ARGON2_PARAMETERS.match(str(stored))
        expect(match, f"The hash begins {str(stored)[:12]!r}, not '$argon2id$v=19$'.")
        assert match is not None
        found = tuple(int(part) for part in match.groups())
        wanted = (cost["argon2_memory_kib"], cost["argon2_time_cost"],
                  cost["argon2_parallelism"])
        expect(found == wanted,
               "Your hash has m={}, t={}, p={}; the settings ask for m={}, t={}, p={}. Pass "
               "settings.argon2_memory_kib, argon2_time_cost and argon2_parallelism as "
               "argon2__memory_cost, argon2__time_cost and argon2__parallelism."
               .format(*found, *wanted))


@suite.check("the lesson-00 passwords become hashes, and still log in")
def plain_text_rows_upgraded(trial: Trial) -> None:
    settings = trial.settings()
    people = seed(trial.app(0, settings=settings), Account("alice", new_password()),
                  Account("bob", NON_ASCII_PASSWORD), notes_each=0)
    app = trial.app(1, settings=settings, make_hasher=trial.make_hasher)
    rows = passwords_from(settings.database)
    plain = sorted(name for name, stored in rows.items() if not stored.startswith("$argon2id$"))
    expect(not plain, f"After the lesson-01 app started, {plain} still hold no Argon2id hash. "
                      "create_app upgrades every row your hasher's identify() does not "
                      "recognise: return a CryptContext for argon2.")
    client = attacks.outside_client(app)
    for account in people.values():
        response = client.get("/basic/me", headers=attacks.basic(account.username,
                                                                 account.password))
        expect(response.status_code == 200,
               f"{account.username} cannot log in with the old password after the upgrade "
               f"(HTTP {response.status_code}).")


# -- authenticate ------------------------------------------------------------------------------


def _authenticate(trial: Trial, store: Store, hasher: PasswordHasher, username: str,
                  password: str) -> User | None:
    try:
        return trial.authenticate(store, hasher, username, password)
    except HTTPException as error:
        raise Fail(f"authenticate raised HTTP {error.status_code} ({error.detail!r}). Return "
                   "None instead: the dependency answers 401, with the same message for "
                   "every failure.") from None


def _store_with_users(trial: Trial) -> tuple[Store, PasswordHasher, dict[str, Account]]:
    settings = trial.settings()
    hasher = argon2_hasher(settings)
    store = trial.store(settings)
    people = {"alice": Account("alice", new_password()), "bob": Account("bob", NON_ASCII_PASSWORD)}
    for account in people.values():
        store.add_user(account.username, hasher.hash(account.password))
    return store, hasher, people


@suite.check("authenticate lets the right password in and nothing else")
def authenticate_works(trial: Trial) -> None:
    store, hasher, people = _store_with_users(trial)
    for account in people.values():
        user = _authenticate(trial, store, hasher, account.username, account.password)
        expect(isinstance(user, User) and user.username == account.username,
               f"authenticate refused {account.username}'s right password (it returned "
               f"{type(user).__name__}). The store holds a hash, not the password: check "
               "it with hasher.verify(password, user.password_hash) and return the user.")
    for username, password in (("alice", people["bob"].password), ("alice", ""),
                               (attacks.UNKNOWN_USER, people["alice"].password)):
        user = _authenticate(trial, store, hasher, username, password)
        expect(user is None, f"authenticate({username!r}, a wrong password) returned "
                             f"{user!r}; it should return None.")


class _CountingHasher:
    """A real hasher that counts what ``authenticate`` asks of it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reset()

    def reset(self) -> None:
        self.hashes = 0
        self.verified: list[str | None] = []

    def hash(self, secret: str) -> str:
        self.hashes += 1
        return str(self.inner.hash(secret))

    def verify(self, secret: str, hash: str) -> bool:
        self.verified.append(hash)
        return bool(self.inner.verify(secret, hash))

    def verify_and_update(self, secret: str, hash: str) -> Any:
        self.verified.append(hash)
        return self.inner.verify_and_update(secret, hash)

    def dummy_verify(self) -> bool:
        self.verified.append(None)  # passlib's own dummy hash, made with these settings
        return bool(self.inner.dummy_verify())

    def identify(self, hash: str) -> str | None:
        return self.inner.identify(hash)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@suite.check("an unknown user costs one verification, like a wrong password")
def unknown_user_costs_the_same(trial: Trial) -> None:
    store, inner, _ = _store_with_users(trial)
    hasher = _CountingHasher(inner)
    _authenticate(trial, store, hasher, "warm_up", "x")  # a dummy made on first use is fine
    hasher.reset()
    _authenticate(trial, store, hasher, "alice", attacks.WRONG_PASSWORD)
    known = len(hasher.verified)
    hasher.reset()
    for username in (attacks.UNKNOWN_USER, "no_one_either"):
        expect(_authenticate(trial, store, hasher, username, attacks.WRONG_PASSWORD) is None,
               "authenticate should return None for a user who does not exist.")
    expect(hasher.verified,
           "For an unknown user, authenticate returns without verifying anything, so the "
           "answer comes back sooner and shows that the name is free: " + DUMMY_HINT + ".")
    expect(not hasher.hashes,
           f"authenticate hashed {hasher.hashes} new passwords for 2 unknown users: each then "
           "costs a hash and a verification, about twice a wrong password. Make the dummy hash "
           "once: basic_auth.dummy_hash_for(hasher) does.")
    expect(len(hasher.verified) == 2 * known,
           f"A wrong password costs {known} verification(s), an unknown user "
           f"{len(hasher.verified) / 2:g}: they should cost the same.")
    stale = [h for h in hasher.verified if h is not None and inner.needs_update(h)]
    expect(not stale, "The dummy hash was made with other Argon2 settings than the stored "
                      "ones, so verifying it takes a different time: " + DUMMY_HINT + ".")


# -- the lesson's attacks, against the service built with your answers --------------------------


def _learner_service(trial: Trial, settings: Settings | None = None,
                     **layer: Any) -> FastAPI:
    """The lesson-01 service with your seams, its people seeded; an unwritten exercise makes the
    check "not attempted" here rather than a 500 later."""
    app = trial.app(1, settings=settings, authenticate=trial.authenticate, **layer)
    service = app.state.service
    try:
        trial.authenticate(service.store, service.hasher, "probe", "probe")
    except NotImplementedError:
        raise
    except Exception:  # noqa: S110 - what it does wrong, the attack shows next
        pass
    seed(app, Account("alice", new_password()), Account(attacks.ATTACKER, new_password()))
    return app


@suite.check("attack: nobody reads alice's notes without her password")
def no_password_attack_fails(trial: Trial) -> None:
    app = _learner_service(trial, make_hasher=trial.make_hasher)
    result = attacks.run_no_password(attacks.outside_client(app), "alice")
    expect(not result.succeeded, f"The attack worked: {result.evidence}. Return the user only "
                                 "when hasher.verify accepts the password.")


@suite.check("attack: non-ASCII credentials get 401, never 500")
def non_ascii_attack_fails(trial: Trial) -> None:
    app = _learner_service(trial, make_hasher=trial.make_hasher)
    result = attacks.run_non_ascii(attacks.outside_client(app), attacks.ATTACKER)
    expect(not result.succeeded, f"The attack worked: {result.evidence}. Let hasher.verify "
                                 "compare the password: it encodes it as UTF-8.")


@suite.check("attack: an unknown user and a wrong password get the same answer")
def message_attack_fails(trial: Trial) -> None:
    app = _learner_service(trial, make_hasher=trial.make_hasher)
    result = attacks.run_enumerate_by_message(attacks.outside_client(app), "alice")
    expect(not result.succeeded, f"The attack worked: {result.evidence}. Return None for "
                                 "every failure and let the dependency answer.")


@suite.check("attack: response times do not tell unknown users from real ones")
def timing_attack_fails(trial: Trial) -> None:
    # Your authenticate with the reference hasher, at a cost high enough to measure.
    app = _learner_service(trial, settings=trial.settings(**TIMING_COST))
    with attacks.outside_client(app) as client:
        timings = attacks.login_timings(client, "alice")
    result = timings.verdict()
    slower = "an unknown user" if timings.unknown_median > timings.known_median else \
        "a wrong password"
    expect(not result.succeeded,
           f"The attack worked: {result.evidence}; {slower} takes {timings.factor:.1f} times "
           "as long. Both failures should cost one verification: " + DUMMY_HINT + ".")


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "same_text": basic_auth.same_text,
    "make_hasher": argon2_hasher,
    "authenticate": basic_auth.authenticate,
}


def check(**answers: Any) -> Report:
    """Run the lesson-01 checks on your answers: ``check(same_text=..., make_hasher=...,
    authenticate=...)``."""
    return suite.run(settings_changes=CHECK_COST, **answers)
