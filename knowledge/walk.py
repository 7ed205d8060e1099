"""Which files a reindex looks at: a directory walk filtered by include and exclude globs.

Globs are matched against the path relative to the walked root and against the bare file name
(`*.md`, `drafts/**`, `**/secret*`). Hidden files and folders, `node_modules` and `__pycache__`
are always skipped. Without include globs every supported document type is taken.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from fnmatch import fnmatch
from pathlib import Path

from knowledge.loaders import is_supported

ALWAYS_EXCLUDED_DIRS = frozenset({"node_modules", "__pycache__", "venv", ".venv"})


def _matches(rel: str, name: str, globs: Sequence[str]) -> bool:
    for pattern in globs:
        if fnmatch(rel, pattern) or fnmatch(name, pattern):
            return True
        if pattern.endswith("/**") and (rel + "/").startswith(pattern[:-2]):
            return True
    return False


def iter_files(
    root: Path, *, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Iterator[Path]:
    """Files under `root` (or `root` itself when it is a file), sorted, absolute."""
    root = root.resolve()
    if root.is_file():
        if include and not _matches(root.name, root.name, include):
            return
        if include or is_supported(root):
            yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in ALWAYS_EXCLUDED_DIRS
            and not _matches((base / d).relative_to(root).as_posix(), d, exclude)
        )
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = base / name
            rel = path.relative_to(root).as_posix()
            if exclude and _matches(rel, name, exclude):
                continue
            if include:
                if _matches(rel, name, include):
                    yield path
            elif is_supported(path):
                yield path
