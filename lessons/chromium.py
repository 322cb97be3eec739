"""A real browser for the attacks that only a browser can show: Debian's Chromium, headless,
driven by Playwright, cut off from everything but loopback.

- No browser is downloaded: Playwright drives the Chromium the system installed
  (``apt-get install -y chromium``; ``.ci/run`` does it).
- Without it, ``ChromiumMissing`` says so. The notebook checks ``available()`` first; under
  pytest the error counts as a skip (it is a ``unittest.SkipTest``), except in CI
  (``LESSONS_CI`` set), where a missing browser must fail the run, not hide it.
- Playwright's synchronous API refuses to run where an event loop is running (a Jupyter
  kernel's is), so each browser session runs in a worker thread of its own.
- Every request to anything but loopback is aborted: an attack shown here never needs the
  internet, and never reaches it.
- The service's certificate comes from the lesson's own CA, which Chromium does not know:
  certificate errors are ignored for these throw-away sessions (on loopback only). Everything
  else (the same-origin policy, CORS, framing, cookies) is the browser's own.
"""

from __future__ import annotations

import os
import re
import shutil
import unittest
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from lessons.attacks import SceneError

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

T = TypeVar("T")

LAUNCH_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Any http(s) or ws(s) URL whose host is not loopback (user info before "@" counts as leaving).
LEAVES_THE_MACHINE = re.compile(
    r"^(https?|wss?)://(?!(127\.0\.0\.1|localhost|\[::1\])(?=[:/?#]|$)(?![^/?#]*@))")
MISSING = ("Chromium is not installed (Debian: apt-get install -y chromium), so this attack "
           "cannot be shown in a real browser here")


class ChromiumMissing(SceneError, unittest.SkipTest):
    """No Chromium on this machine: the browser attack cannot run (a skip under pytest)."""


def executable() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def available() -> bool:
    return executable() is not None


def run(task: Callable[[BrowserContext], T], timeout: float = 90) -> T:
    """``task(context)`` in a fresh headless Chromium (new profile, loopback only), in a
    worker thread; the browser is closed afterwards, whatever happens."""
    path = executable()
    if path is None:
        if os.environ.get("LESSONS_CI"):
            raise SceneError(f"{MISSING}. CI must not skip it.")
        raise ChromiumMissing(MISSING)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_session, path, task).result(timeout=timeout)


def _session(path: str, task: Callable[[BrowserContext], T]) -> T:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True,
                                             args=list(LAUNCH_ARGS))
        try:
            context = browser.new_context(ignore_https_errors=True)
            context.route(LEAVES_THE_MACHINE, lambda route: route.abort("internetdisconnected"))
            try:
                return task(context)
            finally:
                context.close()
        finally:
            browser.close()
