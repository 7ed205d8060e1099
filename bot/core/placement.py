"""Reply placement: where the answer to a message goes, decided once for every platform.

- A direct message, a group chat or a thread: the answer goes where the message is.
- A message at the top level of a channel: by the adapter's `Capabilities.channel_reply` —
  `THREAD`: in a thread under the message (the memory is the thread's; an adapter whose threads
  must be created first opens one with `ThreadOpener`, and if that fails the answer goes in the
  channel as a reply); `REPLY`: in the channel, referencing the message (the memory is the
  channel's); `INLINE`: in the channel.
- Commands and clicks are answered where they were made.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.adapter import Adapter, ThreadOpener
from bot.capabilities import Placement
from bot.events import IncomingMessage
from bot.logs import get_logger
from bot.refs import ConversationKind, ConversationRef

log = get_logger(__name__)
THREAD_TITLE_CHARS = 80


@dataclass(frozen=True, slots=True, kw_only=True)
class Placed:
    ref: ConversationRef
    """Where the answer goes; its memory key is the conversation's."""
    reply_to: str = ""
    """The message the answer's first post references, if any."""


async def place(event: IncomingMessage, adapter: Adapter) -> Placed:
    ref, message_id = event.ref, event.origin.message_id
    if ref.kind is not ConversationKind.CHANNEL or ref.thread_id or not message_id:
        return Placed(ref=ref)
    how = adapter.capabilities.channel_reply
    if how is Placement.THREAD:
        if not isinstance(adapter, ThreadOpener):
            return Placed(ref=ref.in_thread(message_id))
        try:
            return Placed(ref=await adapter.open_thread(ref, message_id, _title(event.text)))
        except Exception as exc:
            log.warning("could not open a thread; answering as a reply", error=str(exc))
            how = Placement.REPLY
    if how is Placement.REPLY:
        return Placed(ref=ref, reply_to=message_id)
    return Placed(ref=ref)


def _title(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= THREAD_TITLE_CHARS:
        return words or "Parley"
    return words[: THREAD_TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
