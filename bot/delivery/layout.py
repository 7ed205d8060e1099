"""Where a streamed answer's text goes: which platform message is being written, and what the
messages before it hold. `bot.delivery.reply` owns one per reply and asks it for the next
post or edit; the calls, budgets and failures stay in the reply.

The answer is one growing text; its messages are consecutive pieces of it. Messages before
`index` are ended: together they hold `frozen`, the first `consumed` characters of the text.
The current message shows `reopen + text[consumed:]`, where `reopen` re-opens what the cut
left open (a code fence split across two messages is closed at the end of one and opened
again at the start of the next, `bot.delivery.splitting.cut`). When that is over the limit,
the current message is ended at a safe boundary with its final piece and the layout moves on
to the next (`advance`); a message whose last write already was that final piece is passed
over without a second write (`skip_written`). A final text that no longer starts with
`frozen` changed what ended messages hold: the layout goes back to the first message and
rewrites them in place (`keep_or_rewind`).

`limit` starts at the platform's declared maximum and only shrinks, when the platform refuses
a message as too long (`shrink`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from bot.delivery.splitting import Cut, cut
from bot.delivery.steps import Kind, Step
from bot.errors import MessageTooLong
from bot.messages import OutgoingMessage
from bot.refs import MessageHandle

MIN_LIMIT = 40
"""The smallest part size a shrinking limit goes down to (room for a fence and some text)."""
PLACEHOLDER = "…"


class Layout:
    """The messages of one reply and the piece of its text each holds; see the docstring."""

    def __init__(self, max_chars: int, min_edit_interval_s: float) -> None:
        self.handles: list[MessageHandle] = []
        """Every platform message the reply spans, in order."""
        self.limit = max(MIN_LIMIT, max_chars)
        self.index = 0
        self.consumed = 0
        self.frozen = ""
        self.reopen = ""
        self.shown: str | None = None
        """What the current message's last write showed (None: not written yet)."""
        self.shown_final = False
        """The current message's last write was final (an ended part needs no second write)."""
        self._interval = min_edit_interval_s
        self._written: dict[str, float] = {}
        self._last_cut: tuple[tuple[str, int, int], Cut] | None = None

    @property
    def posting(self) -> bool:
        """The next write starts a new message."""
        return self.index >= len(self.handles)

    @property
    def current(self) -> MessageHandle:
        return self.handles[self.index]

    @property
    def current_id(self) -> str:
        return "" if self.posting else self.current.message_id

    def rest(self, text: str) -> str:
        """What the current message is to show of `text`, before any cut."""
        return self.reopen + text[self.consumed :]

    def _cut(self, rest: str) -> Cut:
        """`rest` cut at the limit; the last cut is kept, as `skip_written` and `plan` both ask
        for it in one plan."""
        key = (rest, self.limit, len(self.reopen))
        if self._last_cut is None or self._last_cut[0] != key:
            self._last_cut = (key, cut(rest, self.limit, keep=len(self.reopen)))
        return self._last_cut[1]

    def keep_or_rewind(self, final_text: str) -> None:
        """Go back to the first message if `final_text` changed what ended messages hold."""
        if not final_text.startswith(self.frozen):
            self.index, self.consumed, self.frozen, self.reopen = 0, 0, "", ""
            self.shown = None

    def skip_written(self, text: str) -> None:
        """Pass over messages whose last write already was their final piece of `text`."""
        while not self.posting:
            rest = self.rest(text)
            if len(rest) <= self.limit:
                return
            piece = self._cut(rest)
            if self.shown != piece.head or not self.shown_final:
                return
            self.advance(text, piece.taken, piece.reopen)

    def plan(
        self,
        text: str,
        final: OutgoingMessage | None,
        decorate: Callable[[str], str],
        placeholder_due: bool,
    ) -> Step | None:
        """The post or edit that brings the current message up to `text` (None: it shows it).
        `decorate` adds what an intermediate write shows beside the text (a status line)."""
        rest = self.rest(text)
        write = Kind.POST if self.posting else Kind.EDIT
        if len(rest) > self.limit:
            piece = self._cut(rest)
            message = OutgoingMessage.text(piece.head, final=True)
            return Step(write, piece.head, message, text, piece.taken, piece.reopen)
        if final is not None:
            message = dataclasses.replace(final, text_markdown=rest)
            return Step(write, rest, message, text, done=True)
        shown = decorate(rest)
        if not shown.strip() and self.posting and placeholder_due:
            shown = PLACEHOLDER
        if not shown.strip() or (shown == self.shown and not self.posting):
            return None
        return Step(write, shown, OutgoingMessage.text(shown, final=False), text)

    def advance(self, text: str, taken: int, reopen: str) -> None:
        """End the current message with the first `taken` characters of what it was to show."""
        self.consumed += taken - len(self.reopen)
        self.frozen = text[: self.consumed]
        self.reopen = reopen
        self.index += 1
        self.shown = None

    def wrote(self, step: Step, now: float) -> None:
        """`step`'s post or edit of the current message was accepted at `now`."""
        self._written[self.current_id] = now
        self.shown = step.text
        self.shown_final = step.message.final
        if step.taken is not None:
            self.advance(step.source, step.taken, step.reopen)

    def paced(self, now: float) -> None:
        """A failed write: the next try on this message waits like an edit."""
        self._written[self.current_id] = now

    def next_edit_at(self) -> float:
        """When the current message may be edited again."""
        return self._written.get(self.current_id, 0.0) + self._interval

    def adopt(self, handle: MessageHandle, shown: str, now: float) -> None:
        """Take over a message written by other means (a native stream) as the current one."""
        self.handles.append(handle)
        self._written[handle.message_id] = now
        self.shown = shown

    def abandon(self) -> MessageHandle:
        """Leave the current message as it is; the rest of the text goes to a new message."""
        self.shown = None
        return self.handles.pop(self.index)

    def leftovers(self) -> list[MessageHandle]:
        """Messages after the current one (left over when a rewrite needed fewer)."""
        return self.handles[self.index + 1 :]

    def shrink(self, length: int, exc: MessageTooLong) -> bool:
        """A write of `length` characters was refused as too long: lower the limit below it.
        False when it is already as low as it goes."""
        target = exc.limit if exc.limit is not None and exc.limit < length else int(length * 0.8)
        new = max(MIN_LIMIT, min(self.limit, target))
        shrunk = new != self.limit
        self.limit = new
        return shrunk
