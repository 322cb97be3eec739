"""A real browser for the tests: Debian's Chromium, driven by Playwright, cut off from the network.

- No browser is downloaded: Playwright drives the Chromium the system installed
  (``apt-get install -y chromium``; ``.ci/run`` does it).
- Without Chromium a test is skipped on a laptop, with the reason, and FAILS when
  ``LESSONS_CI`` is set: CI must never pass by skipping the browser.
- Every request that would leave the machine is aborted and remembered (``Offline.blocked``),
  so a page that works here works in a workshop room without internet.
- Each browser gets a new, empty profile, so no cache or cookie from an earlier run helps.

Imported as ``from browser_support import ...`` (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Route, WebSocketRoute, sync_playwright

# Flags that work on the CI machine and in a container: no GPU, no sandbox (root in a
# container), and none of Chromium's own background traffic (updates, sync, QUIC probes).
LAUNCH_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
MISSING = ("needs Chromium, which is not installed (Debian: apt-get install -y chromium; "
           ".ci/run installs it)")


def installed_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def chromium_path() -> str:
    """Where Chromium is. Skips the test when it is missing, or fails it under ``LESSONS_CI``."""
    found = installed_chromium()
    if found:
        return found
    if os.environ.get("LESSONS_CI"):
        pytest.fail(f"This test {MISSING}. CI must not skip it.")
    pytest.skip(MISSING)


# Any http(s) or ws(s) URL whose host is not loopback (user info before an "@" counts as
# leaving: http://127.0.0.1:x@example.org is example.org). A regular expression rather than a
# Python function: Playwright matches it in its driver, so requests to loopback (all of
# JupyterLab's) are not each sent to Python and back.
LEAVES_THE_MACHINE = re.compile(
    r"^(https?|wss?)://(?!(127\.0\.0\.1|localhost|\[::1\])(?=[:/?#]|$)(?![^/?#]*@))")

def leaves_the_machine(url: str) -> bool:
    return LEAVES_THE_MACHINE.match(url) is not None


class Offline:
    """Aborts every HTTP request and WebSocket to anything but loopback, and keeps its URL."""

    def __init__(self) -> None:
        self.blocked: list[str] = []

    def cut(self, context: BrowserContext) -> None:
        context.route(LEAVES_THE_MACHINE, self._abort)
        context.route_web_socket(LEAVES_THE_MACHINE, self._close)

    def _abort(self, route: Route) -> None:
        self.blocked.append(route.request.url)
        route.abort("internetdisconnected")

    def _close(self, socket: WebSocketRoute) -> None:
        self.blocked.append(socket.url)
        socket.close()


@contextmanager
def offline_chromium(profile: Path, **context_options: object) -> Iterator[
        tuple[BrowserContext, Offline]]:
    """Headless Chromium with a new, empty profile in ``profile``, cut off from the network.
    Yields the browser context and its ``Offline`` record; closes everything at the end."""
    executable = chromium_path()
    profile.mkdir(parents=True, exist_ok=False)  # a fresh profile, never an old one
    offline = Offline()
    with sync_playwright() as playwright:
        # A persistent context is the way Playwright takes a user-data-dir of our choosing.
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=list(LAUNCH_ARGS),
            **context_options)  # type: ignore[arg-type]
        try:
            offline.cut(context)
            yield context, offline
        finally:
            context.close()
