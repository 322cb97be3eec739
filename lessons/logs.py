"""Lesson 08, reference layer (logging half): JSON log lines, a redaction filter, audit events
and log fields that cannot forge a line.

What the layer guarantees (OWASP ASVS 5.0 V16 security logging, API8:2023):

- every log line is one JSON object on one physical line, with the time in UTC, the level,
  the logger, the message, the request id of the request it belongs to, and any structured
  fields (``extra=``) as fields of their own (ASVS 16.2.1, 16.2.2);
- fields that come from a client (a path, a username) are *neutralised* before they are
  logged: line breaks and every other non-printable character become visible escapes, so no
  input can start a new line or hide text in a reader's terminal (ASVS 16.4.1);
- a redaction filter on every handler replaces passwords, tokens, cookies and
  ``Authorization`` values wherever they hide in a record: the message and its arguments,
  the extra fields, the exception text (ASVS 16.2.5). It is a safety net: the service's own
  log calls never hand it a secret in the first place;
- security events (login success and failure, logout, access denied) are logged as audit
  events with who, what and the outcome (ASVS 16.3.1-16.3.3);
- log files are created readable by their owner only (0600), in the data folder.

The loggers are ``lessons.access`` (one line per request), ``lessons.audit`` (security events)
and ``lessons.errors`` (unexpected exceptions, with their traceback: for the operator, never the
client). Nothing here configures logging on import: ``python -m lessons serve`` does, through
``uvicorn_log_config``, and notebooks and tests use ``capture``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import io
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVICE = "lessons"
ACCESS, AUDIT, ERRORS = "lessons.access", "lessons.audit", "lessons.errors"
REDACTED = "[REDACTED]"
# Longest value a client-supplied field may put in a log line; longer ones are cut (a client
# must not be able to fill the disk, or drown a real event, through one field).
MAX_FIELD = 200
MAX_MESSAGE = 2000
# Audit events that mean something was refused: logged as WARNING, so alerting can pick them.
REFUSALS = frozenset({"login.failure", "access.denied", "password.change.failure",
                      "plaintext.refused"})

# A library's courtesy: records of "lessons.*" never fall through to Python's last-resort
# handler (which prints warnings to stderr) when nobody has configured logging.
logging.getLogger(SERVICE).addHandler(logging.NullHandler())

LogField = Callable[[str], str]


# -- the request a record belongs to -------------------------------------------------------------


@dataclass
class RequestContext:
    """What the request-id middleware knows about the request being handled: its id, and,
    once an identity dependency has run, who is calling. Held in a context variable, so any
    log call made while handling the request (in the event loop or a worker thread) finds it."""

    request_id: str
    user: str | None = None
    # The app's field neutraliser (the ``log_field`` seam), for audit events.
    clean: LogField = field(default=lambda value: neutralise(value))
    # Set once an audit event was logged for this request, so one refusal is one event.
    audited: bool = False


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "lessons_request", default=None)


def enter_request(context: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _current.set(context)


def leave_request(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)


def current_request() -> RequestContext | None:
    return _current.get()


# -- neutralising client-supplied fields ---------------------------------------------------------

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def neutralise(value: object, limit: int = MAX_FIELD) -> str:
    """``value`` as text that stays on one line in any reader, cut to ``limit`` characters.

    Every character that is not printable becomes a visible escape: the line breaks ``\\n``
    and ``\\r``, but also NEL (U+0085), the Unicode line and paragraph separators (U+2028,
    U+2029), which ``str.splitlines`` and many viewers treat as line breaks, the terminal
    escape ESC, NUL, and the invisible bidirectional overrides that make text read backwards.
    ``str.isprintable`` is False for exactly these classes (Unicode "Other" and "Separator",
    except the space).
    """
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    if text.isprintable():
        return text  # the common case, with no per-character work
    return "".join(ch if ch.isprintable() else _ESCAPES.get(ch) or f"\\u{ord(ch):04x}"
                   for ch in text)


def as_is(value: str) -> str:
    """VULNERABLE, the open service's ``log_field``: logs what the client sent, line breaks
    and all, so a username can end one log line and write the next one itself."""
    return value


# -- redaction -----------------------------------------------------------------------------------

SECRET_WORDS = ("password", "passwd", "secret", "token", "authorization", "cookie", "session",
                "csrf", "api_key", "apikey", "credential")

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A JWT: base64url of '{"' is "eyJ", so every JWT header starts with it.
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), REDACTED),
    # Credentials after an HTTP authentication scheme: "Bearer xyz", "Basic YWxpY2U6...".
    (re.compile(r"(?i)\b(bearer|basic|digest)(\s+)[A-Za-z0-9._~+/=-]+"), r"\1\2" + REDACTED),
    # key=value and "key": "value" where the key names a secret: forms, query strings, JSON,
    # Python reprs, cookie headers ("__Host-session=...").
    (re.compile(r"(?i)((?:" + "|".join(SECRET_WORDS) + r")[\w-]*)(['\"]?\s*[:=]\s*['\"]?)"
                r"([^\s'\"&,;}]+)"), r"\1\2" + REDACTED),
)


# Any text without one of these cannot match a pattern above: one search instead of three.
# It searches the text casefolded, without re.IGNORECASE, which is several times slower (this
# runs on every log line). casefold() agrees with IGNORECASE on every letter of these words
# but the i: IGNORECASE also takes the dotless ı and the dotted İ for one, and casefold()
# turns İ into an i followed by a combining dot (tests/test_lesson08.py tries every letter).
MAYBE_SECRET_WORDS = ("eyj", "bearer", "basic", "digest", *SECRET_WORDS)
_ANY_I = "(?:i\u0307?|\u0131)"
_MAYBE_SECRET = re.compile("|".join(word.replace("i", _ANY_I) for word in MAYBE_SECRET_WORDS))
_SECRET_NAME = re.compile("|".join(SECRET_WORDS))


@functools.lru_cache(maxsize=1024)
def is_secret_key(name: str) -> bool:
    """Does a field called ``name`` hold a secret? (``password``, ``access_token``,
    ``Authorization``, ``Cookie``, ``X-CSRF-Token`` ...)"""
    return bool(_SECRET_NAME.search(name.lower().replace("-", "_")))


def scrub_text(text: str) -> str:
    """``text`` with every secret that can be recognised by its shape replaced by [REDACTED].

    A pattern can only find what looks like a secret: a password on its own ("hunter2") looks
    like any other word. That is why the service never logs a password to begin with, and this
    is the net under that rule, not the rule."""
    if not _MAYBE_SECRET.search(text.casefold()):
        return text  # the common case: nothing that could be a secret
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_value(value: object) -> object:
    """A structured field with its secrets redacted: mappings by key name, sequences element
    by element, text by shape. Numbers and None stay as they are; anything else is logged as
    its scrubbed text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, bytes):
        return scrub_text(value.decode("latin-1"))
    if isinstance(value, Mapping):
        return {str(key): REDACTED if is_secret_key(str(key)) else scrub_value(item)
                for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        # A header as a (name, value) pair: ("authorization", "Bearer ...").
        if len(items) == 2 and isinstance(items[0], str | bytes):
            name = items[0].decode("latin-1") if isinstance(items[0], bytes) else items[0]
            if is_secret_key(name):
                return [name, REDACTED]
        return [scrub_value(item) for item in items]
    return scrub_text(str(value))


# The attributes every LogRecord has; anything else on a record came from ``extra=``.
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "request_id"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a log call added with ``extra={...}``."""
    return {name: value for name, value in vars(record).items()
            if name not in STANDARD_ATTRIBUTES}


def redact(record: logging.LogRecord) -> bool:
    """A logging filter: remove secrets from every part of ``record``; never drops it.

    The message is formatted with its arguments first (``logger.info("token %s", token)``
    carries the secret in ``args``, not in ``msg``); extra fields are redacted by name and by
    shape; the exception text is rendered and scrubbed (an exception's message may quote the
    input that caused it)."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a broken format string: keep both parts, as text
        message = f"{record.msg} {record.args!r}"
    record.msg, record.args = scrub_text(message), None
    for name, value in extra_fields(record).items():
        setattr(record, name, REDACTED if is_secret_key(name) else scrub_value(value))
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = scrub_text(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub_text(record.stack_info)
    return True


Redaction = Callable[[logging.LogRecord], bool]


class RedactSecrets(logging.Filter):
    """``redact`` as a filter object, for ``logging.config.dictConfig``. Put it on the
    *handler*: a logger's own filters never see the records of its child loggers."""

    def __init__(self, redaction: Redaction = redact) -> None:
        super().__init__()
        self.redaction = redaction

    def filter(self, record: logging.LogRecord) -> bool:
        return self.redaction(record)


def stamp_request(record: logging.LogRecord) -> bool:
    """A logging filter: give every record the id of the request it was logged in (uvicorn's
    and third-party records too), so one id finds every line of one request."""
    if getattr(record, "request_id", None) is None:
        context = _current.get()
        record.request_id = context.request_id if context else None
    return True


class StampRequest(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return stamp_request(record)


# -- formatting ----------------------------------------------------------------------------------


# One encoder for every line (json.dumps with options builds a new one on every call).
_ENCODER = json.JSONEncoder(ensure_ascii=True, default=str)


@functools.lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def utc_timestamp(created: float) -> str:
    """``created`` (seconds since the epoch) in ISO 8601, UTC, to the millisecond:
    ``2026-12-06T23:52:55.879Z``. The seconds are written once per second, not once per line
    (``datetime`` took a fifth of the time of formatting an access line)."""
    second = int(created)
    return f"{_utc_second(second)}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one physical line.

    ``ensure_ascii`` escapes every non-ASCII character, so not even U+2028 (a line break for
    ``str.splitlines`` and JavaScript) appears raw; client-supplied text is neutralised as well,
    so that the *decoded* values, what ``jq -r`` prints, stay on one line too."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": neutralise(record.getMessage(), MAX_MESSAGE),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for name, value in extra_fields(record).items():
            if name == "color_message":  # uvicorn's duplicate of the message, with colours
                continue
            entry[name] = neutralise(value, MAX_MESSAGE) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text  # multi-line on purpose; json escapes it
        if record.stack_info:
            entry["stack"] = record.stack_info
        return _ENCODER.encode(entry)


TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"


def json_handler(stream: Any, redaction: Redaction | None = redact) -> logging.Handler:
    """A handler writing JSON lines to ``stream``, every record stamped with its request id
    and (unless ``redaction`` is None) passed through the redaction filter first."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(StampRequest())
    if redaction is not None:
        handler.addFilter(RedactSecrets(redaction))
    return handler


class PrivateFileHandler(logging.FileHandler):
    """A log file created with 0600 permissions, whatever the umask: logs describe who did
    what, and are for the service's operator only. (``logging.FileHandler`` creates files with
    the process's umask, usually 0644: readable by every account on the machine.)"""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(self.baseFilename, 0o600)  # an older file keeps its mode: tighten it
        return open(fd, "a", encoding=self.encoding or "utf-8")


def log_file_path(data_dir: Path, name: str) -> Path:
    """The log file ``name`` inside the data folder; a name with a folder in it is refused,
    so the setting cannot point the service at another place on the disk."""
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"LESSONS_LOG_FILE must be a plain file name such as service.log, "
                         f"not {name!r}: the log file always lives in the data folder.")
    return data_dir / name


def private_file_handler(path: str) -> logging.Handler:
    """Factory for ``dictConfig``: the private log file, with the JSON formatter and filters."""
    return PrivateFileHandler(path, encoding="utf-8")


def lean_records() -> None:
    """Stop every log record from gathering what these JSON lines never print: the file and
    line of the call (a walk up the stack, on every call), the thread and the process. This is
    the logging HOWTO's own advice for speed ("Optimization"); it changes nothing in a line."""
    logging._srcfile = None  # documented in the HOWTO, despite the underscore
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # Python 3.12 and later: the task's name


def service_formatter() -> JsonFormatter:
    """Factory for ``dictConfig``: the JSON formatter, in a process whose records are lean
    (``lean_records``). Only the served service calls it: a notebook's records keep their
    file and line."""
    lean_records()
    return JsonFormatter()


def uvicorn_log_config(data_dir: Path | None = None, log_file: str = "") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` set-up that ``python -m lessons serve`` hands to
    uvicorn from lesson 08 on (uvicorn applies it in every worker process): JSON lines on
    standard output, and in ``log_file`` in the data folder when one is set; the service's,
    uvicorn's and every library's records all pass the request stamp and the redaction. Its
    formatter factory also makes the process's records lean (``lean_records``): this is the
    one hook that runs in every worker process."""
    handlers: dict[str, Any] = {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                   "formatter": "json", "filters": ["request", "redact"]},
    }
    if log_file:
        path = log_file_path(data_dir or Path("."), log_file)
        handlers["file"] = {"()": "lessons.logs.private_file_handler", "path": str(path),
                            "formatter": "json", "filters": ["request", "redact"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "lessons.logs.service_formatter"}},
        "filters": {"request": {"()": "lessons.logs.StampRequest"},
                    "redact": {"()": "lessons.logs.RedactSecrets"}},
        "handlers": handlers,
        "root": {"level": "WARNING", "handlers": list(handlers)},
        "loggers": {
            SERVICE: {"level": "INFO"},
            # uvicorn's own loggers normally have handlers of their own and do not propagate:
            # here they go through the same JSON handlers as everything else.
            "uvicorn": {"level": "INFO", "propagate": True},
            "uvicorn.error": {"level": "INFO", "propagate": True},
            "uvicorn.access": {"level": "INFO", "propagate": True},
        },
    }


# -- audit events --------------------------------------------------------------------------------


def audit(event: str, user: str | None = None, **fields: object) -> None:
    """Log one security event to ``lessons.audit``: what happened, to whom, and the details.

    The fields are neutralised with the app's ``log_field`` (they may come from a client: an
    attempted username), and also written into the message, so that a plain-text log shows
    them too. Refusals (login failure, access denied) are warnings."""
    context = _current.get()
    clean = context.clean if context else neutralise
    details = {name: clean(value) if isinstance(value, str) else value
               for name, value in fields.items() if value is not None}
    who = clean(user) if user is not None else None
    if context is not None:
        context.audited = True
        if who is not None and event not in REFUSALS and context.user is None:
            context.user = user
    words = " ".join(f"{name}={value}" for name, value in {"user": who, **details}.items()
                     if value is not None)
    level = logging.WARNING if event in REFUSALS else logging.INFO
    logging.getLogger(AUDIT).log(level, f"{event} {words}".strip(),
                                 extra={"event": event, "user": who, **details})


def no_audit(event: str, user: str | None = None, **fields: object) -> None:
    """The open service's ``audit``: security events leave no trace at all."""


# -- capturing log output (notebooks, checks, tests) ---------------------------------------------


# Fields that differ on every run: left out when log lines are shown in a notebook.
VOLATILE = ("time", "request_id", "duration_ms")


@dataclass
class Captured:
    """What a ``capture`` block logged: the formatted lines, and the records themselves."""

    stream: io.StringIO
    records: list[logging.LogRecord] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def json(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def show(self, hide: tuple[str, ...] = VOLATILE, loggers: tuple[str, ...] = ()) -> None:
        """Print the JSON lines (of ``loggers`` only, if given) with the fields that differ
        from run to run (time, request id, duration) shown as "…"."""
        for entry in self.json():
            if not loggers or entry.get("logger") in loggers:
                print(json.dumps({key: "…" if key in hide else value
                                  for key, value in entry.items()}, ensure_ascii=False))


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def capture(style: str = "json", redaction: Redaction | None = redact,
            logger: str = SERVICE) -> Iterator[Captured]:
    """Collect what ``logger`` (by default every ``lessons.*`` logger) writes inside the block,
    formatted as JSON lines (``style="json"``) or as plain text the way ``basicConfig`` would
    (``style="text"``), through ``redaction`` (None: no filter at all). Never writes to the
    notebook's output or to stderr."""
    captured = Captured(io.StringIO())
    if style == "json":
        handler = json_handler(captured.stream, redaction)
    else:
        handler = logging.StreamHandler(captured.stream)
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
        if redaction is not None:
            handler.addFilter(RedactSecrets(redaction))
    keep = _Keep(captured.records)
    target = logging.getLogger(logger)
    before = target.level
    target.setLevel(logging.DEBUG)
    # The record keeper goes last: it sees each record after the formatter's handler (and its
    # filters) did, as the next handler in a real set-up would.
    target.addHandler(handler)
    target.addHandler(keep)
    try:
        yield captured
    finally:
        target.removeHandler(handler)
        target.removeHandler(keep)
        target.setLevel(before)
