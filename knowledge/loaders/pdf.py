"""PDF: one section per page ("Page N"), via pypdf."""

from __future__ import annotations

import io
import logging
import warnings

from knowledge.documents import LoadedDocument, Section
from knowledge.errors import DocumentError


def load_pdf(data: bytes, fallback_title: str, *, max_chars: int | None = None) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    sections: list[Section] = []
    notes: list[str] = []
    total = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise DocumentError("encrypted PDF, cannot read it")
            meta_title = (reader.metadata.title if reader.metadata else None) or ""
            for number, page in enumerate(reader.pages, start=1):
                text = (page.extract_text() or "").strip()
                if not text:
                    continue
                if max_chars is not None and total + len(text) > max_chars:
                    text = text[: max(0, max_chars - total)]
                    notes.append(
                        f"PDF text is larger than the cap; indexing stopped at page {number}"
                    )
                sections.append(Section(headings=(f"Page {number}",), text=text))
                total += len(text)
                if notes:
                    break
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise DocumentError(f"corrupt or unreadable PDF: {exc}") from exc
    return LoadedDocument(
        title=str(meta_title).strip() or fallback_title,
        sections=tuple(sections),
        warnings=tuple(notes),
    )
