"""One Qdrant client per storage location, shared within the process.

Local mode keeps the index in files under DATA_DIR/qdrant and allows a single client per folder
per process (a second one fails on the folder's lock), so clients are shared and reference-counted
here. Server mode (QDRANT_URL) is checked once on open with a short timeout, so a server that is
down gives a clear error at once instead of a hang.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from qdrant_client import QdrantClient

from bot.settings import Settings
from knowledge.errors import KnowledgeUnavailable

SERVER_TIMEOUT_S = 5


@dataclass
class _Shared:
    client: QdrantClient
    users: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)


_registry: dict[str, _Shared] = {}
_registry_lock = threading.Lock()


@dataclass(frozen=True)
class ClientHandle:
    client: QdrantClient
    key: str
    local: bool
    lock: threading.RLock
    """Serialises calls to a local client (its storage is not safe across threads)."""
    where: str


def _open(key: str, settings: Settings, path: Path | None) -> QdrantClient:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            return QdrantClient(path=str(path), force_disable_check_same_thread=True)
        except RuntimeError as exc:
            raise KnowledgeUnavailable(
                f"The knowledge index at {path} is in use by another Parley process (the running "
                "bot?). Stop it first, or run a Qdrant server and set QDRANT_URL to share one "
                "index."
            ) from exc
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
    return client


def acquire(settings: Settings) -> ClientHandle:
    local = settings.qdrant_url is None
    path = settings.qdrant_path.resolve() if local else None
    key = f"path:{path}" if path is not None else f"url:{settings.qdrant_url}"
    with _registry_lock:
        shared = _registry.get(key)
        if shared is None:
            shared = _Shared(_open(key, settings, path))
            _registry[key] = shared
        shared.users += 1
    return ClientHandle(
        shared.client,
        key,
        local,
        shared.lock,
        str(path) if path is not None else str(settings.qdrant_url),
    )


def release(handle: ClientHandle) -> None:
    with _registry_lock:
        shared = _registry.get(handle.key)
        if shared is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            del _registry[handle.key]
            with shared.lock:
                shared.client.close()
