"""`kb add`: which paths an admin may add from chat, and fetching a URL once to index its text.

A path is indexed with the bot's own file access, so chat may add only what lies under
KNOWLEDGE_ADD_ROOTS or an already configured knowledge folder; anything else ("/etc") is refused
with the setting to change. A URL must pass the HTTP tool's allowlist (HTTP_TOOL_ALLOWED_HOSTS,
`bot.tools.builtin.http.HostAllowlist`), checked again on every redirect (at most 3). Its body,
up to KNOWLEDGE_MAX_FILE_MB, is saved once under `DATA_DIR/kb-added/` with a name made of the
host and path (so citations stay readable) and the extension its content type calls for; that
file is then an ordinary source the indexer reads. Written by hand on aiohttp rather than by
running the tool itself: the tool's answer is text for a model, capped at 64 kB, while a source
needs the raw bytes and the content type.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot.tools.builtin.http import HostAllowlist

MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
EXTENSIONS = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/plain": ".txt",
    "text/x-rst": ".rst",
    "application/pdf": ".pdf",
}


class SourceRefused(Exception):
    """The source cannot be added; the message says why and what to change."""


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SourcePolicy:
    allowed_hosts: tuple[str, ...] = ()
    add_roots: tuple[Path, ...] = ()
    """Folders under which chat may add paths (KNOWLEDGE_ADD_ROOTS); configured folders count too."""
    fetched_dir: Path
    max_bytes: int = 20 * 1024 * 1024
    timeout_s: float = 30.0

    def check_path(self, text: str, configured: Sequence[str]) -> Path:
        """The resolved path, or SourceRefused."""
        path = Path(text).expanduser().resolve()
        roots = [*(r.expanduser().resolve() for r in self.add_roots), *map(Path, configured)]
        if not any(path.is_relative_to(root) for root in roots):
            allowed = ", ".join(str(r) for r in roots) or "none configured"
            raise SourceRefused(
                f"`{text}` is outside the folders chat may add from ({allowed}). Add its folder "
                "to KNOWLEDGE_ADD_ROOTS, or to KNOWLEDGE_PATHS on the server."
            )
        if not path.exists():
            raise SourceRefused(f"`{text}` does not exist on the server.")
        return path

    async def fetch(self, url: str) -> Path:
        """Fetch `url` once and save its body; the saved file, or SourceRefused."""
        allowlist, asked = HostAllowlist(self.allowed_hosts), url
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
                for _ in range(MAX_REDIRECTS + 1):
                    if (refusal := allowlist.refusal(url)) is not None:
                        raise SourceRefused(f"Not fetched: {refusal}")
                    async with session.get(url, allow_redirects=False) as response:
                        location = response.headers.get("Location")
                        if response.status in _REDIRECTS and location:
                            url = urljoin(url, location)
                            continue
                        if response.status != 200:
                            raise SourceRefused(
                                f"Not added: {url} answered HTTP {response.status}."
                            )
                        kind = response.content_type.lower()
                        extension = EXTENSIONS.get(kind)
                        if extension is None:
                            known = ", ".join(sorted(EXTENSIONS))
                            raise SourceRefused(
                                f"Not added: {url} is {kind or 'of no stated type'}; "
                                f"the knowledge base reads {known}."
                            )
                        body = await response.content.read(self.max_bytes + 1)
                        if len(body) > self.max_bytes:
                            raise SourceRefused(
                                f"Not added: {url} is larger than KNOWLEDGE_MAX_FILE_MB."
                            )
                        return self._save(asked, extension, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SourceRefused(
                f"Not added: fetching {url} failed ({exc or 'timed out'})."
            ) from exc
        raise SourceRefused(f"Not added: more than {MAX_REDIRECTS} redirects from {url}.")

    def saved_path(self, url: str, extension: str) -> Path:
        parts = urlsplit(url)
        slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.hostname}{parts.path}").strip("-")[:80]
        digest = hashlib.sha256(url.encode()).hexdigest()[:8]
        return self.fetched_dir / f"{slug}-{digest}{extension}"

    def _save(self, url: str, extension: str, body: bytes) -> Path:
        path = self.saved_path(url, extension)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_bytes(body)
        temp.replace(path)
        return path
