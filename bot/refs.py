"""Where a message lives and who wrote it: the identity types every layer shares.

See docs/architecture.md ("The edge contract") for how adapters fill these in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ConversationKind(StrEnum):
    """What kind of place a conversation is; the core decides reply placement and follow-ups
    from it, and adapters declare per kind where native streaming is allowed."""

    CHANNEL = "channel"
    """Top level of a shared channel (Slack channel, Discord guild channel, Teams channel post)."""
    THREAD = "thread"
    """A thread or reply chain inside a channel."""
    DIRECT = "direct"
    """A one-to-one chat with the bot (Slack IM, Discord DM, Teams personal chat)."""
    GROUP = "group"
    """A small multi-person chat that is not a channel (Slack MPIM, Teams group chat)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRef:
    """A place in a platform where messages live.

    Slack: team / channel / thread_ts. Discord: guild / channel / thread channel.
    Teams: tenant / conversation id / reply chain.
    """

    platform: str
    """Adapter name: "slack", "discord", "teams", "console"."""
    workspace_id: str
    """Slack team, Discord guild ("@me" for DMs), Teams tenant."""
    channel_id: str
    thread_id: str | None = None
    """Thread (Slack thread_ts, Discord thread channel, Teams reply chain); None at top level."""
    kind: ConversationKind = ConversationKind.CHANNEL
    route: str = field(default="", compare=False)
    """Opaque adapter data needed to post here later (Teams' serviceUrl), persisted with the
    conversation, its approvals and scheduled jobs. Never part of the memory key or equality."""

    @property
    def memory_key(self) -> str:
        """Conversation memory is per thread when there is one, else per channel."""
        return f"{self.platform}:{self.workspace_id}:{self.channel_id}:{self.thread_id or ''}"

    @property
    def is_direct(self) -> bool:
        return self.kind is ConversationKind.DIRECT

    def in_thread(self, thread_id: str) -> ConversationRef:
        """The thread `thread_id` of this channel (a DM or group chat keeps its kind)."""
        kind = self.kind if self.kind in _PRIVATE else ConversationKind.THREAD
        return ConversationRef(
            platform=self.platform,
            workspace_id=self.workspace_id,
            channel_id=self.channel_id,
            thread_id=thread_id,
            kind=kind,
            route=self.route,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields (scheduled jobs keep a ref this way)."""
        return {
            "platform": self.platform,
            "workspace_id": self.workspace_id,
            "channel_id": self.channel_id,
            "thread_id": self.thread_id,
            "kind": self.kind.value,
            "route": self.route,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConversationRef:
        """The inverse of `to_dict`; rows written before `kind`/`route` existed read as channels."""
        return cls(
            platform=str(data["platform"]),
            workspace_id=str(data["workspace_id"]),
            channel_id=str(data["channel_id"]),
            thread_id=data.get("thread_id"),
            kind=ConversationKind(data.get("kind") or default_kind(data.get("thread_id"))),
            route=str(data.get("route") or ""),
        )


_PRIVATE = frozenset({ConversationKind.DIRECT, ConversationKind.GROUP})


def default_kind(thread_id: str | None) -> ConversationKind:
    """The kind of a ref stored before kinds existed: a thread if it has one, else a channel."""
    return ConversationKind.THREAD if thread_id else ConversationKind.CHANNEL


@dataclass(frozen=True, slots=True, kw_only=True)
class Author:
    id: str
    """Platform user id (Slack U…, Discord snowflake, Teams AAD object id)."""
    display_name: str = ""
    is_bot: bool = False
    """Set by adapters for messages written by a bot or app (their own included)."""

    def qualified_id(self, platform: str) -> str:
        """`platform:user_id`, the form ADMIN_USERS uses."""
        return f"{platform}:{self.id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageHandle:
    """A message the bot posted, kept so it can be edited later."""

    ref: ConversationRef
    message_id: str
    """Slack ts, Discord message id, Teams activity id."""
    route: str = field(default="", compare=False)
    """Opaque adapter data for editing this message (e.g. an interaction webhook token)."""
