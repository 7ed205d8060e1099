"""Discord's outbound writes for the core's Adapter and Typing protocols: post, edit, a private
note, typing.

Each write is `render`, a length check (`MessageTooLong` before any call: 2,000 chars), then one
call through `rest.DiscordRest`, which never waits or retries and turns 429 / 50035 / 403 into
RateLimited / MessageTooLong / PlatformError and X-RateLimit headers into announcements.
- Where: a thread is a channel of its own, so a write to a thread goes to its id (`_target`).
- Through an interaction: when the origin carries an interaction token (a command or a click),
  `send` posts through /webhooks/{application}/{token} (the first post after a deferred
  callback fills "thinking…") and keeps the token in the handle's `route` (`webhook:<token>`),
  so `edit` goes through the same webhook for as long as the token lives (15 min). A webhook
  body carries no message_reference.
- `send_private`: ephemeral through a live token. Discord has no ephemeral messages outside
  interactions, so without one, or when Discord says the token is gone (50027, 10015, 10062),
  the note goes to the person's DMs (which they may have closed: a PlatformError then).
"""

from __future__ import annotations

from typing import Any

from adapters.discord.render import MAX_CONTENT, DiscordMessage, render
from adapters.discord.rest import DiscordRest
from bot.capabilities import Op
from bot.errors import MessageTooLong, PlatformError
from bot.events import Origin, OriginKind
from bot.messages import OutgoingMessage
from bot.refs import ConversationRef, MessageHandle

WEBHOOK_ROUTE = "webhook:"
_TOKEN_GONE = frozenset({"50027", "10015", "10062"})


async def send(
    rest: DiscordRest,
    application_id: str,
    ref: ConversationRef,
    message: OutgoingMessage,
    *,
    origin: Origin | None = None,
) -> MessageHandle:
    if origin is not None and origin.token and origin.kind is not OriginKind.MESSAGE:
        payload = _checked(render(message), "follow-up")
        data = await webhook(rest, application_id, "POST", origin.token, "", payload, ref)
        return MessageHandle(
            ref=ref, message_id=str(data["id"]), route=WEBHOOK_ROUTE + origin.token
        )
    payload = _checked(render(message), "create message")
    data = await rest.call(
        "POST",
        f"/channels/{_target(ref)}/messages",
        body=payload.to_json(),
        ref=ref,
        op=Op.POST,
        permission="Send Messages in Threads" if ref.thread_id else "Send Messages",
    )
    return MessageHandle(ref=ref, message_id=str(data["id"]))


async def edit(
    rest: DiscordRest, application_id: str, handle: MessageHandle, message: OutgoingMessage
) -> None:
    payload = _checked(render(message), "edit message")
    if handle.route.startswith(WEBHOOK_ROUTE):
        token = handle.route[len(WEBHOOK_ROUTE) :]
        await webhook(
            rest,
            application_id,
            "PATCH",
            token,
            f"/messages/{handle.message_id}",
            payload,
            handle.ref,
        )
        return
    body = payload.to_json()
    body.pop("message_reference", None)
    await rest.call(
        "PATCH",
        f"/channels/{_target(handle.ref)}/messages/{handle.message_id}",
        body=body,
        ref=handle.ref,
        op=Op.EDIT,
        permission="Send Messages",
    )


async def send_private(
    rest: DiscordRest,
    application_id: str,
    ref: ConversationRef,
    user_id: str,
    message: OutgoingMessage,
    *,
    origin: Origin,
) -> None:
    if origin.token and origin.kind is not OriginKind.MESSAGE:
        try:
            await webhook(
                rest,
                application_id,
                "POST",
                origin.token,
                "",
                _checked(render(message, ephemeral=True), "follow-up"),
                ref,
                op=Op.PRIVATE,
            )
            return
        except PlatformError as exc:
            if exc.code not in _TOKEN_GONE:
                raise
    dm = await rest.call("POST", "/users/@me/channels", body={"recipient_id": user_id})
    await rest.call(
        "POST",
        f"/channels/{dm['id']}/messages",
        body=_checked(render(message), "direct message").to_json(),
        ref=ref,
        op=Op.PRIVATE,
        permission="Send Messages (the person's DMs may be closed)",
    )


async def webhook(
    rest: DiscordRest,
    application_id: str,
    method: str,
    token: str,
    suffix: str,
    payload: DiscordMessage,
    ref: ConversationRef,
    *,
    op: Op = Op.POST,
) -> Any:
    """POST (a follow-up, `wait=true` for its id) or PATCH (`suffix` names the message) through
    an interaction token, which needs no bot token."""
    body = payload.to_json()
    body.pop("message_reference", None)
    return await rest.call(
        method,
        f"/webhooks/{application_id}/{token}{suffix}",
        body=body,
        ref=ref,
        op=Op.EDIT if method == "PATCH" else op,
        params={"wait": "true"} if method == "POST" else None,
        auth=False,
    )


async def typing(rest: DiscordRest, ref: ConversationRef) -> None:
    await rest.call(
        "POST",
        f"/channels/{_target(ref)}/typing",
        ref=ref,
        op=Op.TYPING,
        permission="Send Messages",
    )


def _target(ref: ConversationRef) -> str:
    """The Discord channel to write to: a thread is a channel of its own."""
    return ref.thread_id or ref.channel_id


def _checked(payload: DiscordMessage, method: str) -> DiscordMessage:
    if len(payload.content) > MAX_CONTENT:
        raise MessageTooLong(len(payload.content), MAX_CONTENT, method=method)
    return payload
