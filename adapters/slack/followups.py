"""Thread follow-ups: answer a channel thread reply without a mention when the bot is part of
that thread (it was mentioned there or has answered there).

Where the policy lives: the *signals* are Slack-specific (`parent_user_id`, the bot's user id,
who posted in a thread), so the decision is taken here, in the transport, and only replies that
pass are handed to the core, unchanged (`mentions_bot=False`, their real value). The core thus
never sees chatter in threads the bot is not part of, and needs no Slack knowledge.

How "the bot is in this thread" is known, cheapest first:
1. memory: threads where an `app_mention` arrived or where we posted (bounded LRU);
2. the event itself: `parent_user_id` is the bot (the bot started the thread);
3. once per unknown thread, `conversations.replies`: any message from the bot or mentioning
   it. The answer is cached both ways, so a restart costs one lookup per active thread and no
   store is needed. A failed lookup counts as "no" (logged): a missed follow-up can be
   re-asked with a mention; an unwanted answer cannot be taken back.

Enabled by default (`SLACK_THREAD_FOLLOWUPS`), overridable per workspace.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

ThreadKey = tuple[str, str, str]
"""(workspace, channel, thread_ts)."""
Lookup = Callable[[ThreadKey], Awaitable[bool]]


class FollowupPolicy:
    def __init__(
        self,
        *,
        enabled: bool = True,
        per_workspace: Mapping[str, bool] | None = None,
        lookup: Lookup | None = None,
        capacity: int = 10_000,
    ) -> None:
        self._default = enabled
        self._per_workspace = dict(per_workspace or {})
        self._lookup = lookup
        self._capacity = capacity
        self._known: OrderedDict[ThreadKey, bool] = OrderedDict()

    def set_enabled(self, workspace_id: str, enabled: bool) -> None:
        """Turn follow-ups on or off for one workspace (overrides the default)."""
        self._per_workspace[workspace_id] = enabled

    def enabled_for(self, workspace_id: str) -> bool:
        return self._per_workspace.get(workspace_id, self._default)

    def note(self, key: ThreadKey) -> None:
        """The bot was mentioned in, or posted to, this thread."""
        self._remember(key, True)

    async def should_answer(self, key: ThreadKey, *, parent_user_id: str, bot_user_id: str) -> bool:
        if not self.enabled_for(key[0]):
            return False
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        joined = bool(bot_user_id) and parent_user_id == bot_user_id
        if not joined and self._lookup is not None:
            joined = await self._lookup(key)
        if self._known.get(key):  # noted while we were looking up
            return True
        self._remember(key, joined)
        return joined

    def _remember(self, key: ThreadKey, value: bool) -> None:
        self._known[key] = value
        self._known.move_to_end(key)
        while len(self._known) > self._capacity:
            self._known.popitem(last=False)
