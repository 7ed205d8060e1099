"""Discord threads for the core's thread protocols: open one under a message, say whether the
bot is in one, read one to seed memory.

A Discord thread is a channel of its own whose id, when it was started from a message, is that
message's id; a `ConversationRef` keeps the parent in `channel_id` and the thread in `thread_id`.
- `open_thread`: POST /channels/{channel}/messages/{message}/threads (names are 1–100 chars).
- `bot_in_thread`: the bot created the thread (owner_id), or wrote or was mentioned among its
  last 100 messages: two cheap reads, asked only for threads the core has no memory of.
- `read_thread`: the thread's messages before one, oldest first, without other bots'.
"""

from __future__ import annotations

from adapters.discord.normalize import BotIdentity, plain_text
from adapters.discord.rest import DiscordRest
from bot.adapter import ThreadMessage
from bot.refs import Author, ConversationRef


async def open_thread(
    rest: DiscordRest, ref: ConversationRef, message_id: str, title: str
) -> ConversationRef:
    name = " ".join(title.split())[:100] or "Parley"
    data = await rest.call(
        "POST",
        f"/channels/{ref.channel_id}/messages/{message_id}/threads",
        body={"name": name, "auto_archive_duration": 1440},
        permission="Create Public Threads",
    )
    return ref.in_thread(str(data["id"]))


async def bot_in_thread(rest: DiscordRest, bot: BotIdentity, ref: ConversationRef) -> bool:
    if not ref.thread_id:
        return False
    thread = await rest.call("GET", f"/channels/{ref.thread_id}", permission="View Channel")
    if str(thread.get("owner_id", "")) == bot.user_id:
        return True
    messages = await rest.call(
        "GET",
        f"/channels/{ref.thread_id}/messages",
        params={"limit": "100"},
        permission="Read Message History",
    )
    me = bot.user_id
    return any(
        str((m.get("author") or {}).get("id")) == me
        or any(str(u.get("id")) == me for u in m.get("mentions") or ())
        for m in messages
    )


async def read_thread(
    rest: DiscordRest, bot: BotIdentity, ref: ConversationRef, *, before: str, limit: int
) -> list[ThreadMessage]:
    if not ref.thread_id or limit <= 0:
        return []
    params = {"limit": str(min(limit, 100))}
    if before:
        params["before"] = before
    data = await rest.call(
        "GET",
        f"/channels/{ref.thread_id}/messages",
        params=params,
        permission="Read Message History",
    )
    found: list[ThreadMessage] = []
    for m in reversed(data):
        author = m.get("author") or {}
        mine = str(author.get("id")) == bot.user_id
        if (author.get("bot") or m.get("webhook_id")) and not mine:
            continue
        text = plain_text(str(m.get("content") or ""), m.get("mentions") or (), bot.user_id)
        if text:
            found.append(
                ThreadMessage(
                    author=Author(
                        id=str(author.get("id", "")),
                        display_name=str(author.get("global_name") or author.get("username") or ""),
                        is_bot=mine,
                    ),
                    text=text,
                    from_bot=mine,
                    message_id=str(m.get("id", "")),
                )
            )
    return found
