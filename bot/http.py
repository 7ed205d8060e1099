"""The one HTTP server of a process: health, readiness and metrics, plus the routes adapters mount
(Slack's /slack/events, Bot Framework's /api/messages). While the process drains for a
shutdown (`bot.shutdown`), the adapters' routes answer 503 with Retry-After, so the platform
delivers the event again later; health, readiness and metrics keep answering."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot import metrics
from bot.logs import get_logger

log = get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Readiness = Callable[[], Awaitable[dict[str, str]]]
"""Returns each dependency's state; every value "ok" means ready."""


ALWAYS_OPEN = frozenset({"/healthz", "/readyz", "/metrics"})
"""Routes that answer while the process drains; every other (an adapter's) answers 503."""
RETRY_AFTER_S = 30


@dataclass(frozen=True, slots=True)
class Refused:
    """An inbound request an adapter answers 4xx before parsing it: the status, and a short
    reason for the log line and the response (never the body)."""

    status: int
    reason: str


def build_http_app(
    readiness: Readiness, *, draining: Callable[[], bool] = lambda: False
) -> web.Application:
    @web.middleware
    async def refuse_while_draining(request: web.Request, handler: Handler) -> web.StreamResponse:
        if draining() and request.path not in ALWAYS_OPEN:
            log.info("http.refused_draining", path=request.path)
            return web.Response(
                status=503, text="shutting down", headers={"Retry-After": str(RETRY_AFTER_S)}
            )
        return await handler(request)

    app = web.Application(client_max_size=1024**2, middlewares=[refuse_while_draining])

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        checks = await readiness()
        ready = all(v == "ok" for v in checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    return app


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes `limit` bytes (the rest unread).

    A Content-Length over the limit is refused without reading; otherwise the body is read
    chunk by chunk (`StreamReader.read(n)` returns only what has arrived so far, so one call
    would cut a large body short)."""
    if (request.content_length or 0) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class HttpServer:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])  # the real port when PORT=0 asked for any free one

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
