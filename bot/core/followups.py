"""Thread follow-ups: answer a thread reply without a mention when the bot is part of that thread.

One policy for every platform. A message is addressed to the bot when it mentions the bot, is a
direct message, or the platform says it replies to one of the bot's messages (`replies_to_bot`:
a Discord reply reference, a Slack thread the bot started). Otherwise a message in a thread is a
follow-up when follow-ups are on for its workspace (`THREAD_FOLLOWUPS`, with per-workspace
`THREAD_FOLLOWUPS_OVERRIDES`) and the bot is part of the thread, known cheapest first:

1. memory: threads where the bot was mentioned or answered, in this process (a bounded LRU);
2. storage: the core has conversation memory for the thread;
3. once per unknown thread, the adapter's `ThreadProbe.bot_in_thread` (e.g. Slack's
   `conversations.replies`). The answer is cached both ways. A failed probe counts as "no"
   (logged): a missed follow-up can be re-asked with a mention; an unwanted answer cannot be
   taken back.

Channel messages outside threads are never answered without a mention.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from bot.adapter import ThreadProbe
from bot.core.lru import Lru
from bot.events import IncomingMessage
from bot.logs import get_logger
from bot.refs import ConversationKind, ConversationRef

log = get_logger(__name__)

HasMemory = Callable[[str], Awaitable[bool]]
"""Whether the core holds conversation memory for a memory key."""


class FollowupPolicy:
    def __init__(
        self,
        *,
        enabled: bool,
        overrides: Mapping[str, bool],
        has_memory: HasMemory,
        capacity: int = 10_000,
    ) -> None:
        self._default = enabled
        self._overrides = dict(overrides)
        """`platform:workspace_id` (or `platform:*`) → on/off."""
        self._has_memory = has_memory
        self._known: Lru[str, bool] = Lru(capacity)

    def enabled_for(self, ref: ConversationRef) -> bool:
        workspace = self._overrides.get(f"{ref.platform}:{ref.workspace_id}")
        if workspace is not None:
            return workspace
        return self._overrides.get(f"{ref.platform}:*", self._default)

    def note(self, ref: ConversationRef) -> None:
        """The bot was mentioned in, or answers in, the thread `ref`."""
        if ref.thread_id:
            self._known.put(ref.memory_key, True)

    async def addressed(self, event: IncomingMessage, probe: ThreadProbe | None) -> bool:
        """Should the bot answer `event`? Notes the thread when it is."""
        if event.mentions_bot or event.is_direct or event.replies_to_bot:
            self.note(event.ref)
            return True
        ref = event.ref
        if ref.kind is not ConversationKind.THREAD or not ref.thread_id:
            return False
        if not self.enabled_for(ref):
            return False
        key = ref.memory_key
        known = self._known.get(key)
        if known is not None:
            return known
        joined = await self._has_memory(key)
        if not joined and probe is not None:
            try:
                joined = await probe.bot_in_thread(ref)
            except Exception as exc:
                log.warning("follow-up probe failed", error=str(exc))
                joined = False
        if self._known.get(key):  # noted while we were looking
            return True
        self._known.put(key, joined)
        return joined
