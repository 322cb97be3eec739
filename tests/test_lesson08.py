"""Lesson 08: every attack really works on the lesson-07 service (and on the naive variants)
and really fails on the reference layer; the checks pass the solution and the reference, call
the stubs not attempted, and fail plausible wrong answers; the middleware, the handlers, the
logging set-up and the served service behave as the notebook says; a schema-driven fuzzer
finds no 5xx; and the suite-wide log scan (tests/conftest.py) can really fail."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from helpers import run_cli, serving
from logscan import LeakScan
from starlette.datastructures import MutableHeaders

from lessons import errors, logs
from lessons.attacks import Account, new_password, seed
from lessons.attacks import lesson08 as attacks
from lessons.attacks.lesson03 import bearer, login
from lessons.checks import FAILED, PASSED
from lessons.checks.lesson08 import REFERENCE, suite
from lessons.layers import Layers

NOTEBOOK = "08_errors_logging.ipynb"
BEFORE = 7


# -- the attacks: they work on lesson 07 (and the naive variants) and fail on lesson 08 ----------


@pytest.mark.parametrize(("upto", "succeeds"), [(BEFORE, True), (8, False)])
def test_a_huge_note_id_shows_a_stack_trace_only_before(make_app, upto, succeeds) -> None:
    app = make_app(upto)
    app.debug = True  # the misconfiguration: debug mode left on
    with attacks.stage(app) as (client, _, token):
        result = attacks.run_stack_trace(client, f"/notes/{attacks.HUGE_NOTE_ID}",
                                         bearer(token))
        answer = client.get(f"/notes/{attacks.HUGE_NOTE_ID}", headers=bearer(token))
    assert result.succeeded is succeeds, result
    # Lesson 07 fails with a 500; lesson 08 bounds the id, so it is an ordinary 422.
    assert answer.status_code == (500 if succeeds else 422)


@pytest.mark.parametrize(("upto", "overrides", "succeeds"), [
    (BEFORE, {}, True),
    (8, {"error_response": errors.error_details}, True),  # the catch-all that echoes str(exc)
    (8, {}, False),
])
def test_a_database_error_reaches_the_client_only_without_the_layer(make_app, upto, overrides,
                                                                    succeeds) -> None:
    app = make_app(upto, **overrides)
    app.debug = True
    attacks.break_comments_table(app)
    with attacks.stage(app) as (client, _, _token):
        result = attacks.run_stack_trace(client, "/comments")
    assert result.succeeded is succeeds, result


@pytest.mark.parametrize(("upto", "succeeds"), [(BEFORE, True), (8, False)])
def test_a_422_echoes_the_password_only_before(make_app, upto, succeeds) -> None:
    with TestClient(make_app(upto)) as client:
        assert attacks.run_echo_password(client, "carol-demo-passphrase").succeeded is succeeds


@pytest.mark.parametrize(("upto", "debug_log", "style", "redaction", "succeeds"), [
    (BEFORE, True, "text", None, True),  # the debug request log, in a basicConfig-style log
    (8, True, "text", None, True),  # the same naive middleware is still a leak without a filter
    (8, True, "json", logs.redact, False),  # the redaction filter catches what it writes
    (8, False, "text", None, False),  # and the service itself never logs a secret at all
])
def test_secrets_in_the_logs(make_app, upto, debug_log, style, redaction, succeeds) -> None:
    app = make_app(upto)
    if debug_log:
        attacks.with_debug_log(app)
    result = attacks.run_secrets_in_logs(app, style, redaction)
    assert result.succeeded is succeeds, result


@pytest.mark.parametrize(("upto", "overrides", "debug_log", "style", "succeeds"), [
    (BEFORE, {}, True, "text", True),  # the debug log writes the decoded path as it is
    (8, {"log_field": logs.as_is}, False, "text", True),  # username and path unneutralised
    (8, {}, False, "text", False),
    (8, {}, False, "json", False),
])
def test_forged_log_lines(make_app, upto, overrides, debug_log, style, succeeds) -> None:
    app = make_app(upto, **overrides)
    if debug_log:
        attacks.with_debug_log(app)
    result = attacks.run_forge_log_line(app, style, logs.redact)
    assert result.succeeded is succeeds, result


@pytest.mark.parametrize(("upto", "overrides", "succeeds"), [
    (BEFORE, {}, True), (8, {"audit": logs.no_audit}, True), (8, {}, False)])
def test_refusals_leave_a_trace_only_with_the_layer(make_app, upto, overrides, succeeds) -> None:
    assert attacks.run_no_trace(make_app(upto, **overrides)).succeeded is succeeds


# -- the checks ------------------------------------------------------------------------------------


def everything_500(request_id: str, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": "Internal Server Error", "request_id": request_id}, 500)


def exception_text(request_id: str, error: Exception) -> JSONResponse:
    status = getattr(error, "status_code", 500)
    return JSONResponse({"detail": str(getattr(error, "detail", error))}, status,
                        headers=getattr(error, "headers", None))


def drops_headers(request_id: str, error: Exception) -> JSONResponse:
    if getattr(error, "status_code", 500) < 500:
        return JSONResponse({"detail": error.detail}, error.status_code)  # type: ignore[attr-defined]
    return errors.generic_500(request_id)  # type: ignore[return-value]


def fastapi_default(errs):  # FastAPI's own 422 body: the input stays
    return errors.all_error_fields(errs)


def drops_only_password_inputs(errs):
    return [{k: v for k, v in e.items() if not (k == "input" and e["loc"][-1] == "password")}
            for e in errs]


def message_only(record: logging.LogRecord) -> bool:
    record.msg = logs.scrub_text(str(record.msg))
    return True


def formatted_message_only(record: logging.LogRecord) -> bool:
    record.msg, record.args = logs.scrub_text(record.getMessage()), None
    return True


def no_exception_text(record: logging.LogRecord) -> bool:
    record.msg, record.args = logs.scrub_text(record.getMessage()), None
    for name, value in logs.extra_fields(record).items():
        setattr(record, name, logs.REDACTED if logs.is_secret_key(name)
                else logs.scrub_value(value))
    return True


def drops_the_record(record: logging.LogRecord) -> bool:
    return False


def strips_newlines(value: str, limit: int = logs.MAX_FIELD) -> str:
    return value.replace("\n", "")[:limit]


def escapes_cr_lf_only(value: str, limit: int = logs.MAX_FIELD) -> str:
    return value.replace("\r", "\\r").replace("\n", "\\n")[:limit]


def no_limit(value: str, limit: int = logs.MAX_FIELD) -> str:
    return logs.neutralise(value, limit=10**9)


@pytest.mark.parametrize(("wrong", "failing"), [
    ({"error_response": everything_500}, ["error_response keeps a 4xx's status, headers and "
                                          "detail",
                                          "in your service, 401 keeps its challenge and 403 and "
                                          "404 stay apart"]),
    ({"error_response": exception_text}, ["error_response makes every 5xx generic, with the "
                                          "request id",
                                          "a real 500 in your service shows nothing but its "
                                          "request id"]),
    ({"error_response": drops_headers}, ["error_response keeps a 4xx's status, headers and "
                                         "detail",
                                         "in your service, 401 keeps its challenge and 403 and "
                                         "404 stay apart"]),
    ({"error_response": errors.one_message_for_all},
     ["error_response keeps a 4xx's status, headers and detail"]),
    ({"public_errors": fastapi_default}, ["public_errors keeps type, loc and msg, and drops "
                                          "every input",
                                          "your service's 422 never echoes a password"]),
    ({"public_errors": drops_only_password_inputs},
     ["public_errors keeps type, loc and msg, and drops every input",
      "your service's 422 never echoes a password"]),
    ({"redact": message_only}, ["redact cleans the message and its arguments",
                                "redact cleans extra fields",
                                "secrets in logs: the attack fails with your filter"]),
    ({"redact": formatted_message_only}, ["redact cleans extra fields",
                                          "redact cleans exception text"]),
    ({"redact": no_exception_text}, ["redact cleans exception text"]),
    ({"redact": drops_the_record}, ["redact cleans the message and its arguments"]),
    ({"neutralise": strips_newlines}, ["neutralise escapes line breaks and every other control "
                                       "character",
                                       "forged log lines: the attack fails with your "
                                       "neutraliser"]),
    ({"neutralise": escapes_cr_lf_only}, ["neutralise escapes line breaks and every other "
                                          "control character"]),
    ({"neutralise": no_limit}, ["neutralise escapes line breaks and every other control "
                                "character"]),
])
def test_checks_fail_plausible_wrong_answers(wrong: dict[str, Any], failing: list[str]) -> None:
    report = suite.run(record=False, **{**REFERENCE, **wrong})
    for name in failing:
        assert report.status_of(name) == FAILED, str(report)
    assert report.count(PASSED) >= 5, str(report)


# -- the layer's own behaviour ---------------------------------------------------------------------


def test_layers_of_lesson_08() -> None:
    before, after = Layers.upto(BEFORE), Layers.upto(8)
    assert before.error_response is errors.error_details and before.audit is logs.no_audit
    assert after.error_response is errors.error_response
    assert after.public_errors is errors.public_errors
    assert after.log_field is logs.neutralise and after.audit is logs.audit


def test_every_answer_carries_a_fresh_request_id(make_app) -> None:
    app = make_app(8)
    attacks.break_comments_table(app)
    with attacks.stage(app) as (client, _, token):
        answers = [client.get("/health"), client.get("/nope"), client.post("/health"),
                   client.get("/users/me"), client.get("/admin/users", headers=bearer(token)),
                   client.post("/users", json={}), client.get("/comments"),
                   client.post("/notes", headers=bearer(token), content=b"x" * 70_000),
                   client.get("/health", headers={"X-Request-ID": "chosen-by-the-client"})]
    statuses = [answer.status_code for answer in answers]
    assert statuses == [200, 404, 405, 401, 403, 422, 500, 413, 200]
    ids = [answer.headers.get("x-request-id", "") for answer in answers]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids) and len(set(ids)) == len(ids)
    assert answers[6].json() == {"detail": "Internal Server Error", "request_id": ids[6]}


def test_the_access_log_line(make_app) -> None:
    app = make_app(8)
    with attacks.stage(app) as (client, _, token), logs.capture() as captured:
        client.get("/notes/search", params={"q": "plans", "access_token": token},
                   headers={**bearer(token), "X-Request-ID": "client-trace-0001"})
        client.get("/health", headers={"X-Request-ID": "not ok\nforged"})
    first, second = [e for e in captured.json() if e["logger"] == logs.ACCESS]
    assert {k: first[k] for k in ("method", "path", "status", "user", "client",
                                  "client_request_id")} == {
        "method": "GET", "path": "/notes/search", "status": 200, "user": attacks.ATTACKER,
        "client": "testclient", "client_request_id": "client-trace-0001"}
    assert first["request_id"] != "client-trace-0001" and first["duration_ms"] >= 0
    assert "access_token" not in captured.text and "plans" not in captured.text  # no query
    assert "client_request_id" not in second  # malformed: dropped, not cleaned up


def test_the_500_is_logged_with_its_traceback_under_the_same_id(make_app) -> None:
    app = make_app(8)
    attacks.break_comments_table(app)
    with attacks.stage(app) as (client, _, _), logs.capture() as captured:
        answer = client.get("/comments")
    [failure] = [e for e in captured.json() if e["logger"] == logs.ERRORS]
    assert failure["request_id"] == answer.headers["x-request-id"] == answer.json()["request_id"]
    assert "OperationalError" in failure["exception"] and "Traceback" in failure["exception"]
    assert "OperationalError" not in answer.text


class AddsRequestIdOnly:
    """A middleware that adds the header to every answer that passes through it, and catches
    nothing."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Request-ID", "0" * 32)
            await send(message)

        await self.app(scope, receive, send_with_header)


def _failing_app(middleware: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(middleware)
    app.add_exception_handler(Exception, lambda request, error: JSONResponse(
        {"detail": "Internal Server Error"}, 500))

    @app.get("/fail")
    def fail() -> None:
        raise RuntimeError("boom")

    return app


def test_starlettes_500_never_passes_through_user_middleware() -> None:
    """Why RequestLog answers the 500 itself: the handler registered for Exception runs in
    Starlette's outermost middleware, so its answer skips every user middleware."""
    with TestClient(_failing_app(AddsRequestIdOnly), raise_server_exceptions=False) as client:
        answer = client.get("/fail")
    assert answer.status_code == 500 and "x-request-id" not in answer.headers
    with TestClient(_failing_app(errors.RequestLog), raise_server_exceptions=False) as client:
        answer = client.get("/fail")
    assert answer.status_code == 500
    assert answer.json() == {"detail": "Internal Server Error",
                             "request_id": answer.headers["x-request-id"]}


def test_an_error_after_the_answer_began_is_not_masked() -> None:
    """Once the status line is sent, the answer cannot change: the middleware logs the error
    and lets the server close the connection."""
    from starlette.responses import StreamingResponse

    app = FastAPI()
    app.add_middleware(errors.RequestLog)

    def chunks():
        yield b"first part"
        raise RuntimeError("broken halfway")

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(chunks())

    with logs.capture() as captured, TestClient(app) as client, \
            pytest.raises(RuntimeError, match="broken halfway"):
        client.get("/stream")
    assert any(e["logger"] == logs.ERRORS for e in captured.json())


def test_audit_events_of_the_token_routes_and_refusals(make_app) -> None:
    app = make_app(8)
    people = seed(app, Account("alice", new_password()), notes_each=0)
    with TestClient(app) as client, logs.capture() as captured:
        token = login(client, people["alice"])
        client.post("/auth/token", data={"username": "alice", "password": "wrong-guess-1"})
        client.get("/basic/me", auth=("alice", "wrong-guess-2"))
        client.get("/admin/users", headers=bearer(token))
        client.post("/auth/logout", headers=bearer(token))
    events = [(e["event"], e.get("user"), e.get("status")) for e in captured.json()
              if e["logger"] == logs.AUDIT]
    assert events == [("login.success", "alice", None), ("login.failure", "alice", None),
                      ("login.failure", "alice", None), ("access.denied", "alice", 403),
                      ("logout", "alice", None)]
    assert "wrong-guess" not in captured.text


def test_audit_events_of_the_session_routes(make_app) -> None:
    app = make_app(8)
    people = seed(app, Account("alice", new_password()), notes_each=0)
    # https: the session cookie is Secure, so the client sends it back only over HTTPS.
    with TestClient(app, base_url="https://testserver") as client, \
            logs.capture() as captured:
        client.post("/session/login", data={"username": "alice", "password": "wrong-guess-3"})
        login_answer = client.post("/session/login", data={"username": "alice",
                                                           "password": people["alice"].password})
        assert login_answer.status_code == 204
        client.post("/session/logout", headers={"X-CSRF-Token":
                                                login_answer.headers["X-CSRF-Token"]})
    events = [(e["event"], e.get("user"), e.get("method")) for e in captured.json()
              if e["logger"] == logs.AUDIT]
    assert events == [("login.failure", "alice", "session"), ("login.success", "alice", "session"),
                      ("logout", "alice", "session")]


def test_a_log_line_is_one_physical_line_whatever_the_text() -> None:
    stream = io.StringIO()
    log = logging.getLogger("lessons.test-one-line")
    handler = logs.json_handler(stream)
    log.addHandler(handler)
    try:
        log.warning("a\u2028b\x85c\nd", extra={"field": "e\rf\u202eg"})
    finally:
        log.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "a\\u2028b\\u0085c\\nd" and entry["field"] == "e\\rf\\u202eg"


def test_neutralise() -> None:
    assert logs.neutralise("alice\r\nINFO x") == "alice\\r\\nINFO x"
    assert logs.neutralise("\x1b[31mred") == "\\u001b[31mred"
    assert logs.neutralise("Élodie 名前") == "Élodie 名前"
    assert logs.neutralise("A" * 500) == "A" * logs.MAX_FIELD + "…"


@pytest.mark.parametrize(("text", "kept"), [
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", "Authorization"),
    ("username=alice&password=p%40ss-demo&scope=", "username=alice"),
    ('{"username": "alice", "password": "demo pass"}', '"username": "alice"'),
    ("Cookie: __Host-session=abc.def; theme=dark", "theme=dark"),
    ("Basic YWxpY2U6ZGVtby1wYXNz", "Basic"),
])
def test_scrub_text(text: str, kept: str) -> None:
    scrubbed = logs.scrub_text(text)
    assert logs.REDACTED in scrubbed and kept in scrubbed
    assert not any(secret in scrubbed for secret in
                   ("eyJhbGci", "p%40ss", "demo pass", "abc.def", "YWxpY2U6"))


def test_a_private_log_file(tmp_path: Path) -> None:
    os.umask(0o022)
    path = logs.log_file_path(tmp_path, "service.log")
    handler = logs.private_file_handler(str(path))
    handler.setFormatter(logs.JsonFormatter())
    handler.emit(logging.LogRecord("lessons.test", logging.INFO, __file__, 1, "hello", (), None))
    handler.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["message"] == "hello"
    for bad in ("../service.log", "/var/log/x.log", "logs/service.log", ".."):
        with pytest.raises(ValueError, match="plain file name"):
            logs.log_file_path(tmp_path, bad)


# -- the suite-wide log scan can fail --------------------------------------------------------------


def _log_into(scan: LeakScan, redaction: logs.Redaction | None, password: str,
              token: str) -> list[str]:
    log = logging.getLogger("tests.deliberate-leak")
    log.propagate = False  # a deliberate leak: it must not reach the suite's own scan
    handler = scan.handler(redaction)
    log.addHandler(handler)
    try:
        log.warning("request", extra={"headers": {"authorization": f"Bearer {token}"}})
        log.warning("login %s with %s", "alice", password)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    return scan.leaks()


def test_the_log_scan_catches_a_secret_logged_without_the_filter() -> None:
    password, token = new_password(), "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
    unfiltered = LeakScan()
    unfiltered.remember_password(password)
    leaks = _log_into(unfiltered, None, password, token)
    assert len(leaks) == 2 and "a JWT" in leaks[0] and "seeded account" in leaks[1], leaks
    assert password not in "".join(leaks)  # the report names the kind, never the secret
    # Through the filter the token goes, being shaped like one; a bare password does not:
    # nothing can tell it from another word. That is why the service never logs one at all.
    filtered = LeakScan()
    filtered.remember_password(password)
    leaks = _log_into(filtered, logs.redact, password, token)
    assert len(leaks) == 1 and "seeded account" in leaks[0], leaks


def test_the_suite_wide_scan_is_watching(no_secret_in_any_log_line: LeakScan, make_app) -> None:
    scan = no_secret_in_any_log_line
    before = len(scan.lines)
    app = make_app(8)
    with attacks.stage(app) as (client, people, token):
        client.get("/users/me", headers=bearer(token))
    assert len(scan.lines) > before
    assert people[attacks.ATTACKER].password in scan.passwords


# -- the served service: JSON lines, a private log file, and a fuzzer that finds no 5xx ------------


def _add_admin(env: dict[str, str], password: str) -> None:
    added = run_cli("users", "add", "ada", "--role", "admin", stdin=password + "\n", env=env)
    assert added.returncode == 0, added.stderr


def _token(url: str, password: str) -> str:
    response = httpx2.post(f"{url}/auth/token", data={"username": "ada", "password": password},
                           timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.mark.slow
def test_serve_writes_json_lines_and_a_private_log_file(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "served"
    monkeypatch.setenv("LESSONS_DATA_DIR", str(data))
    monkeypatch.setenv("LESSONS_LOG_FILE", "service.log")
    password = new_password()
    _add_admin(os.environ.copy(), password)
    with serving("--lesson", "8") as server:
        token = _token(server.url, password)
        httpx2.get(f"{server.url}/users/me", headers=bearer(token), timeout=10)
        httpx2.post(f"{server.url}/auth/token", data={"username": "ada", "password": "wrong"},
                    timeout=30)
    output = server.output
    lines = [line for line in output.splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    assert {e["logger"] for e in entries} >= {"uvicorn.error", logs.ACCESS, logs.AUDIT}
    assert [e["event"] for e in entries if e["logger"] == logs.AUDIT] == \
        ["login.success", "login.failure"]
    log_file = data / "service.log"
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert log_file.read_text().splitlines() == lines
    scan = LeakScan()
    scan.remember_password(password)
    scan.stream.write(output)
    assert token not in output and not scan.leaks()


def _fuzz(url: str, token: str, workdir: Path, seconds: int) -> dict[str, Any]:
    report = workdir / "report.json"
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
               "--checks", "not_a_server_error", "--max-time", str(seconds), "--seed", "8",
               "--workers", "1", "--generation-database", "none", "--no-color",
               "--header", f"Authorization: Bearer {token}",
               # Logging out would revoke the token the fuzzer authenticates with.
               "--exclude-path", "/auth/logout",
               "--report", "json", "--report-json-path", str(report)]
    run = subprocess.run(command, cwd=workdir, capture_output=True, text=True,
                         timeout=seconds + 120)
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(report.read_text())
    result["output"] = run.stdout
    return result


@pytest.mark.slow
def test_a_schema_driven_fuzzer_finds_no_5xx(tmp_path: Path, monkeypatch) -> None:
    """schemathesis against /openapi.json of the lesson-08 service, with an admin's bearer
    token so that it reaches the protected routes too."""
    seconds = 45
    password = new_password()
    began = time.monotonic()
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path / "served"))
    _add_admin(os.environ.copy(), password)
    with serving("--lesson", "8") as server:
        result = _fuzz(server.url, _token(server.url, password), tmp_path, seconds)
    server_output = server.output
    figures = (f"fuzz: {result['operations']['tested']} operations, "
               f"{result['test_cases']['generated']} cases, "
               f"{result['test_cases']['with_failures']} failing, "
               f"{time.monotonic() - began:.0f} s")
    print(figures)  # shown with pytest -s
    assert result["operations"]["tested"] >= 15, figures
    assert result["test_cases"]["generated"] >= 200, figures
    assert result["failures"] == [] and result["exit_code"] == 0, \
        figures + "\n" + result["output"][-4000:]
    scan = LeakScan()
    scan.remember_password(password)
    scan.stream.write(server_output)
    assert not scan.leaks()
