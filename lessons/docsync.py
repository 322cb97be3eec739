"""The parts of the documentation that are made from the code, so they cannot drift from it.

- the lesson table of ``README.md`` and the timing table of ``docs/instructors.md``, from the
  catalog (``lessons/catalog.py``);
- the service's anatomy in ``docs/architecture.md``: ``python -m lessons stack`` for the
  final lesson and the Mermaid diagram of a request's way through the middleware.

Each generated block stands between two HTML comments, ``<!-- generated: NAME -->`` and
``<!-- end: NAME -->``. ``python -m lessons.author docs`` rewrites the blocks;
``tests/test_docs.py`` fails while any of them is stale.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from lessons import catalog
from lessons.catalog import ROOT
from lessons.textfiles import read_text, write_text


def readme_table() -> str:
    rows = ["| # | Notebook | The attack shown first | What you build | Time |",
            "|---|---|---|---|---|"]
    rows += [f"| {lesson.number:02d} | `{lesson.notebook}` | {lesson.attack} | {lesson.builds} | "
             f"{lesson.minutes} min |" for lesson in catalog.ready()]
    return "\n".join(rows)


def instructors_table() -> str:
    rows = ["| Lesson | Teaching | Exercises | Needs the network? |", "|---|---|---|---|"]
    rows += [f"| {lesson.number:02d} {lesson.title} | {lesson.teaching_minutes} min | "
             f"{lesson.exercise_minutes} min | {lesson.network} |" for lesson in catalog.ready()]
    return "\n".join(rows)


def anatomy_text() -> str:
    from lessons import anatomy
    from lessons.layers import assemble

    return "```text\n" + anatomy.describe(assemble(catalog.LAST_READY)) + "\n```"


def anatomy_diagram() -> str:
    from lessons import anatomy
    from lessons.layers import assemble

    return "```mermaid\n" + anatomy.mermaid(assemble(catalog.LAST_READY)) + "\n```"


# file -> {block name: what makes it}
BLOCKS: dict[str, dict[str, Callable[[], str]]] = {
    "README.md": {"lessons": readme_table},
    "docs/instructors.md": {"timings": instructors_table},
    "docs/architecture.md": {"stack": anatomy_text, "diagram": anatomy_diagram},
}


def block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated: {name} -->\n)(.*?)(<!-- end: {name} -->)", re.S)


def synced(text: str, blocks: dict[str, Callable[[], str]], where: str) -> str:
    for name, make in blocks.items():
        pattern = block_pattern(name)
        if not pattern.search(text):  # the markers are written by hand; say where they belong
            raise ValueError(f"{where} has no block `<!-- generated: {name} -->` ... "
                             f"`<!-- end: {name} -->`")
        match = pattern.search(text)
        assert match is not None
        text = text[:match.start(2)] + make() + "\n" + text[match.end(2):]
    return text


def sync(check: bool = False, root: Path = ROOT) -> list[str]:
    """Rewrite every generated block (or, with ``check``, only list the stale files)."""
    stale = []
    for relative, blocks in BLOCKS.items():
        path = root / relative
        text = read_text(path)
        fresh = synced(text, blocks, relative)
        if fresh != text:
            stale.append(relative)
            if not check:
                write_text(path, fresh)
    return stale
