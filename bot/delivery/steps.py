"""The calls a streamed reply makes, as planned values, and the plan of a native stream's next
call. Pure: `bot.delivery.reply` plans from its newest state and acts on the result.

A native stream grows by appending what is new; it rolls over like edited messages do: when
the text passes the limit, the stream is finished with the head of a safe cut
(`splitting.cut`) and a new one carries on from there. A final text that does not continue
what was streamed is written by `finish`, which replaces the stream's content.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from bot.capabilities import Op
from bot.delivery.splitting import cut
from bot.messages import OutgoingMessage


class Kind(Enum):
    POST = "post"
    EDIT = "edit"
    OPEN = "open"
    """Open a native stream for the current message."""
    APPEND = "append"
    FINISH = "finish"
    """Finish the current native stream."""
    STATUS = "status"
    """Show the status natively."""
    TYPING = "typing"


OPS = {
    Kind.POST: Op.POST,
    Kind.EDIT: Op.EDIT,
    Kind.OPEN: Op.POST,
    Kind.APPEND: Op.STREAM,
    Kind.FINISH: Op.STREAM,
    Kind.STATUS: Op.TYPING,
    Kind.TYPING: Op.TYPING,
}


@dataclass(frozen=True, slots=True)
class Step:
    kind: Kind
    text: str
    """What the current message will show (for APPEND: the whole streamed text after it)."""
    message: OutgoingMessage
    source: str
    """The whole text this step was planned from."""
    taken: int | None = None
    """Set when this step ends the current message: the input consumed by it."""
    reopen: str = ""
    done: bool = False
    """The step writes the final form of the last message."""


def native_step(
    text: str,
    rest: str,
    final: OutgoingMessage | None,
    streamed: str,
    reopen: str,
    limit: int,
) -> Step | None:
    """The next call of an open native stream that shows `streamed` of the current message,
    whose text from here on is `rest` (`text` is the whole answer)."""
    if len(rest) > limit:
        piece = cut(rest, limit, keep=len(reopen))
        if piece.head.startswith(streamed) and piece.head != streamed:
            delta = piece.head[len(streamed) :]
            return Step(Kind.APPEND, piece.head, OutgoingMessage.text(delta), text)
        message = OutgoingMessage.text(piece.head, final=True)
        return Step(Kind.FINISH, piece.head, message, text, piece.taken, piece.reopen)
    if final is not None:
        message = dataclasses.replace(final, text_markdown=rest)
        return Step(Kind.FINISH, rest, message, text, done=True)
    if rest.startswith(streamed) and rest != streamed:
        delta = rest[len(streamed) :]
        return Step(Kind.APPEND, rest, OutgoingMessage.text(delta, final=False), text)
    return None
