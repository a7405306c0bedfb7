"""Write files a later step depends on whole or not at all.

Each file goes to a temporary file in the same folder, is flushed to disk (fsync), then
renamed over the target (``os.replace`` is atomic on POSIX and Windows). A crash leaves the
old file or the new one, never half of either.

The folder is not fsynced after the rename (about 0.15 ms a file, 1 s a 10,000-denial
run): like the store (SQLite WAL, ``synchronous=NORMAL``), this survives a killed process
whole, and a power loss may roll back the latest writes, never leave half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from agent.store.files import private_dirs


@contextmanager
def atomic_file(path: Path, make_dirs: bool = True) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` when the block ends without error.

    The temporary file is created 0600 (``mkstemp``) and keeps that mode after the rename:
    letters and manifests hold PHI. Missing folders are created 0700, unless
    ``make_dirs`` is false: then a missing folder is an ``OSError``, as for a file the user
    names where nothing is to be made.
    """
    if make_dirs:
        private_dirs(path.parent)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_file(path) as handle:
        handle.write(text.encode("utf-8"))

