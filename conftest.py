"""Workbook-wide pytest set-up: private data for the whole run, and no warning or traceback
in any notebook output."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Notebook kernels inherit this environment: their check results must go to a throw-away
    # folder, never into the learner's own progress in var/.
    os.environ["LESSONS_DATA_DIR"] = tempfile.mkdtemp(prefix="lessons-pytest-")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    outputs = getattr(item, "test_outputs", None)  # set by nbval on each notebook cell
    for output in outputs or []:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            raise AssertionError(f"The cell wrote to stderr (a warning?):\n{output.get('text')}")
    return result
