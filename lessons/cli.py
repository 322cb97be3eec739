"""``python -m lessons``: serve a lesson's app, add users, build the workbook, show progress."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import json
import os
import re
import sys
from collections.abc import Sequence

from lessons import catalog
from lessons.access import ROLES
from lessons.passwords import argon2_hasher
from lessons.settings import ConfigurationError, Settings
from lessons.store import DuplicateUser, Store

USERNAME = re.compile(r"[a-z0-9_]{3,32}")
PASSWORD_LENGTH = (12, 128)


class UsageError(Exception):
    """A mistake in how the command was called; the message says what to do instead."""


def main(argv: Sequence[str] | None = None) -> int:
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
        description="The FastAPI Security Workbook: serve lesson apps and manage the workbook.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the Notes service as it stands after a lesson")
    serve.add_argument("--lesson", default="final",
                       help=f"0 to {catalog.LAST_READY}, or 'final' (default)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: loopback only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=run_serve)

    users = commands.add_parser("users", help="manage user accounts")
    user_commands = users.add_subparsers(title="user commands", metavar="ACTION", required=True)
    add = user_commands.add_parser(
        "add", help="create a user; the password is read from standard input, never an argument")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="user")
    add.add_argument("--email")
    add.set_defaults(run=run_users_add)

    listing = commands.add_parser("lessons", help="list the lessons and their notebooks")
    listing.set_defaults(run=run_lessons)

    progress = commands.add_parser("progress", help="show the latest check results per lesson")
    progress.set_defaults(run=run_progress)

    workbook = commands.add_parser("workbook", help="build notebooks/ from solutions/")
    workbook_commands = workbook.add_subparsers(title="workbook commands", metavar="ACTION",
                                                required=True)
    build = workbook_commands.add_parser("build", help="write notebooks/ from solutions/")
    build.add_argument("--check", action="store_true",
                       help="change nothing; fail if notebooks/ is not what solutions/ generates")
    build.set_defaults(run=run_build)
    execute = workbook_commands.add_parser(
        "execute", help="run solution notebooks and save their outputs")
    execute.add_argument("names", nargs="*", help="notebook names or number prefixes (default: all)")
    execute.set_defaults(run=run_execute)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    lesson = catalog.lesson_number(args.lesson)
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port (1-65535).")
    if args.workers < 1:
        raise UsageError("--workers must be at least 1.")
    settings = Settings.from_env()  # fail here, with a clear message, not in every worker
    if not _is_loopback(args.host):
        print(f"warning: listening on {args.host}: other machines can reach this lesson app, "
              "and lessons before the last are vulnerable on purpose.", file=sys.stderr)
    # Every worker process builds its app from the environment, so pass the choice that way.
    os.environ["LESSONS_LESSON"] = str(lesson)
    os.environ["LESSONS_DATA_DIR"] = str(settings.data_dir)
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Serving the Notes service after lesson {lesson:02d} at http://{shown_host}:{args.port}"
          f" (interactive docs: /docs). Data folder: {settings.data_dir}. Ctrl+C stops it.")
    uvicorn.run("lessons.service:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="info")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_users_add(args: argparse.Namespace) -> int:
    if not USERNAME.fullmatch(args.name):
        raise UsageError(f"{args.name!r} is not a valid username: use 3 to 32 characters "
                         "from a-z, 0-9 and _.")
    password = _read_password()
    low, high = PASSWORD_LENGTH
    if not low <= len(password) <= high:
        raise UsageError(f"The password must be {low} to {high} characters long; "
                         f"it was {len(password)}.")
    settings = Settings.from_env()
    store = Store(settings.database)
    try:
        store.add_user(args.name, argon2_hasher(settings).hash(password), role=args.role,
                       email=args.email)
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


def run_lessons(args: argparse.Namespace) -> int:
    for lesson in catalog.LESSONS:
        state = "ready" if lesson.number <= catalog.LAST_READY else "planned"
        print(f"{lesson.number:02d}  {lesson.title:<32} {lesson.minutes:>3} min  {state:<8}"
              f"{lesson.notebook}")
    return 0


def run_progress(args: argparse.Namespace) -> int:
    from lessons.checks import progress_file

    path = progress_file()
    if not path.exists():
        print("No checks have been run yet: run the Check cell of a notebook first.")
        return 0
    data = json.loads(path.read_text())
    for lesson in catalog.LESSONS:
        entry = data.get(f"{lesson.number:02d}")
        if entry:
            print(f"{lesson.number:02d}  {lesson.title:<32} {entry['passed']} passed, "
                  f"{entry['failed']} failed, {entry['not_attempted']} not attempted "
                  f"({entry['checked_at']})")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from lessons import workbook

    problems = workbook.build(check=args.check)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("Run `python -m lessons workbook build` to regenerate notebooks/.", file=sys.stderr)
        return 1
    print("notebooks/ matches solutions/." if args.check else "notebooks/ written.")
    return 0


def run_execute(args: argparse.Namespace) -> int:
    from lessons import workbook

    paths = workbook.solution_paths(args.names)
    if not paths:
        raise UsageError(f"No solution notebook matches {' '.join(args.names)}.")
    workbook.execute(paths)
    for path in paths:
        print(f"executed solutions/{path.name}")
    return 0
