"""The files a package index offers for one release, as pip and uv see them.

Read through the index's Simple API in its JSON form (PEP 691, the interface pip and uv use):
each file's name, SHA-256, ``requires-python`` and whether it was yanked. A release's files do
not change once uploaded (PyPI never lets a file be replaced; a new wheel can be added, rarely),
so what was read is cached on disk, one small file per release: the second run reads nothing
over the network.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.request
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lessons.supply_chain.pins import canonical_name
from lessons.textfiles import read_text, write_text

PYPI = "https://pypi.org/simple"
# Kept this long: a release rarely gains a file (a wheel for a new Python) after its first days.
CACHE_DAYS = 30
ACCEPT = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class IndexFile:
    filename: str
    sha256: str
    requires_python: str = ""
    yanked: bool = False

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


class IndexUnreachable(OSError):
    """The index did not answer: nothing can be said about the files it holds."""


def index_url() -> str:
    """The index the lock was made from: PyPI, unless ``LESSONS_INDEX_URL`` names a mirror."""
    return os.environ.get("LESSONS_INDEX_URL", PYPI).rstrip("/")


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fastapi-security-workbook" / "index"


def _ssl_context() -> ssl.SSLContext:
    # The CA bundle pip is told to use, when there is one (a company proxy's CA, say).
    bundle = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=bundle if bundle and Path(bundle).exists() else None)


def _fetch(name: str, timeout: float) -> dict[str, Any]:
    url = f"{index_url()}/{name}/"
    if not url.startswith("https://"):
        raise IndexUnreachable(f"{url}: the index must be reached over HTTPS")
    request = urllib.request.Request(url, headers={"Accept": ACCEPT})  # noqa: S310 - https only
    with urllib.request.urlopen(request, timeout=timeout,  # noqa: S310 - https only, above
                                context=_ssl_context()) as answer:
        return dict(json.load(answer))


def _release_files(page: Mapping[str, Any], name: str, version: str) -> list[IndexFile]:
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )
    from packaging.version import Version

    wanted = Version(version)
    found = []
    for entry in page.get("files", []):
        filename = entry["filename"]
        try:
            parsed = (parse_wheel_filename(filename) if filename.endswith(".whl")
                      else parse_sdist_filename(filename))
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        if canonical_name(parsed[0]) != name or parsed[1] != wanted:
            continue
        found.append(IndexFile(filename, entry.get("hashes", {}).get("sha256", ""),
                               entry.get("requires-python") or "",
                               bool(entry.get("yanked"))))
    return found


def release_files(name: str, version: str, *, timeout: float = 30) -> list[IndexFile]:
    """The files of ``name==version`` on the index, from the cache when it has them."""
    name = canonical_name(name)
    cached = cache_folder() / f"{name}-{version}.json"
    if cached.exists() and time.time() - cached.stat().st_mtime < CACHE_DAYS * 86400:
        return [IndexFile(**entry) for entry in json.loads(read_text(cached))]
    try:
        page = _fetch(name, timeout)
    except OSError as error:  # URLError, timeouts and refused connections are all OSErrors
        raise IndexUnreachable(f"{index_url()} did not answer for {name}: {error}") from error
    files = _release_files(page, name, version)
    if files:  # an empty answer is not worth keeping: the next run asks again
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_text(cached, json.dumps([vars(f) for f in files], indent=1))
    return files


def many_release_files(releases: Iterable[tuple[str, str]], *, workers: int = 8
                       ) -> dict[tuple[str, str], list[IndexFile]]:
    """``release_files`` for many releases, several at a time (the first run reads ~200 pages)."""
    wanted = sorted(set(releases))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        answers = pool.map(lambda release: release_files(*release), wanted)
        return dict(zip(wanted, answers, strict=True))
