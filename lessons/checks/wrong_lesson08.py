"""Near misses for the lesson-08 exercises: what a learner who gets it almost right writes.

Each breaks one rule of ``lessons.checks.lesson08.RULES`` and must fail exactly the checks its
``WrongAnswer`` names (``tests/test_check_suites.py``). They are written the way the reference
is, with one thing wrong: a case missing, a field too many, a boundary off by one, a class too
narrow, a forgotten ``return``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import HTTPException as FastAPIHTTPException
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from lessons import errors, logs
from lessons.checks import WrongAnswer
from lessons.identity import unauthorized
from lessons.store import UnknownUser

GENERIC = errors.GENERIC_DETAIL

# -- error_response ------------------------------------------------------------------------------


def _generic(request_id: str, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 500
    return JSONResponse({"detail": GENERIC, "request_id": request_id}, status_code=status)


def _as_account_gone(error: Exception) -> Exception:
    if isinstance(error, UnknownUser):
        return unauthorized(errors.ACCOUNT_GONE, "Bearer")
    return error


def everything_500(request_id: str, error: Exception) -> Response:
    """Hides everything, 4xx included: the errata's mistake, with a request id."""
    return JSONResponse({"detail": GENERIC, "request_id": request_id}, status_code=500)


def hides_403_as_404(request_id: str, error: Exception) -> Response:
    """"Never reveal that something exists": every 403 becomes a 404."""
    error = _as_account_gone(error)
    if isinstance(error, HTTPException) and error.status_code < 500:
        status = 404 if error.status_code == 403 else error.status_code
        return JSONResponse({"detail": error.detail}, status_code=status, headers=error.headers)
    return _generic(request_id, error)


def drops_headers(request_id: str, error: Exception) -> Response:
    error = _as_account_gone(error)
    if isinstance(error, HTTPException) and error.status_code < 500:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code)
    return _generic(request_id, error)


def challenge_only(request_id: str, error: Exception) -> Response:
    """Keeps WWW-Authenticate, and only that."""
    error = _as_account_gone(error)
    if isinstance(error, HTTPException) and error.status_code < 500:
        challenge = (error.headers or {}).get("WWW-Authenticate")
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers={"WWW-Authenticate": challenge} if challenge else None)
    return _generic(request_id, error)


def detail_as_text(request_id: str, error: Exception) -> Response:
    """``str(error.detail)``, "to be safe": a structured detail turns into its repr."""
    error = _as_account_gone(error)
    if isinstance(error, HTTPException) and error.status_code < 500:
        return JSONResponse({"detail": str(error.detail)}, status_code=error.status_code,
                            headers=error.headers)
    return _generic(request_id, error)


def fastapi_class_only(request_id: str, error: Exception) -> Response:
    """Tests for FastAPI's HTTPException: Starlette's own (the router's 404 and 405) is not."""
    error = _as_account_gone(error)
    if isinstance(error, FastAPIHTTPException) and error.status_code < 500:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=error.headers)
    status = error.status_code if isinstance(error, FastAPIHTTPException) else 500
    return JSONResponse({"detail": GENERIC, "request_id": request_id}, status_code=status)


def exception_text(request_id: str, error: Exception) -> Response:
    """The 5xx body says what went wrong, "to help debugging"."""
    error = _as_account_gone(error)
    if isinstance(error, HTTPException) and error.status_code < 500:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=error.headers)
    status = error.status_code if isinstance(error, HTTPException) else 500
    return JSONResponse({"detail": f"{type(error).__name__}: {error}",
                         "request_id": request_id}, status_code=status)


def keeps_500_detail(request_id: str, error: Exception) -> Response:
    """Off by one: ``<= 500`` keeps the detail of an HTTPException(500, ...)."""
    error = _as_account_gone(error)
    if isinstance(error, HTTPException) and error.status_code <= 500:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=error.headers)
    return _generic(request_id, error)


def fresh_request_id(request_id: str, error: Exception) -> Response:
    """Makes a request id of its own instead of using the one it was given."""
    error = _as_account_gone(error)
    if isinstance(error, HTTPException) and error.status_code < 500:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=error.headers)
    return _generic(errors.new_request_id(), error)


def no_request_id(request_id: str, error: Exception) -> Response:
    error = _as_account_gone(error)
    if isinstance(error, HTTPException) and error.status_code < 500:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=error.headers)
    status = error.status_code if isinstance(error, HTTPException) else 500
    return JSONResponse({"detail": GENERIC}, status_code=status)


def always_500(request_id: str, error: Exception) -> Response:
    """Every 5xx becomes a 500: a 503's "come back later" is lost."""
    error = _as_account_gone(error)
    if isinstance(error, HTTPException) and error.status_code < 500:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=error.headers)
    return JSONResponse({"detail": GENERIC, "request_id": request_id}, status_code=500)


def no_account_case(request_id: str, error: Exception) -> Response:
    """The answer before the foreign-key race was known: store.UnknownUser is a 500."""
    if isinstance(error, HTTPException) and error.status_code < 500:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=error.headers)
    return _generic(request_id, error)


def account_gone_404(request_id: str, error: Exception) -> Response:
    """The account is not found, so 404."""
    if isinstance(error, UnknownUser):
        return JSONResponse({"detail": "Not found"}, status_code=404)
    return errors.error_response(request_id, error)


def account_gone_no_challenge(request_id: str, error: Exception) -> Response:
    if isinstance(error, UnknownUser):
        return JSONResponse({"detail": errors.ACCOUNT_GONE}, status_code=401)
    return errors.error_response(request_id, error)


# -- public_errors -------------------------------------------------------------------------------

Errors = Sequence[Mapping[str, Any]]


def loc_and_msg_only(errs: Errors) -> list[dict[str, Any]]:
    return [{key: error[key] for key in ("loc", "msg") if key in error} for error in errs]


def drops_only_password_inputs(errs: Errors) -> list[dict[str, Any]]:
    return [{key: error[key] for key in ("type", "loc", "msg", "input") if key in error
             and not (key == "input" and error["loc"][-1] == "password")} for error in errs]


def fastapi_default(errs: Errors) -> list[dict[str, Any]]:
    """FastAPI's own 422 body: every field, input included."""
    return errors.all_error_fields(errs)


def drops_input_only(errs: Errors) -> list[dict[str, Any]]:
    return [{key: value for key, value in error.items() if key != "input"} for error in errs]


def first_error_only(errs: Errors) -> list[dict[str, Any]]:
    """"One message is enough": the client then fixes one field per attempt."""
    return errors.public_errors(errs[:1])


# -- redact --------------------------------------------------------------------------------------


def _extras(record: logging.LogRecord) -> None:
    for name, value in logs.extra_fields(record).items():
        setattr(record, name, logs.REDACTED if logs.is_secret_key(name)
                else logs.scrub_value(value))


def _exception(record: logging.LogRecord) -> None:
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = logs.scrub_text(record.exc_text)


def message_only(record: logging.LogRecord) -> bool:
    """Scrubs ``record.msg``: the arguments, where the secrets are, stay as they were."""
    record.msg = logs.scrub_text(str(record.msg))
    _extras(record)
    _exception(record)
    return True


def args_left(record: logging.LogRecord) -> bool:
    """The formatted message in ``msg``, and the arguments left for a second formatting."""
    record.msg = logs.scrub_text(record.getMessage())
    _extras(record)
    _exception(record)
    return True


def extra_by_name_only(record: logging.LogRecord) -> bool:
    record.msg, record.args = logs.scrub_text(record.getMessage()), None
    for name in logs.extra_fields(record):
        if logs.is_secret_key(name):
            setattr(record, name, logs.REDACTED)
    _exception(record)
    return True


def extra_by_value_only(record: logging.LogRecord) -> bool:
    record.msg, record.args = logs.scrub_text(record.getMessage()), None
    for name, value in logs.extra_fields(record).items():
        setattr(record, name, logs.scrub_value(value))
    _exception(record)
    return True


def no_exception_text(record: logging.LogRecord) -> bool:
    record.msg, record.args = logs.scrub_text(record.getMessage()), None
    _extras(record)
    return True


def exc_text_not_rendered(record: logging.LogRecord) -> bool:
    """Scrubs ``exc_text``, which is still empty: only a formatter fills it in, later."""
    record.msg, record.args = logs.scrub_text(record.getMessage()), None
    _extras(record)
    if record.exc_text:
        record.exc_text = logs.scrub_text(record.exc_text)
    return True


def forgets_return(record: logging.LogRecord) -> bool:
    """Everything right, and no ``return True``: the filter returns None."""
    record.msg, record.args = logs.scrub_text(record.getMessage()), None
    _extras(record)
    _exception(record)
    return None  # type: ignore[return-value]


def returns_false(record: logging.LogRecord) -> bool:
    """Redacts, then returns False, reading a filter's result as "did I find a problem?":
    logging drops every record."""
    record.msg, record.args = logs.scrub_text(record.getMessage()), None
    _extras(record)
    _exception(record)
    return False


def redacts_every_extra(record: logging.LogRecord) -> bool:
    record.msg, record.args = logs.scrub_text(record.getMessage()), None
    for name in logs.extra_fields(record):
        setattr(record, name, logs.REDACTED)
    _exception(record)
    return True


# -- neutralise ----------------------------------------------------------------------------------

ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def strips_newlines(value: str, limit: int = logs.MAX_FIELD) -> str:
    return _cut(value, limit).replace("\n", "")


def escapes_cr_lf_only(value: str, limit: int = logs.MAX_FIELD) -> str:
    return _cut(value, limit).replace("\r", "\\r").replace("\n", "\\n")


def escapes_ascii_controls_only(value: str, limit: int = logs.MAX_FIELD) -> str:
    """Escapes what is below 32 and DEL: NEL, U+2028 and the overrides get through."""
    return "".join(ESCAPES.get(ch) or f"\\u{ord(ch):04x}" if ord(ch) < 32 or ord(ch) == 127
                   else ch for ch in _cut(value, limit))


def deletes_controls(value: str, limit: int = logs.MAX_FIELD) -> str:
    """Removes what is not printable: the log no longer shows that anything was there."""
    return "".join(ch for ch in _cut(value, limit) if ch.isprintable())


def ascii_escapes(value: str, limit: int = logs.MAX_FIELD) -> str:
    """``ascii()`` escapes every control character, and every accent and script with them."""
    return ascii(_cut(value, limit))[1:-1]


def json_quoted(value: str, limit: int = logs.MAX_FIELD) -> str:
    """``json.dumps`` escapes controls, adds quotes, and turns every accent into \\u00e9."""
    return json.dumps(_cut(value, limit))


def no_limit(value: str, limit: int = logs.MAX_FIELD) -> str:
    return logs.neutralise(value, limit=10**9)


def fixed_limit(value: str, limit: int = logs.MAX_FIELD) -> str:
    """Cuts at 200 whatever ``limit`` says."""
    return logs.neutralise(value, limit=logs.MAX_FIELD)


_wrong = WrongAnswer.row


WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    # error_response
    _wrong("errata_one_message", "one generic 500 for every error, 4xx included",
           {"keeps_4xx_status": "came back as 500", "keeps_4xx_headers": "WWW-Authenticate",
            "keeps_4xx_detail": "Keep `error.detail`", "starlette_exceptions": "Starlette's",
            "keeps_5xx_status": "Keep the status of a 5xx", "account_gone": "came back as 500",
            "meaning_in_service": "WWW-Authenticate", "deletion_race": "never a 5xx"},
           error_response=everything_500),
    _wrong("errata_one_message", "the guide's handler: one status and one message for all",
           {"keeps_4xx_status": "came back as 500", "keeps_4xx_headers": "WWW-Authenticate",
            "keeps_4xx_detail": "Keep `error.detail`", "starlette_exceptions": "Starlette's",
            "generic_5xx": "no exception text", "keeps_5xx_status": "Keep the status of a 5xx",
            "account_gone": "came back as 500", "real_500": "request_id",
            "meaning_in_service": "WWW-Authenticate", "deletion_race": "never a 5xx"},
           error_response=errors.one_message_for_all),
    _wrong("status_4xx", "every 403 answered as a 404",
           {"keeps_4xx_status": "HTTPException(403) came back as 404",
            "meaning_in_service": "should stay 403 and 404"},
           error_response=hides_403_as_404),
    _wrong("headers_4xx", "a 4xx without its headers",
           {"keeps_4xx_headers": "lost its WWW-Authenticate",
            "meaning_in_service": "WWW-Authenticate: Bearer challenge",
            "account_gone": "no `WWW-Authenticate: Bearer`"},
           error_response=drops_headers),
    _wrong("headers_4xx", "keeps WWW-Authenticate and no other header",
           {"keeps_4xx_headers": "lost its Allow header"}, error_response=challenge_only),
    _wrong("detail_4xx", "str() of a structured detail",
           {"keeps_4xx_detail": "Keep `error.detail`"}, error_response=detail_as_text),
    _wrong("starlette_class", "tests for FastAPI's HTTPException only",
           {"starlette_exceptions": "test for `starlette.exceptions.HTTPException`"},
           error_response=fastapi_class_only),
    _wrong("generic_5xx", "the exception's name and text in the 5xx body",
           {"generic_5xx": "no exception text, ever", "real_500": "it shows"},
           error_response=exception_text),
    _wrong("generic_5xx", "<= 500 instead of < 500: an HTTPException(500)'s detail kept",
           {"generic_5xx": "an HTTPException of 500 or more"}, error_response=keeps_500_detail),
    _wrong("request_id", "a new request id instead of the one given",
           {"generic_5xx": "<the id you were given>", "real_500": "the id you were given"},
           error_response=fresh_request_id),
    _wrong("request_id", "no request id in the 5xx body",
           {"generic_5xx": "<the id you were given>", "real_500": "the id you were given"},
           error_response=no_request_id),
    _wrong("status_5xx", "every 5xx answered as a 500",
           {"keeps_5xx_status": "came back as 500"}, error_response=always_500),
    _wrong("account_gone", "store.UnknownUser treated as the service's failure (500)",
           {"account_gone": "came back as 500", "deletion_race": "never a 5xx"},
           error_response=no_account_case),
    _wrong("account_gone", "store.UnknownUser answered 404",
           {"account_gone": "not a 404"}, error_response=account_gone_404),
    _wrong("account_gone", "a 401 for store.UnknownUser without a challenge",
           {"account_gone": "no `WWW-Authenticate: Bearer`"},
           error_response=account_gone_no_challenge),
    # public_errors
    _wrong("public_keeps", "type dropped", {"public_fields": "Keep `type`, `loc` and `msg`"},
           public_errors=loc_and_msg_only),
    _wrong("public_no_input", "drops the input of password fields only",
           {"public_no_input": "missing email", "no_echo": "the password is in the answer"},
           public_errors=drops_only_password_inputs),
    _wrong("public_no_input", "FastAPI's default body, every field kept",
           {"public_no_input": "missing email", "public_no_internals": "`ctx` holds internals",
            "no_echo": "the password is in the answer"},
           public_errors=fastapi_default),
    _wrong("public_no_internals", "input dropped, ctx and url kept",
           {"public_no_internals": "still carries ctx, url"}, public_errors=drops_input_only),
    _wrong("public_every_error", "the first error only",
           {"public_every_error": "one entry per error"}, public_errors=first_error_only),
    # redact
    _wrong("redact_message", "scrubs record.msg and not its arguments",
           {"redact_message": "`record.args`, not `record.msg`",
            "redact_attack": "redact the formatted message"},
           redact=message_only),
    _wrong("redact_message", "record.args left for a second formatting",
           {"redact_message": "set `record.args` to None"}, redact=args_left),
    _wrong("redact_extra", "extra fields redacted by name only",
           {"redact_extra": "`logs.scrub_value`"}, redact=extra_by_name_only),
    _wrong("redact_extra", "extra fields scrubbed by value only",
           {"redact_extra": "`logs.is_secret_key`"}, redact=extra_by_value_only),
    _wrong("redact_exception", "the exception text left alone",
           {"redact_exception": "formatException"}, redact=no_exception_text),
    _wrong("redact_exception", "exc_text scrubbed before anything rendered it",
           {"redact_exception": "formatException"}, redact=exc_text_not_rendered),
    _wrong("redact_keeps", "no return: the filter returns None",
           {"redact_keeps": "`return True`"}, redact=forgets_return),
    _wrong("redact_keeps", "returns False: every record dropped",
           {"redact_keeps": "returned False"},
           redact=returns_false),
    _wrong("redact_keeps", "every extra field redacted",
           {"redact_keeps": "harmless extra fields"}, redact=redacts_every_extra),
    # neutralise
    _wrong("neutralise_controls", "removes \\n and nothing else",
           {"neutralise_controls": "survived neutralise",
            "neutralise_escapes": "visible escape",
            "neutralise_attack": "CR included"},
           neutralise=strips_newlines),
    _wrong("neutralise_controls", "escapes CR and LF only",
           {"neutralise_controls": "survived neutralise"}, neutralise=escapes_cr_lf_only),
    _wrong("neutralise_controls", "escapes the ASCII control characters only",
           {"neutralise_controls": "survived neutralise"},
           neutralise=escapes_ascii_controls_only),
    _wrong("neutralise_escapes", "deletes what is not printable",
           {"neutralise_escapes": "visible escape"}, neutralise=deletes_controls),
    _wrong("neutralise_printable", "ascii(): accents and scripts escaped too",
           {"neutralise_printable": "printable already"}, neutralise=ascii_escapes),
    _wrong("neutralise_printable", "json.dumps(): quotes added, accents escaped",
           {"neutralise_printable": "printable already", "audit_trail": "as it went in"},
           neutralise=json_quoted),
    _wrong("neutralise_limit", "no limit at all", {"neutralise_limit": "Cut it to `limit`"},
           neutralise=no_limit),
    _wrong("neutralise_limit", "a fixed limit of 200 whatever `limit` says",
           {"neutralise_limit": "limit=50"}, neutralise=fixed_limit),
)
