"""Teams activity → core event: a pure function around one dispatch table.

`normalize(activity)` takes the JSON activity Teams POSTed to `/api/messages` and returns an
`IncomingMessage`, an `ActionClick`, or None when Parley has nothing to do with it. Each activity
kind maps to one small function in `_KINDS`; a kind that is not in the table is an explicit skip
(`messageUpdate`, `messageDelete`, `messageReaction`, `installationUpdate`, other invokes …).
`conversationUpdate` is not an event for the core: `is_bot_installed` tells the transport when to
send its welcome.

Where a message was written (the `ConversationRef`):
- personal chat → kind direct, channel = the conversation id;
- group chat → kind group, channel = the conversation id (skipped without a mention: Teams only
  delivers unmentioned group messages to apps granted the RSC read permission);
- channel: Teams names the reply chain in the conversation id, `19:…@thread.tacv2;messageid=<root>`.
  A new post (root == the activity's id) is kind channel with no thread (the core places the
  answer in the post's reply chain); a reply in a chain is kind thread with thread = the root.
  Unmentioned new posts are skipped like group messages; unmentioned replies go to the core,
  which decides follow-ups.
- workspace = the tenant; route = the activity's serviceUrl (where every reply is POSTed, also
  after a restart).

Authors: the Entra (AAD) object id when Teams gives one (what TEAMS_ADMIN_IDS and ADMIN_USERS list),
else the channel account id; the channel account id (`29:…`, which proactive 1:1 chats need) rides
in the origin's token. Bots (`28:…` ids or role "bot") are marked `is_bot`, the core drops them.

Clicks: an Action.Execute arrives as the invoke `adaptiveCard/action`, its Action.Submit fallback
as a message with no text and the data in `value`; both carry only `{"parley": "parley:<id>:<value>"}`
(see `adapters.teams.cards`), decoded here, so a click after a restart still resolves.

Total: any JSON value gives an event or None, never an exception (property-tested with
hypothesis). Fields are read through `bot.payload`'s accessors, which turn a value of the wrong
type into the empty one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any

from bot.events import ActionClick, Event, IncomingMessage, Origin, OriginKind
from bot.payload import obj, objects, text
from bot.refs import Author, ConversationKind, ConversationRef

PLATFORM = "teams"
ACTION_PREFIX = "parley:"
ACTION_KEY = "parley"
"""The one key of an action's data: `{"parley": "parley:approve:a1b2"}`."""
INVOKE_WITHIN_S = 5.0
"""Teams shows an error on the card when an invoke is not answered within about 5 s."""
ACCOUNT_TTL_S = 86_400.0
"""How long the user's channel account id (the origin's token) is used for a private reply."""

Payload = Mapping[str, Any]

_KINDS_BY_CONVERSATION = {
    "personal": ConversationKind.DIRECT,
    "groupChat": ConversationKind.GROUP,
    "channel": ConversationKind.CHANNEL,
}


def normalize(activity: object) -> Event | None:
    """Translate one activity; None when it is not for Parley (or not an activity)."""
    payload = obj(activity)
    handler = _KINDS.get(activity_kind(payload), _skip)
    return handler(payload)


def activity_kind(activity: Payload) -> str:
    """The dispatch key: the activity type, with the name for invokes (`invoke:adaptiveCard/action`)
    and `message:submit` for an Action.Submit click."""
    kind = text(activity.get("type"))
    if kind == "invoke":
        return f"invoke:{text(activity.get('name'))}"
    if kind == "message" and _action_value(activity.get("value")) and not _text(activity):
        return "message:submit"
    return kind


def is_bot_installed(activity: object) -> bool:
    """A conversationUpdate that adds the bot itself: Parley was installed here."""
    activity = obj(activity)
    if activity.get("type") != "conversationUpdate":
        return False
    bot_id = text(obj(activity.get("recipient")).get("id"))
    return bool(bot_id) and any(
        text(m.get("id")) == bot_id for m in objects(activity.get("membersAdded"))
    )


# --- messages -------------------------------------------------------------------------------


def _message(activity: Payload) -> Event | None:
    ref = conversation_ref(activity)
    mentioned = mentions_bot(activity)
    author = _author(activity)
    if ref.kind is ConversationKind.GROUP and not mentioned:
        return None
    if ref.kind is ConversationKind.CHANNEL and not mentioned:
        return None
    message_id = text(activity.get("id"))
    return IncomingMessage(
        event_id=message_id,
        ref=ref,
        author=author,
        text=strip_mentions(_text(activity), activity),
        origin=_origin(activity, OriginKind.MESSAGE, message_id),
        mentions_bot=mentioned,
    )


def _submit(activity: Payload) -> Event | None:
    """A click on the Action.Submit fallback: a message with the action's data as `value`."""
    return _click(activity, activity.get("value"), respond_within_s=0.0)


def _invoke_action(activity: Payload) -> Event | None:
    """`adaptiveCard/action` (Action.Execute): answered synchronously by the transport."""
    data = obj(obj(activity.get("value")).get("action")).get("data")
    return _click(activity, data, respond_within_s=INVOKE_WITHIN_S)


def _click(activity: Payload, data: object, *, respond_within_s: float) -> Event | None:
    decoded = decode_action(_action_value(data))
    if decoded is None:
        return None
    action_id, value = decoded
    ref = conversation_ref(activity)
    card_id = text(activity.get("replyToId"))
    return ActionClick(
        event_id=text(activity.get("id")),
        ref=ref,
        author=_author(activity),
        action_id=action_id,
        value=value,
        origin=_origin(activity, OriginKind.ACTION, card_id, respond_within_s=respond_within_s),
    )


def _skip(activity: Payload) -> Event | None:
    return None


_KINDS: dict[str, Callable[[Payload], Event | None]] = {
    "message": _message,
    "message:submit": _submit,
    "invoke:adaptiveCard/action": _invoke_action,
}


# --- pieces ---------------------------------------------------------------------------------


def conversation_ref(activity: Payload) -> ConversationRef:
    """Where the activity was written."""
    conversation = obj(activity.get("conversation"))
    raw_id = text(conversation.get("id"))
    kind = _KINDS_BY_CONVERSATION.get(
        text(conversation.get("conversationType")), ConversationKind.DIRECT
    )
    tenant = text(conversation.get("tenantId")) or text(
        obj(obj(activity.get("channelData")).get("tenant")).get("id")
    )
    channel_id, thread = raw_id, None
    if kind is ConversationKind.CHANNEL:
        channel_id, _, root = raw_id.partition(";messageid=")
        if root and root != text(activity.get("id")):
            kind, thread = ConversationKind.THREAD, root
    return ConversationRef(
        platform=PLATFORM,
        workspace_id=tenant,
        channel_id=channel_id,
        thread_id=thread,
        kind=kind,
        route=text(activity.get("serviceUrl")),
    )


def conversation_id(ref: ConversationRef) -> str:
    """The Bot Connector conversation a ref posts to: a channel's reply chain is the channel id
    with `;messageid=<root>`; every other kind is its conversation id."""
    if ref.thread_id and ref.kind in (ConversationKind.THREAD, ConversationKind.CHANNEL):
        return f"{ref.channel_id};messageid={ref.thread_id}"
    return ref.channel_id


def mentions_bot(activity: Payload) -> bool:
    bot_id = text(obj(activity.get("recipient")).get("id"))
    return bool(bot_id) and any(
        text(obj(e.get("mentioned")).get("id")) == bot_id for e in _mentions(activity)
    )


def strip_mentions(typed: str, activity: Payload) -> str:
    """The text without the bot's `<at>…</at>` tags; other people's mentions keep their name."""
    bot_id = text(obj(activity.get("recipient")).get("id"))
    for entity in _mentions(activity):
        tag = text(entity.get("text"))
        if not tag:
            continue
        if text(obj(entity.get("mentioned")).get("id")) == bot_id:
            typed = typed.replace(tag, "")
        else:
            typed = typed.replace(tag, "@" + _AT.sub(r"\1", tag))
    typed = _AT.sub(r"\1", typed)
    return re.sub(r"[ \t]{2,}", " ", html.unescape(typed).replace("\xa0", " ")).strip()


def decode_action(raw: str) -> tuple[str, str] | None:
    """`parley:<id>:<value>` → (id, value); None for anything else."""
    if not raw.startswith(ACTION_PREFIX):
        return None
    action_id, sep, value = raw[len(ACTION_PREFIX) :].partition(":")
    return (action_id, value) if action_id and sep else None


def encode_action(action_id: str, value: str) -> str:
    return f"{ACTION_PREFIX}{action_id}:{value}"


_AT = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)


def _mentions(activity: Payload) -> list[Payload]:
    return [e for e in objects(activity.get("entities")) if e.get("type") == "mention"]


def _text(activity: Payload) -> str:
    return text(activity.get("text"))


def _action_value(data: object) -> str:
    if isinstance(data, Mapping):
        raw = data.get(ACTION_KEY)
        return raw if isinstance(raw, str) else ""
    return ""


def _author(activity: Payload) -> Author:
    sender = obj(activity.get("from"))
    account = text(sender.get("id"))
    return Author(
        id=text(sender.get("aadObjectId")) or account,
        display_name=text(sender.get("name")),
        is_bot=account.startswith("28:") or sender.get("role") == "bot",
    )


def _origin(
    activity: Payload, kind: OriginKind, message_id: str, *, respond_within_s: float = 0.0
) -> Origin:
    account = text(obj(activity.get("from")).get("id"))
    return Origin(
        kind=kind,
        message_id=message_id,
        token=account,
        token_ttl_s=ACCOUNT_TTL_S if account else 0.0,
        respond_within_s=respond_within_s,
    )
