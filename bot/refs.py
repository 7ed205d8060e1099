"""Where a message lives and who wrote it: the identity types every layer shares."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRef:
    """A place in a platform where messages live.

    Slack: team / channel / thread_ts. Discord: guild / channel / thread channel.
    Teams: tenant / conversation id / reply chain. DMs are channels.
    """

    platform: str
    """Adapter name: "slack", "discord", "teams", "console"."""
    workspace_id: str
    """Slack team, Discord guild ("@me" for DMs), Teams tenant."""
    channel_id: str
    thread_id: str | None = None
    """Thread (Slack thread_ts, Discord thread channel, Teams reply chain); None at top level."""

    @property
    def memory_key(self) -> str:
        """Conversation memory is per thread when there is one, else per channel."""
        return f"{self.platform}:{self.workspace_id}:{self.channel_id}:{self.thread_id or ''}"

    def in_thread(self, thread_id: str) -> ConversationRef:
        return ConversationRef(
            platform=self.platform,
            workspace_id=self.workspace_id,
            channel_id=self.channel_id,
            thread_id=thread_id,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Author:
    id: str
    """Platform user id (Slack U…, Discord snowflake, Teams AAD object id)."""
    display_name: str = ""
    is_bot: bool = False

    def qualified_id(self, platform: str) -> str:
        """`platform:user_id`, the form ADMIN_USERS uses."""
        return f"{platform}:{self.id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageHandle:
    """A message the bot posted, kept so it can be edited later."""

    ref: ConversationRef
    message_id: str
    """Slack ts, Discord message id, Teams activity id."""
