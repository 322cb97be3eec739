"""The documents agree with the code: the generated blocks are fresh, and every notebook's
title cell and key points state the catalog's title, timings and standards."""

from __future__ import annotations

import re

import nbformat
import pytest

from lessons import catalog, docsync, workbook
from lessons.catalog import ROOT


def test_the_generated_parts_of_the_documents_are_fresh() -> None:
    stale = docsync.sync(check=True)
    assert not stale, f"stale: {stale}; run `python -m lessons.author docs`"


def test_a_stale_block_is_found(tmp_path) -> None:
    for relative in docsync.BLOCKS:
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((ROOT / relative).read_text(encoding="utf-8"), encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("| 35 min |", "| 36 min |"),
                      encoding="utf-8")
    assert docsync.sync(check=True, root=tmp_path) == ["README.md"]
    docsync.sync(root=tmp_path)
    assert docsync.sync(check=True, root=tmp_path) == []


def test_the_architecture_document_names_every_slot_and_seam() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    from lessons.layers import Layers, assemble

    assembly = assemble(catalog.LAST_READY)
    for slot, _ in assembly.stack:
        assert slot.name in text
    for seam in Layers.__dataclass_fields__:
        assert f"  {seam} " in text


def standards_ids(standards: str) -> list[str]:
    """The ids a catalog entry names: ASVS requirement numbers (a trailing `.x` stands for the
    chapter) and API Top 10 items."""
    ids = re.findall(r"\bAPI\d+\b", standards)
    for number in re.findall(r"\b\d+\.\d+(?:\.\d+|\.x)?", standards):
        ids.append(number.removesuffix(".x"))
    return ids


@pytest.mark.parametrize("lesson", catalog.ready(), ids=lambda lesson: lesson.notebook)
def test_the_notebook_states_the_catalogs_facts(lesson: catalog.Lesson) -> None:
    nb = nbformat.read(workbook.SOLUTIONS / lesson.notebook, as_version=4)
    title = nb.cells[0].source
    assert title.startswith(f"# {lesson.number:02d} · {lesson.title}\n")
    assert (f"**Time:** about {lesson.teaching_minutes} minutes of teaching and "
            f"{lesson.exercise_minutes} minutes of exercises.") in title
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert (f"**For instructors:** about {lesson.minutes} minutes ({lesson.teaching_minutes} "
            f"teaching, {lesson.exercise_minutes} exercises)") in text
    key_points = text[text.index("## Key points"):]
    missing = [item for item in standards_ids(lesson.standards) if item not in key_points]
    assert not missing, f"the key points do not name {missing}"
