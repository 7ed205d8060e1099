"""What a reindex did, for people (`render`) and for the status record (`summary`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bot.ports import ReindexSummary


@dataclass
class ReindexReport:
    model: str = ""
    collection: str = ""
    started_at: float = field(default_factory=time.time)
    duration_s: float = 0.0
    documents_seen: int = 0
    indexed: int = 0
    """New or changed documents (re)embedded."""
    unchanged: int = 0
    deleted: int = 0
    chunks_written: int = 0
    added: list[str] = field(default_factory=list)
    """Sources indexed for the first time (part of `indexed`)."""
    changed: list[str] = field(default_factory=list)
    """Sources re-embedded because their content changed (the rest of `indexed`)."""
    removed: list[str] = field(default_factory=list)
    """Sources taken out of the index (file gone or now empty); `deleted` counts them."""
    flagged: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    """Sources read in this run that contain injection patterns (knowledge.injection)."""
    empty: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    switched_from: str | None = None
    """Previous collection when this run built a new one (embedding model change)."""
    failure: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "finished_at": self.started_at + self.duration_s,
            "duration_s": round(self.duration_s, 3),
            "documents": self.documents_seen,
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "chunks_written": self.chunks_written,
            "errors": [f"{src}: {msg}" for src, msg in self.errors][:50],
            "warnings": [f"{src}: {msg}" for src, msg in self.warnings][:50],
            "empty": self.empty[:50],
            "added": self.added[:50],
            "changed": self.changed[:50],
            "removed": self.removed[:50],
            "flagged": [f"{src}: {', '.join(names)}" for src, names in self.flagged][:50],
            "cancelled": self.cancelled,
            "failure": self.failure,
        }

    def outcome(self) -> ReindexSummary:
        """The report as the core sees it (`bot.ports.ReindexSummary`)."""
        return ReindexSummary(
            documents=self.documents_seen,
            added=tuple(self.added),
            changed=tuple(self.changed),
            removed=tuple(self.removed),
            unchanged=self.unchanged,
            failed=tuple(self.errors),
            flagged=tuple(self.flagged),
            chunks=self.chunks_written,
            duration_s=self.duration_s,
            cancelled=self.cancelled,
            failure=self.failure,
        )

    def render(self) -> str:
        head = (
            "Reindex cancelled"
            if self.cancelled
            else "Reindex failed"
            if self.failure
            else "Reindex finished"
        )
        lines = [
            f"{head} in {self.duration_s:.1f}s: {self.documents_seen} documents — "
            f"{self.indexed} indexed, {self.unchanged} unchanged, {self.deleted} removed, "
            f"{self.chunks_written} chunks written, {len(self.errors)} errors."
        ]
        if self.switched_from:
            lines.append(f"Built a new index for {self.model} and switched to it.")
        if self.cancelled:
            lines.append("Finished documents are kept; run it again to resume.")
        if self.failure:
            lines.append(
                f"Stopped by: {self.failure}. Finished documents are kept; run it again to resume."
            )
        if self.empty:
            lines.append(
                f"Skipped {len(self.empty)} empty file(s): "
                + ", ".join(self.empty[:5])
                + (" …" if len(self.empty) > 5 else "")
            )
        lines.extend(f"Warning: {src}: {msg}" for src, msg in self.warnings[:20])
        lines.extend(f"Error: {src}: {msg}" for src, msg in self.errors[:20])
        if len(self.errors) > 20:
            lines.append(f"… and {len(self.errors) - 20} more errors.")
        return "\n".join(lines)
