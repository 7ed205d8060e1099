"""The Adapter protocol: the whole surface the core sees of a platform.

An adapter is composed into the app, never "the bot". It translates at the edge with pure
`normalize`/`render` functions around a thin transport, and declares its limits as
`Capabilities`. Optional abilities are separate small protocols, checked with isinstance; an
adapter without one gets the documented default. See docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aiohttp import web

from bot.capabilities import Capabilities, Op, RateScope
from bot.events import ActionResult, Event, Origin
from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationRef, MessageHandle

EventSink = Callable[[Event], Awaitable[ActionResult | None]]
"""Where an adapter hands normalized events. Returns quickly (the work continues queued); for an
`ActionClick` it returns what the click shows at once, which an adapter with
`Capabilities.action_response` puts in the platform's synchronous response."""


@runtime_checkable
class Adapter(Protocol):
    name: str
    capabilities: Capabilities

    async def start(self, sink: EventSink) -> None:
        """Connect and begin delivering events to `sink`. Returns once started."""

    async def stop(self) -> None: ...

    async def send(
        self, ref: ConversationRef, message: OutgoingMessage, *, origin: Origin | None = None
    ) -> MessageHandle:
        """Post a new message. With `origin` (a command or click whose token is still valid: the
        core passes it only then, on the first message of an answer), answer through it (Discord: the interaction's follow-up, which fulfils a deferred
        response). Raises RateLimited, MessageTooLong or PlatformError."""

    async def edit(self, handle: MessageHandle, message: OutgoingMessage) -> None:
        """Replace a posted message's content. Raises like `send`."""

    async def send_private(
        self, ref: ConversationRef, user_id: str, message: OutgoingMessage, *, origin: Origin
    ) -> None:
        """Show a message to `user_id` only: through the origin's token when it has one (Slack
        response_url, Discord ephemeral follow-up; the core clears a token past its lifetime),
        else ephemeral where the platform has it, else a direct message. Raises like `send`."""


@runtime_checkable
class HttpMounted(Protocol):
    """An adapter that receives its events over the shared HTTP server (Slack HTTP mode, Teams)."""

    def mount(self, app: web.Application) -> None: ...


@runtime_checkable
class NativeStream(Protocol):
    """A platform-native token stream (Slack chat.startStream, Teams streaminfo)."""

    @property
    def handle(self) -> MessageHandle | None:
        """The message the stream writes, once the platform has named it (so the edit path can
        adopt it if the stream fails)."""

    async def append(self, text: str) -> None: ...

    async def finish(self, message: OutgoingMessage) -> MessageHandle:
        """End the stream showing `message` (its text continues what was appended, or replaces
        it); returns the finished message."""


@runtime_checkable
class NativeStatusStream(Protocol):
    """A native stream that can show a status line (Teams' informative updates)."""

    async def set_status(self, text: str) -> None: ...


@runtime_checkable
class NativeStreaming(Protocol):
    async def open_native_stream(
        self, ref: ConversationRef, origin: Origin | None
    ) -> NativeStream | None:
        """A native stream for `ref`, or None where this place cannot stream natively."""


@runtime_checkable
class StatusIndicator(Protocol):
    """Shows a reply's status natively (Slack assistant status)."""

    async def set_status(self, ref: ConversationRef, text: str) -> None:
        """Show `text` as the bot's status in `ref`; "" clears it."""


@runtime_checkable
class Typing(Protocol):
    """Shows that the bot is typing in `ref` for `Capabilities.typing_interval_s`."""

    async def typing(self, ref: ConversationRef) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadMessage:
    """One earlier message of a thread, as the core seeds memory with it."""

    author: Author
    text: str
    from_bot: bool = False
    """Written by this bot."""
    message_id: str = ""


@runtime_checkable
class ThreadReader(Protocol):
    """An adapter that can read an existing thread once, to seed memory when first summoned."""

    async def read_thread(
        self, ref: ConversationRef, *, before: str, limit: int
    ) -> list[ThreadMessage]:
        """The thread's messages before message `before` (the one that summoned the bot;
        "" for all), oldest first, at most `limit`; never other bots' messages."""


@runtime_checkable
class ThreadProbe(Protocol):
    """Answers the follow-up policy's one question about a thread the core has no memory of."""

    async def bot_in_thread(self, ref: ConversationRef) -> bool:
        """True when the bot posted in, or was mentioned in, the thread `ref`."""


@runtime_checkable
class ThreadOpener(Protocol):
    """An adapter whose threads must be created before they can be posted to (Discord)."""

    async def open_thread(
        self, ref: ConversationRef, message_id: str, title: str
    ) -> ConversationRef:
        """A new thread under message `message_id` in `ref`'s channel, named `title`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Announcement:
    """What a platform said about a rate limit on its last answer (Discord's X-RateLimit-*)."""

    ref: ConversationRef
    op: Op
    scope: RateScope
    remaining: int
    """Calls left in the current window."""
    reset_after_s: float
    """Seconds until the window resets."""


RateListener = Callable[[Announcement], None]


@runtime_checkable
class RateAnnouncer(Protocol):
    """An adapter that reports the limits its platform announces, so budgets tighten before
    the platform has to say 429."""

    def set_rate_listener(self, listener: RateListener) -> None: ...


@runtime_checkable
class RoleDirectory(Protocol):
    """An adapter that can say whether a user is an administrator on its platform (Slack
    workspace admins and owners, Discord members with Manage Server, a Teams admin list)."""

    async def is_platform_admin(self, ref: ConversationRef, user_id: str) -> bool: ...


@runtime_checkable
class PrivateFiles(Protocol):
    """An adapter that can hand one user a file privately (`export-me`): the console writes it
    to a folder, Slack shares it in the user's DM with the bot. Without it (or when it raises)
    the core sends the file's text, split into private messages."""

    async def send_private_file(
        self, ref: ConversationRef, user_id: str, name: str, data: bytes, *, origin: Origin
    ) -> str:
        """Deliver the file; return where it went (a path or a link), to tell the user."""
