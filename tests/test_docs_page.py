"""``/docs`` works without internet: Swagger UI's files are served by the service itself, the
page has no inline script (it works under a CSP of ``script-src 'self'``), and in a real
browser cut off from the network the page renders and "Authorize" logs in.

The in-process tests read only what the service answers; the browser tests (``slow``) drive
Debian's Chromium (see ``browser_support``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib import metadata, resources
from pathlib import Path

import httpx2
import pytest
from browser_support import Offline, offline_chromium
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext, Page, Route, expect

from lessons.docs_page import CSP
from lessons.server import Served, serve_lesson
from lessons.settings import Settings

PAGES = ("/docs", "/docs/oauth2-redirect")
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".png": "image/png"}
BUNDLED = resources.files("fastapi_offline") / "static"
# The files fastapi-offline bundles change only with its version, which names their folder.
VERSIONED = f"/fastapi-offline-{metadata.version('fastapi-offline')}/"


class Markup(HTMLParser):
    """What a page loads, and whatever in it would run as inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>: an inline event handler")
            if value and value.strip().lower().startswith("javascript:"):
                self.inline.append(f"<{tag} {name}={value!r}>: a javascript: URL")
        if tag == "script":
            self._in_script = True
            if not found.get("src"):
                self.inline.append("<script> without src")
        for name in ("src", "href"):
            if found.get(name) and tag in ("script", "link", "img"):
                self.loads.append(str(found[name]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"inline script: {data.strip()[:60]!r}")


def markup(text: str) -> Markup:
    parsed = Markup()
    parsed.feed(text)
    parsed.close()
    return parsed


@pytest.fixture
def client(make_app) -> TestClient:
    return TestClient(make_app(3))


def loaded_by(client: TestClient) -> list[str]:
    """Every file the docs pages load."""
    return sorted({path for page in PAGES for path in markup(client.get(page).text).loads})


def test_the_docs_pages_are_html_without_inline_script(client: TestClient) -> None:
    for page in PAGES:
        answer = client.get(page)
        assert answer.status_code == 200, page
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-cache"
        found = markup(answer.text)
        assert not found.inline, f"{page}: {found.inline}"
        assert found.loads, f"{page} loads no script"


def test_nothing_is_loaded_from_elsewhere(client: TestClient) -> None:
    """No CDN: no absolute or scheme-relative URL in the pages or in the workbook's scripts."""
    for path in [*PAGES, *loaded_by(client)]:
        if path.endswith((".png", "swagger-ui-bundle.js", "swagger-ui.css")):
            continue  # Swagger UI's own files name URLs in its code; the browser test runs it
        text = client.get(path).text
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path
        assert "cdn" not in text.lower(), path
    assert all(path.startswith("/docs/assets/") for path in loaded_by(client))


def test_every_file_the_pages_load_is_served_with_its_type(client: TestClient) -> None:
    loads = loaded_by(client)
    assert {Path(path).name for path in loads} >= {
        "swagger-ui-bundle.js", "swagger-ui.css", "favicon.png", "init.js", "oauth2-redirect.js"}
    for path in [*PAGES, *loads]:
        assert client.head(path).status_code == 200, path
    for path in loads:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == CONTENT_TYPES[Path(path).suffix], path
        assert answer.headers["x-content-type-options"] == "nosniff", path


def test_swagger_ui_is_fastapi_offlines_copy_cached_for_a_year(client: TestClient) -> None:
    """Long-lived caching only where the URL names the version: a new fastapi-offline is a new
    URL. The workbook's own scripts and the pages are checked again on every visit."""
    for path in loaded_by(client):
        answer = client.get(path)
        if VERSIONED in path:
            assert answer.content == (BUNDLED / Path(path).name).read_bytes(), path
            assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        else:
            assert answer.headers["cache-control"] == "no-cache", path
    assert sum(VERSIONED in path for path in loaded_by(client)) == 3


def test_the_start_up_script_reads_its_urls_from_the_page(client: TestClient) -> None:
    page = client.get("/docs").text
    assert 'data-openapi-url="/openapi.json"' in page
    assert 'data-oauth2-redirect-url="/docs/oauth2-redirect"' in page
    script = client.get("/docs/assets/init.js").text
    assert "SwaggerUIBundle(" in script and "validatorUrl: null" in script


def test_the_docs_are_not_part_of_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/docs")]


@pytest.mark.parametrize("lesson", [0, "final"])
def test_every_lesson_serves_the_docs(make_app, lesson: int | str) -> None:
    assert TestClient(make_app(lesson)).get("/docs").status_code == 200


def test_production_serves_neither_the_docs_nor_their_files(client: TestClient,
                                                            tmp_path: Path) -> None:
    from lessons.service import create_app

    settings = Settings.from_env({"LESSONS_DATA_DIR": str(tmp_path / "prod"),
                                  "LESSONS_ENV": "production", "LESSONS_SECRET_KEY": "k" * 40})
    production = TestClient(create_app(3, settings))
    for path in [*PAGES, *loaded_by(client)]:
        assert production.get(path).status_code == 404, path
    assert production.get("/health").status_code == 200


# -- in a real browser, with no network ---------------------------------------------------------

Docs = tuple[Served, BrowserContext, Offline]
PASSWORD = "a-long-enough-password"  # a demo user's, in a throw-away folder


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docs]:
    """``python -m lessons serve --lesson 3`` with alice registered, and offline Chromium whose
    docs pages carry ``lessons.docs_page.CSP``, with every CSP violation recorded."""
    folder = tmp_path_factory.mktemp("docs")
    env = {**os.environ, "LESSONS_DATA_DIR": str(folder / "var")}
    subprocess.run([sys.executable, "-m", "lessons", "users", "add", "alice"],
                   input=f"{PASSWORD}\n", text=True, env=env, check=True, capture_output=True,
                   timeout=60)
    with serve_lesson("--lesson", "3", env=env) as served, \
            offline_chromium(folder / "profile") as (context, offline):

        def with_csp(route: Route) -> None:
            if route.request.resource_type != "document":
                route.continue_()
                return
            answer = route.fetch()
            route.fulfill(response=answer,
                          headers={**answer.headers, "content-security-policy": CSP})

        context.route(f"{served.url}/docs**", with_csp)
        context.add_init_script(
            "window.__violations = [];"
            "document.addEventListener('securitypolicyviolation', e => window.__violations"
            ".push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));")
        yield served, context, offline


def open_docs(docs: Docs) -> tuple[Page, list[str]]:
    served, context, _ = docs
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{served.url}/docs")
    return page, errors


def execute(page: Page, operation: str) -> str:
    """Try the operation out, as a learner does, and return the status of the live answer."""
    block = page.locator(f"#{operation}")
    status = block.locator(".live-responses-table .response .response-col_status")
    if block.locator("button.btn-clear").is_visible():
        block.locator("button.btn-clear").click()  # else the last answer would still show
        expect(status).to_have_count(0)
    if not block.locator("button.execute").is_visible():
        block.locator(".opblock-summary").click()
        block.locator("button.try-out__btn").click()
    block.locator("button.execute").click()
    expect(status).to_have_count(1)
    return status.inner_text().split()[0]  # the code, without "Undocumented"


@pytest.mark.slow
def test_docs_render_offline_and_authorize_logs_in(docs: Docs) -> None:
    served, _, offline = docs
    published = httpx2.get(f"{served.url}/openapi.json", timeout=10).json()["paths"]
    operations = sum(len(methods) for methods in published.values())
    page, errors = open_docs(docs)
    expect(page.locator(".opblock")).to_have_count(operations, timeout=20_000)
    expect(page.locator(".info .title")).to_contain_text("Notes service")

    me = "operations-users-me_users_me_get"
    assert execute(page, me) == "401"
    page.locator(".auth-wrapper button.authorize").click()
    # The dialog lists every scheme (lesson 01's HTTP Basic too); this is the OAuth2 one.
    oauth2 = page.locator(".auth-container").filter(has_text="OAuth2PasswordBearer")
    oauth2.locator("#oauth_username").fill("alice")
    oauth2.locator("#oauth_password").fill(PASSWORD)
    oauth2.get_by_role("button", name="Apply given OAuth2 credentials").click()
    expect(oauth2).to_contain_text("Authorized")
    oauth2.get_by_role("button", name="Close").click()
    assert execute(page, me) == "200"
    expect(page.locator(f"#{me} .live-responses-table .response .response-col_description")
           ).to_contain_text('"username": "alice"')

    assert page.evaluate("window.__violations") == [], "the page breaks its CSP"
    assert errors == []
    assert offline.blocked == [], "the docs page tried to reach the internet"
    page.close()


REDIRECT_HANDSHAKE = """async ([path, state]) => {
    const answer = new Promise(resolve => {
        setTimeout(() => resolve({error: "no answer from the redirect page"}), 10000);
        window.swaggerUIRedirectOauth2 = {
            auth: {name: "demo", schema: {get: () => "authorizationCode"}, code: null},
            state: "sent-state", redirectUrl: location.origin + "/docs/oauth2-redirect",
            callback: got => resolve({callback: got.auth.code}),
            errCb: err => resolve({error: err.message}),
        };
    });
    window.open(`${path}?code=the-code&state=${state}`);
    return await answer;
}"""


@pytest.mark.slow
def test_the_oauth2_redirect_page_hands_the_code_back_and_checks_the_state(docs: Docs) -> None:
    page, errors = open_docs(docs)
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    good = page.evaluate(REDIRECT_HANDSHAKE, ["/docs/oauth2-redirect", "sent-state"])
    assert good == {"callback": "the-code"}
    forged = page.evaluate(REDIRECT_HANDSHAKE, ["/docs/oauth2-redirect", "another-state"])
    assert "state" in forged.get("error", ""), forged
    assert page.evaluate("window.__violations") == []
    assert errors == []
    page.close()
