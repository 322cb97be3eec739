"""MDN's HTTP Observatory scanner, and the workbook's grader, against a served lesson.

Run by ``tests/test_lesson09.py`` inside a network namespace of its own::

    unshare --map-root-user --net python tests/observatory/scan.py DATA_DIR [LESSON]

Why a namespace: the scanner (``@mdn/mdn-http-observatory`` 1.4.8, the release npm has) takes a
host name only, and looks for HTTPS on port 443 and plain HTTP on port 80. In a namespace of its
own, with a loopback interface nobody else uses, ``python -m lessons serve --https --port 443
--http-port 80`` can listen on exactly those ports without root on the machine and without
taking them from anyone.

How the scanner trusts the lesson's certificate: Node adds the CA file named by
``NODE_EXTRA_CA_CERTS`` to the ones it trusts. The package's own wrapper
(``mdn-http-observatory-scan``) overwrites that variable with Mozilla's bundle, so this runs
its ``src/scan.js`` directly. Without trust the scanner would still look, but score the
certificate as invalid (HSTS and redirection each -20).

``weak`` instead of a lesson serves a small site that gets most things wrong (a CSP with
'unsafe-inline', a session cookie without flags, CORS that reflects every origin with
credentials, a short HSTS, no redirect from plain HTTP, an external script without integrity...),
so that the two graders are compared on failing outcomes too.

Prints one JSON object: ``{"scanner": <the scanner's output>, "ours": <lessons.grader's>}``.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "node_modules" / "@mdn" / "mdn-http-observatory"
HOST = "127.0.0.1"


def loopback_up() -> None:
    """Bring ``lo`` up in this new namespace (what ``ip link set lo up`` does)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(probe, siocgifflags, request))[1]
        fcntl.ioctl(probe, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def preload_list() -> None:
    """The scanner reads Chromium's HSTS preload list from ``conf/hsts-preload.json``, which
    its install script downloads (``npm ci --ignore-scripts`` skips that, and needs no
    internet). No host of a workbook is on the list, so an empty one gives the same results."""
    path = PACKAGE / "conf" / "hsts-preload.json"
    if not path.exists():
        path.write_text("{}\n", encoding="utf-8")


def wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def weak_site() -> tuple[object, object]:
    """The HTTPS app and the plain-HTTP app of a site that gets most headers wrong."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.responses import HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    page = ('<!doctype html><title>weak</title><script src="https://cdn.example/a.js">'
            "</script><script>start()</script>")

    async def home(request: object) -> HTMLResponse:
        return HTMLResponse(page, headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'",
            "X-Frame-Options": "ALLOW-FROM https://partner.example",
            "Referrer-Policy": "unsafe-url",
            "Strict-Transport-Security": "max-age=300",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "Set-Cookie": "sessionid=abc; Path=/"})

    https = Starlette(routes=[Route("/", home)], middleware=[Middleware(
        CORSMiddleware, allow_origins=["*"], allow_credentials=True)])

    async def plain_home(request: object) -> PlainTextResponse:
        return PlainTextResponse("no redirect here")

    return https, Starlette(routes=[Route("/", plain_home)])


def main(data_dir: str, lesson: str = "final") -> int:
    loopback_up()
    preload_list()
    env = {**os.environ, "LESSONS_DATA_DIR": data_dir}
    from lessons.server import BackgroundServer
    from lessons.tls.certificates import ensure_certificates

    files = ensure_certificates(Path(data_dir))
    ca_file = files.ca_file
    server: subprocess.Popen[bytes] | None = None
    threads: list[BackgroundServer] = []
    if lesson == "weak":
        https_app, plain_app = weak_site()
        threads = [BackgroundServer(https_app, port=443, certfile=files.certfile,
                                    keyfile=files.keyfile).start(),
                   BackgroundServer(plain_app, port=80).start()]
    else:
        server = subprocess.Popen(
            [sys.executable, "-m", "lessons", "serve", "--lesson", lesson, "--https", "--port",
             "443", "--http-port", "80"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
    try:
        wait_for(443)
        wait_for(80)
        scanned = subprocess.run(
            ["node", str(PACKAGE / "src" / "scan.js"), HOST], capture_output=True, text=True,
            env={**env, "NODE_EXTRA_CA_CERTS": str(ca_file)}, timeout=120, check=False)
        from lessons import grader

        ours = grader.scan_url(f"https://{HOST}/", f"http://{HOST}/", ca_file)
        print(json.dumps({
            "scanner": json.loads(scanned.stdout or "{}"),
            "scanner_stderr": scanned.stderr[-2000:],
            "ours": {"score": ours.score, "grade": ours.grade,
                     "outcomes": grader.outcomes_of(ours.results)},
        }))
    finally:
        for thread in threads:
            thread.stop()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
