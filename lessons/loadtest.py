"""Lesson 10: load tests of a served lesson, and pictures of what they found.

- ``Servers``: lessons served for a notebook by ``python -m lessons serve`` (or another app
  factory, through ``lessons.load``), each in a process of its own with its data in the
  notebook's folder, started once and reused by later cells, all stopped by ``close()`` (and
  when the kernel exits). A served lesson hashes passwords at the real cost (OWASP's Argon2id
  minimum), and trusts a proxy on loopback, so that a test can send requests as coming from
  any address, the way they arrive through a real proxy;
- ``run_locust``: the workbook's Locust scenario (``lessons/data/locustfile.py``) run
  headless, as a subprocess, against a served lesson, for a few seconds; its results read
  from the CSV files Locust writes;
- plots with matplotlib: throughput over time and latency per endpoint of a Locust run,
  ``/health`` latency over time, requests per second per lesson. Each is a ``Plot``, which a
  notebook shows as a PNG image.

Locust itself is never imported here: it replaces parts of the standard library with gevent's
as it starts, which must not happen inside a notebook's kernel or a test run.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import io
import itertools
import logging
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from lessons import catalog, load
from lessons.layers import declaration
from lessons.passwords import argon2_hasher, off_the_event_loop
from lessons.settings import Settings
from lessons.store import Store

if TYPE_CHECKING:
    from fastapi import FastAPI
    from matplotlib.figure import Figure

    from lessons.attacks import Account

LOCUSTFILE = Path(__file__).resolve().parent / "data" / "locustfile.py"
DEMO_FACTORY = "lessons.loadtest:hashing_demo"
# OWASP's Argon2id cost, the service's default: what a served lesson hashes with here, even
# when the calling process (a test run, a notebook's in-process demos) lowers its own cost.
REAL_COST = {name: str(Settings.__dataclass_fields__[name].default)
             for name in ("argon2_memory_kib", "argon2_time_cost", "argon2_parallelism")}


# -- serving lessons with accounts -----------------------------------------------------------------


def seed_served(data_dir: Path, accounts: Iterable[Account]) -> None:
    """Put ``accounts`` in a served lesson's database before it starts, hashed at the real
    cost, as the served lesson itself hashes."""
    settings = Settings.from_env(data_dir=data_dir,
                                 **{name: int(value) for name, value in REAL_COST.items()})
    store = Store(settings.database)
    try:
        hasher = argon2_hasher(settings)
        for account in accounts:
            store.add_user(account.username, hasher.hash(account.password), role=account.role,
                           email=account.email)
    finally:
        store.close()


def served_environment(data_dir: Path, settings: Mapping[str, object] | None = None,
                       **extra: object) -> dict[str, str]:
    """The environment of a served lesson: its own data folder, the real hashing cost, and a
    proxy it trusts on loopback; then ``settings`` and ``extra`` as ``LESSONS_*`` variables
    (``max_header_bytes=8192`` becomes ``LESSONS_MAX_HEADER_BYTES=8192``)."""
    env = {**os.environ, "LESSONS_DATA_DIR": str(data_dir),
           "LESSONS_TRUSTED_PROXIES": "127.0.0.1"}
    for name, value in {**REAL_COST, **dict(settings or {}), **extra}.items():
        env[f"LESSONS_{name.upper()}"] = (",".join(map(str, value))
                                          if isinstance(value, tuple | list) else str(value))
    return env


class Servers:
    """Lessons served for a notebook, each started once and reused: ``url(10)`` starts
    ``python -m lessons serve --lesson 10`` the first time and answers its URL afterwards.
    ``close()`` stops them all (so does the kernel's exit).

    ``Servers.of(folder)`` is the one ``Servers`` of that folder: a notebook cell that makes it
    can run again without starting (or seeding) anything twice."""

    _of_folder: ClassVar[dict[Path, Servers]] = {}

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._stack = contextlib.ExitStack()
        self._urls: dict[tuple[Any, ...], str] = {}
        self._numbers = itertools.count(1)
        atexit.register(self.close)

    @classmethod
    def of(cls, folder: Path) -> Servers:
        found = cls._of_folder.get(folder)
        if found is None:
            found = cls._of_folder[folder] = cls(folder)
        return found

    def url(self, lesson: int | load.Target, accounts: Iterable[Account] = (),
            **settings: object) -> str:
        """The URL of ``lesson`` served with ``accounts`` seeded and ``settings`` applied."""
        return self.start((lesson, tuple(accounts), settings))[0]

    def start(self, *wanted: tuple[int | load.Target, Sequence[Account], Mapping[str, object]]
              ) -> list[str]:
        """Serve several at once (a start is mostly a new Python process importing the
        service: started together, they take little longer than one); the URL of each."""
        keys = [self._key(*item) for item in wanted]
        missing = {key: item for key, item in zip(keys, wanted, strict=True)
                   if key not in self._urls}
        servers = []
        for lesson, accounts, settings in missing.values():
            data_dir = self.folder / f"served{next(self._numbers)}"
            while data_dir.exists():  # another Servers used this folder before
                data_dir = self.folder / f"served{next(self._numbers)}"
            seed_served(data_dir, accounts)
            servers.append(load.serving_lesson(lesson, env=served_environment(
                data_dir, settings), data_dir=data_dir))
        if servers:
            for key, url in zip(missing, load.serve_all(self._stack, servers), strict=True):
                self._urls[key] = url
        return [self._urls[key] for key in keys]

    def lessons(self, numbers: Iterable[int]) -> dict[str, str]:
        """A URL for each lesson, by name ("lesson 04"): a server of that lesson already
        running here if there is one (whatever its accounts and settings), else a new one;
        the new ones started together."""
        running = {key[0]: url for key, url in self._urls.items() if isinstance(key[0], int)}
        chosen = list(numbers)
        missing = [n for n in chosen if n not in running]
        running.update(zip(missing, self.start(*((n, (), {}) for n in missing)), strict=True))
        return {load.Target(n).name: running[n] for n in chosen}

    @staticmethod
    def _key(lesson: int | load.Target, accounts: Sequence[Account],
             settings: Mapping[str, object]) -> tuple[Any, ...]:
        return (lesson, tuple(account.username for account in accounts),
                tuple(sorted((name, str(value)) for name, value in settings.items())))

    def close(self) -> None:
        self._stack.close()
        self._urls.clear()


def layer_lessons() -> list[int]:
    """Lesson 00, and every ready lesson that changes what a request passes through on its way
    to a route (middleware) or how it is served: the lessons whose cost ``/health`` shows."""
    chosen = [0]
    for lesson in catalog.ready():
        layer = declaration(lesson)
        if lesson.number and layer is not None and (layer.middleware or layer.serve):
            chosen.append(lesson.number)
    return chosen


# -- a demonstration app: where the hash runs ------------------------------------------------------


def hashing_demo() -> FastAPI:
    """The lesson named by ``LESSONS_LESSON``, with two routes that do what a login does, a
    password verification, in two places: ``POST /demo/hash-on-the-loop`` runs it in the
    ``async def`` itself, on the event loop; ``POST /demo/hash-in-a-thread`` hands it to a
    worker thread (``off_the_event_loop``), as the service's own routes do. Never served by
    the lessons themselves."""
    from lessons.basic_auth import dummy_hash_for
    from lessons.service import app_from_env

    app = app_from_env()
    hasher = app.state.service.hasher
    guess = "not-the-password"  # verified against a random hash: it never matches

    async def hash_on_the_loop() -> dict[str, bool]:
        return {"matched": hasher.verify(guess, dummy_hash_for(hasher))}

    async def hash_in_a_thread() -> dict[str, bool]:
        return {"matched": await off_the_event_loop(hasher.verify, guess,
                                                    dummy_hash_for(hasher))}

    app.add_api_route("/demo/hash-on-the-loop", hash_on_the_loop, methods=["POST"])
    app.add_api_route("/demo/hash-in-a-thread", hash_in_a_thread, methods=["POST"])
    return app


# -- Locust ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointStats:
    """One row of Locust's ``_stats.csv``: an endpoint, named as the scenario names it
    (``POST /notes``), or ``Aggregated``, all of them."""

    method: str
    name: str
    requests: int
    failures: int
    median_ms: float
    p95_ms: float
    p99_ms: float
    per_second: float


@dataclass(frozen=True)
class Moment:
    """One row of Locust's ``_stats_history.csv`` for all endpoints together: seconds since
    the start, users running, requests and failures per second, latency percentiles (ms)."""

    second: int
    users: int
    per_second: float
    failures_per_second: float
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class LocustRun:
    """What a headless Locust run found, read from its CSV files."""

    folder: Path
    endpoints: list[EndpointStats]
    total: EndpointStats
    history: list[Moment]
    failures: list[tuple[str, str, str, int]] = field(default_factory=list)

    def table(self) -> str:
        """The endpoints, as a table of requests, failures and latency percentiles."""
        width = max((len(e.name) for e in self.endpoints), default=10)
        lines = [f"{'endpoint':{width}}  requests  failures  median    p95    p99  (ms)"]
        for e in [*self.endpoints, self.total]:
            lines.append(f"{e.name:{width}}  {e.requests:8}  {e.failures:8}  {e.median_ms:6.0f} "
                         f"{e.p95_ms:6.0f} {e.p99_ms:6.0f}")
        return "\n".join(lines)


def run_locust(url: str, folder: Path, users: int = 10, spawn_rate: float = 10,
               seconds: int = 5, locustfile: Path = LOCUSTFILE) -> LocustRun:
    """``locust -f LOCUSTFILE --headless`` against ``url`` for ``seconds`` seconds, with
    ``users`` users started at ``spawn_rate`` per second; its CSV files and log in
    ``folder``. Locust's own output goes to ``folder/locust.log``, not to the notebook."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / "run"
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
               "-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s", "--host", url,
               "--csv", str(prefix), "--csv-full-history", "--stop-timeout", "1",
               "--loglevel", "WARNING", "--only-summary"]
    with open(folder / "locust.log", "w", encoding="utf-8") as log:
        # Exit code 1 means "some requests failed": that is a result to read, not an error.
        finished = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                  timeout=seconds + 60, check=False)
    if finished.returncode not in (0, 1) or not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"Locust did not run (exit code {finished.returncode}); see "
                           f"{folder / 'locust.log'}")
    return read_run(prefix)


def read_run(prefix: Path) -> LocustRun:
    """The results of the Locust run whose CSV files start with ``prefix``."""
    rows = _csv(Path(f"{prefix}_stats.csv"))
    stats = [EndpointStats(row["Type"], row["Name"], int(row["Request Count"]),
                           int(row["Failure Count"]), _number(row["50%"]) or 0.0,
                           _number(row["95%"]) or 0.0, _number(row["99%"]) or 0.0,
                           float(row["Requests/s"])) for row in rows]
    # Locust's own Requests/s column is an average over its last few seconds, which a run of
    # a few seconds never fills: the rate is taken from the running totals instead.
    history: list[Moment] = []
    start = last = None
    for row in _csv(Path(f"{prefix}_stats_history.csv")):
        if row["Name"] != "Aggregated":
            continue
        stamp, done = int(row["Timestamp"]), int(row["Total Request Count"])
        failed = int(row["Total Failure Count"])
        if start is None or last is None:
            start, last = stamp, (stamp, done, failed)
            continue
        elapsed = max(1, stamp - last[0])
        history.append(Moment(stamp - start, int(row["User Count"]), (done - last[1]) / elapsed,
                              (failed - last[2]) / elapsed, _number(row["50%"]),
                              _number(row["95%"])))
        last = (stamp, done, failed)
    failures = [(row["Method"], row["Name"], row["Error"], int(row["Occurrences"]))
                for row in _csv(Path(f"{prefix}_failures.csv"))]
    total = next(s for s in stats if s.name == "Aggregated")
    return LocustRun(prefix.parent, [s for s in stats if s is not total], total, history,
                     failures)


def _csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _number(text: str) -> float | None:
    """A CSV cell as a number; Locust writes N/A where there was nothing to measure."""
    try:
        return float(text)
    except ValueError:
        return None


# -- pictures --------------------------------------------------------------------------------------


class Plot:
    """A matplotlib figure, drawn without pyplot (no global state, no GUI backend): a notebook
    shows it as a PNG image; ``save(path)`` writes it to a file."""

    def __init__(self, figure: Figure, title: str) -> None:
        self.figure = figure
        self.title = title

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def __repr__(self) -> str:
        return f"Plot: {self.title}"

    def save(self, path: Path) -> Path:
        path.write_bytes(self.png())
        return path


def _figure(width: float, height: float, columns: int = 1) -> tuple[Figure, list[Any]]:
    # matplotlib logs a warning the first time it builds its font cache; with no logging set
    # up, Python would print it to stderr. Nothing here needs it.
    logging.getLogger("matplotlib").addHandler(logging.NullHandler())
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, [figure.add_subplot(1, columns, n) for n in range(1, columns + 1)]


def plot_run(run: LocustRun) -> Plot:
    """A Locust run: requests and failures per second over time; latency per endpoint."""
    figure, (rate, latency) = _figure(11, 3.8, 2)
    seconds = [m.second for m in run.history]
    rate.plot(seconds, [m.per_second for m in run.history], marker="o", label="requests/s")
    rate.plot(seconds, [m.failures_per_second for m in run.history], marker="x",
              label="failures/s")
    rate.set(title="Throughput over time", xlabel="seconds since the start",
             ylabel="per second")
    rate.legend()
    names = [e.name for e in run.endpoints]
    rows = range(len(names))
    for offset, (label, values) in enumerate((
            ("median", [e.median_ms for e in run.endpoints]),
            ("95th percentile", [e.p95_ms for e in run.endpoints]),
            ("99th percentile", [e.p99_ms for e in run.endpoints]))):
        latency.barh([r + (offset - 1) * 0.27 for r in rows], values, height=0.27, label=label)
    latency.set_yticks(list(rows), names)
    latency.invert_yaxis()
    latency.set(title="Latency per endpoint", xlabel="milliseconds")
    latency.legend()
    return Plot(figure, "Locust run: throughput over time, latency per endpoint")


def plot_latencies(series: Mapping[str, load.Latencies], title: str) -> Plot:
    """Latency of each probe over time, one line per named series."""
    figure, (axes,) = _figure(9, 3.4)
    for name, latencies in series.items():
        axes.plot(latencies.at, latencies.ms, marker=".", linewidth=1, label=name)
    axes.set(title=title, xlabel="seconds since the start", ylabel="milliseconds")
    axes.legend()
    return Plot(figure, title)


def plot_rates(rates: Mapping[str, float], title: str) -> Plot:
    """Requests per second, one bar per name (lesson), in order."""
    figure, (axes,) = _figure(9, 3.4)
    names = list(rates)
    axes.bar(names, [rates[name] for name in names])
    for position, name in enumerate(names):
        axes.annotate(f"{rates[name]:,.0f}", (position, rates[name]), ha="center",
                      va="bottom", fontsize=8)
    axes.set(title=title, ylabel="requests per second")
    return Plot(figure, title)
