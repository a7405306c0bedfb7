"""Files that hold PHI: created readable by their owner only (0600, folders 0700).

SQLite creates a database's WAL and SHM files with the database file's own mode, so a
database created 0600 keeps its journal files 0600 too; files left by an older release are
tightened when the store opens them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dirs(path: Path) -> None:
    """Create ``path`` and any missing parents 0700 (folders that exist are left alone).

    Raises:
        NotADirectoryError: ``path`` (or a parent) exists and is not a folder.
    """
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} is a file, not a folder")
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it first
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask


def private_file(path: Path) -> None:
    """Make sure ``path`` exists and is 0600; its folder is created 0700 when missing."""
    private_dirs(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        tighten(path)
    else:
        os.close(fd)
        os.chmod(path, FILE_MODE)


def tighten(path: Path) -> None:
    """Drop group and other permissions from a file we own (no-op otherwise)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO) and info.st_uid == os.getuid():
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~(stat.S_IRWXG | stat.S_IRWXO))


def sqlite_companions(path: Path) -> list[Path]:
    """The journal files SQLite keeps beside a database."""
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
