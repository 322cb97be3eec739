"""Lesson 10, reference layer: rate limits on every password check and on registration, a
bounded hashing queue, state shared by every worker (and every machine, on Redis), and the
server's own resource limits (OWASP ASVS 5.0 6.3.1, 15.2.2; API4:2023, API6:2023).

- ``guard``: the limiter's decision around each password check (``guard_login``) and each
  registration (``guard_registration``), and how a client's address becomes its key
  (``client_key``);
- ``attempts``: the counts, in the service's SQLite database; ``redis_state``: the same on
  Redis, with the revoked tokens; ``shared``: which of the two an app uses;
- ``queue``: the bounded hashing queue with a fair share per client, and its 503;
- ``lessons.limits``: the server's header-size limit, header and keep-alive timeouts and
  connection cap (what ``python -m lessons serve`` passes to uvicorn);
- ``lessons.tokens.remembered_decode_token``: lesson 02's decode, remembering the tokens it
  verified, so that the busiest authenticated path pays for python-jose once per token, not
  once per request (revocation, deletion and password changes are still looked up each time).

What it adds to the service, as lesson 10 declares it (``LAYER``): the seams ``guard_login``,
``guard_registration``, ``client_key``, ``hashing_place``, ``shared_state`` and
``decode_token``; the ``hashing_queue`` middleware; the handler that answers ``HashingBusy``
with 503; the start-up work that moves revoked tokens to Redis when it is configured; and the
``server_limits`` serve option.
"""

from __future__ import annotations

from lessons.limits import server_limits
from lessons.passwords import HashingBusy
from lessons.ratelimit.attempts import Attempts, Hit, SqliteAttempts, key
from lessons.ratelimit.guard import (
    address_of,
    client_key,
    guard_login,
    guard_registration,
    too_many,
)
from lessons.ratelimit.queue import hashing_busy, hashing_place, hashing_queue
from lessons.ratelimit.shared import SharedState, share_revocations, shared_state
from lessons.tokens import remembered_decode_token
from lessons.wiring import LessonLayer

LAYER = LessonLayer(
    seams={
        "guard_login": guard_login,
        "guard_registration": guard_registration,
        "client_key": client_key,
        "hashing_place": hashing_place,
        "shared_state": shared_state,
        "decode_token": remembered_decode_token,
    },
    middleware={"hashing_queue": hashing_queue},
    handlers={HashingBusy: hashing_busy},
    startup={"share_revocations": share_revocations},
    serve={"server_limits": server_limits},
)

__all__ = [
    "LAYER",
    "Attempts",
    "Hit",
    "SharedState",
    "SqliteAttempts",
    "address_of",
    "client_key",
    "guard_login",
    "guard_registration",
    "hashing_place",
    "key",
    "too_many",
]
