"""Console transport.

In a terminal the reply streams visibly: each edit writes only what was added to the text
already on screen (a reprint when the text changed in the middle). With stdin not a terminal,
each line is one message, nothing is printed while an answer streams, and once the conversation
has settled (`settle`: the app's queues are idle) the final state of every message the line
produced is printed, in order. At end of input `finished` is set.

stdin is read by a daemon thread feeding an asyncio queue, so a pending read never blocks exit.

On a real terminal (stdin is the process's tty) lines are read with `input()` and the stdlib
`readline` module: arrow keys edit the line, up/down walk the history (kept in `history_file`
across sessions). The thread then reads one line only when the loop asks for it, so the prompt
belongs to readline and redraws correctly; the terminal's settings are saved at start and put
back at stop, since a daemon thread killed inside `readline` would leave the terminal raw.
`cancel_answer()` (Ctrl-C while an answer streams) prints "cancelled" and hides the rest of that
turn's output; the caller stops the work itself.

A file for the user alone (`export-me`) is written under `files_dir`, readable by its owner only,
and the reply names its path.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import itertools
import os
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

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
        history_file: Path | None = None,
        files_dir: Path | None = None,
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
        self._editing = _line_editing(self._in) if self.interactive else None
        self._history_file = history_file
        self._files_dir = files_dir or Path("exports")
        self._tty_state: Any = None
        self._answering = False
        self._muted = False

    # --- Adapter protocol ---------------------------------------------------------------------
    async def start(self, sink: EventSink) -> None:
        if self._editing is not None:
            self._tty_state = _save_terminal(self._in)
            _load_history(self._editing, self._history_file)
        self._task = asyncio.create_task(self._loop(sink), name="console-input")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._editing is not None:
            _save_history(self._editing, self._history_file)
            _restore_terminal(self._in, self._tty_state)

    def cancel_answer(self) -> bool:
        """Ctrl-C: while an answer streams, say "cancelled" and hide the rest of it (True);
        at the prompt there is nothing to cancel (False)."""
        if not self._answering or self._muted:
            return self._muted
        self._muted = True
        self._out.write("\ncancelled\n")
        self._out.flush()
        return True

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

    async def send_private_file(
        self, ref: ConversationRef, user_id: str, name: str, data: bytes, *, origin: Origin
    ) -> str:
        """`bot.adapter.PrivateFiles`: write the file under `files_dir`, mode 0600."""
        return await asyncio.to_thread(_write_private, self._files_dir / Path(name).name, data)

    # --- output -------------------------------------------------------------------------------
    def _record(self, message_id: str, message: OutgoingMessage) -> None:
        self._texts[message_id] = render(message)
        if message_id not in self._touched:
            self._touched.append(message_id)
        if message.actions and message.actions[0].id == "approve":  # y/n answers approvals
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
        self._muted = False

    def _write(self, text: str) -> None:
        if self._muted:
            return
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
        next_line = self._prompted_reader() if self._editing is not None else self._reader()
        seq = 0
        try:
            await self.ready()
            while True:
                if self.interactive:
                    self._write("\n" if self._editing is not None else "\n" + PROMPT)
                line = await next_line()
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
                self._answering = True
                try:
                    self._show_result(await sink(event))
                    await self.settle()
                finally:
                    self._answering = False
                self._flush_turn()
        finally:
            self.finished.set()

    def _prompted_reader(self) -> Callable[[], Awaitable[str | None]]:
        """One `input(PROMPT)` per request, in a daemon thread (readline owns the prompt)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        wanted = threading.Semaphore(0)

        def pump() -> None:
            try:
                while True:
                    wanted.acquire()
                    try:
                        line: str | None = input(PROMPT) + "\n"
                    except EOFError:
                        line = None
                    loop.call_soon_threadsafe(queue.put_nowait, line)
                    if line is None:
                        return
            except RuntimeError:  # the loop closed while we were reading
                pass

        threading.Thread(target=pump, name="console-stdin", daemon=True).start()

        async def next_line() -> str | None:
            wanted.release()
            return await queue.get()

        return next_line

    def _reader(self) -> Callable[[], Awaitable[str | None]]:
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
        return queue.get


def _write_private(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return str(path.resolve())


def _line_editing(stream: TextIO) -> Any:
    """The readline module when `stream` is this process's terminal stdin, else None (piped
    input, a test's stream, or a platform without readline)."""
    if stream is not sys.stdin or not stream.isatty():
        return None
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain lines
        return None
    return readline


def _save_terminal(stream: TextIO) -> Any:
    try:
        import termios

        return termios.tcgetattr(stream.fileno())
    except (ImportError, OSError, ValueError):
        return None


def _restore_terminal(stream: TextIO, state: Any) -> None:
    if state is None:
        return
    import termios

    with contextlib.suppress(OSError, ValueError):
        termios.tcsetattr(stream.fileno(), termios.TCSADRAIN, state)


def _load_history(readline: Any, path: Path | None) -> None:
    if path is not None and path.is_file():
        with contextlib.suppress(OSError):
            readline.read_history_file(str(path))


def _save_history(readline: Any, path: Path | None) -> None:
    if path is None:
        return
    with contextlib.suppress(OSError):
        readline.set_history_length(1000)
        readline.write_history_file(str(path))
