"""Console transport.

In a terminal the reply streams visibly: each edit writes only what was added to the text
already on screen (a reprint when the text changed in the middle). With stdin not a terminal,
each line is one message, nothing is printed while an answer streams, and once the conversation
has settled (`settle`: the app's queues are idle) the final state of every message the line
produced is printed, in order. At end of input `finished` is set.

stdin is read by a daemon thread feeding an asyncio queue, so a pending read never blocks exit.
"""

from __future__ import annotations

import asyncio
import getpass
import itertools
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import TextIO

from adapters.console.normalize import normalize
from adapters.console.render import render
from bot.adapter import EventSink
from bot.capabilities import Capabilities
from bot.events import ActionClick, ActionResult, Origin
from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationRef, MessageHandle

PROMPT = "you> "


async def _nothing() -> None:
    return None


class ConsoleAdapter:
    name = "console"
    capabilities = Capabilities(
        max_post_chars=1_000_000,
        max_edit_chars=1_000_000,
        min_edit_interval_s=0.05,
        buttons=True,
        ephemeral=True,
        action_response=True,
    )

    def __init__(
        self,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        interactive: bool | None = None,
        user: Author | None = None,
    ) -> None:
        self._in = stdin or sys.stdin
        self._out = stdout or sys.stdout
        self.interactive = self._in.isatty() if interactive is None else interactive
        self.settle: Callable[[], Awaitable[None]] = _nothing
        """Awaited after each line: returns once the app has finished what the line started."""
        self.ready: Callable[[], Awaitable[None]] = _nothing
        """Awaited before the first line is read (e.g. the first knowledge index)."""
        self._user = user or Author(id=getpass.getuser(), display_name="")
        self._session = uuid.uuid4().hex[:8]
        self._ids = itertools.count(1)
        self._texts: dict[str, str] = {}
        self._touched: list[str] = []
        self._printed: dict[str, str] = {}
        self._streaming: str | None = None
        self._pending_approval: str | None = None
        self._task: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()

    # --- Adapter protocol ---------------------------------------------------------------------
    async def start(self, sink: EventSink) -> None:
        self._task = asyncio.create_task(self._loop(sink), name="console-input")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def send(
        self, ref: ConversationRef, message: OutgoingMessage, *, origin: Origin | None = None
    ) -> MessageHandle:
        message_id = str(next(self._ids))
        self._record(message_id, message)
        if self.interactive:
            self._write("\nparley> ")
            self._printed[message_id] = ""
            self._streaming = message_id
            if message.text_markdown.strip() not in ("…", "...") or message.actions:
                self._show(message_id)
        return MessageHandle(ref=ref, message_id=message_id)

    async def edit(self, handle: MessageHandle, message: OutgoingMessage) -> None:
        self._record(handle.message_id, message)
        if self.interactive:
            self._show(handle.message_id)

    async def send_private(
        self, ref: ConversationRef, user_id: str, message: OutgoingMessage, *, origin: Origin
    ) -> None:
        message_id = str(next(self._ids))
        self._record(message_id, message)
        if self.interactive:
            self._write("\n" + self._texts[message_id] + "\n")
            self._printed[message_id] = self._texts[message_id]

    # --- output -------------------------------------------------------------------------------
    def _record(self, message_id: str, message: OutgoingMessage) -> None:
        self._texts[message_id] = render(message)
        if message_id not in self._touched:
            self._touched.append(message_id)
        if message.actions:
            self._pending_approval = message.actions[0].value

    def _show(self, message_id: str) -> None:
        text, printed = self._texts[message_id], self._printed.get(message_id)
        if printed is not None and message_id == self._streaming and text.startswith(printed):
            self._write(text[len(printed) :])
        else:
            self._write("\nparley> " + text)
            self._streaming = message_id
        self._printed[message_id] = text

    def _flush_turn(self) -> None:
        if self.interactive:
            self._write("\n")
        else:
            for message_id in self._touched:
                self._write(self._texts[message_id] + "\n\n")
        self._touched.clear()
        self._streaming = None

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def _show_result(self, result: ActionResult | None) -> None:
        """What a y/n answer shows at once: the decided card, or why it was refused."""
        if result is None:
            return
        for message in (result.update, result.private):
            if message is not None:
                message_id = str(next(self._ids))
                self._record(message_id, message)
                if self.interactive:
                    self._write("\n" + self._texts[message_id] + "\n")
                    self._printed[message_id] = self._texts[message_id]

    # --- input --------------------------------------------------------------------------------
    async def _loop(self, sink: EventSink) -> None:
        lines = self._reader()
        seq = 0
        try:
            await self.ready()
            while True:
                if self.interactive:
                    self._write("\n" + PROMPT)
                line = await lines.get()
                if line is None:
                    break
                seq += 1
                pending = self._pending_approval if self.interactive else None
                event = normalize(
                    line, seq=seq, session=self._session, user=self._user, pending_approval=pending
                )
                if event is None:
                    continue
                if isinstance(event, ActionClick):
                    self._pending_approval = None
                self._show_result(await sink(event))
                await self.settle()
                self._flush_turn()
        finally:
            self.finished.set()

    def _reader(self) -> asyncio.Queue[str | None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def pump() -> None:
            try:
                for line in self._in:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except RuntimeError:  # the loop closed while we were reading: nobody is listening
                pass

        threading.Thread(target=pump, name="console-stdin", daemon=True).start()
        return queue
