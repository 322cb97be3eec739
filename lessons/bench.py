"""``python -m lessons bench``: what the security layers cost, measured.

Every number is a ratio against a bare FastAPI app with one ``async def`` ``GET /health``
(``benchmarks/bare_app.py``), served by ``python -m uvicorn`` with its defaults, measured in the
same run: absolute numbers say more about the machine than about the service, and a shared
machine's slow moments are cancelled out by measuring every target in turn, round after round
(interleaved), and taking medians.

Measured with wrk, with one thread and a few keep-alive connections: a load generator in C, so
that what is measured is the service, not the client. The targets:

- the finished service's ``GET /health``, and ``GET /users/me`` with a valid bearer token;
- ``GET /health`` latency (p99) while a flood of wrong logins hits ``POST /auth/token``;
- the finished service with two workers against one;
- every lesson's service, for the cost of each layer.

Beside the rates, on Linux, it reads the CPU time the server processes spent (``/proc``) and
divides it by the requests answered: the cost of one request, which a busy machine disturbs
far less than it disturbs a rate (a slow moment makes fewer requests, not dearer ones).

It prints a table and saves a plot; it never fails on the numbers (a timed test on a shared
machine measures the machine), only when it cannot measure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lessons import catalog
from lessons.catalog import ROOT
from lessons.server import Served, serve_lesson

BARE_APP = ROOT / "benchmarks" / "bare_app.py"
GOALS = {"health": 0.90, "users_me": 0.60, "workers": 1.6}
WRK = shutil.which("wrk")


@dataclass(frozen=True)
class Measurement:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int = 0
    # CPU time (user + system) the server spent per request answered; None where unknown.
    cpu_us_per_request: float | None = None


# -- the load generator ----------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> Measurement:
    """Requests per second and the 50th and 99th latency percentiles of ``wrk --latency``."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    count = re.search(r"^\s+(\d+) requests in", output, re.M)
    if not (rate and p50 and p99 and count):
        raise RuntimeError(f"wrk printed no result:\n{output[-500:]}")
    return Measurement(float(rate[1]), _milliseconds(p50[1]), _milliseconds(p99[1]),
                       int(count[1]))


def wrk(url: str, seconds: float, connections: int = 8, headers: Sequence[str] = (),
        script: Path | None = None) -> Measurement:
    command = [str(WRK), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True,  # noqa: S603
                          encoding="utf-8", errors="replace", timeout=seconds + 30, check=False)
    return parse_wrk(done.stdout)


class NoLoadGenerator(RuntimeError):
    """wrk is not installed: nothing here can measure fairly without it."""


def require_wrk() -> None:
    if WRK is None:
        raise NoLoadGenerator(
            "The benchmark needs wrk, a load generator written in C (a Python client would "
            "measure itself): `apt-get install wrk` on Debian and Ubuntu, `brew install wrk` on "
            "macOS. It does not run on Windows; use WSL there.")


def measure(url: str, seconds: float, headers: Sequence[str] = (),
            server: Served | None = None) -> Measurement:
    """``GET url`` under wrk for ``seconds``; with ``server``, also the CPU its processes spent
    per request answered."""
    require_wrk()
    before = cpu_seconds(server.pid) if server is not None else None
    measured = wrk(url, seconds, headers=headers)
    after = cpu_seconds(server.pid) if server is not None else None
    if before is None or after is None or not measured.requests:
        return measured
    return dataclasses.replace(
        measured, cpu_us_per_request=(after - before) / measured.requests * 1e6)


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) spent so far by process ``pid`` and its children (uvicorn's
    workers), read from ``/proc``; None where there is no ``/proc`` (macOS)."""
    if not Path(f"/proc/{pid}/stat").exists():
        return None
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the command name in parentheses: state, ppid, ..., utime, stime (man 5 proc).
            fields = stat.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
        except OSError:  # a process that ended while we looked
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# -- the targets -----------------------------------------------------------------------------------


@contextlib.contextmanager
def served_bare() -> Iterator[Served]:
    """The bare app, as ``python -m uvicorn`` serves it by default."""
    with serve_lesson("--app-dir", str(BARE_APP.parent), "bare_app:app",
                      program=("uvicorn",)) as served:
        yield served


@contextlib.contextmanager
def served_service(lesson: int, data_dir: Path, workers: int = 1) -> Iterator[Served]:
    env = {**os.environ, "LESSONS_DATA_DIR": str(data_dir)}
    with serve_lesson("--lesson", str(lesson), "--workers", str(workers), env=env) as served:
        yield served


def add_user(data_dir: Path, username: str, password: str) -> None:
    env = {**os.environ, "LESSONS_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-m", "lessons", "users", "add", username],  # noqa: S603
                   input=password + "\n", text=True, encoding="utf-8", errors="replace",
                   env=env, check=True, capture_output=True, timeout=60)


def bearer_token(url: str, username: str, password: str) -> str:
    import httpx2

    answer = httpx2.post(f"{url}/auth/token", data={"username": username, "password": password},
                         timeout=30)
    answer.raise_for_status()
    return str(answer.json()["access_token"])


FLOOD_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "username=bench&password=not-the-right-password-at-all"
"""


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Results:
    seconds: float
    rounds: int
    tool: str
    samples: dict[str, list[Measurement]] = field(default_factory=dict)

    def add(self, name: str, measurement: Measurement) -> None:
        self.samples.setdefault(name, []).append(measurement)

    def rate(self, name: str) -> float:
        return statistics.median(m.requests_per_second for m in self.samples[name])

    def cpu(self, name: str) -> float | None:
        """Median CPU microseconds per request, or None where it could not be read."""
        found = [m.cpu_us_per_request for m in self.samples[name]
                 if m.cpu_us_per_request is not None]
        return statistics.median(found) if found else None

    def p99(self, name: str) -> float:
        return statistics.median(m.p99_ms for m in self.samples[name])

    def ratio(self, name: str, against: str = "bare /health") -> float:
        return self.rate(name) / self.rate(against)


def run(rounds: int = 3, seconds: float = 3.0, lessons: Sequence[int] | None = None,
        plot: Path | None = None) -> Results:
    """Serve every target at once, then measure them in turn, ``rounds`` times."""
    require_wrk()
    final = catalog.LAST_READY
    chosen = list(range(final + 1)) if lessons is None else list(lessons)
    results = Results(seconds, rounds, "wrk")
    password = secrets.token_urlsafe(18)
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lessons-bench-")))
        final_data = folder / "final"
        add_user(final_data, "bench", password)
        bare = stack.enter_context(served_bare())
        one = stack.enter_context(served_service(final, final_data))
        two = stack.enter_context(served_service(final, final_data, workers=2))
        token = bearer_token(one.url, "bench", password)
        per_lesson = {n: stack.enter_context(served_service(n, folder / f"lesson{n:02d}"))
                      for n in chosen if n != final}
        per_lesson[final] = one
        flood = folder / "flood.lua"
        flood.write_text(FLOOD_SCRIPT, encoding="utf-8")
        auth = [f"Authorization: Bearer {token}"]
        for _ in range(rounds):
            results.add("bare /health", measure(f"{bare.url}/health", seconds, server=bare))
            results.add("final /health", measure(f"{one.url}/health", seconds, server=one))
            results.add("final /users/me", measure(f"{one.url}/users/me", seconds, auth,
                                                   server=one))
            results.add("final, 2 workers", measure(f"{two.url}/health", seconds))
            for number, served in per_lesson.items():
                results.add(f"lesson {number:02d}", measure(f"{served.url}/health", seconds))
            results.add("idle /health", measure(f"{one.url}/health", seconds))
            results.add("flooded /health", _during_flood(one.url, flood, seconds))
    if plot is not None:
        save_plot(results, sorted(per_lesson), plot)
    return results


def _during_flood(url: str, script: Path, seconds: float) -> Measurement:
    """``/health`` measured while 32 connections post wrong passwords to ``/auth/token``."""
    flood = subprocess.Popen(  # noqa: S603 - wrk, with our own script
        [str(WRK), "-t1", "-c32", f"-d{round(seconds) + 2}s", "-s", str(script),
         f"{url}/auth/token"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)  # let the flood build up
        return wrk(f"{url}/health", seconds)
    finally:
        flood.wait(timeout=seconds + 30)


def table(results: Results) -> str:
    lines = [f"The cost of security, measured with {results.tool}: medians of {results.rounds} "
             f"interleaved rounds of {results.seconds:g} s, ratios against a bare FastAPI app "
             "(benchmarks/bare_app.py)", ""]

    def row(label: str, value: str, goal: str = "") -> None:
        lines.append(f"  {label:<46} {value:>9}   {goal}")

    row("finished service GET /health / bare", f"{results.ratio('final /health'):.2f}",
        f"goal >= {GOALS['health']:.2f}")
    row("finished service GET /users/me (token) / bare",
        f"{results.ratio('final /users/me'):.2f}", f"goal >= {GOALS['users_me']:.2f}")
    row("2 workers / 1 worker, GET /health",
        f"{results.rate('final, 2 workers') / results.rate('final /health'):.2f}",
        f"goal >= {GOALS['workers']:.1f}")
    idle, flooded = results.p99("idle /health"), results.p99("flooded /health")
    row("GET /health p99, idle", f"{idle:.1f} ms")
    row("GET /health p99 during a login flood", f"{flooded:.1f} ms",
        f"goal <= 3 x idle + 5 ms = {3 * idle + 5:.1f} ms")
    costs = {label: results.cpu(name) for label, name in (
        ("bare /health", "bare /health"), ("finished /health", "final /health"),
        ("finished /users/me", "final /users/me"))}
    if None not in costs.values():
        lines += ["", "  CPU time of the server per request (user + system, from /proc):",
                  "    " + ", ".join(f"{label} {value:.0f} us" for label, value in costs.items())]
    lines += ["", "  GET /health per lesson, against the bare app (what each layer costs):"]
    for name in sorted(n for n in results.samples if n.startswith("lesson ")):
        lines.append(f"    {name}  {results.ratio(name):.2f}  "
                     f"({results.rate(name):,.0f} requests/s)")
    lines.append(f"  bare app: {results.rate('bare /health'):,.0f} requests/s")
    return "\n".join(lines)


def save_plot(results: Results, lessons: Sequence[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"lesson {n:02d}" for n in lessons]
    figure, axes = plt.subplots(figsize=(8, 3.5))
    axes.bar([name[-2:] for name in names], [results.ratio(name) for name in names],
             color="#4c72b0")
    axes.axhline(GOALS["health"], color="#c44e52", linestyle="--", label="goal for the finished "
                 "service")
    axes.set_xlabel("the service after lesson")
    axes.set_ylabel("GET /health, share of a bare app")
    axes.set_ylim(0, 1.1)
    axes.legend(loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
