"""Reading and writing the workbook's own files: always UTF-8, and never half-written.

Python's ``open`` and ``Path.read_text`` use the locale's encoding unless told otherwise: on a
Windows laptop that is often cp1252, which cannot write ``→`` and fails half-way through a
file. Every text file the workbook reads or writes goes through these functions instead.

A file the workbook rewrites (a notebook, the learner's progress, a lock file) is written to
a temporary file beside it and then moved into place in one step (``os.replace``): a failure
part-way leaves the old file as it was, never an empty or truncated one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

ENCODING = "utf-8"


def read_text(path: Path | str) -> str:
    return Path(path).read_text(encoding=ENCODING)


def write_bytes(path: Path | str, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically; ``mode`` sets the new file's permissions
    (from the moment it exists, as the temporary file is created with them)."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        elif path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)  # keep the file's permissions
        else:
            # mkstemp made it owner-only; a new workbook file is readable like any other.
            # (Not the umask: reading it means changing it, process-wide, for a moment.)
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_text(path: Path | str, text: str, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` in UTF-8, atomically, with ``\\n`` line endings on every
    platform (notebooks and lock files must be byte-identical across machines)."""
    write_bytes(path, text.encode(ENCODING), mode)



def tolerant_console() -> None:
    """Let the terminal show what it can: a character the console's encoding lacks (a ✓ on a
    cp1252 Windows console) becomes ``?`` instead of ending the command with an error."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
