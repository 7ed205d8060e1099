"""The Adapter protocol: the whole surface the core sees of a platform.

An adapter is composed into the app, never "the bot". It translates at the edge with pure
`normalize`/`render` functions around a thin transport, and declares its limits as
`Capabilities`. Optional abilities are separate small protocols, checked with isinstance.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from aiohttp import web

from bot.capabilities import Capabilities
from bot.events import Event
from bot.messages import OutgoingMessage
from bot.refs import ConversationRef, MessageHandle

EventSink = Callable[[Event], Awaitable[None]]
"""Where an adapter hands normalized events. Returns quickly: the work continues after the ack."""


@runtime_checkable
class Adapter(Protocol):
    name: str
    capabilities: Capabilities

    async def start(self, sink: EventSink) -> None:
        """Connect and begin delivering events to `sink`. Returns once started."""

    async def stop(self) -> None: ...

    async def send(self, ref: ConversationRef, message: OutgoingMessage) -> MessageHandle:
        """Post a new message. Raises RateLimited, MessageTooLong or PlatformError."""

    async def edit(self, handle: MessageHandle, message: OutgoingMessage) -> None:
        """Replace a posted message's content. Raises like `send`."""

    async def send_private(
        self, ref: ConversationRef, user_id: str, message: OutgoingMessage, *, hint: str = ""
    ) -> None:
        """Show a message to one person (ephemeral where the platform has it; a DM or an
        addressed message otherwise). `hint` is the opaque `Command.response_hint`."""


@runtime_checkable
class HttpMounted(Protocol):
    """An adapter that receives its events over the shared HTTP server (Slack HTTP mode, Teams)."""

    def mount(self, app: web.Application) -> None: ...


@runtime_checkable
class NativeStream(Protocol):
    """A platform-native token stream (Slack chat.startStream, Teams streaminfo)."""

    async def append(self, text: str) -> None: ...

    async def finish(self, message: OutgoingMessage) -> MessageHandle: ...


@runtime_checkable
class NativeStreaming(Protocol):
    async def open_native_stream(self, ref: ConversationRef) -> NativeStream | None:
        """A native stream for `ref`, or None where this place cannot stream natively."""


@runtime_checkable
class ThreadReader(Protocol):
    """An adapter that can read an existing thread once, to seed memory when first summoned."""

    async def read_thread(self, ref: ConversationRef, limit: int) -> list[tuple[str, str]]:
        """(role, text) pairs, oldest first; role is "user" or "assistant"."""
