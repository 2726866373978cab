"""Files that hold records are personal data: created private to their owner."""

from __future__ import annotations

import os
import pathlib
import typing as t

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIRECTORY_MODE = 0o700


def open_private_for_append(path: str | os.PathLike[str]) -> t.TextIO:
    """Open a UTF-8 text file for appending, creating it 0600 (and missing directories 0700)."""
    path = pathlib.Path(path)
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIRECTORY_MODE, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    # A lone surrogate (no UTF-8 form) is written as its JSON escape, \ud800.
    return os.fdopen(descriptor, "a", encoding="utf-8", errors="backslashreplace")
