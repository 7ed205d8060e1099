"""A crash-safe pointer file: which collection directory is live.

How it works: the new value is written to a temporary file in the same directory, flushed and
fsynced, then `os.replace`d over the pointer (atomic on POSIX and Windows) and the directory is
fsynced so the rename itself survives a power cut. A reader therefore sees the old value or the
new one, never a torn write. A missing pointer means "nothing active yet"; a pointer naming a
directory that is gone is reported as an error by the caller, not silently treated as empty.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def read_pointer(path: Path) -> str | None:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def write_pointer(path: Path, value: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
