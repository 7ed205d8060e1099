"""One vector store per storage location, shared within the process.

Embedded (no QDRANT_URL): Qdrant's in-process engine under DATA_DIR/knowledge-index
(knowledge/vectors/edge.py), which allows a single opener per directory, so stores are shared and
reference-counted here. Server (QDRANT_URL): qdrant-client, checked once on open with a short
timeout, so a server that is down gives a clear error at once instead of a hang.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import structlog
from qdrant_client import QdrantClient

from bot.settings import Settings
from knowledge.errors import KnowledgeUnavailable
from knowledge.vectors.base import VectorStore
from knowledge.vectors.edge import EdgeStore
from knowledge.vectors.server import ServerStore

SERVER_TIMEOUT_S = 5
ALIAS = "parley_knowledge"
log = structlog.get_logger("knowledge")


@dataclass
class _Shared:
    store: VectorStore
    users: int = 0


_registry: dict[str, _Shared] = {}
_registry_lock = threading.Lock()


@dataclass(frozen=True)
class ClientHandle:
    store: VectorStore
    key: str
    local: bool
    where: str


def embedded_root(settings: Settings) -> Path:
    return (settings.data_dir / "knowledge-index").resolve()


def _open_embedded(root: Path, settings: Settings) -> VectorStore:
    old = settings.qdrant_path
    if old.is_dir() and not root.exists():
        log.warning(
            "knowledge.old_index_ignored",
            path=str(old),
            hint="the index now lives in DATA_DIR/knowledge-index; it is rebuilt from "
            "KNOWLEDGE_PATHS at start-up; run `kb reindex PATH` for paths indexed by hand, "
            "then delete the old folder",
        )
    root.mkdir(parents=True, exist_ok=True)
    return EdgeStore(root)


def _open_server(settings: Settings) -> VectorStore:
    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    client = QdrantClient(
        url=settings.qdrant_url,
        api_key=api_key,
        timeout=SERVER_TIMEOUT_S,
        check_compatibility=False,
    )
    try:
        client.get_collections()
    except Exception as exc:
        client.close()
        raise KnowledgeUnavailable(
            f"Qdrant at {settings.qdrant_url} is not reachable ({type(exc).__name__}: {exc}). "
            "Start the server, fix QDRANT_URL / QDRANT_API_KEY, or unset QDRANT_URL to keep the "
            "index in local files under DATA_DIR."
        ) from exc
    return ServerStore(client, alias=ALIAS, local=False, where=str(settings.qdrant_url))


def acquire(settings: Settings) -> ClientHandle:
    root = embedded_root(settings) if settings.qdrant_url is None else None
    key = f"path:{root}" if root is not None else f"url:{settings.qdrant_url}"
    with _registry_lock:
        shared = _registry.get(key)
        if shared is None:
            store = _open_embedded(root, settings) if root is not None else _open_server(settings)
            shared = _registry[key] = _Shared(store)
        shared.users += 1
    return ClientHandle(shared.store, key, shared.store.local, shared.store.where)


def release(handle: ClientHandle) -> None:
    with _registry_lock:
        shared = _registry.get(handle.key)
        if shared is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            del _registry[handle.key]
            shared.store.close()
