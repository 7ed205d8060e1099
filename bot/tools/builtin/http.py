"""`http_request`: HTTP to allowlisted hosts only.

GET and HEAD are `read` (run at once); other methods are `external` and need approval. The URL
must be http(s) and its host must equal one entry of HTTP_TOOL_ALLOWED_HOSTS (case-insensitive;
an entry with a port, `host:8080`, matches only that port). That is checked before any approval
card and again before the request. Redirects are followed by hand (at most 3, GET/HEAD only),
each target checked against the allowlist; a redirect off the allowlist is reported, not followed.
The response body is read up to a byte cap and the whole exchange is bounded by the tool timeout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot.tools.registry import Risk, Tool, ToolContext

MAX_REDIRECTS = 3
MAX_BODY_BYTES = 64_000
_READ_METHODS = frozenset({"GET", "HEAD"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class HostAllowlist:
    def __init__(self, entries: Iterable[str]) -> None:
        self._entries = frozenset(e.strip().lower() for e in entries if e.strip())

    def __bool__(self) -> bool:
        return bool(self._entries)

    def refusal(self, url: str) -> str | None:
        """Why `url` may not be requested, or None when it may."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return f"{url!r} is not a valid URL."
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "only http:// and https:// URLs with a host are allowed."
        host = parts.hostname.lower()
        if host in self._entries or (port is not None and f"{host}:{port}" in self._entries):
            return None
        allowed = ", ".join(sorted(self._entries)) or "none configured"
        return f"host {host!r} is not on the allowlist (HTTP_TOOL_ALLOWED_HOSTS: {allowed})."


def _risk(args: Mapping[str, Any]) -> Risk:
    return Risk.READ if str(args.get("method", "GET")).upper() in _READ_METHODS else Risk.EXTERNAL


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(16_384):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return b"".join(chunks)[:cap], True
    return b"".join(chunks), False


def http_request_tool(
    allowed_hosts: Iterable[str], *, timeout_s: float = 15.0, max_body_bytes: int = MAX_BODY_BYTES
) -> Tool:
    allowlist = HostAllowlist(allowed_hosts)

    def precheck(args: Mapping[str, Any]) -> str | None:
        return allowlist.refusal(str(args["url"]))

    async def run(args: Mapping[str, Any], ctx: ToolContext) -> str:
        method = str(args.get("method", "GET")).upper()
        url = str(args["url"])
        headers = {str(k): str(v) for k, v in (args.get("headers") or {}).items()}
        body = args.get("body")
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
            for _ in range(MAX_REDIRECTS + 1):
                if (refusal := allowlist.refusal(url)) is not None:
                    raise PermissionError(refusal)
                async with session.request(
                    method, url, headers=headers, data=body, allow_redirects=False
                ) as response:
                    location = response.headers.get("Location")
                    if response.status in _REDIRECTS and location and method in _READ_METHODS:
                        target = urljoin(url, location)
                        if (refusal := allowlist.refusal(target)) is not None:
                            status = response.status
                            return f"HTTP {status}: redirect to {target} not followed: {refusal}"
                        url = target
                        continue
                    data, cut = await _read_capped(response, max_body_bytes)
                    text = data.decode(response.charset or "utf-8", errors="replace")
                    head = f"HTTP {response.status} {response.reason or ''}".rstrip()
                    kind = response.headers.get("Content-Type", "")
                    note = f"\n[body cut at {max_body_bytes} bytes]" if cut else ""
                    return f"{head}\nURL: {url}\nContent-Type: {kind}\n\n{text}{note}"
        return f"stopped after {MAX_REDIRECTS} redirects; last location {url}"

    return Tool(
        name="http_request",
        description="Make an HTTP request to an allowlisted host. GET/HEAD run at once; other "
        "methods (POST, PUT, PATCH, DELETE) need a person's approval.",
        parameters={
            "type": "object",
            "properties": {
                "url": {"type": "string", "minLength": 8, "maxLength": 2_000},
                "method": {
                    "type": "string",
                    "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                },
                "headers": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "maxLength": 2_000},
                    "maxProperties": 20,
                },
                "body": {"type": "string", "maxLength": 20_000},
            },
            "required": ["url"],
            "additionalProperties": False,
        },
        run=run,
        risk=_risk,
        precheck=precheck,
        timeout_s=timeout_s,
        max_output_chars=12_000,
        status="Fetching a web page…",
    )
