"""Lesson 01 checks: ``same_text``, ``make_hasher`` and ``authenticate`` each do their job, and
the lesson's five attacks fail against the service built with them.

Every check builds its own app in a fresh data folder, sends real requests, and hashes for real
(Argon2id with a lowered cost where the cost does not matter). Where cost is the point, the
check pins a cost high enough to measure:

- the timing attack measures response times over HTTP, as an attacker would; it detects a
  whole verification saved (an early return);
- the cost checks measure the CPU time ``authenticate`` spends on each kind of failure, in
  units of one verification. CPU time is what a busy machine does not blur, so these see any
  difference of half a verification or more, whatever code causes it: every approach that
  does the same work for every failure passes (a dummy verification, passlib's
  ``dummy_verify``, hashing the password as Django does), and only what leaks fails.
"""

from __future__ import annotations

import functools
import re
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import HTTPException
from passlib.context import CryptContext
from passlib.exc import PasswordSizeError

from lessons import basic_auth
from lessons.attacks import ATTACKER, VICTIM, Account, new_password, seed
from lessons.attacks import lesson01 as attacks
from lessons.attacks.lesson00 import passwords_from
from lessons.attacks.lesson01 import TIMING_COST
from lessons.basic_auth import dummy_hash_for, plain_text_check, unauthorized
from lessons.checks import (
    Fail,
    Report,
    Rule,
    Suite,
    Trial,
    WrongAnswer,
    describe,
    expect,
    expect_type,
)
from lessons.passwords import LONGEST_PASSWORD, PasswordHasher, argon2_hasher, plain_text
from lessons.settings import Settings
from lessons.store import Store, User

suite = Suite(1, "HTTP Basic auth")

# Argon2id cost for the checks that do not measure time: real hashes, but quick ones.
CHECK_COST = {"argon2_memory_kib": 1024, "argon2_time_cost": 1}
# Argon2id cost for the checks that measure CPU time: about 3 ms a verification, well above
# the rest of a call (a few hundredths of that), and quick enough to repeat.
MEASURED_COST = {"argon2_memory_kib": 4096, "argon2_time_cost": 2}
NON_ASCII_PASSWORD = "bøb-demo-€-passphrase"  # noqa: S105 - a demo value
# Any Argon2 variant: the variant is another check's business, the cost is this one's.
ARGON2_PARAMETERS = re.compile(r"^\$argon2(?:id|i|d)\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")
DUMMY_HINT = ("verify the password against a dummy hash made once with the same hasher "
              "(basic_auth.dummy_hash_for(hasher) gives you one)")
# Over the limit, but well within what passlib accepts: what the cost checks send.
TOO_LONG = "b" * (LONGEST_PASSWORD + 72)


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


@suite.check("same_text_compares", "same_text tells equal text from different text")
def same_text_compares(trial: Trial) -> None:
    cases = [("alice-demo-passphrase", "alice-demo-passphrase", True),
             ("alice-demo-passphrase", "alice-demo-passphrasf", False),
             ("alice-demo-passphrase", "alice-demo-pass", False),
             ("", "", True), ("", "x", False)]
    for given, expected, answer in cases:
        result = _compare(trial, given, expected)
        expect_type(result, bool, "same_text", "True or False")
        expect(result is answer, f"same_text({given!r}, {expected!r}) gave {result}, "
                                 f"expected {answer}.")


@suite.check("same_text_non_ascii", "same_text compares non-ASCII text as UTF-8 bytes")
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


@suite.check("same_text_constant_time",
             "same_text takes as long for a near miss as for a wild guess")
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


@suite.check("same_text_naive_check",
             "with same_text, the naive check answers 401, not 500, to non-ASCII credentials")
def same_text_in_the_naive_check(trial: Trial) -> None:
    trial.same_text("probe", "probe")  # an unwritten exercise is "not attempted", not a 500
    app = trial.app(1, make_hasher=plain_text, authenticate=plain_text_check(trial.same_text))
    seed(app, Account(ATTACKER, new_password()),
         Account("bob", NON_ASCII_PASSWORD), notes_each=0)
    client = attacks.outside_client(app)
    result = attacks.run_non_ascii(client, ATTACKER)
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


@suite.check("hasher_argon2id", "make_hasher makes Argon2id hashes that verify")
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


@suite.check("hasher_settings", "make_hasher takes the Argon2 cost from the settings")
def hasher_follows_settings(trial: Trial) -> None:
    for cost in ({"argon2_memory_kib": 1024, "argon2_time_cost": 3, "argon2_parallelism": 1},
                 {"argon2_memory_kib": 2048, "argon2_time_cost": 1, "argon2_parallelism": 2}):
        stored = _hasher(trial, trial.settings(**cost)).hash("alice-demo-passphrase")
        match = ARGON2_PARAMETERS.match(str(stored))
        expect(match, f"The hash begins {str(stored)[:12]!r}, not '$argon2id$v=19$': the cost "
                      "cannot be read from it.")
        assert match is not None
        found = tuple(int(part) for part in match.groups())
        wanted = (cost["argon2_memory_kib"], cost["argon2_time_cost"],
                  cost["argon2_parallelism"])
        expect(found == wanted,
               "Your hash has m={}, t={}, p={}; the settings ask for m={}, t={}, p={}. Pass "
               "settings.argon2_memory_kib, argon2_time_cost and argon2_parallelism as "
               "argon2__memory_cost, argon2__time_cost and argon2__parallelism."
               .format(*found, *wanted))


@suite.check("hasher_upgrade", "the lesson-00 passwords become hashes, and still log in")
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
                  password: str, *, refusal_is_none: bool = False) -> User | None:
    """The learner's answer, refusals by exception turned into hints, its result's shape
    checked. With ``refusal_is_none``, a 401 raised counts as a failed login: the check using
    it is about something else (another check says "return None, do not raise")."""
    try:
        user = trial.authenticate(store, hasher, username, password)
    except HTTPException as error:
        if refusal_is_none and error.status_code == 401:
            return None
        raise Fail(f"authenticate raised HTTP {error.status_code} ({error.detail!r}). Return "
                   "None instead: the dependency answers 401, with the same message for "
                   "every failure.") from None
    except PasswordSizeError:
        raise Fail(f"authenticate raised passlib's PasswordSizeError for a password of "
                   f"{len(password):,} characters: the service would answer 500. A password "
                   f"over {LONGEST_PASSWORD} characters is a failed login: return None, after "
                   "the same work as any other failure (hand the hasher at most "
                   f"{LONGEST_PASSWORD} characters).") from None
    expect(user is None or isinstance(user, User),
           f"Your authenticate returned {describe(user)}; it should return the User "
           "from store.get_user, or None.")
    return user


def _store_with_users(trial: Trial, **cost: int,
                      ) -> tuple[Store, PasswordHasher, dict[str, Account]]:
    settings = trial.settings(**cost)
    hasher = argon2_hasher(settings)
    store = trial.store(settings)
    people = {"alice": Account("alice", new_password()), "bob": Account("bob", NON_ASCII_PASSWORD)}
    for account in people.values():
        store.add_user(account.username, hasher.hash(account.password))
    return store, hasher, people


@suite.check("auth_right_password", "authenticate lets the right password in and nothing else")
def authenticate_works(trial: Trial) -> None:
    store, hasher, people = _store_with_users(trial)
    for account in people.values():
        user = _authenticate(trial, store, hasher, account.username, account.password)
        expect(user is not None and user.username == account.username,
               f"authenticate refused {account.username}'s right password (it returned "
               f"{describe(user)}). The store holds a hash, not the password: check "
               "it with hasher.verify(password, user.password_hash) and return the user.")
    for username, password in (("alice", people["bob"].password), ("alice", ""),
                               ("alice", attacks.NON_ASCII_PASSWORD),
                               (attacks.UNKNOWN_USER, people["alice"].password)):
        user = _authenticate(trial, store, hasher, username, password)
        expect(user is None, f"authenticate({username!r}, a wrong password) returned "
                             f"{describe(user)}; it should return None.")


# -- what each failure costs, measured ---------------------------------------------------------


def _cpu_seconds(call: Callable[[], object]) -> float:
    started = time.process_time()
    call()
    return time.process_time() - started


def _failure(trial: Trial, store: Store, hasher: PasswordHasher, username: str,
             password: str) -> Callable[[], object]:
    def call() -> object:
        try:
            return trial.authenticate(store, hasher, username, password)
        except HTTPException:  # what it answers is another check's business; here, the cost
            return None
    return call


def _work(trial: Trial, cases: dict[str, tuple[str, str]], rounds: int = 9) -> dict[str, float]:
    """The CPU time ``authenticate`` takes for each case, in units of one verification (the
    reference hasher checking a wrong password): medians of rounds taken in turn, so that
    anything else slowing the machine slows every case alike."""
    store, hasher, _ = _store_with_users(trial, **MEASURED_COST)
    stored = str(store.get_user("alice").password_hash)  # type: ignore[union-attr]
    calls = {"one verification": lambda: hasher.verify(attacks.WRONG_PASSWORD, stored)}
    for name, (username, password) in cases.items():
        calls[name] = _failure(trial, store, hasher, username, password)
    for call in calls.values():  # a dummy made on first use is fine: warm every case up
        call()
        call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls)
    for round_number in range(rounds):
        shift = round_number % len(order)
        for name in order[shift:] + order[:shift]:
            samples[name].append(_cpu_seconds(calls[name]))
    unit = statistics.median(samples.pop("one verification"))
    return {name: statistics.median(times) / unit for name, times in samples.items()}


# A failure may cost half a verification more or less than another before the check says so:
# a leak is a whole verification saved, or one too many (a dummy hashed anew, a dummy made
# with other settings); the noise of a busy machine in CPU time is a few hundredths.
SAME_WORK = 0.5
WRONG_PASSWORD_CASE = "alice, a wrong password"  # noqa: S105 - a label


def _same_work(work: dict[str, float], case: str, advice: str) -> None:
    baseline, other = work[WRONG_PASSWORD_CASE], work[case]
    if other < baseline - SAME_WORK:
        compared = "less"
    elif other > baseline + SAME_WORK:
        compared = "more"
    else:
        return
    raise Fail(f"For {case}, authenticate did {other:.1f} verifications' worth of work (in CPU "
               f"time), {compared} than for a wrong password ({baseline:.1f}): the response "
               f"time tells them apart. {advice}")


@suite.check("auth_unknown_user_cost", "an unknown user costs the same work as a wrong password")
def unknown_user_costs_the_same(trial: Trial) -> None:
    unknown = f"{attacks.UNKNOWN_USER}, a wrong password"
    work = _work(trial, {WRONG_PASSWORD_CASE: ("alice", attacks.WRONG_PASSWORD),
                         unknown: (attacks.UNKNOWN_USER, attacks.WRONG_PASSWORD)})
    _same_work(work, unknown,
               "For an unknown user, do the work of one verification, with the same hasher and "
               "its settings: for example " + DUMMY_HINT + ". A dummy hashed anew on every "
               "call costs a hash more; one made with other settings costs another time.")


@suite.check("auth_long_password", "a password over 128 characters is a failed login, not an error")
def long_password_fails(trial: Trial) -> None:
    store, hasher, people = _store_with_users(trial)
    for username in ("alice", attacks.UNKNOWN_USER):
        for password in (attacks.LONG_PASSWORD, people["alice"].password * 200):
            user = _authenticate(trial, store, hasher, username, password,
                                 refusal_is_none=True)
            expect(user is None, f"authenticate({username!r}, {len(password):,} characters) "
                                 f"returned {describe(user)}; it should return None.")


@suite.check("auth_long_password_limit",
             "passwords of 128 characters log in, longer ones never do")
def long_password_limit(trial: Trial) -> None:
    store, hasher, people = _store_with_users(trial)
    at_limit = ("ø" * 8 + "-demo-") * 9 + "ø" * 2  # 128 characters, 202 bytes in UTF-8
    over_limit = at_limit + "x"
    assert len(at_limit) == LONGEST_PASSWORD
    store.add_user("carol", hasher.hash(at_limit))
    # dave's password was stored before the limit (say, by lesson 00): it stays unusable.
    store.add_user("dave", hasher.hash(over_limit))
    for account in people.values():
        try:
            found = trial.authenticate(store, hasher, account.username, account.password)
        except NotImplementedError:
            raise
        except Exception:  # said below; the check above names the error itself
            found = None
        expect(isinstance(found, User),
               f"authenticate refuses {account.username}'s ordinary right password, so the "
               "limit cannot be tried: fix that first (the check 'authenticate lets the right "
               "password in' says how).")
    carol = _authenticate(trial, store, hasher, "carol", at_limit, refusal_is_none=True)
    expect(carol is not None,
           f"carol's right password, {LONGEST_PASSWORD} characters long, was refused: the limit "
           f"allows {LONGEST_PASSWORD} characters (len(password), not its bytes in UTF-8).")
    dave = _authenticate(trial, store, hasher, "dave", over_limit, refusal_is_none=True)
    expect(dave is None,
           f"dave logged in with a right password of {len(over_limit)} characters: anything "
           f"over {LONGEST_PASSWORD} characters is a failed login. Check the length first, "
           "rather than waiting for the hasher's own limit (4,096 in passlib).")


@suite.check("auth_long_password_cost", "an over-long password costs the same work as a wrong one")
def long_password_costs_the_same(trial: Trial) -> None:
    # A real user's: an unknown user costs what a wrong password costs, whatever the password
    # (the check above measures that).
    too_long = f"alice, a password of {len(TOO_LONG)} characters"
    work = _work(trial, {WRONG_PASSWORD_CASE: ("alice", attacks.WRONG_PASSWORD),
                         too_long: ("alice", TOO_LONG)})
    _same_work(work, too_long,
               "Refuse it after the same work as any failure: for example verify its first "
               f"{LONGEST_PASSWORD} characters against the dummy hash, then return None.")


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
    seed(app, Account(VICTIM, new_password()), Account(ATTACKER, new_password()))
    return app


@suite.check("attack_no_password", "attack: nobody reads alice's notes without her password")
def no_password_attack_fails(trial: Trial) -> None:
    app = _learner_service(trial, make_hasher=trial.make_hasher)
    result = attacks.run_no_password(attacks.outside_client(app), VICTIM)
    expect(not result.succeeded, f"The attack worked: {result.evidence}. Return the user only "
                                 "when hasher.verify accepts the password.")


@suite.check("attack_non_ascii", "attack: non-ASCII credentials get 401, never 500")
def non_ascii_attack_fails(trial: Trial) -> None:
    app = _learner_service(trial, make_hasher=trial.make_hasher)
    result = attacks.run_non_ascii(attacks.outside_client(app), ATTACKER)
    expect(not result.succeeded, f"The attack worked: {result.evidence}. Let hasher.verify "
                                 "compare the password as it came: it encodes it as UTF-8.")


@suite.check("attack_message", "attack: an unknown user and a wrong password get the same answer")
def message_attack_fails(trial: Trial) -> None:
    app = _learner_service(trial, make_hasher=trial.make_hasher)
    result = attacks.run_enumerate_by_message(attacks.outside_client(app), VICTIM)
    expect(not result.succeeded, f"The attack worked: {result.evidence}. Return None for "
                                 "every failure and let the dependency answer.")


@suite.check("attack_timing", "attack: response times do not tell unknown users from real ones")
def timing_attack_fails(trial: Trial) -> None:
    # Your authenticate with the reference hasher, at a cost high enough to measure.
    app = _learner_service(trial, settings=trial.settings(**TIMING_COST))
    with attacks.outside_client(app) as client:
        timings = attacks.login_timings(client, VICTIM)
    result = timings.verdict()
    slower = "an unknown user" if timings.unknown_median > timings.known_median else \
        "a wrong password"
    expect(not result.succeeded,
           f"The attack worked: {result.evidence}; {slower} takes {timings.factor:.1f} times "
           "as long. Both failures should cost one verification: " + DUMMY_HINT + ".")


@suite.check("attack_long_password", "attack: a 4,097-character password gets 401, never 500")
def long_password_attack_fails(trial: Trial) -> None:
    app = _learner_service(trial, make_hasher=trial.make_hasher)
    result = attacks.run_long_password(attacks.outside_client(app))
    expect(not result.succeeded,
           f"The attack worked: {result.evidence}. passlib refuses passwords over 4,096 "
           f"characters: a password over {LONGEST_PASSWORD} is a failed login, so never hand it "
           "to the hasher whole, for a real user or an unknown one.")


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "same_text": basic_auth.same_text,
    "make_hasher": argon2_hasher,
    "authenticate": basic_auth.authenticate,
}

RULES: tuple[Rule, ...] = (
    Rule("same_text_equal", "same_text",
         "Return True exactly when the two texts are equal, and False otherwise.",
         ("same_text_compares", "same_text_non_ascii")),
    Rule("same_text_utf8", "same_text",
         "Compare the UTF-8 bytes: non-ASCII text never raises, and is told apart exactly.",
         ("same_text_non_ascii", "same_text_naive_check")),
    Rule("same_text_constant_time", "same_text",
         "Take the same time wherever the texts differ: secrets.compare_digest, not ==.",
         ("same_text_constant_time",)),
    Rule("hasher_argon2id", "make_hasher",
         "A passlib CryptContext that hashes with Argon2id and recognises nothing else as a "
         "hash (so the lesson-00 plain-text rows are upgraded at start-up).",
         ("hasher_argon2id", "hasher_upgrade")),
    Rule("hasher_settings", "make_hasher",
         "The cost comes from the settings: memory, iterations and lanes.",
         ("hasher_settings",)),
    Rule("auth_verifies", "authenticate",
         "Return the user only when hasher.verify accepts the password against the stored hash.",
         ("auth_right_password", "attack_no_password")),
    Rule("auth_returns_none", "authenticate",
         "Never raise for a failed login: return None, and the dependency gives every failure "
         "the same answer.",
         ("auth_right_password", "attack_message")),
    Rule("auth_non_ascii", "authenticate",
         "Passwords of any characters: bob's non-ASCII password logs in, and non-ASCII "
         "guesses are failures, never errors.",
         ("auth_right_password", "attack_non_ascii")),
    Rule("auth_unknown_user_cost", "authenticate",
         "An unknown user costs the work of a wrong password: one verification, with the "
         "same hasher and settings.",
         ("auth_unknown_user_cost", "attack_timing")),
    Rule("auth_long_password", "authenticate",
         f"A password over {LONGEST_PASSWORD} characters is a failed login (None), for a real "
         "user and an unknown one, never an error.",
         ("auth_long_password", "attack_long_password")),
    Rule("auth_long_password_limit", "authenticate",
         f"The limit is {LONGEST_PASSWORD} characters: a right password of that length logs in, "
         "a right password one character longer does not.",
         ("auth_long_password_limit",)),
    Rule("auth_long_password_cost", "authenticate",
         "An over-long password costs the work of any other failure (no early return).",
         ("auth_long_password_cost",)),
)


# -- near misses -------------------------------------------------------------------------------


def same_text_forgets_false(given: str, expected: str) -> bool | None:
    if secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        return True
    return None  # the learner's missing `return False`


def same_text_with_equals(given: str, expected: str) -> bool:
    return given == expected


def same_text_with_equal_bytes(given: str, expected: str) -> bool:
    return given.encode("utf-8") == expected.encode("utf-8")


def same_text_character_loop(given: str, expected: str) -> bool:
    if len(given) != len(expected):
        return False
    for a, b in zip(str(given), str(expected), strict=True):
        if a != b:
            return False
    return True


def same_text_on_str(given: str, expected: str) -> bool:
    return secrets.compare_digest(given, expected)


def same_text_latin_1(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode("latin-1"), expected.encode("latin-1"))


def hasher_with_passlib_defaults(settings: Settings) -> CryptContext:
    return CryptContext(schemes=["argon2"])


def hasher_hard_coded_cost(settings: Settings) -> CryptContext:
    return CryptContext(schemes=["argon2"], argon2__memory_cost=19456, argon2__time_cost=2,
                        argon2__parallelism=1)


def hasher_without_parallelism(settings: Settings) -> CryptContext:
    return CryptContext(schemes=["argon2"], argon2__type="ID",
                        argon2__memory_cost=settings.argon2_memory_kib,
                        argon2__time_cost=settings.argon2_time_cost)


def hasher_argon2i(settings: Settings) -> CryptContext:
    return CryptContext(schemes=["argon2"], argon2__type="I",
                        argon2__memory_cost=settings.argon2_memory_kib,
                        argon2__time_cost=settings.argon2_time_cost,
                        argon2__parallelism=settings.argon2_parallelism)


def hasher_that_knows_plain_text(settings: Settings) -> CryptContext:
    """Argon2id by default, but "plaintext" in the list too: every stored text is a hash."""
    return CryptContext(schemes=["argon2", "plaintext"], default="argon2", argon2__type="ID",
                        argon2__memory_cost=settings.argon2_memory_kib,
                        argon2__time_cost=settings.argon2_time_cost,
                        argon2__parallelism=settings.argon2_parallelism)


def authenticate_comparing_hashes(store: Store, hasher: PasswordHasher, username: str,
                                  password: str) -> User | None:
    """Hashes the password and compares the hashes: each hash has its own random salt, so
    they never match."""
    user = store.get_user(username)
    if user is None or len(password) > LONGEST_PASSWORD:
        hasher.verify(password[:LONGEST_PASSWORD], dummy_hash_for(hasher))
        return None
    return user if secrets.compare_digest(hasher.hash(password), user.password_hash) else None


def authenticate_without_verifying(store: Store, hasher: PasswordHasher, username: str,
                                   password: str) -> User | None:
    user = store.get_user(username)
    if user is None or len(password) > LONGEST_PASSWORD:
        hasher.verify(password[:LONGEST_PASSWORD], dummy_hash_for(hasher))
        return None
    hasher.verify(password, user.password_hash)  # ...and the answer is ignored
    return user


def authenticate_with_messages(store: Store, hasher: PasswordHasher, username: str,
                               password: str) -> User | None:
    user = store.get_user(username)
    if user is None or len(password) > LONGEST_PASSWORD:
        hasher.verify(password[:LONGEST_PASSWORD], dummy_hash_for(hasher))
        raise unauthorized("Unknown user" if user is None else "Password too long",
                           basic_auth.CHALLENGE)
    if not hasher.verify(password, user.password_hash):
        raise unauthorized("Wrong password", basic_auth.CHALLENGE)
    return user


def authenticate_latin_1(store: Store, hasher: PasswordHasher, username: str,
                         password: str) -> User | None:
    user = store.get_user(username)
    if user is None or len(password) > LONGEST_PASSWORD:
        hasher.verify(password[:LONGEST_PASSWORD], dummy_hash_for(hasher))
        return None
    # HTTP headers were once Latin-1: the right password of anyone with a "€" now raises.
    return user if hasher.verify(password.encode("latin-1"), user.password_hash) else None


def authenticate_early_return(store: Store, hasher: PasswordHasher, username: str,
                              password: str) -> User | None:
    user = store.get_user(username)
    if user is None:
        return None  # no work at all: the answer comes back at once
    if len(password) > LONGEST_PASSWORD:
        hasher.verify(password[:LONGEST_PASSWORD], dummy_hash_for(hasher))
        return None
    return user if hasher.verify(password, user.password_hash) else None


def _with_dummy(dummy: Callable[[PasswordHasher], str]) -> Callable[..., User | None]:
    """Right, but for the dummy hash an unknown user is verified against."""
    def authenticate(store: Store, hasher: PasswordHasher, username: str,
                     password: str) -> User | None:
        user = store.get_user(username)
        if user is None:
            hasher.verify(password[:LONGEST_PASSWORD], dummy(hasher))
            return None
        if len(password) > LONGEST_PASSWORD:
            hasher.verify(password[:LONGEST_PASSWORD], dummy_hash_for(hasher))
            return None
        return user if hasher.verify(password, user.password_hash) else None
    return authenticate


# A new dummy on every call (a hash, then a verification), and a dummy made once with other
# Argon2 settings than the service's (it costs another time to verify).
authenticate_hashing_a_new_dummy = _with_dummy(lambda hasher: hasher.hash("a dummy password"))


@functools.cache
def _other_cost_dummy() -> str:
    return str(CryptContext(schemes=["argon2"], argon2__type="ID", argon2__memory_cost=1024,
                            argon2__time_cost=1, argon2__parallelism=1).hash("dummy"))


authenticate_with_a_foreign_dummy = _with_dummy(lambda hasher: _other_cost_dummy())


def authenticate_limit_after_lookup(store: Store, hasher: PasswordHasher, username: str,
                                    password: str) -> User | None:
    """The length checked on the real user's path only: an unknown user's long password
    still goes whole to the hasher."""
    user = store.get_user(username)
    if user is None:
        hasher.verify(password, dummy_hash_for(hasher))
        return None
    if len(password) > LONGEST_PASSWORD:
        hasher.verify(password[:LONGEST_PASSWORD], dummy_hash_for(hasher))
        return None
    return user if hasher.verify(password, user.password_hash) else None


def _with_limit(too_long: Callable[[str], bool]) -> Callable[..., User | None]:
    def authenticate(store: Store, hasher: PasswordHasher, username: str,
                     password: str) -> User | None:
        user = store.get_user(username)
        if user is None or too_long(password):
            hasher.verify(password[:LONGEST_PASSWORD], dummy_hash_for(hasher))
            return None
        return user if hasher.verify(password, user.password_hash) else None
    return authenticate


authenticate_limit_off_by_one = _with_limit(lambda password: len(password) >= LONGEST_PASSWORD)
authenticate_limit_in_bytes = _with_limit(
    lambda password: len(password.encode("utf-8")) > LONGEST_PASSWORD)


def authenticate_catching_the_size_error(store: Store, hasher: PasswordHasher, username: str,
                                         password: str) -> User | None:
    """No limit of its own: it waits for passlib's (4,096 characters) and catches it."""
    user = store.get_user(username)
    try:
        if user is None:
            hasher.verify(password, dummy_hash_for(hasher))
            return None
        return user if hasher.verify(password, user.password_hash) else None
    except PasswordSizeError:
        return None


def authenticate_refusing_long_at_once(store: Store, hasher: PasswordHasher, username: str,
                                       password: str) -> User | None:
    if len(password) > LONGEST_PASSWORD:
        return None  # no work at all: the answer comes back at once
    user = store.get_user(username)
    if user is None:
        hasher.verify(password, dummy_hash_for(hasher))
        return None
    return user if hasher.verify(password, user.password_hash) else None


WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    WrongAnswer("same_text_equal", "forgets to return False",
                {"same_text": same_text_forgets_false},
                {"same_text_compares": "should return True or False",
                 "same_text_non_ascii": "expected False"}),
    WrongAnswer("same_text_utf8", "compare_digest on str",
                {"same_text": same_text_on_str},
                {"same_text_non_ascii": "raised TypeError",
                 "same_text_naive_check": "The attack still works"}),
    WrongAnswer("same_text_utf8", "Latin-1 bytes",
                {"same_text": same_text_latin_1},
                {"same_text_non_ascii": "use UTF-8",
                 "same_text_naive_check": "The attack still works"}),
    WrongAnswer("same_text_constant_time", "==", {"same_text": same_text_with_equals},
                {"same_text_constant_time": "stops at the first"}),
    WrongAnswer("same_text_constant_time", "== on the UTF-8 bytes",
                {"same_text": same_text_with_equal_bytes},
                {"same_text_constant_time": "stops at the first"}),
    WrongAnswer("same_text_constant_time", "a loop that returns at the first difference",
                {"same_text": same_text_character_loop},
                {"same_text_constant_time": "stops at the first"}),
    WrongAnswer("hasher_argon2id", "Argon2i, not Argon2id", {"make_hasher": hasher_argon2i},
                {"hasher_argon2id": "argon2__type='ID'",
                 "hasher_upgrade": "still hold no Argon2id hash"}),
    WrongAnswer("hasher_argon2id", '"plaintext" allowed beside argon2',
                {"make_hasher": hasher_that_knows_plain_text},
                {"hasher_argon2id": "recognises plain text as a hash",
                 "hasher_upgrade": "still hold no Argon2id hash"}),
    WrongAnswer("hasher_settings", "passlib's default cost",
                {"make_hasher": hasher_with_passlib_defaults},
                {"hasher_settings": "the settings ask for"}),
    WrongAnswer("hasher_settings", "the cost written into the code",
                {"make_hasher": hasher_hard_coded_cost},
                {"hasher_settings": "the settings ask for"}),
    WrongAnswer("hasher_settings", "parallelism left out",
                {"make_hasher": hasher_without_parallelism},
                {"hasher_settings": "argon2__parallelism"}),
    WrongAnswer("auth_verifies", "hashes the password again and compares the hashes",
                {"authenticate": authenticate_comparing_hashes},
                {"auth_right_password": "check it with hasher.verify",
                 "auth_long_password_limit": "fix that first"}),
    WrongAnswer("auth_verifies", "verifies, then ignores the answer",
                {"authenticate": authenticate_without_verifying},
                {"auth_right_password": "it should return None",
                 "attack_no_password": "The attack worked",
                 "attack_message": "The attack worked"}),
    WrongAnswer("auth_returns_none", "raises 401 with a message per failure",
                {"authenticate": authenticate_with_messages},
                {"auth_right_password": "Return None instead",
                 "attack_message": "The attack worked"}),
    WrongAnswer("auth_non_ascii", "encodes the password as Latin-1",
                {"authenticate": authenticate_latin_1},
                {"auth_right_password": "Your authenticate raised UnicodeEncodeError",
                 "auth_long_password_limit": "fix that first",
                 "attack_non_ascii": "The attack worked"}),
    WrongAnswer("auth_unknown_user_cost", "returns at once for an unknown user",
                {"authenticate": authenticate_early_return},
                {"auth_unknown_user_cost": "less than for a wrong password",
                 "attack_timing": "The attack worked"}),
    WrongAnswer("auth_unknown_user_cost", "hashes a new dummy on every call",
                {"authenticate": authenticate_hashing_a_new_dummy},
                {"auth_unknown_user_cost": "more than for a wrong password"}),
    WrongAnswer("auth_unknown_user_cost", "a dummy made with other Argon2 settings",
                {"authenticate": authenticate_with_a_foreign_dummy},
                {"auth_unknown_user_cost": "less than for a wrong password",
                 "attack_timing": "The attack worked"}),
    WrongAnswer("auth_long_password", "the length checked for real users only",
                {"authenticate": authenticate_limit_after_lookup},
                {"auth_long_password": "PasswordSizeError",
                 "attack_long_password": "The attack worked"}),
    WrongAnswer("auth_long_password_limit", "refuses 128 characters too (>=)",
                {"authenticate": authenticate_limit_off_by_one},
                {"auth_long_password_limit": "carol's right password"}),
    WrongAnswer("auth_long_password_limit", "counts UTF-8 bytes, not characters",
                {"authenticate": authenticate_limit_in_bytes},
                {"auth_long_password_limit": "not its bytes"}),
    WrongAnswer("auth_long_password_limit", "catches passlib's own limit instead of checking",
                {"authenticate": authenticate_catching_the_size_error},
                {"auth_long_password_limit": "dave logged in"}),
    WrongAnswer("auth_long_password_cost", "refuses an over-long password at once",
                {"authenticate": authenticate_refusing_long_at_once},
                {"auth_long_password_cost": "less than for a wrong password"}),
)


def check(**answers: Any) -> Report:
    """Run the lesson-01 checks on your answers: ``check(same_text=..., make_hasher=...,
    authenticate=...)``."""
    return suite.run(settings_changes=CHECK_COST, **answers)
