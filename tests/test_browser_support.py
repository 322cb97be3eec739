"""The browser tests' own guarantees: CI cannot pass by skipping them, and "offline" means
nothing but loopback."""

from __future__ import annotations

import browser_support
import pytest
from browser_support import chromium_path, leaves_the_machine


def test_without_chromium_a_browser_test_skips_locally_and_fails_in_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_support, "installed_chromium", lambda: None)
    monkeypatch.delenv("LESSONS_CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        chromium_path()
    monkeypatch.setenv("LESSONS_CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must not skip"):
        chromium_path()


@pytest.mark.parametrize(("url", "leaves"), [
    ("http://127.0.0.1:8000/docs", False),
    ("http://localhost/lab/api/settings/@jupyterlab/x?y=@z", False),
    ("ws://127.0.0.1:8888/api/kernels/1/channels", False),
    ("http://[::1]:80/", False),
    ("data:image/svg+xml,<svg/>", False),
    ("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js", True),
    ("wss://example.org/", True),
    ("http://127.0.0.1.example.org/", True),  # a name that starts like loopback
    ("http://localhost.example.org/", True),
    ("http://127.0.0.1:80@example.org/", True),  # user info: the host is example.org
    ("http://10.0.0.1/", True),
])
def test_offline_means_loopback_only(url: str, leaves: bool) -> None:
    assert leaves_the_machine(url) is leaves
