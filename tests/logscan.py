"""The suite-wide log scan (lesson 08): no secret in any log line written during the test run.

Every record the service logs (the ``lessons.*`` loggers, and anything else that reaches the
root logger) is written the way ``python -m lessons serve`` writes it, as a JSON line through
the request stamp and the redaction filter, into memory. When the run ends, each line is
searched for:

- every value ``secrets.token_urlsafe`` produced during the run: session ids, CSRF tokens,
  token ids, development signing keys, random passwords (the scan records them as they are
  made);
- the password of every ``Account`` created during the run (the seeded accounts);
- anything shaped like a JWT, an ``Authorization`` credential or a session cookie value.

The patterns catch what redaction should have caught; the known values catch what no pattern
can (a password logged on its own looks like any other word). ``tests/test_lesson08.py``
shows that the scan really fails on a leak, through a handler without the filter.

Imported as ``from logscan import LeakScan`` (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from lessons import logs
from lessons.attacks import Account

TOKEN_SHAPED = re.compile(r"[A-Za-z0-9_-]{16,}")
SHAPES = {
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "an Authorization credential": re.compile(
        r"(?i)\b(?:bearer|basic)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{8,}"),
    "a session cookie": re.compile(r"__Host-session=(?!\[REDACTED\])[^;\s\"'\\]{8,}"),
}


class LeakScan:
    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.tokens: set[str] = set()
        self.passwords: set[str] = set()
        self._undo: list[Callable[[], None]] = []

    # -- what is secret ---------------------------------------------------------------------

    def remember_token(self, value: str) -> None:
        if len(value) >= 16:
            self.tokens.add(value)

    def remember_password(self, value: str) -> None:
        if len(value) >= 8:
            self.passwords.add(value)

    def watch_secrets(self) -> None:
        """Record every ``secrets.token_urlsafe`` value and every ``Account`` password made
        from now on (undone by ``stop``)."""
        make_token = secrets.token_urlsafe
        make_account = Account.__init__

        def token_urlsafe(nbytes: int | None = None) -> str:
            value = make_token(nbytes)
            self.remember_token(value)
            return value

        def account_init(account: Account, *args: Any, **kwargs: Any) -> None:
            make_account(account, *args, **kwargs)
            self.remember_password(account.password)

        secrets.token_urlsafe = token_urlsafe  # type: ignore[assignment]
        Account.__init__ = account_init  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(secrets, "token_urlsafe", make_token))
        self._undo.append(lambda: setattr(Account, "__init__", make_account))

    # -- where the lines come from ---------------------------------------------------------

    def handler(self, redaction: logs.Redaction | None = logs.redact) -> logging.Handler:
        """A handler like the service's (JSON lines, request stamp, redaction) into this scan."""
        return logs.json_handler(self.stream, redaction)

    def attach(self, logger: logging.Logger) -> None:
        handler = self.handler()
        logger.addHandler(handler)
        self._undo.append(lambda: logger.removeHandler(handler))

    def stop(self) -> None:
        while self._undo:
            self._undo.pop()()

    # -- the verdict ------------------------------------------------------------------------

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def leaks(self) -> list[str]:
        """One description per line that holds a secret (without the secret itself)."""
        passwords = (re.compile("|".join(re.escape(p) for p in
                                         sorted(self.passwords, key=len, reverse=True)))
                     if self.passwords else None)
        found = []
        for number, line in enumerate(self.lines, 1):
            kinds = [name for name, shape in SHAPES.items() if shape.search(line)]
            if any(word in self.tokens for word in TOKEN_SHAPED.findall(line)):
                kinds.append("a random token made during the run")
            if passwords is not None and passwords.search(line):
                kinds.append("the password of a seeded account")
            if kinds:
                logger = re.search(r'"logger": "([^"]*)"', line)
                found.append(f"line {number} ({logger.group(1) if logger else '?'}) holds "
                             + ", ".join(kinds))
        return found
