"""`python -m lessons bench` measures and prints its table (CI proves the command works; it
never judges the numbers: a timed test on a shared machine measures the machine)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run_cli

from lessons import bench

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:8000/health
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  210.50us   4.80ms   80.00%
  Latency Distribution
     50%    1.05ms
     75%    1.20ms
     90%    1.40ms
     99%  850.00us
  21000 requests in 3.00s, 3.10MB read
Requests/sec:   7000.12
Transfer/sec:      1.03MB
"""


def test_wrk_output_is_read_with_its_units() -> None:
    measured = bench.parse_wrk(WRK_OUTPUT)
    assert measured == bench.Measurement(7000.12, 1.05, 0.85, requests=21000)
    with pytest.raises(RuntimeError, match="no result"):
        bench.parse_wrk("unable to connect")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_the_cpu_of_a_process_and_its_children_is_read_from_proc() -> None:
    # A child (as uvicorn's workers are) that spends 0.4 s of CPU, then waits.
    burn = ("import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: "
            "pass\nprint('done', flush=True)\ntime.sleep(60)")
    with subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE,
                          text=True) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == "done\n"
            own = bench.cpu_seconds(child.pid)
            assert own is not None and own >= 0.3
            together = bench.cpu_seconds(os.getpid())
            assert together is not None and together >= time.process_time() + 0.3
        finally:
            child.kill()
    assert bench.cpu_seconds(child.pid) is None  # gone: nothing to read


@pytest.mark.slow
def test_the_quick_benchmark_prints_every_ratio(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("LESSONS_CI"):
            pytest.fail("wrk must be installed in CI")
        pytest.skip("wrk is not installed (apt-get install wrk)")
    plot = tmp_path / "bench.png"
    result = run_cli("bench", "--quick", "--plot", str(plot), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("GET /health / bare", "GET /users/me (token) / bare", "2 workers / 1 worker",
                 "p99 during a login flood", "lesson 00"):
        assert line in result.stdout
    if Path("/proc/self/stat").exists():
        assert "CPU time of the server per request" in result.stdout
    assert plot.stat().st_size > 1000
