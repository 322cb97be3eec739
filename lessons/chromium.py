"""A real browser for the attacks that only a browser can show: Debian's Chromium, headless,
driven by Playwright, cut off from everything but loopback.

- No browser is downloaded: Playwright drives the Chromium the system installed
  (``apt-get install -y chromium``; ``.ci/run`` does it).
- Without it, ``ChromiumMissing`` says so. The notebook checks ``available()`` first; under
  pytest the error counts as a skip (it is a ``unittest.SkipTest``), except in CI
  (``LESSONS_CI`` set), where a missing browser must fail the run, not hide it.
- Playwright's synchronous API refuses to run where an event loop is running (a Jupyter
  kernel's is), so the browser lives in a thread of its own. It is started on first use and
  kept while attacks keep coming (a start costs most of a second, and a notebook shows
  several attacks); after a minute without one it is closed, and so it is by ``close()`` and
  at the end of the process. Every attack gets a new browser context: a fresh profile, with
  no cookie, cache or storage of the one before.
- Every request to anything but loopback is aborted: an attack shown here never needs the
  internet, and never reaches it.
- The service's certificate comes from the lesson's own CA, which Chromium does not know:
  certificate errors are ignored for these throw-away sessions (on loopback only). Everything
  else (the same-origin policy, CORS, framing, cookies) is the browser's own.
"""

from __future__ import annotations

import atexit
import os
import queue
import re
import shutil
import threading
import unittest
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lessons.attacks import SceneError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

T = TypeVar("T")

IDLE_SECONDS = 60.0
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
    """``task(context)`` in a new context (a fresh profile, loopback only) of the process's
    headless Chromium, run in the browser's thread; the context is closed afterwards,
    whatever happens."""
    path = executable()
    if path is None:
        if os.environ.get("LESSONS_CI"):
            raise SceneError(f"{MISSING}. CI must not skip it.")
        raise ChromiumMissing(MISSING)
    global _browser
    with _lock:  # held while submitting, so an idle browser cannot close with a task queued
        if _browser is None or not _browser.alive():
            _browser = _BrowserThread(path, IDLE_SECONDS)
        done = _browser.submit(task)
    return done.result(timeout=timeout)


def close() -> None:
    """Close the process's Chromium, if one was started (the next ``run`` starts another)."""
    global _browser
    with _lock:
        browser, _browser = _browser, None
    if browser is not None:
        browser.stop()


class _BrowserThread:
    """One Chromium and the one thread that may drive it (Playwright's objects belong to the
    thread that made them): tasks queue up and run one at a time."""

    def __init__(self, path: str, idle_seconds: float) -> None:
        self.path = path
        self.idle_seconds = idle_seconds
        self.closing = False
        self.jobs: queue.Queue[tuple[Callable[[BrowserContext], Any], Future[Any]] | None] = (
            queue.Queue())
        self.thread = threading.Thread(target=self._serve, name="lessons-chromium", daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return not self.closing and self.thread.is_alive()

    def submit(self, task: Callable[[BrowserContext], T]) -> Future[T]:
        future: Future[T] = Future()
        self.jobs.put((task, future))
        return future

    def stop(self, timeout: float = 10) -> None:
        self.jobs.put(None)
        self.thread.join(timeout)

    def _serve(self) -> None:
        try:
            self._drive()
        except BaseException as error:  # Playwright itself failed: no task may wait forever
            with _lock:
                self.closing = True
                while not self.jobs.empty():
                    if (job := self.jobs.get_nowait()) is not None:
                        job[1].set_exception(error)

    def _drive(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = None
            try:
                while (job := self._next_job()) is not None:
                    task, future = job
                    try:
                        if browser is None or not browser.is_connected():
                            browser = playwright.chromium.launch(
                                executable_path=self.path, headless=True, args=list(LAUNCH_ARGS))
                        future.set_result(_in_new_context(browser, task))
                    except BaseException as error:  # the caller raises it, in its own thread
                        future.set_exception(error)
            finally:
                self.closing = True
                if browser is not None:
                    browser.close()

    def _next_job(self) -> tuple[Callable[[BrowserContext], Any], Future[Any]] | None:
        """The next task; None once stopped, or after ``idle_seconds`` without a task."""
        while True:
            try:
                return self.jobs.get(timeout=self.idle_seconds)
            except queue.Empty:
                with _lock:  # ``run`` submits under it: nothing can arrive while we decide
                    if self.jobs.empty():
                        self.closing = True
                        return None


def _in_new_context(browser: Browser, task: Callable[[BrowserContext], T]) -> T:
    context = browser.new_context(ignore_https_errors=True)
    context.route(LEAVES_THE_MACHINE, lambda route: route.abort("internetdisconnected"))
    try:
        return task(context)
    finally:
        context.close()


_lock = threading.Lock()
_browser: _BrowserThread | None = None
# A process that ends without close() still closes its browser first (the thread is a daemon,
# so it would otherwise be stopped mid-way, and leave Playwright's driver to clean up).
atexit.register(close)
