"""``lessons.chromium``: one Chromium per process, a fresh context (profile) for every attack,
closed after a while without one."""

from __future__ import annotations

import time
from typing import Any

import pytest
from browser_support import chromium_path

from lessons import chromium


def _cookies_then_leave_one(context: Any) -> tuple[Any, list[Any]]:
    found = context.cookies()
    context.add_cookies([{"name": "seen", "value": "1", "url": "http://127.0.0.1:9/"}])
    return context.browser, found


def test_attacks_share_one_browser_but_never_a_profile() -> None:
    chromium_path()
    try:
        first_browser, first = chromium.run(_cookies_then_leave_one)
        second_browser, second = chromium.run(_cookies_then_leave_one)
    finally:
        chromium.close()
    assert first_browser is second_browser  # started once
    assert first == second == []  # the first attack's cookie never reaches the second


def test_a_failing_attack_raises_in_its_caller_and_an_idle_browser_closes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chromium_path()
    chromium.close()  # an earlier test's browser (same worker) would keep its own idle time
    monkeypatch.setattr(chromium, "IDLE_SECONDS", 0.5)
    try:
        with pytest.raises(ZeroDivisionError):
            chromium.run(lambda context: 1 / 0)
        assert chromium.run(lambda context: context.browser.is_connected())
        browser = chromium._browser
        assert browser is not None
        deadline = time.monotonic() + 15
        while browser.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not browser.alive(), "the browser stayed open with nothing to do"
        assert chromium.run(lambda context: context.browser.is_connected())  # a new one
        assert chromium._browser is not browser
    finally:
        chromium.close()
