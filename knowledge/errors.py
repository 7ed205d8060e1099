"""Errors the knowledge base raises on purpose; each message says what to do."""

from __future__ import annotations

from bot.errors import ParleyError


class KnowledgeError(ParleyError):
    """Base for knowledge-base errors."""


class KnowledgeUnavailable(KnowledgeError):
    """Qdrant cannot be reached or opened (server down, storage locked by another process)."""


class ReindexCancelled(KnowledgeError):
    """A reindex stopped early on request; finished documents are kept and the next run resumes."""


class DocumentError(KnowledgeError):
    """One file could not be read (unreadable, corrupt, binary); the run skips it and goes on."""
