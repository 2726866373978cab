"""Files that hold records are personal data: created private to their owner."""

from __future__ import annotations

import os
import pathlib
import typing as t

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIRECTORY_MODE = 0o700


def open_private_for_append(path: str | os.PathLike[str]) -> t.TextIO:
    """Open a UTF-8 text file for appending, creating it 0600 (and missing directories 0700)."""
    descriptor = _open_private(path, os.O_WRONLY | os.O_APPEND)
    # A lone surrogate (no UTF-8 form) is written as its JSON escape, \ud800.
    return os.fdopen(descriptor, "a", encoding="utf-8", errors="backslashreplace")


def _open_private(path: str | os.PathLike[str], flags: int) -> int:
    """Open `path` with `flags`; a file this creates is 0600 and the directories it creates
    0700, whatever the umask. An existing file or directory keeps the mode its owner gave it."""
    path = pathlib.Path(path)
    _make_private_directories(path.parent)
    try:
        descriptor = os.open(path, flags | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:  # it exists (or is a dangling link): it keeps its mode
        return os.open(path, flags | os.O_CREAT, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)  # the umask may have taken bits away
    return descriptor


def _make_private_directories(directory: pathlib.Path) -> None:
    """Create `directory` and its missing parents, each 0700."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=PRIVATE_DIRECTORY_MODE)
        except FileExistsError:  # created meanwhile by someone else: theirs to keep
            continue
        new.chmod(PRIVATE_DIRECTORY_MODE)


def create_private(path: str | os.PathLike[str]) -> None:
    """Create the file if missing, as the others (0600, new directories 0700), for another
    library to open; SQLite gives its side files the database file's mode."""
    os.close(_open_private(path, os.O_RDWR))
