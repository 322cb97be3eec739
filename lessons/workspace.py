"""The learner's own copies of the notebooks: ``work/`` at the top of the checkout.

``notebooks/`` is generated from ``solutions/`` and belongs to the repository: a learner who
solved exercises there would make the tests fail and lose their answers at the next rebuild.
So ``python -m lessons start`` copies each learner notebook into ``work/`` (ignored by git)
when it is missing there, and opens JupyterLab on ``work/``. A copy already there is never
overwritten: when the repository's version of a lesson changed since it was copied, the
learner is told, and ``python -m lessons reset NN`` takes the new version, keeping theirs as a
backup.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from lessons import catalog
from lessons.catalog import ROOT
from lessons.textfiles import read_text, write_text

WORK = ROOT / "work"
NOTEBOOKS = ROOT / "notebooks"
BACKUPS = "backups"
# Which version of notebooks/ each copy in work/ was made from, to notice updates.
ORIGINS = ".origins.json"

STUB = re.compile(r'raise NotImplementedError\("Exercise (\w+): write your code here"\)')


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _origins(work: Path) -> dict[str, str]:
    try:
        return dict(json.loads(read_text(work / ORIGINS)))
    except (OSError, ValueError):
        return {}


def _save_origins(work: Path, origins: dict[str, str]) -> None:
    write_text(work / ORIGINS, json.dumps(origins, indent=2, sort_keys=True) + "\n")


@dataclass(frozen=True)
class Prepared:
    copied: list[str]
    updated_upstream: list[str]


def prepare(work: Path = WORK, notebooks: Path = NOTEBOOKS) -> Prepared:
    """Copy every learner notebook missing from ``work`` into it; never touch one that is
    there. Returns what was copied, and which copies the repository has a newer version of."""
    work.mkdir(exist_ok=True)
    origins = _origins(work)
    copied, updated = [], []
    for source in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        target = work / source.name
        if not target.exists():
            shutil.copyfile(source, target)
            origins[source.name] = _digest(source)
            copied.append(source.name)
        elif origins.get(source.name) not in (None, _digest(source)):
            updated.append(source.name)
    _save_origins(work, origins)
    return Prepared(copied, updated)


def notebook_for(lesson: str, folder: Path) -> Path:
    """The notebook of lesson ``lesson`` ("2", "02" or "02_jwt") in ``folder``."""
    head = lesson.split("_")[0]
    ready = {f"{known.number:02d}": known for known in catalog.ready()}
    if not head.isdigit() or f"{int(head):02d}" not in ready:
        raise ValueError(f"There is no lesson {lesson!r}: name one of "
                         f"{', '.join(sorted(ready))}.")
    return folder / ready[f"{int(head):02d}"].notebook


def reset(lesson: str, work: Path = WORK, notebooks: Path = NOTEBOOKS) -> Path | None:
    """Replace the learner's copy of one lesson with the repository's, moving theirs into
    ``work/backups/`` first. Returns the backup's path (None if there was no copy)."""
    source = notebook_for(lesson, notebooks)
    target = work / source.name
    backup = None
    work.mkdir(exist_ok=True)
    if target.exists():
        folder = work / BACKUPS
        folder.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = folder / f"{target.stem}-{stamp}.ipynb"
        shutil.move(target, backup)
    shutil.copyfile(source, target)
    origins = _origins(work)
    origins[source.name] = _digest(source)
    _save_origins(work, origins)
    return backup


def open_exercises(path: Path) -> list[str]:
    """The exercises of a notebook whose stub is still in place (not attempted yet). The
    notebook is read, never run."""
    if not path.exists():
        return []
    nb = nbformat.read(path, as_version=4)
    return sorted(_stubs(nb))


def _stubs(nb: nbformat.NotebookNode) -> set[str]:
    return {match[1] for cell in nb.cells if cell.cell_type == "code"
            for match in STUB.finditer(cell.source)}


def holds_learner_work(existing: nbformat.NotebookNode,
                       generated: nbformat.NotebookNode) -> bool:
    """Does ``existing`` (a learner notebook about to be regenerated as ``generated``) hold
    anything the rebuild would destroy: outputs of a run, or an exercise someone solved?"""
    ran = any(cell.get("outputs") or cell.get("execution_count") is not None
              for cell in existing.cells if cell.cell_type == "code")
    return ran or bool(_stubs(generated) - _stubs(existing))
