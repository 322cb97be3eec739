"""``create_app``: the Notes service as it stands after lesson N.

It folds what lessons 0..N declare (``lessons.layers.assemble``): the seams, the routers, the
middleware stack in the order of ``lessons.wiring.STACK``, the exception handlers and the
start-up work. Nothing here knows which lesson adds what: to see it for a lesson, run
``python -m lessons stack --lesson N``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from lessons.catalog import lesson_number
from lessons.context import Service
from lessons.layers import assemble
from lessons.settings import Settings
from lessons.store import Store


def create_app(upto: int | str = "final", settings: Settings | None = None,
               **overrides: Any) -> FastAPI:
    """The Notes service with the reference layers of lessons 1..``upto``.

    ``overrides`` fill single seams with other implementations, e.g. a learner's
    ``decode_token``; every other seam keeps its reference (see ``lessons.layers``).
    """
    level = lesson_number(upto)
    settings = settings or Settings.from_env()
    assembly = assemble(level, **overrides)
    store = Store(settings.database)
    service = Service(settings=settings, store=store,
                      hasher=assembly.layers.make_hasher(settings), layers=assembly.layers)
    for task in assembly.startup.values():
        task(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        title="Notes service",
        summary=f"The workbook's service as it stands after lesson {level:02d}.",
        version=f"lesson-{level:02d}",
        # The interactive docs are lesson 00's "docs" router (lessons.docs_page): served with
        # their own files, not from a CDN, and off in production, where the OpenAPI document
        # is not published either: they map the whole attack surface.
        docs_url=None,
        redoc_url=None,
        openapi_url=None if settings.production else "/openapi.json",
        lifespan=lifespan,
        # Outermost first, exactly as lessons.wiring.STACK orders the slots.
        middleware=[Middleware(factory, service=service) for _, factory in assembly.stack],
        exception_handlers=dict(assembly.handlers),
    )
    app.state.service = service
    app.state.lesson = level
    app.state.assembly = assembly
    for make_router in assembly.routers.values():
        # The routes join the app's own list: each one already carries its router's prefix,
        # tags and dependencies. (An included router is matched through an extra layer of
        # lookups on every request; flat, a request finds its route as in a bare app.)
        app.router.routes.extend(make_router(service).routes)
    return app


def app_from_env() -> FastAPI:
    """Factory for plain uvicorn: ``LESSONS_LESSON=3 uvicorn lessons.service:app_from_env
    --factory``. ``python -m lessons serve`` uses it too, so every worker builds the same app."""
    return create_app(os.environ.get("LESSONS_LESSON", "final"))
