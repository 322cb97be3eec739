"""Near misses for lesson 06's exercises: each is the reference answer with one thing wrong,
the way a learner who gets it almost right writes it. ``lessons.checks.lesson06.WRONG_ANSWERS``
says which rule each breaks and which checks must fail on it."""

from __future__ import annotations

import hashlib
import random
import secrets
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit

from fastapi import Response
from itsdangerous import Signer, URLSafeSerializer

from lessons import sessions
from lessons.context import Service
from lessons.settings import Settings
from lessons.store import Session, User

SAFE = ("GET", "HEAD", "OPTIONS")

# -- new_session ---------------------------------------------------------------------------------


def _signed(settings: Settings, session_id: str) -> str:
    return sessions.signer(settings).sign(session_id).decode()


def new_from_random(settings: Settings) -> tuple[str, str]:
    session_id = f"{random.getrandbits(256):064x}"  # 256 bits, but from a Mersenne Twister
    return session_id, _signed(settings, session_id)


def new_short(settings: Settings) -> tuple[str, str]:
    session_id = secrets.token_urlsafe(8)  # 64 bits
    return session_id, _signed(settings, session_id)


def new_uuid4(settings: Settings) -> tuple[str, str]:
    session_id = str(uuid.uuid4())  # 122 random bits
    return session_id, _signed(settings, session_id)


_MADE_ONCE = secrets.token_urlsafe(32)


def new_made_once(settings: Settings) -> tuple[str, str]:
    return _MADE_ONCE, _signed(settings, _MADE_ONCE)  # random, but the same for everyone


def new_unsigned(settings: Settings) -> tuple[str, str]:
    session_id = secrets.token_urlsafe(32)
    return session_id, session_id


def new_hard_coded_key(settings: Settings) -> tuple[str, str]:
    session_id = secrets.token_urlsafe(32)
    signer = Signer("a-key-written-into-the-code-itself", salt=sessions.SALT,
                    digest_method=hashlib.sha256)
    return session_id, signer.sign(session_id).decode()


def new_sha1(settings: Settings) -> tuple[str, str]:
    session_id = secrets.token_urlsafe(32)
    return session_id, Signer(settings.secret_key, salt=sessions.SALT).sign(session_id).decode()


def new_without_salt(settings: Settings) -> tuple[str, str]:
    session_id = secrets.token_urlsafe(32)
    signer = Signer(settings.secret_key, digest_method=hashlib.sha256)
    return session_id, signer.sign(session_id).decode()


def new_serialized(settings: Settings) -> tuple[str, str]:
    session_id = secrets.token_urlsafe(32)
    return session_id, URLSafeSerializer(settings.secret_key, salt=sessions.SALT).dumps(session_id)


def new_signing_another_id(settings: Settings) -> tuple[str, str]:
    session_id = secrets.token_urlsafe(32)
    return session_id, _signed(settings, secrets.token_urlsafe(32))


def new_cookie_as_bytes(settings: Settings) -> tuple[str, Any]:
    session_id = secrets.token_urlsafe(32)
    return session_id, sessions.signer(settings).sign(session_id)  # .decode() forgotten


# -- session_valid -------------------------------------------------------------------------------


def valid_without_idle(session: Session, now: int, settings: Settings) -> bool:
    return now - session.created_at < settings.session_absolute_hours * 3600


def valid_minutes_as_seconds(session: Session, now: int, settings: Settings) -> bool:
    return (now - session.last_seen < settings.session_idle_minutes
            and now - session.created_at < settings.session_absolute_hours * 3600)


def valid_idle_reversed(session: Session, now: int, settings: Settings) -> bool:
    return (session.last_seen - now < settings.session_idle_minutes * 60
            and now - session.created_at < settings.session_absolute_hours * 3600)


def valid_without_absolute(session: Session, now: int, settings: Settings) -> bool:
    return now - session.last_seen < settings.session_idle_minutes * 60


def valid_hours_as_minutes(session: Session, now: int, settings: Settings) -> bool:
    return (now - session.last_seen < settings.session_idle_minutes * 60
            and now - session.created_at < settings.session_absolute_hours * 60)


def valid_with_fixed_limits(session: Session, now: int, settings: Settings) -> bool:
    return now - session.last_seen < 30 * 60 and now - session.created_at < 8 * 3600


def valid_at_the_limit(session: Session, now: int, settings: Settings) -> bool:
    return (now - session.last_seen <= settings.session_idle_minutes * 60
            and now - session.created_at <= settings.session_absolute_hours * 3600)


def valid_forgetting_a_return(session: Session, now: int, settings: Settings) -> Any:
    if now - session.last_seen >= settings.session_idle_minutes * 60:
        return False
    if now - session.created_at >= settings.session_absolute_hours * 3600:
        return False
    # (the `return True` is missing: a valid session gets None)


# -- csrf_ok -------------------------------------------------------------------------------------


def _same(expected: str, sent: str) -> bool:
    return secrets.compare_digest(expected.encode(), sent.encode())


def csrf_for_every_method(method: str, expected: str | None, sent: str | None) -> bool:
    return bool(expected and sent) and _same(expected or "", sent or "")


def csrf_only_get_is_safe(method: str, expected: str | None, sent: str | None) -> bool:
    if method == "GET":
        return True
    return bool(expected and sent) and _same(expected or "", sent or "")


def csrf_accepting_empty(method: str, expected: str | None, sent: str | None) -> bool:
    if method in SAFE:
        return True
    if expected is None or sent is None:
        return False
    return _same(expected, sent)


def csrf_for_post_only(method: str, expected: str | None, sent: str | None) -> bool:
    if method != "POST":
        return True
    return bool(expected and sent) and _same(expected or "", sent or "")


def csrf_with_equals(method: str, expected: str | None, sent: str | None) -> bool:
    return method in SAFE or expected == sent


def csrf_by_containment(method: str, expected: str | None, sent: str | None) -> bool:
    if method in SAFE:
        return True
    if not expected or not sent:
        return False
    return sent in expected


def csrf_trimming(method: str, expected: str | None, sent: str | None) -> bool:
    if method in SAFE:
        return True
    if not expected or not sent:
        return False
    return _same(expected, sent.strip())


def csrf_with_guarded_equals(method: str, expected: str | None, sent: str | None) -> bool:
    if method in SAFE:
        return True
    if not expected or not sent:
        return False
    return expected == sent


def csrf_comparing_str(method: str, expected: str | None, sent: str | None) -> bool:
    if method in SAFE:
        return True
    if not expected or not sent:
        return False
    return secrets.compare_digest(expected, sent)


# -- start_session -------------------------------------------------------------------------------

StartSession = Callable[[Service, Response, User, "str | None"], str]


def _store(service: Service, session_id: str, user: User, token: str,
           created_at: int | None = None) -> None:
    now = int(time.time()) if created_at is None else created_at
    service.store.add_session(Session(id_hash=sessions.hash_id(session_id),
                                      username=user.username, csrf_token=token,
                                      created_at=now, last_seen=now))


def _end_presented(service: Service, presented: str | None) -> None:
    old_id = sessions.session_id_from(service.settings, presented) if presented else None
    if old_id is not None:
        service.store.delete_session(sessions.hash_id(old_id))


def start_keeping_the_presented_session(service: Service, response: Response, user: User,
                                        presented: str | None) -> str:
    old = sessions.session_id_from(service.settings, presented) if presented else None
    if old is None:
        return sessions.start_session(service, response, user, None)
    return sessions.start_session_reusing(service, response, user, presented)


def start_without_ending_the_presented_session(service: Service, response: Response,
                                               user: User, presented: str | None) -> str:
    return sessions.start_session(service, response, user, None)


def start_storing_the_raw_id(service: Service, response: Response, user: User,
                             presented: str | None) -> str:
    _end_presented(service, presented)
    session_id, cookie = service.layers.new_session(service.settings)
    now, token = int(time.time()), secrets.token_urlsafe(32)
    service.store.add_session(Session(id_hash=session_id, username=user.username,
                                      csrf_token=token, created_at=now, last_seen=now))
    sessions.set_cookie(response, cookie, service.settings)
    return token


def start_in_milliseconds(service: Service, response: Response, user: User,
                          presented: str | None) -> str:
    _end_presented(service, presented)
    session_id, cookie = service.layers.new_session(service.settings)
    token = secrets.token_urlsafe(32)
    _store(service, session_id, user, token, created_at=int(time.time() * 1000))
    sessions.set_cookie(response, cookie, service.settings)
    return token


def start_with_cookie(**attributes: Any) -> StartSession:
    """start_session, with the cookie's attributes changed as given."""

    def start(service: Service, response: Response, user: User, presented: str | None) -> str:
        _end_presented(service, presented)
        session_id, cookie = service.layers.new_session(service.settings)
        token = secrets.token_urlsafe(32)
        _store(service, session_id, user, token)
        options = {"path": "/", "secure": True, "httponly": True, "samesite": "lax",
                   **attributes}
        response.set_cookie(sessions.COOKIE, cookie, **options)
        return token

    start.__name__ = "start_with_" + "_".join(f"{k}_{v}" for k, v in attributes.items())
    return start


def start_with_the_id_as_csrf_token(service: Service, response: Response, user: User,
                                    presented: str | None) -> str:
    _end_presented(service, presented)
    session_id, cookie = service.layers.new_session(service.settings)
    _store(service, session_id, user, session_id)
    sessions.set_cookie(response, cookie, service.settings)
    return session_id


def start_with_one_csrf_token(service: Service, response: Response, user: User,
                              presented: str | None) -> str:
    _end_presented(service, presented)
    session_id, cookie = service.layers.new_session(service.settings)
    shared = hashlib.sha256(service.settings.secret_key.encode()).hexdigest()  # one for all
    _store(service, session_id, user, shared)
    sessions.set_cookie(response, cookie, service.settings)
    return shared


def start_returning_another_token(service: Service, response: Response, user: User,
                                  presented: str | None) -> str:
    _end_presented(service, presented)
    session_id, cookie = service.layers.new_session(service.settings)
    _store(service, session_id, user, secrets.token_urlsafe(32))
    sessions.set_cookie(response, cookie, service.settings)
    return secrets.token_urlsafe(32)  # a second token, not the one stored


# -- origin_ok -----------------------------------------------------------------------------------

OWN_SITE = ("same-origin", "none")


def origin_hosts_only(origin: str | None, fetch_site: str | None,
                      trusted: Collection[str]) -> bool:
    """Compares host names: another port, or plain HTTP, of a trusted host passes."""
    named = origin is not None and origin != "null"
    if named and urlsplit(origin).hostname not in {urlsplit(t).hostname for t in trusted}:
        return False
    if fetch_site is None:
        return origin != "null"
    if fetch_site in OWN_SITE:
        return True
    return fetch_site == "same-site" and named


def origin_by_prefix(origin: str | None, fetch_site: str | None,
                     trusted: Collection[str]) -> bool:
    """``startswith``: https://notes.example.org.mallory.example passes."""
    named = origin is not None and origin != "null"
    if named and not any(str(origin).startswith(t) for t in trusted):
        return False
    if fetch_site is None:
        return origin != "null"
    if fetch_site in OWN_SITE:
        return True
    return fetch_site == "same-site" and named


def origin_null_as_absent(origin: str | None, fetch_site: str | None,
                          trusted: Collection[str]) -> bool:
    """Takes ``null`` for "not sent": a sandboxed page with no Sec-Fetch-Site passes."""
    if origin == "null":
        origin = None
    if origin is not None and origin not in trusted:
        return False
    if fetch_site is None or fetch_site in OWN_SITE:
        return True
    return fetch_site == "same-site" and origin is not None


def origin_refusing_null(origin: str | None, fetch_site: str | None,
                         trusted: Collection[str]) -> bool:
    """Refuses ``null`` always, even with Sec-Fetch-Site: same-origin."""
    if origin is not None and origin not in trusted:
        return False
    if fetch_site is None or fetch_site in OWN_SITE:
        return True
    return fetch_site == "same-site" and origin is not None


def origin_ignoring_fetch_site(origin: str | None, fetch_site: str | None,
                               trusted: Collection[str]) -> bool:
    """Checks Origin when it is sent, and ignores Sec-Fetch-Site."""
    return origin is None or origin in trusted


def origin_not_cross_site(origin: str | None, fetch_site: str | None,
                          trusted: Collection[str]) -> bool:
    """Refuses only the value cross-site: no Origin with same-site, or a made-up value, pass."""
    named = origin is not None and origin != "null"
    if named and origin not in trusted:
        return False
    if fetch_site is None:
        return origin != "null"
    return fetch_site != "cross-site"


def origin_same_site_always(origin: str | None, fetch_site: str | None,
                            trusted: Collection[str]) -> bool:
    """Takes same-site as the service's own: any page of the site passes without an Origin."""
    named = origin is not None and origin != "null"
    if named and origin not in trusted:
        return False
    if fetch_site is None:
        return origin != "null"
    return fetch_site in (*OWN_SITE, "same-site")


def origin_same_site_never(origin: str | None, fetch_site: str | None,
                           trusted: Collection[str]) -> bool:
    """Refuses every same-site request, the trusted sibling's too."""
    named = origin is not None and origin != "null"
    if named and origin not in trusted:
        return False
    if fetch_site is None:
        return origin != "null"
    return fetch_site in OWN_SITE


def origin_refusing_neither(origin: str | None, fetch_site: str | None,
                            trusted: Collection[str]) -> bool:
    """Refuses a request with neither header: every script, curl and test client."""
    if origin is None and fetch_site is None:
        return False
    return sessions.origin_ok(origin, fetch_site, trusted)
