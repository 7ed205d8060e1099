"""What an approval card may show of a call's arguments, and the hash that pins them.

The preview masks values under sensitive keys (token, password, secret, key, authorization,
cookie, credential…) at any depth, masks `Bearer …`, `user:pass@` in URLs and sensitive query
parameters inside strings, and is truncated. The hash covers the full, unredacted arguments in a
canonical JSON form, so the audit log can prove which arguments were approved without storing them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

MASK = "•••"
PREVIEW_CHARS = 300
_SENSITIVE_KEY = re.compile(
    r"token|passw|secret|key|authori[sz]ation|auth|cookie|credential|signature|session", re.I
)
_IN_STRING = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {MASK}"),
    (re.compile(r"(?i)(://)[^/@\s:]+:[^/@\s]+@"), rf"\1{MASK}@"),
    (
        re.compile(
            r"(?i)([?&;][^=&\s]*(?:token|key|secret|passw|auth|signature|sig)[^=&\s]*=)[^&\s]+"
        ),
        rf"\1{MASK}",
    ),
)


def redact(value: Any, *, key: str = "") -> Any:
    if key and _SENSITIVE_KEY.search(key):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): redact(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        for pattern, replacement in _IN_STRING:
            value = pattern.sub(replacement, value)
    return value


def args_preview(args: Mapping[str, Any], *, limit: int = PREVIEW_CHARS) -> str:
    text = json.dumps(redact(args), ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def args_hash(args: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        args, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
