"""The console's start-up lines: what Parley is doing before the first prompt.

A first start embeds the bundled docs (10–15 s on a laptop); without a word the console looks
hung. `StartupProgress` writes "Starting Parley…", then, only when the first index really has
work (passages written, or still running after a second), one line rewritten in place —
"Indexing the knowledge base: 12/40 documents, 310 passages" — and "Indexed 40 documents in
11.8 s." once it ends. An index with nothing new stays silent. The reindex progress callback
runs in the indexing thread, so writes hold a lock.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

SHOW_AFTER_S = 1.0


class StartupProgress:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._index_started: float | None = None
        self._shown = False
        self._done = 0
        self._width = 0

    def starting(self) -> None:
        self._write("Starting Parley…")

    def __call__(self, info: dict[str, float]) -> None:
        """ProgressCallback for the first index."""
        done, total, chunks = int(info["documents"]), int(info["documents_total"]), info["chunks"]
        self._done = done
        now = time.monotonic()
        if self._index_started is None:
            self._index_started = now
        if not self._shown and chunks <= 0 and now - self._index_started < SHOW_AFTER_S:
            return
        self._shown = True
        self._write(
            f"Indexing the knowledge base: {done}/{total} documents, {int(chunks)} passages"
        )

    def finish(self) -> None:
        """End the start-up line (a summary when the index had work); the banner comes next."""
        if self._shown:
            took = time.monotonic() - (self._index_started or self._started)
            self._write(f"Indexed {self._done} documents in {took:.1f} s.", end="\n")
        else:
            self._write("")

    def _write(self, text: str, end: str = "") -> None:
        with self._lock:
            pad = " " * max(0, self._width - len(text))
            self._out.write("\r" + text + pad + ("\r" if not text else "") + end)
            self._out.flush()
            self._width = 0 if end else len(text)
