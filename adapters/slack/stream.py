"""Slack's native streaming (`chat.startStream` / `appendStream` / `stopStream`).

Only thread replies can stream; in channels Slack also wants the recipient's user and team ids
(in DMs it does not). `append(text)` sends a *delta* of Markdown (Slack renders `markdown_text`
itself, so no mrkdwn conversion here). `finish(message)` stops the stream with whatever the final
message adds beyond what was streamed, plus the sources/buttons blocks; if the final text is not
a continuation of what was streamed, the message is replaced after stopping, with the adapter's
own `edit` (`chat.update`).

Any Slack error (including an expired stream) is raised as a typed error: the caller falls back
to posting and editing (a failed append first ends the stream, best effort). RateLimited is
raised as is: the caller waits and appends the newer text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import call
from adapters.slack.render import render
from bot.errors import PlatformError, RateLimited
from bot.messages import OutgoingMessage
from bot.refs import ConversationRef, MessageHandle

Edit = Callable[[MessageHandle, OutgoingMessage], Awaitable[None]]
"""Replaces a posted message's content (`SlackAdapter.edit`)."""


class SlackNativeStream:
    def __init__(self, client: AsyncWebClient, ref: ConversationRef, ts: str, edit: Edit) -> None:
        self._client = client
        self._ref = ref
        self._ts = ts
        self._edit = edit
        self._streamed = ""

    @classmethod
    async def open(
        cls,
        client: AsyncWebClient,
        ref: ConversationRef,
        *,
        edit: Edit,
        recipient_user_id: str = "",
        recipient_team_id: str = "",
    ) -> SlackNativeStream:
        assert ref.thread_id, "native streams are thread replies only"
        data = await call(
            "chat.startStream",
            client.chat_startStream(
                channel=ref.channel_id,
                thread_ts=ref.thread_id,
                recipient_user_id=recipient_user_id or None,
                recipient_team_id=recipient_team_id or None,
            ),
        )
        return cls(client, ref, str(data.get("ts", "")), edit)

    @property
    def handle(self) -> MessageHandle:
        return MessageHandle(ref=self._ref, message_id=self._ts)

    async def append(self, text: str) -> None:
        if not text:
            return
        try:
            await call(
                "chat.appendStream",
                self._client.chat_appendStream(
                    channel=self._ref.channel_id, ts=self._ts, markdown_text=text
                ),
            )
        except RateLimited:
            raise  # the caller waits and sends the newer text
        except PlatformError:
            await self._abandon()
            raise
        self._streamed += text

    async def _abandon(self) -> None:
        """The caller falls back to edits in a new message: end this stream (best effort) so
        the partial text does not stay in Slack's "streaming" state."""
        with contextlib.suppress(PlatformError):
            await call(
                "chat.stopStream",
                self._client.chat_stopStream(channel=self._ref.channel_id, ts=self._ts),
            )

    async def finish(self, message: OutgoingMessage) -> MessageHandle:
        final = message.text_markdown
        continues = final.startswith(self._streamed)
        rest = final[len(self._streamed) :] if continues else ""
        extra = [b for b in render(message).blocks if b.get("type") != "section"]
        await call(
            "chat.stopStream",
            self._client.chat_stopStream(
                channel=self._ref.channel_id,
                ts=self._ts,
                markdown_text=rest or None,
                blocks=extra or None,
            ),
        )
        if not continues:
            await self._edit(self.handle, message)
        return self.handle
