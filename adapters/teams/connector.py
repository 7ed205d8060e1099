"""Outbound Bot Connector calls: post, update, open a 1:1 chat; errors become typed.

One botbuilder `ConnectorClient` per serviceUrl (bounded LRU; Teams uses a handful of regional
URLs), created through botbuilder's connector factory so it carries the right credentials
(MSAL app token, or none when anonymous). Nothing here depends on an inbound turn: a ref's
route (the serviceUrl) and conversation id are all a post needs, also after a restart.

No retries here: msrest's default policy would resend a 5xx three times with back-off, so it is
set to zero; the delivery engine is the one retry policy. Errors: 429 → RateLimited(Retry-After),
413 or a body over `max_bytes` (checked before sending) → MessageTooLong, anything else →
PlatformError with the HTTP status and Teams' error code.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from botbuilder.schema import ChannelAccount, ConversationParameters
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import BotFrameworkAuthentication, ClaimsIdentity
from msrest.exceptions import ClientRequestError, HttpOperationError

from adapters.teams.wire import to_activity
from bot.errors import MessageTooLong, PlatformError, RateLimited
from bot.logs import get_logger

log = get_logger("adapters.teams")
T = TypeVar("T")

MAX_BODY_BYTES = 28_000
"""Teams documents about 100 KB per message; an activity is kept to this, well under it."""
MAX_CLIENTS = 32


class Connector:
    def __init__(
        self,
        authentication: BotFrameworkAuthentication,
        *,
        app_id: str,
        max_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._authentication = authentication
        self._app_id = app_id
        self.max_bytes = max_bytes
        self._clients: OrderedDict[str, ConnectorClient] = OrderedDict()

    @property
    def bot_account(self) -> ChannelAccount:
        return ChannelAccount(id=f"28:{self._app_id}" if self._app_id else "")

    async def send(self, service_url: str, conversation_id: str, body: Mapping[str, Any]) -> str:
        """Post `body` (a JSON activity) in the conversation; the new activity's id. (A channel
        reply chain is its own conversation id, so no reply-to call is needed.)"""
        activity = self._activity(body, "send")
        client = await self.client(service_url)
        coro = client.conversations.send_to_conversation(conversation_id, activity)
        response = await _call("send", coro, str(body.get("text") or ""))
        return str(getattr(response, "id", "") or "")

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, body: Mapping[str, Any]
    ) -> None:
        activity = self._activity({**body, "id": activity_id}, "update")
        client = await self.client(service_url)
        coro = client.conversations.update_activity(conversation_id, activity_id, activity)
        await _call("update", coro, str(body.get("text") or ""))

    async def open_personal_chat(self, service_url: str, user_account: str, tenant_id: str) -> str:
        """The 1:1 chat between the bot and a user (created, or the existing one); its id."""
        client = await self.client(service_url)
        parameters = ConversationParameters(
            is_group=False,
            bot=self.bot_account,
            members=[ChannelAccount(id=user_account)],
            tenant_id=tenant_id or None,
            channel_data={"tenant": {"id": tenant_id}} if tenant_id else None,
        )
        response = await _call("create", client.conversations.create_conversation(parameters), "")
        return str(getattr(response, "id", "") or "")

    async def client(self, service_url: str) -> ConnectorClient:
        found = self._clients.get(service_url)
        if found is not None:
            self._clients.move_to_end(service_url)
            return found
        claims = ClaimsIdentity({"aud": self._app_id, "appid": self._app_id}, True)
        factory = self._authentication.create_connector_factory(claims)
        client: ConnectorClient = await factory.create(service_url, None)
        client.config.retry_policy.retries = 0
        self._clients[service_url] = client
        while len(self._clients) > MAX_CLIENTS:
            _, old = self._clients.popitem(last=False)
            await _close(old)
        return client

    async def close(self) -> None:
        while self._clients:
            _, client = self._clients.popitem()
            await _close(client)

    def _activity(self, body: Mapping[str, Any], method: str) -> Any:
        size = len(json.dumps(body, ensure_ascii=False).encode())
        if size > self.max_bytes:
            text = str(body.get("text") or "")
            # A char limit in proportion, so the engine's next split fits.
            limit = max(1, int(len(text) * self.max_bytes / size * 0.9))
            raise MessageTooLong(len(text), limit, method=method)
        activity = to_activity(body)
        activity.from_property = self.bot_account if self._app_id else None
        return activity


async def _call(method: str, coro: Awaitable[T], text: str) -> T:
    try:
        return await coro
    except HttpOperationError as exc:
        raise _typed(method, exc, text) from exc
    except ClientRequestError as exc:
        raise PlatformError(
            f"Bot Connector unreachable: {exc}", method=method, code="network_error"
        ) from exc


def _typed(method: str, exc: HttpOperationError, text: str) -> PlatformError:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    headers = getattr(response, "headers", None) or {}
    code = _error_code(response) or str(status)
    if status == 429:
        return RateLimited(retry_after_of(headers), method=method, code=code)
    if status == 413:
        return MessageTooLong(len(text), None, method=method)
    log.warning("teams.connector_error", method=method, status=status, code=code)
    return PlatformError(
        f"Bot Connector {method} failed: {status} {code}", method=method, code=code
    )


def retry_after_of(headers: Mapping[str, str]) -> float:
    raw = str(headers.get("Retry-After") or "").strip()
    if not raw:
        return 1.0
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return 1.0


def _error_code(response: Any) -> str:
    try:
        data = json.loads(getattr(response, "text", "") or "{}")
    except ValueError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    return str(error.get("code") or "") if isinstance(error, dict) else ""


async def _close(client: ConnectorClient) -> None:
    try:
        await client.__aexit__(None, None, None)
    except Exception:  # closing a pooled session must not break shutdown
        log.debug("teams.client_close_failed", exc_info=True)
