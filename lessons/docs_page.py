"""The interactive API docs (Swagger UI on ``/docs``), served by the service itself.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, so in a workshop room without
internet it stays blank. This router serves the page and every file it needs from the service:

- Swagger UI's files come from the ``fastapi-offline`` package (pinned in requirements.txt),
  which bundles them; only the files are used, not its app factory. They live under a folder
  named after the package's version, so they can be cached for a year: a new version is a new
  URL, and no browser keeps a stale bundle.
- The page has no inline script and no inline event handler. The start-up script that calls
  ``SwaggerUIBundle`` is a file of its own (``/docs/assets/init.js``), and so is the script of
  the OAuth2 redirect page. The page therefore works under a Content-Security-Policy of
  ``script-src 'self'``; ``CSP`` below is the whole policy it needs, tested in a browser.
- Every file is sent with its exact content type and ``X-Content-Type-Options: nosniff``, so a
  browser never guesses a type (OWASP ASVS 5.0 3.4.4).
- None of these routes is in the OpenAPI document: they are not part of the API.

In production the router is empty, as FastAPI's ``/docs`` was: the docs map the whole attack
surface, and ``create_app`` does not publish ``/openapi.json`` there either.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from importlib import metadata, resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from lessons.context import Service

DOCS = "/docs"
ASSETS = f"{DOCS}/assets"
OAUTH2_REDIRECT = f"{DOCS}/oauth2-redirect"
# Swagger UI 5 as fastapi-offline bundles it; the version names the folder of its files.
BUNDLE = f"{ASSETS}/fastapi-offline-{metadata.version('fastapi-offline')}"

# The Content-Security-Policy the page works under, and no more (tests/test_docs_page.py
# proves it in a real browser, Authorize included): scripts, styles and the favicon come from
# the service itself; the stylesheet draws its icons from data: URLs; Swagger UI fetches the
# OpenAPI document, the token and the API on the same origin. No inline script, no eval, and
# no inline style: Swagger UI styles elements through the DOM, which CSP allows. Only
# markdown in an API's own descriptions that carries style attributes (an aligned table
# column) would lose that styling; the Notes service's descriptions have none.
# (object-src and base-uri are named although default-src covers the first: ASVS 5.0 3.4.3
# asks for both by name.)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")

# A year, for files whose URL changes whenever their content does.
IMMUTABLE = "public, max-age=31536000, immutable"
# Pages and the workbook's own scripts: the browser may store them, but asks every time.
REVALIDATE = "no-cache"

JAVASCRIPT = "text/javascript; charset=utf-8"  # RFC 9239
CSS = "text/css; charset=utf-8"
PNG = "image/png"


@dataclass(frozen=True)
class Asset:
    path: str
    source: Traversable
    media_type: str
    cache_control: str

    async def response(self) -> Response:
        return Response(_content(self.source), media_type=self.media_type, headers={
            "Cache-Control": self.cache_control, "X-Content-Type-Options": "nosniff"})


@functools.cache
def _content(source: Traversable) -> bytes:
    # Read once per process, when the router is built: the files do not change while it runs,
    # and no request then waits for the disk.
    return source.read_bytes()


_BUNDLED = resources.files("fastapi_offline") / "static"
_OURS = resources.files("lessons") / "data"

ASSET_FILES: tuple[Asset, ...] = (
    Asset(f"{BUNDLE}/swagger-ui-bundle.js", _BUNDLED / "swagger-ui-bundle.js", JAVASCRIPT,
          IMMUTABLE),
    Asset(f"{BUNDLE}/swagger-ui.css", _BUNDLED / "swagger-ui.css", CSS, IMMUTABLE),
    Asset(f"{BUNDLE}/favicon.png", _BUNDLED / "favicon.png", PNG, IMMUTABLE),
    Asset(f"{ASSETS}/init.js", _OURS / "swagger_init.js", JAVASCRIPT, REVALIDATE),
    Asset(f"{ASSETS}/oauth2-redirect.js", _OURS / "swagger_oauth2_redirect.js", JAVASCRIPT,
          REVALIDATE),
)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    document = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                f"<title>{html.escape(title)}</title>\n{head}</head>\n<body>\n{body}</body>\n"
                "</html>\n")
    return HTMLResponse(document, headers={"Cache-Control": REVALIDATE,
                                           "X-Content-Type-Options": "nosniff"})


async def docs_page(request: Request) -> HTMLResponse:
    """The Swagger UI page: markup, the two bundled files and the start-up script. Everything
    the script needs to know is in ``data-`` attributes, so the script itself never changes."""
    if request.app.openapi_url is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")
    root = request.scope.get("root_path", "")

    def url(path: str) -> str:
        return html.escape(root + path)

    head = (f'<link rel="stylesheet" href="{url(BUNDLE)}/swagger-ui.css">\n'
            f'<link rel="icon" type="image/png" href="{url(BUNDLE)}/favicon.png">\n')
    body = (f'<div id="swagger-ui" data-openapi-url="{url(request.app.openapi_url)}" '
            f'data-oauth2-redirect-url="{url(OAUTH2_REDIRECT)}"></div>\n'
            f'<script src="{url(BUNDLE)}/swagger-ui-bundle.js"></script>\n'
            f'<script src="{url(ASSETS)}/init.js"></script>\n')
    return _page(f"{request.app.title} - Swagger UI", head, body)


async def oauth2_redirect_page(request: Request) -> HTMLResponse:
    """Where an OAuth2 authorization server sends the browser back to Swagger UI (the
    authorization-code and implicit flows; the password flow of ``/auth/token`` needs no
    redirect). Its script hands the answer to the docs page that opened it."""
    root = html.escape(request.scope.get("root_path", ""))
    return _page("Swagger UI: OAuth2 redirect", "",
                 f'<script src="{root}{ASSETS}/oauth2-redirect.js"></script>\n')


def docs_router(service: Service) -> APIRouter:
    """``/docs``, its OAuth2 redirect page and their files; empty in production."""
    router = APIRouter(include_in_schema=False)
    if service.settings.production:
        return router
    methods = ["GET", "HEAD"]  # HEAD too, as for any page (RFC 9110 9.3.2)
    router.add_api_route(DOCS, docs_page, methods=methods, response_class=HTMLResponse)
    router.add_api_route(OAUTH2_REDIRECT, oauth2_redirect_page, methods=methods,
                         response_class=HTMLResponse)
    for asset in ASSET_FILES:
        _content(asset.source)
        router.add_api_route(asset.path, asset.response, methods=methods, response_class=Response)
    return router

