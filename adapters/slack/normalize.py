"""Slack payload → core event: a pure function around one dispatch table.

`normalize(body, bot)` takes what Bolt parsed from one request (an Events API envelope, a slash
command form, or an interactivity payload) and returns an `IncomingMessage`, `Command`,
`ActionClick`, or `None` when Parley has nothing to do with it. Each payload kind maps to one
small function in `_KINDS`; a kind that is not in the table is an explicit skip.

Where a message was written (the `ConversationRef`; where the answer goes is the core's
placement, which for Slack starts a thread under a channel message):
- `app_mention` → the channel (kind channel), or its thread when the mention is in one.
- `message.im` → the DM (kind direct), in a thread only when the user threads.
- a thread reply in a channel or group DM (`message.*` with `thread_ts`) → that thread, with
  `mentions_bot=False` and `replies_to_bot` when the bot started the thread: whether it is a
  follow-up worth answering is the core's follow-up policy. A channel message that mentions the
  bot is skipped here because Slack also delivers it as `app_mention`; answering both would
  answer twice.

Every event carries its `Origin`: the message's ts to reply to; for slash commands and clicks
the `response_url` (valid 30 minutes) as the token; for messages the asker's user and team,
which a native stream in a channel needs as its recipient.

Never answered: anything from a bot (ours included), edits, deletions and every other subtype.

Total: any JSON value gives an event or None, never an exception (property-tested with
hypothesis). Fields are read through `_obj` / `_str` / `_list`, which turn a value of the wrong
type into the empty one, so a payload of the wrong shape ends as a skip or an event with empty
fields (which the core then ignores), never a traceback.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.events import ActionClick, Attachment, Command, Event, IncomingMessage, Origin, OriginKind
from bot.payload import Payload
from bot.payload import items as _list
from bot.payload import obj as _obj
from bot.payload import text as _str
from bot.refs import Author, ConversationKind, ConversationRef

PLATFORM = "slack"
ACTION_PREFIX = "parley_"
"""Our buttons' action_id is `parley_<Action.id>`; the value is `Action.value` alone."""
RESPONSE_URL_TTL_S = 30 * 60.0
"""A response_url works for 30 minutes after the interaction (the core clears it after that)…"""
RESPONSE_URL_USES = 5
"""…and for at most 5 posts (counted by `adapters.slack.respond`)."""
ACK_WITHIN_S = 3.0
RECIPIENT = "recipient:"
"""A message origin's token: `recipient:<user>:<team>`, for native streams in channels."""

# Subtypes that are still a person writing a new message; every other subtype (message_changed,
# message_deleted, bot_message, channel_join, …) is skipped.
_USER_SUBTYPES = frozenset({"", "thread_broadcast", "file_share", "me_message"})


@dataclass(frozen=True, slots=True, kw_only=True)
class BotIdentity:
    """Who the bot is in this workspace, from `auth.test`."""

    user_id: str
    """The bot user (U…): mentions of it are stripped; its messages are ignored."""
    bot_id: str = ""
    """The bot (B…): messages carrying it are ours."""


def normalize(body: object, bot: BotIdentity) -> Event | None:
    """Translate one Slack payload; None when it is not for Parley (or not a payload at all)."""
    payload = _obj(body)
    handler = _KINDS.get(payload_kind(payload), _skip)
    return handler(payload, bot)


def payload_kind(body: Payload) -> str:
    """The dispatch key: the event type for Events API envelopes, else the payload type."""
    if body.get("type") == "event_callback":
        return f"event:{_str(_obj(body.get('event')).get('type'))}"
    if "command" in body and "trigger_id" in body:
        return "slash_command"
    return _str(body.get("type"))


# --- events -------------------------------------------------------------------------------


def _app_mention(body: Payload, bot: BotIdentity) -> Event | None:
    event = _obj(body.get("event"))
    if _from_a_bot(event, bot) or event.get("subtype"):
        return None
    thread_ts = _str(event.get("thread_ts"))
    ref = _ref(body, event, thread=thread_ts or None)
    return _message(body, event, bot, ref, mentions_bot=True)


def _message_event(body: Payload, bot: BotIdentity) -> Event | None:
    event = _obj(body.get("event"))
    if _from_a_bot(event, bot) or _str(event.get("subtype")) not in _USER_SUBTYPES:
        return None
    thread_ts = _str(event.get("thread_ts"))
    mentioned = mentions(_str(event.get("text")), bot.user_id)
    if event.get("channel_type") == "im":
        ref = _ref(body, event, thread=thread_ts or None)
        ref = dataclasses.replace(ref, kind=ConversationKind.DIRECT)
        return _message(body, event, bot, ref, mentions_bot=mentioned)
    # Channels, private channels, group DMs: only thread replies; a mention is app_mention's.
    if not thread_ts or thread_ts == _str(event.get("ts")) or mentioned:
        return None
    ref = _ref(body, event, thread=thread_ts)
    parent = _str(event.get("parent_user_id"))
    return _message(
        body,
        event,
        bot,
        ref,
        mentions_bot=False,
        replies_to_bot=bool(bot.user_id) and parent == bot.user_id,
    )


def _message(
    body: Payload,
    event: Payload,
    bot: BotIdentity,
    ref: ConversationRef,
    *,
    mentions_bot: bool,
    replies_to_bot: bool = False,
) -> IncomingMessage:
    profile = _obj(event.get("user_profile"))
    name = _str(profile.get("display_name")) or _str(profile.get("real_name"))
    user = _str(event.get("user"))
    ts = _str(event.get("ts"))
    return IncomingMessage(
        event_id=_str(body.get("event_id")) or f"{ref.channel_id}:{ts}",
        ref=ref,
        author=Author(id=user, display_name=name),
        text=plain_text(_str(event.get("text")), bot.user_id),
        origin=Origin(
            kind=OriginKind.MESSAGE,
            message_id=ts,
            token=f"{RECIPIENT}{user}:{ref.workspace_id}",
            token_ttl_s=RESPONSE_URL_TTL_S,
        ),
        mentions_bot=mentions_bot,
        replies_to_bot=replies_to_bot,
        attachments=tuple(_attachment(f) for f in _list(event.get("files")) if isinstance(f, dict)),
    )


def _attachment(file: Payload) -> Attachment:
    size = file.get("size")
    return Attachment(
        name=_str(file.get("name")) or _str(file.get("title")) or _str(file.get("id")),
        url=_str(file.get("url_private")),
        content_type=_str(file.get("mimetype")),
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0,
    )


def _from_a_bot(event: Payload, bot: BotIdentity) -> bool:
    return bool(
        event.get("bot_id")
        or event.get("bot_profile")
        or (bot.user_id and event.get("user") == bot.user_id)
        or not _str(event.get("user"))
    )


def _ref(body: Payload, event: Payload, *, thread: str | None) -> ConversationRef:
    team = _str(body.get("team_id")) or _str(event.get("team"))
    return ConversationRef(
        platform=PLATFORM,
        workspace_id=team,
        channel_id=_str(event.get("channel")),
        thread_id=thread,
        kind=ConversationKind.THREAD if thread else ConversationKind.CHANNEL,
    )


# --- slash command ------------------------------------------------------------------------


def _slash_command(body: Payload, bot: BotIdentity) -> Event | None:
    channel = _str(body.get("channel_id"))
    return Command(
        event_id=_str(body.get("trigger_id")),
        ref=ConversationRef(
            platform=PLATFORM,
            workspace_id=_str(body.get("team_id")),
            channel_id=channel,
            kind=ConversationKind.DIRECT if channel.startswith("D") else ConversationKind.CHANNEL,
        ),
        author=Author(id=_str(body.get("user_id")), display_name=_str(body.get("user_name"))),
        text=_str(body.get("text")),
        origin=_respond_through(body, OriginKind.COMMAND),
    )


def _respond_through(body: Payload, kind: OriginKind, message_id: str = "") -> Origin:
    url = _str(body.get("response_url"))
    return Origin(
        kind=kind,
        message_id=message_id,
        token=url,
        token_ttl_s=RESPONSE_URL_TTL_S if url else 0.0,
        respond_within_s=ACK_WITHIN_S,
    )


# --- interactivity ------------------------------------------------------------------------


def _block_actions(body: Payload, bot: BotIdentity) -> Event | None:
    actions = [
        a
        for a in _list(body.get("actions"))
        if isinstance(a, Mapping) and _str(a.get("action_id")).startswith(ACTION_PREFIX)
    ]
    if not actions:
        return None
    action = actions[0]
    container = _obj(body.get("container"))
    message = _obj(body.get("message"))
    user = _obj(body.get("user"))
    channel = _str(_obj(body.get("channel")).get("id")) or _str(container.get("channel_id"))
    team = _str(_obj(body.get("team")).get("id")) or _str(user.get("team_id"))
    thread = _str(message.get("thread_ts")) or _str(container.get("thread_ts"))
    ref = ConversationRef(
        platform=PLATFORM,
        workspace_id=team,
        channel_id=channel,
        thread_id=thread or None,
        kind=_kind_of(channel, thread),
    )
    card_ts = _str(message.get("ts")) or _str(container.get("message_ts"))
    return ActionClick(
        event_id=_str(body.get("trigger_id")) or f"{card_ts}:{_str(action.get('action_ts'))}",
        ref=ref,
        author=Author(
            id=_str(user.get("id")),
            display_name=_str(user.get("name")) or _str(user.get("username")),
        ),
        action_id=_str(action.get("action_id"))[len(ACTION_PREFIX) :],
        value=_str(action.get("value")),
        origin=_respond_through(body, OriginKind.ACTION, card_ts),
    )


def _kind_of(channel: str, thread: object) -> ConversationKind:
    if channel.startswith("D"):
        return ConversationKind.DIRECT
    return ConversationKind.THREAD if thread else ConversationKind.CHANNEL


def _skip(body: Payload, bot: BotIdentity) -> Event | None:
    return None


_KINDS: dict[str, Callable[[Payload, BotIdentity], Event | None]] = {
    "event:app_mention": _app_mention,
    "event:message": _message_event,
    "slash_command": _slash_command,
    "block_actions": _block_actions,
}


# --- text ---------------------------------------------------------------------------------

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_CONTROL = re.compile(r"<(?=[@#!])")
"""A "<" that would start a Slack mention, channel link or special mention."""


def mentions(text: str, user_id: str) -> bool:
    return bool(user_id) and (f"<@{user_id}>" in text or f"<@{user_id}|" in text)


def plain_text(text: str, bot_user_id: str = "") -> str:
    """Slack's wire text → what a person typed: our mention removed, `<…>` links and
    mentions made readable, entities unescaped, outer whitespace trimmed."""

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "" if target[1:] == bot_user_id else f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return f"@{label or target[1:].split('^')[0]}"
        return target if not label or label == target else f"{label} ({target})"

    cleaned = _LINK.sub(link, text)
    # Unescaped last, and what the person typed as "<@U…>" (sent to us as "&lt;@U…&gt;") keeps a
    # harmless look-alike bracket, so no later step can read it as a real mention or link.
    return _CONTROL.sub("‹", html.unescape(re.sub(r"[ \t]{2,}", " ", cleaned))).strip()
