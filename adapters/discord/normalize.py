"""Discord gateway dispatch → core event: a pure function around one dispatch table.

`normalize(event, data, bot, place)` takes one gateway dispatch (its name and `d`), who the bot
is, and where the message was written (`Place`, which the transport resolves from discord.py's
channel cache, because a message payload names only its channel, not whether it is a thread)
and returns an `IncomingMessage`, `Command`, `ActionClick`, or None. Each dispatch kind maps to
one small function in `_KINDS`, interactions again by their type; anything not in a table is an
explicit skip: MESSAGE_UPDATE and MESSAGE_DELETE (edits and deletions are never answered),
system messages (joins, pins, "thread created"), pings, autocomplete and modals.

- A message's `ref` is where it was written; the core decides where the answer goes. Bots and
  webhooks (ours included) come through with `Author.is_bot=True`; the core drops them.
- `mentions_bot`: the bot's `<@id>` / `<@!id>` is in the text (and removed from it), or the bot is
  in `mentions` other than as the pinged target of a reply. `replies_to_bot`: the message is a
  reply (message_reference) to one of the bot's messages.
- App commands become `Command(text=…)`: the command name, then each sub-command group /
  sub-command name and each option's value, in order (`/kb search query:foo` → "kb search
  foo"). The core parses that text with its one grammar. A USER or CHANNEL option's value is a
  bare snowflake; it becomes the mention `<@id>` / `<#id>` that a typed command would carry
  (`/usage period:week user:@Ada` → "usage week <@123>").
- Buttons carry `parley:<action>:<value>` in custom_id (see `render.encode_custom_id`), decoded
  here, so a click resolves after a restart without any registry.
- Interactions carry their token in the origin (valid 15 minutes); the transport acknowledges
  every interaction itself within Discord's 3 s, so `respond_within_s` is 0 and commands are
  `deferred` (the first answer through the token replaces "thinking…").

Total: any JSON value gives an event or None, never an exception (property-tested with
hypothesis). Fields are read through `bot.payload`'s accessors, which turn a value of the wrong
type into the empty one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.discord.render import decode_custom_id
from bot.events import ActionClick, Attachment, Command, Event, IncomingMessage, Origin, OriginKind
from bot.payload import integer, obj, objects, text
from bot.refs import Author, ConversationKind, ConversationRef

PLATFORM = "discord"
DM_WORKSPACE = "@me"
TOKEN_TTL_S = 15 * 60.0
"""An interaction token lives 15 minutes."""

_USER_MESSAGE_TYPES = frozenset({0, 19})  # DEFAULT, REPLY; every other type is a system message
_THREAD_TYPES = frozenset({10, 11, 12})  # announcement, public, private thread
_DM, _GROUP_DM = 1, 3
_APPLICATION_COMMAND, _MESSAGE_COMPONENT = 2, 3
_SUBCOMMAND, _SUBCOMMAND_GROUP = 1, 2
_OPTION_MENTIONS = {6: "<@{}>", 7: "<#{}>"}  # USER, CHANNEL: a snowflake as the mention
_CHAT_INPUT = 1

Payload = Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class BotIdentity:
    user_id: str
    """The bot user's snowflake (equal to the application id for bots)."""
    application_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """Where a channel id points: a channel, a thread (with its parent) or a DM."""

    channel_id: str
    """The channel; for a thread, its parent channel."""
    thread_id: str | None = None
    kind: ConversationKind = ConversationKind.CHANNEL


def place_of(channel: object) -> Place:
    """The `Place` of a Discord channel object (REST, GUILD_CREATE, an interaction's channel)."""
    channel = obj(channel)
    channel_id, kind = text(channel.get("id")), integer(channel.get("type"), -1)
    if kind in _THREAD_TYPES and text(channel.get("parent_id")):
        return Place(
            channel_id=text(channel["parent_id"]),
            thread_id=channel_id,
            kind=ConversationKind.THREAD,
        )
    if kind == _DM:
        return Place(channel_id=channel_id, kind=ConversationKind.DIRECT)
    if kind == _GROUP_DM:
        return Place(channel_id=channel_id, kind=ConversationKind.GROUP)
    return Place(channel_id=channel_id)


def normalize(
    event: str, data: object, bot: BotIdentity, place: Place | None = None
) -> Event | None:
    """Translate one gateway dispatch; None when it is not for Parley (or not a payload)."""
    handler = _KINDS.get(text(event), _skip)
    return handler(obj(data), bot, place)


# --- messages -----------------------------------------------------------------------------


def _message_create(data: Payload, bot: BotIdentity, place: Place | None) -> Event | None:
    if integer(data.get("type", 0), -1) not in _USER_MESSAGE_TYPES:
        return None
    content = text(data.get("content"))
    referenced = obj(data.get("referenced_message"))
    replies_to_bot = bool(data.get("message_reference")) and (
        text(obj(referenced.get("author")).get("id")) == bot.user_id
    )
    # A reply pings its target by adding it to `mentions`; that is a reply, not a mention.
    mentions = objects(data.get("mentions"))
    listed = any(text(u.get("id")) == bot.user_id for u in mentions)
    mentioned = (listed and not replies_to_bot) or (
        bool(bot.user_id) and _mention_pattern(bot.user_id).search(content) is not None
    )
    guild_id = text(data.get("guild_id"))
    if place is None:
        kind = ConversationKind.CHANNEL if guild_id else ConversationKind.DIRECT
        place = Place(channel_id=text(data.get("channel_id")), kind=kind)
    message_id = text(data.get("id"))
    return IncomingMessage(
        event_id=message_id,
        ref=_ref(guild_id, place),
        author=_author(obj(data.get("author")), bot, webhook=bool(data.get("webhook_id"))),
        text=plain_text(content, mentions, bot.user_id),
        origin=Origin(kind=OriginKind.MESSAGE, message_id=message_id),
        mentions_bot=mentioned,
        replies_to_bot=replies_to_bot,
        attachments=tuple(_attachment(a) for a in objects(data.get("attachments"))),
    )


def _attachment(data: Payload) -> Attachment:
    return Attachment(
        name=text(data.get("filename")) or text(data.get("id")),
        url=text(data.get("url")),
        content_type=text(data.get("content_type")),
        size=max(0, integer(data.get("size"))),
    )


# --- interactions -------------------------------------------------------------------------


def _interaction_create(data: Payload, bot: BotIdentity, place: Place | None) -> Event | None:
    handler = _INTERACTIONS.get(integer(data.get("type")), _skip)
    return handler(data, bot, place)


def _command(data: Payload, bot: BotIdentity, place: Place | None) -> Event | None:
    command = obj(data.get("data"))
    if integer(command.get("type", _CHAT_INPUT), -1) != _CHAT_INPUT:
        return None  # user / message context-menu commands: none registered
    words = [text(command.get("name"))]
    options = objects(command.get("options"))
    while options:
        option = options.pop(0)
        kind = integer(option.get("type"), -1)
        if kind in (_SUBCOMMAND, _SUBCOMMAND_GROUP):
            words.append(text(option.get("name")))
            options = objects(option.get("options")) + options
        else:
            words.append(_option_word(kind, text(option.get("value"))))
    return Command(
        event_id=text(data.get("id")),
        ref=_interaction_ref(data, place),
        author=_interaction_author(data, bot),
        text=" ".join(w for w in words if w).strip(),
        origin=Origin(
            kind=OriginKind.COMMAND,
            token=text(data.get("token")),
            token_ttl_s=TOKEN_TTL_S,
            deferred=True,
        ),
    )


def _option_word(kind: int, value: str) -> str:
    mention = _OPTION_MENTIONS.get(kind)
    return mention.format(value) if mention and value else value


def _component(data: Payload, bot: BotIdentity, place: Place | None) -> Event | None:
    decoded = decode_custom_id(text(obj(data.get("data")).get("custom_id")))
    if decoded is None:
        return None
    action_id, value = decoded
    card = text(obj(data.get("message")).get("id"))
    return ActionClick(
        event_id=text(data.get("id")),
        ref=_interaction_ref(data, place),
        author=_interaction_author(data, bot),
        action_id=action_id,
        value=value,
        origin=Origin(
            kind=OriginKind.ACTION,
            message_id=card,
            token=text(data.get("token")),
            token_ttl_s=TOKEN_TTL_S,
        ),
    )


def _interaction_ref(data: Payload, place: Place | None) -> ConversationRef:
    channel = obj(data.get("channel")) or {"id": data.get("channel_id")}
    return _ref(text(data.get("guild_id")), place or place_of(channel))


def _interaction_author(data: Payload, bot: BotIdentity) -> Author:
    user = obj(obj(data.get("member")).get("user")) or obj(data.get("user"))
    return _author(user, bot, webhook=False)


def _skip(data: Payload, bot: BotIdentity, place: Place | None) -> Event | None:
    return None


Handler = Callable[[Payload, BotIdentity, Place | None], Event | None]

_KINDS: dict[str, Handler] = {
    "MESSAGE_CREATE": _message_create,
    "INTERACTION_CREATE": _interaction_create,
}
_INTERACTIONS: dict[int, Handler] = {
    _APPLICATION_COMMAND: _command,
    _MESSAGE_COMPONENT: _component,
}


# --- shared -------------------------------------------------------------------------------


def _ref(guild_id: str, place: Place) -> ConversationRef:
    return ConversationRef(
        platform=PLATFORM,
        workspace_id=guild_id or DM_WORKSPACE,
        channel_id=place.channel_id,
        thread_id=place.thread_id,
        kind=place.kind,
    )


def _author(user: Payload, bot: BotIdentity, *, webhook: bool) -> Author:
    user_id = text(user.get("id"))
    return Author(
        id=user_id,
        display_name=text(user.get("global_name")) or text(user.get("username")),
        is_bot=bool(user.get("bot") or user.get("system") or webhook or user_id == bot.user_id),
    )


def _mention_pattern(user_id: str) -> re.Pattern[str]:
    return re.compile(rf"<@!?{re.escape(user_id)}>")


_USER_MENTION = re.compile(r"<@!?(\d+)>")


def plain_text(content: str, mentions: object, bot_user_id: str = "") -> str:
    """What a person typed: the bot's mention removed, other user mentions shown as @name."""
    names = {
        text(u.get("id")): text(u.get("global_name"))
        or text(u.get("username"))
        or text(u.get("id"))
        for u in objects(mentions)
    }

    def mention(match: re.Match[str]) -> str:
        user_id = match.group(1)
        return "" if user_id == bot_user_id else f"@{names.get(user_id, user_id)}"

    plain = _USER_MENTION.sub(mention, content)
    return re.sub(r"[ \t]{2,}", " ", plain).strip()
