"""``python -m lessons.author``: the commands that write the repository's own files.

Learners never need these, so they are kept out of ``python -m lessons --help``:

- ``build``: write ``notebooks/`` from ``solutions/`` (``--check`` only compares);
- ``execute NN``: run solution notebooks in a fresh kernel and save their outputs;
- ``docs``: rewrite the generated parts of the README and ``docs/`` (``--check`` compares);
- ``lock``: regenerate the hash-locked requirements files from ``pyproject.toml``;
- ``wheelhouse``: fill a package cache for a room without internet.

``build`` refuses to overwrite a learner notebook that holds someone's work unless given
``--force``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lessons.cli import UsageError
from lessons.textfiles import tolerant_console


def main(argv: Sequence[str] | None = None) -> int:
    tolerant_console()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (UsageError, ValueError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lessons.author",
        description="Authoring commands of the FastAPI Security Workbook: they write "
                    "notebooks/, solutions/ outputs, generated docs and the lock files.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    build = commands.add_parser("build", help="write notebooks/ from solutions/")
    build.add_argument("--check", action="store_true",
                       help="change nothing; fail if notebooks/ is not what solutions/ generates")
    build.add_argument("--force", action="store_true",
                       help="overwrite learner notebooks even if they hold outputs or answers")
    build.set_defaults(run=run_build)

    execute = commands.add_parser("execute", help="run solution notebooks and save their outputs")
    execute.add_argument("names", nargs="*",
                         help="notebook names or number prefixes (default: all)")
    execute.set_defaults(run=run_execute)

    docs = commands.add_parser(
        "docs", help="rewrite the generated parts of README.md and docs/ from the code")
    docs.add_argument("--check", action="store_true",
                      help="change nothing; fail if a generated part is stale")
    docs.set_defaults(run=run_docs)

    lock = commands.add_parser(
        "lock", help="regenerate the hash-locked, universal lock files (everything, the service "
                     "alone, the build tools) from pyproject.toml")
    lock.add_argument("--check", action="store_true",
                      help="change nothing; fail if a lock does not agree with pyproject.toml")
    lock.set_defaults(run=run_lock)

    wheelhouse = commands.add_parser(
        "wheelhouse", help="fill a package cache for a room without internet: every locked "
                           "file for each platform and Python of the room")
    wheelhouse.add_argument("--dest", default="wheelhouse",
                            help="the folder (default: %(default)s)")
    wheelhouse.add_argument("--platform", action="append", default=[], metavar="ID",
                            help="linux-x86_64, linux-aarch64, macos-x86_64, macos-arm64, "
                                 "windows-x86_64; repeat for several (default: all)")
    wheelhouse.add_argument("--python", action="append", default=[], metavar="X.Y",
                            help="3.11 to 3.14; repeat for several (default: all)")
    wheelhouse.add_argument("--here", action="store_true",
                            help="this machine's platform and Python only")
    wheelhouse.add_argument("--service-only", action="store_true",
                            help="the service's dependencies alone (requirements-service.lock)")
    wheelhouse.add_argument("--index-url", default=None,
                            help="a mirror of PyPI to download from (default: PyPI)")
    wheelhouse.set_defaults(run=run_wheelhouse)
    return parser


def run_build(args: argparse.Namespace) -> int:
    from lessons import workbook

    problems = workbook.build(check=args.check, force=args.force)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("Run `python -m lessons.author build` to regenerate notebooks/.", file=sys.stderr)
        return 1
    print("notebooks/ matches solutions/." if args.check else "notebooks/ written.")
    return 0


def run_docs(args: argparse.Namespace) -> int:
    from lessons import docsync

    stale = docsync.sync(check=args.check)
    if args.check and stale:
        for name in stale:
            print(f"{name} is stale", file=sys.stderr)
        print("Run `python -m lessons.author docs` to regenerate it.", file=sys.stderr)
        return 1
    print("\n".join(f"rewrote {name}" for name in stale) or "The documents are up to date.")
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


def run_lock(args: argparse.Namespace) -> int:
    from lessons.supply_chain import lockfile, project

    names = ", ".join(lock.name for lock in lockfile.LOCKS)
    if args.check:
        problems = lockfile.all_problems()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"Run `{lockfile.LOCK_COMMAND}` to regenerate the lock files.", file=sys.stderr)
            return 1
        print(f"{names} agree with {project.PYPROJECT.name} and {project.REQUIREMENTS.name}.")
        return 0
    done = lockfile.compile_locks()
    if done.returncode != 0:
        print(done.stderr.strip() or done.stdout.strip(), file=sys.stderr)
        print("uv could not compile the lock files (it needs PyPI; is uv installed from "
              "requirements.txt?).", file=sys.stderr)
        return 1
    problems = lockfile.all_problems()
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"wrote {names} from {project.PYPROJECT.name}"
          + (" (with the problems above)" if problems else ""))
    return 1 if problems else 0


def run_wheelhouse(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lessons.supply_chain import lockfile, wheelhouse

    targets = ([wheelhouse.this_machine()] if args.here
               else wheelhouse.targets_for(args.platform, args.python))
    lock = lockfile.SERVICE_LOCK if args.service_only else lockfile.LOCK
    folder = Path(args.dest)
    print(f"Filling {folder} from {lock.name} for {len(targets)} platform and Python pairs "
          "(files already there are kept)...")
    house = wheelhouse.build(folder, targets, lock, args.index_url)
    for problem in house.problems:
        print(problem, file=sys.stderr)
    for source, wheel in house.built.items():
        print(f"{source} builds from the cache alone into {wheel}: pure Python, every platform")
    print(f"{len(house.files)} files in {folder}. On each laptop, with no network:\n"
          f"  python3 -m venv .venv\n"
          f"  .venv/bin/pip install --no-index --find-links {folder} -r requirements.txt")
    return 1 if house.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
