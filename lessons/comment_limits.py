"""Lesson 07: bounds on the public comments (OWASP API4:2023, unrestricted resource consumption).

``GET /comments`` needs no credentials, so whatever one answer may hold, anyone may ask for as
often as they like; and whatever one account may post, every reader downloads afterwards.

- **Reading, one page at a time.** ``comment_page`` is the FastAPI dependency that reads a
  page's query parameters: ``limit`` (1 to 100, default 20) and ``before``, a cursor (the id
  of the last comment of the previous page). Declared with ``Query(ge=..., le=...)``, the
  bounds are enforced (a 422 outside them) and documented in the OpenAPI schema by the same
  declaration, so the documentation cannot drift from the rule.
- **Posting, a quota per user.** ``quota_wait`` decides, from the times of an author's
  comments within a sliding window, how long they must wait before the next one. The store
  counts and inserts in one transaction of the shared database (``Store.add_comment_within``),
  so the quota holds however many workers serve the API.

``every_comment`` and ``never_wait`` are the open service's stand-ins, the vulnerable
defaults of the two seams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query

from lessons.store import SQLITE_MAX_INTEGER

MAX_PAGE, DEFAULT_PAGE = 100, 20


@dataclass(frozen=True)
class Page:
    """Which comments one ``GET /comments`` answers: at most ``limit`` of them, newest first
    (None: every one), older than the comment ``before`` (None: from the newest)."""

    limit: int | None = DEFAULT_PAGE
    before: int | None = None


def comment_page(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=(
        "How many comments to return, newest first: 1 to 100."))] = DEFAULT_PAGE,
    before: Annotated[int | None, Query(ge=1, le=SQLITE_MAX_INTEGER, description=(
        "Cursor: only comments older than this id, the last one of the previous page. "
        "A full page names the next one in its Link header."))] = None,
) -> Page:
    """The page a ``GET /comments`` asks for, within the bounds its declaration states."""
    return Page(limit, before)


def every_comment() -> Page:
    """VULNERABLE, the open service: no parameters, and every comment in one answer."""
    return Page(limit=None)


def quota_wait(times: Sequence[int], now: int, quota: int, window: int) -> int:
    """Seconds before an author may post again (0: now).

    ``times`` are the Unix times of the author's comments of the last ``window`` seconds,
    oldest first. Fewer than ``quota`` of them: no wait. Otherwise the next comment is allowed
    once the oldest of the last ``quota`` leaves the window."""
    if len(times) < quota:
        return 0
    return max(1, times[-quota] + window - now)


def never_wait(times: Sequence[int], now: int, quota: int, window: int) -> int:
    """VULNERABLE, the open service: any account may post any number of comments."""
    return 0
