"""``python -m lessons``: serve a lesson's app, add users, build the workbook, show progress."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import json
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from lessons import catalog
from lessons.access import ROLES
from lessons.passwords import argon2_hasher
from lessons.settings import ConfigurationError, Settings
from lessons.store import DuplicateUser, Store
from lessons.textfiles import read_text, tolerant_console

if TYPE_CHECKING:
    from lessons.server import BackgroundServer



class UsageError(Exception):
    """A mistake in how the command was called; the message says what to do instead."""


def main(argv: Sequence[str] | None = None) -> int:
    tolerant_console()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (UsageError, ConfigurationError, ValueError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lessons",
        description="The FastAPI Security Workbook: open your notebooks, check your progress, "
                    "serve any lesson's service.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the Notes service as it stands after a lesson")
    serve.add_argument("--lesson", default="final",
                       help=f"0 to {catalog.LAST_READY}, or 'final' (default)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: loopback only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--https", action="store_true",
                       help="serve TLS with the local development certificate (made on first "
                            "use in the data folder; the CA file's path is printed)")
    serve.add_argument("--http-port", type=int, metavar="P",
                       help="with --https, also listen for plain HTTP on port P: page loads are "
                            "redirected to HTTPS, API calls refused")
    serve.set_defaults(run=run_serve)

    users = commands.add_parser("users", help="manage user accounts")
    user_commands = users.add_subparsers(title="user commands", metavar="ACTION", required=True)
    add = user_commands.add_parser(
        "add", help="create a user; the password is read from standard input, never an argument")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="user")
    add.add_argument("--email")
    add.set_defaults(run=run_users_add)

    stack = commands.add_parser(
        "stack", help="show what the service is made of after a lesson: its middleware in "
                      "order, routers, handlers and the seams with the lesson that filled each")
    stack.add_argument("--lesson", default="final",
                       help=f"0 to {catalog.LAST_READY}, or 'final' (default)")
    stack.add_argument("--mermaid", action="store_true",
                       help="print a Mermaid flowchart of a request's way through the stack")
    stack.set_defaults(run=run_stack)

    listing = commands.add_parser("lessons", help="list the lessons and their notebooks")
    listing.set_defaults(run=run_lessons)

    progress = commands.add_parser(
        "progress", help="show, per lesson, your best and latest check results and the "
                         "exercises still open in your notebooks (work/)")
    progress.set_defaults(run=run_progress)

    start = commands.add_parser(
        "start", help="copy the notebooks you do not have yet into work/ (yours, never "
                      "overwritten) and open JupyterLab there")
    start.add_argument("jupyter_options", nargs=argparse.REMAINDER,
                       help="passed on to JupyterLab, e.g. --no-browser --port 8890")
    start.set_defaults(run=run_start)

    bench = commands.add_parser(
        "bench", help="measure what the security layers cost: the finished service and every "
                      "lesson against a bare FastAPI app, side by side (wrk if installed)")
    bench.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    bench.add_argument("--seconds", type=float, default=3.0,
                       help="seconds per measurement (default 3)")
    bench.add_argument("--quick", action="store_true",
                       help="one short round, lesson 00 and the finished service only")
    bench.add_argument("--plot", type=Path, metavar="PNG",
                       help="where to save the plot (default: bench.png in the data folder)")
    bench.set_defaults(run=run_bench)

    doctor = commands.add_parser(
        "doctor", help="check that this machine is ready: Python, packages, tools, Jupyter, a "
                       "free port, the data folder, your notebooks, the service itself")
    doctor.set_defaults(run=run_doctor)

    reset = commands.add_parser(
        "reset", help="start one lesson's notebook over from the repository's version (yours "
                      "is kept in work/backups/)")
    reset.add_argument("lesson", help="the lesson's number, e.g. 02")
    reset.set_defaults(run=run_reset)

    audit = commands.add_parser(
        "audit", help="audit the service's dependencies (requirements-service.lock) against "
                      "the advisory snapshot, then pip-audit")
    audit.add_argument("--offline", action="store_true", help="skip the live pip-audit run")
    audit.set_defaults(run=run_audit)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    lesson = catalog.lesson_number(args.lesson)
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port (1-65535).")
    if args.workers < 1:
        raise UsageError("--workers must be at least 1.")
    if args.http_port is not None:
        if not args.https:
            raise UsageError("--http-port needs --https: the plain-HTTP port sends browsers "
                             "to the HTTPS one.")
        if not 0 < args.http_port < 65536 or args.http_port == args.port:
            raise UsageError(f"--http-port {args.http_port} must be a TCP port (1-65535) "
                             "other than --port.")
    settings = Settings.from_env()  # fail here, with a clear message, not in every worker
    for port, option in ((args.port, "--port"), (args.http_port, "--http-port")):
        if port is not None and not _port_free(args.host, port):
            raise UsageError(f"{args.host}:{port} is taken: another `python -m lessons serve`, "
                             f"or another program, is listening there. Choose another port "
                             f"with {option}, for example {option} {port + 1}.")
    if not _is_loopback(args.host):
        print(f"warning: listening on {args.host}: other machines can reach this lesson app, "
              "and lessons before the last are vulnerable on purpose.", file=sys.stderr)
    # Every worker process builds its app from the environment, so pass the choice that way.
    os.environ["LESSONS_LESSON"] = str(lesson)
    os.environ["LESSONS_DATA_DIR"] = str(settings.data_dir)
    # What the lessons up to this one need from uvicorn (lessons.wiring: each lesson's `serve`).
    from lessons.layers import assemble

    assembly = assemble(lesson)
    options: dict[str, object] = assembly.uvicorn_options(settings)
    # With JSON logging on (lesson 08), standard output holds JSON lines only: the banner
    # goes to standard error.
    banner = sys.stderr if "log_config" in options else sys.stdout
    scheme = "https" if args.https else "http"
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Serving the Notes service after lesson {lesson:02d} at {scheme}://{shown_host}:"
          f"{args.port} (interactive docs: /docs). Data folder: {settings.data_dir}. "
          "Ctrl+C stops it.", file=banner)
    redirector = None
    if args.https:
        options.update(_https_setup(args, settings, banner))
        if args.http_port is not None:
            redirector = _start_plain_http(args, banner, options.get("log_config"),
                                           audit=assembly.layers.audit,
                                           server_header=bool(options.get("server_header", True)))
    try:
        uvicorn.run("lessons.service:app_from_env", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="info", **options)
    finally:
        if redirector is not None:
            redirector.stop()
    return 0


def _https_setup(args: argparse.Namespace, settings: Settings,
                 banner: TextIO) -> dict[str, object]:
    """The local CA and server certificate (made on first use, then reused), and the uvicorn
    options that serve them with the workbook's TLS profile."""
    from lessons.tls import certificates, context

    files = certificates.ensure_certificates(settings.data_dir)
    print(f"TLS: certificate for {', '.join(certificates.HOSTS)}, issued by the local CA in "
          f"{files.ca_file}\n     Trust that file to connect, for example: curl --cacert "
          f"{files.ca_file} https://127.0.0.1:{args.port}/health", file=banner)
    if args.host not in certificates.HOSTS and not _is_loopback(args.host):
        print(f"warning: the certificate names only {', '.join(certificates.HOSTS)}; clients "
              f"that reach this machine as {args.host} will reject it.", file=sys.stderr)
    return context.https_options(files)


def _start_plain_http(args: argparse.Namespace, banner: TextIO, log_config: object,
                      audit: Callable[..., None], server_header: bool = True) -> BackgroundServer:
    """The plain-HTTP listener, in a thread beside the HTTPS server: it redirects page loads
    to HTTPS and refuses API calls, and never reaches a route. Its refusals go to the served
    lesson's ``audit`` seam (from lesson 08 on, audit events through the service's logging)."""
    from lessons.server import BackgroundServer
    from lessons.tls import plain_http

    # From lesson 08 on, the listener's log lines are JSON too, through the same redaction;
    # from lesson 09 on, its answers name no server either, as the HTTPS port's do.
    logging_options = {"log_config": log_config} if log_config else {}
    listener = BackgroundServer(plain_http.PlainHttpListener(https_port=args.port, audit=audit),
                                host=args.host, port=args.http_port, log_level="info",
                                access_log=True, server_header=server_header, **logging_options)
    try:
        listener.start()
    except OSError as error:
        raise UsageError(f"Cannot listen on {args.host}:{args.http_port}: "
                         f"{error.strerror}.") from None
    print(f"Plain HTTP on http://{args.host}:{args.http_port}: page loads are redirected to "
          f"https://...:{args.port}, API calls are refused (403).", file=banner)
    return listener


def _port_free(host: str, port: int) -> bool:
    """Can a server listen on ``host:port`` right now? (Asked before uvicorn starts, so a taken
    port gets a sentence saying what to do instead of uvicorn's "[Errno 98]".)"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_users_add(args: argparse.Namespace) -> int:
    # The same rules as POST /users (lesson 07's validation module): one source of truth.
    from pydantic import ValidationError

    from lessons import validation

    try:
        validation.USERNAME_RULE.validate_python(args.name)
    except ValidationError:
        raise UsageError(f"{args.name!r} is not a valid username: use 3 to 32 characters "
                         "from a-z, 0-9 and _.") from None
    email = args.email
    if email is not None:
        try:
            email = validation.EMAIL_RULE.validate_python(email)
        except ValidationError:
            raise UsageError(f"{email!r} is not a valid email address.") from None
    password = _read_password()
    low, high = validation.PASSWORD_MIN, validation.PASSWORD_MAX
    if not low <= len(password) <= high:
        raise UsageError(f"The password must be {low} to {high} characters long; "
                         f"it was {len(password)}.")
    if validation.is_common_password(password):
        raise UsageError(validation.COMMON_PASSWORD_MESSAGE)
    problems = validation.password_problems(password, username=args.name, email=email)
    if problems:
        raise UsageError(" ".join(problems))
    settings = Settings.from_env()
    store = Store(settings.database)
    try:
        store.add_user(args.name, argon2_hasher(settings).hash(password), role=args.role,
                       email=email)
    except DuplicateUser:
        raise UsageError(f"A user called {args.name!r} exists already.") from None
    finally:
        store.close()
    print(f"Added {args.role} {args.name!r}.")
    return 0


def _read_password() -> str:
    """One line from standard input when it is piped, else a prompt that does not echo.
    Never a command-line argument: those end up in shell history and process listings."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise UsageError("The two passwords differ; nothing was changed.")
    return first


def run_stack(args: argparse.Namespace) -> int:
    from lessons import anatomy
    from lessons.layers import assemble

    assembly = assemble(catalog.lesson_number(args.lesson))
    print(anatomy.mermaid(assembly) if args.mermaid else anatomy.describe(assembly))
    return 0


def run_lessons(args: argparse.Namespace) -> int:
    for lesson in catalog.LESSONS:
        state = "ready" if lesson.number <= catalog.LAST_READY else "planned"
        print(f"{lesson.number:02d}  {lesson.title:<32} {lesson.minutes:>3} min  {state:<8}"
              f"{lesson.notebook}")
    return 0


def run_progress(args: argparse.Namespace) -> int:
    from lessons import workspace
    from lessons.checks import progress_file

    path = progress_file()
    data = json.loads(read_text(path)) if path.exists() else {}
    folder = workspace.WORK if workspace.WORK.exists() else workspace.NOTEBOOKS
    print(f"Check results from {path}; open exercises read from {folder}/.")
    for lesson in catalog.ready():
        entry = data.get(f"{lesson.number:02d}") or {}
        best, latest = entry.get("best"), entry.get("latest")
        if best and latest:
            results = (f"best {best['passed']}/{best['total']} passed, latest "
                       f"{latest['passed']}/{latest['total']} ({latest['checked_at']})")
        else:
            results = "not checked yet"
        still_open = workspace.open_exercises(folder / lesson.notebook)
        line = f"{lesson.number:02d}  {lesson.title:<32} {results}"
        print(line + (f"\n    open: {', '.join(still_open)}" if still_open else ""))
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from lessons import bench

    if args.rounds < 1 or args.seconds <= 0:
        raise UsageError("--rounds must be at least 1 and --seconds more than 0.")
    lessons = [0, catalog.LAST_READY] if args.quick else None
    rounds, seconds = (1, 1.0) if args.quick else (args.rounds, args.seconds)
    plot = args.plot or catalog.data_home() / "bench.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    try:
        results = bench.run(rounds, seconds, lessons, plot)
    except bench.NoLoadGenerator as missing:
        raise UsageError(str(missing)) from None
    print(bench.table(results))
    print(f"\nPlot: {plot}")
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from lessons import doctor

    text, ready = doctor.report()
    print(text)
    return 0 if ready else 1


def run_start(args: argparse.Namespace) -> int:
    import subprocess

    from lessons import workspace

    prepared = workspace.prepare()
    for name in prepared.copied:
        print(f"work/{name}: your copy, made from notebooks/{name}")
    for name in prepared.updated_upstream:
        print(f"work/{name}: the repository has a newer version of this lesson; yours is "
              f"kept. `python -m lessons reset {name[:2]}` takes the new one (yours goes to "
              "work/backups/).")
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={workspace.WORK}",
               *args.jupyter_options]
    return subprocess.call(command)  # noqa: S603 - our own interpreter, no shell


def run_reset(args: argparse.Namespace) -> int:
    from lessons import workspace

    backup = workspace.reset(args.lesson)
    target = workspace.notebook_for(args.lesson, workspace.WORK)
    print(f"{target.relative_to(catalog.ROOT)} is the repository's version again."
          + (f" Yours is in {backup.relative_to(catalog.ROOT)}." if backup else ""))
    return 0


def run_audit(args: argparse.Namespace) -> int:
    """Lesson 05's audit of the service's own dependencies (requirements-service.lock): what
    would run in production. The workbook's tools run on the learner's machine against
    localhost and are judged apart (lesson 05 says why)."""
    import datetime

    from lessons.supply_chain import (
        affected,
        live,
        load_exceptions,
        load_snapshot,
        lockfile,
        parse_pins,
        triage,
    )

    today = datetime.date.today()
    lock = lockfile.SERVICE_LOCK
    snapshot = load_snapshot()
    found = affected(parse_pins(read_text(lock)), snapshot.vulns)
    still_open, accepted = triage(found, load_exceptions(), today)
    affect = "advisory affects" if len(found) == 1 else "advisories affect"
    print(f"Snapshot of {snapshot.taken}: {len(found)} {affect} {lock.name}, "
          f"{len(accepted)} accepted with a reason, {len(still_open)} open.")
    for finding in still_open:
        print(f"  OPEN {finding}")
    failed = bool(still_open)
    if not args.offline:
        for run in live.live_audit(lock):
            print(run.summary())
            live_open, _ = triage(run.findings, load_exceptions(), today)
            for finding in live_open:
                print(f"  OPEN {finding}")
            failed = failed or bool(live_open)
            if run.conclusive:
                break
        else:
            print("The live audit was not conclusive: treat the packages it could not look up "
                  "as unknown, not as safe.")
    return 1 if failed else 0
