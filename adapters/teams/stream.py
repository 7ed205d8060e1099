"""Teams' native streaming in personal chats: typing activities with a `streaminfo` entity.

The protocol (Teams "stream bot messages"): the first chunk is a typing activity whose
streaminfo has `streamType` "informative" (a status line such as "Searching…") or "streaming"
(answer text) and `streamSequence` 1; the Connector answers with the stream's id. Every later
chunk carries that `streamId` and a strictly greater sequence, and its text is the whole text
so far (not a delta). A message activity with `streamType` "final" and the same id ends the
stream and becomes the posted message (the AI label and citations go on it). Teams takes about
one chunk per second and ends a stream two minutes after it started; after that it refuses
chunks and the final message with 403.

`append(delta)` accumulates and sends the text so far; `set_status(text)` sends an informative
chunk. Pacing is the delivery engine's (the adapter declares the one-per-second stream limit).
Errors are raised typed: a 429 as RateLimited (the engine waits and sends newer text), anything
else as PlatformError, which makes the engine finish with a normal message instead. Near the
two-minute cap (`cap_s` minus a margin) the stream raises before calling, so that normal message
goes out while there is time; the cap is measured with the injected `now`. Until `finish`, the
stream offers no handle to adopt (see `handle`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from adapters.teams.connector import Connector
from adapters.teams.normalize import conversation_id
from adapters.teams.render import render, render_stream_text
from bot.errors import PlatformError
from bot.messages import OutgoingMessage
from bot.refs import ConversationRef, MessageHandle

STREAM_CAP_S = 120.0
CAP_MARGIN_S = 10.0


class TeamsNativeStream:
    def __init__(
        self,
        connector: Connector,
        ref: ConversationRef,
        *,
        now: Callable[[], float] = time.monotonic,
        cap_s: float = STREAM_CAP_S,
    ) -> None:
        self._connector = connector
        self._ref = ref
        self._now = now
        self._cap_s = cap_s
        self._stream_id = ""
        self._sequence = 0
        self._started: float | None = None
        self._text = ""

    @property
    def handle(self) -> MessageHandle | None:
        """None while streaming: a message that is still a stream cannot be updated (and one
        Teams ended at the cap cannot either), so when the stream fails the engine posts a new
        message rather than adopting this one. The finished stream is a normal message."""
        return None

    async def set_status(self, text: str) -> None:
        if text:
            await self._chunk("informative", text)

    async def append(self, text: str) -> None:
        if not text:
            return
        await self._chunk("streaming", render_stream_text(self._text + text))
        self._text += text

    async def finish(self, message: OutgoingMessage) -> MessageHandle:
        body = render(message).to_json()
        if not self._stream_id:  # nothing was streamed: a plain message
            message_id = await self._connector.send(
                self._ref.route, conversation_id(self._ref), body
            )
            return MessageHandle(ref=self._ref, message_id=message_id)
        self._check_cap()
        entity = {"type": "streaminfo", "streamId": self._stream_id, "streamType": "final"}
        body["entities"] = [*body.get("entities", ()), entity]
        await self._connector.send(self._ref.route, conversation_id(self._ref), body)
        return MessageHandle(ref=self._ref, message_id=self._stream_id)

    async def _chunk(self, stream_type: str, text: str) -> None:
        self._check_cap()
        sequence = self._sequence + 1
        info: dict[str, Any] = {
            "type": "streaminfo",
            "streamType": stream_type,
            "streamSequence": sequence,
        }
        if self._stream_id:
            info["streamId"] = self._stream_id
        body = {"type": "typing", "text": text, "textFormat": "xml", "entities": [info]}
        if self._started is None:
            self._started = self._now()
        stream_id = await self._connector.send(self._ref.route, conversation_id(self._ref), body)
        self._sequence = sequence
        self._stream_id = self._stream_id or stream_id

    def _check_cap(self) -> None:
        if self._started is not None and self._now() - self._started > self._cap_s - CAP_MARGIN_S:
            raise PlatformError(
                "Teams ends a stream two minutes after it started; finishing with a message",
                method="stream",
                code="stream_cap",
            )
