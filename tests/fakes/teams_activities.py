"""Captured-shape activities that Teams POSTs to a bot's `/api/messages`: messages (with the
bot's `<at>` mention), conversationUpdate (install), the `adaptiveCard/action` invoke of an
Action.Execute click and the message an Action.Submit click sends. Mixed into `FakeConnector`,
whose conversations and serviceUrl they use.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.teams_connector import Conversation

BOT_ID = "28:00000000-0000-0000-0000-00000000b07"
BOT_NAME = "Parley"
TENANT = "72f988bf-0000-0000-0000-000000000001"
USER_ID = "29:1user-ada"
USER_AAD = "aad-ada-0001"


class ActivityBuilder:
    @property
    def service_url(self) -> str:
        raise NotImplementedError

    def next_id(self) -> str:
        raise NotImplementedError

    def _add(self, conversation: Conversation) -> Conversation:
        raise NotImplementedError

    def inbound(
        self,
        conversation: Conversation,
        text: str,
        *,
        mention: bool = False,
        user: str = USER_ID,
        name: str = "Ada Lovelace",
        activity_id: str = "",
        reply_to_id: str = "",
        value: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message activity as Teams sends it; with `mention` the text starts with the bot's
        `<at>` tag and an entity names it."""
        body_text = f"<at>{BOT_NAME}</at> {text}" if mention else text
        activity = self._envelope(
            conversation, "message", user=user, name=name, activity_id=activity_id
        )
        activity["text"] = body_text
        activity["textFormat"] = "plain"
        if reply_to_id:
            activity["replyToId"] = reply_to_id
        if value is not None:
            activity["value"] = value
        if mention:
            activity["entities"].append(
                {
                    "type": "mention",
                    "text": f"<at>{BOT_NAME}</at>",
                    "mentioned": {"id": BOT_ID, "name": BOT_NAME},
                }
            )
        return activity

    def conversation_update(
        self, conversation: Conversation, *, bot_added: bool = True
    ) -> dict[str, Any]:
        activity = self._envelope(
            conversation, "conversationUpdate", user=USER_ID, name="Ada Lovelace"
        )
        member = {"id": BOT_ID, "name": BOT_NAME} if bot_added else {"id": USER_ID}
        activity["membersAdded"] = [member]
        activity["channelData"]["eventType"] = (
            "teamMemberAdded" if conversation.kind == "channel" else None
        )
        return activity

    def invoke_action(
        self,
        conversation: Conversation,
        card_id: str,
        data: dict[str, Any],
        *,
        user: str = USER_ID,
        name: str = "Ada Lovelace",
    ) -> dict[str, Any]:
        """The `adaptiveCard/action` invoke Teams sends for a click on an Action.Execute."""
        activity = self._envelope(conversation, "invoke", user=user, name=name)
        activity["name"] = "adaptiveCard/action"
        activity["replyToId"] = card_id
        activity["value"] = {
            "action": {"type": "Action.Execute", "verb": "parley", "data": data},
            "trigger": "manual",
        }
        return activity

    def submit_action(
        self, conversation: Conversation, card_id: str, data: dict[str, Any], *, user: str = USER_ID
    ) -> dict[str, Any]:
        """The message activity a client without Action.Execute sends for the Action.Submit
        fallback: no text, the action's data as `value`."""
        activity = self._envelope(conversation, "message", user=user, name="Ada Lovelace")
        activity["replyToId"] = card_id
        activity["value"] = data
        return activity

    def _envelope(
        self, conversation: Conversation, kind: str, *, user: str, name: str, activity_id: str = ""
    ) -> dict[str, Any]:
        channel_data: dict[str, Any] = {"tenant": {"id": TENANT}}
        activity_id = activity_id or self.next_id()
        conversation_id = conversation.id
        if conversation.kind == "channel" and ";messageid=" not in conversation_id:
            # A new post: Teams names its own reply chain in the conversation id.
            conversation_id = f"{conversation_id};messageid={activity_id}"
            self._add(dataclasses.replace(conversation, id=conversation_id))
        if conversation.kind == "channel":
            channel_data["team"] = {"id": conversation.team_id}
            channel_data["channel"] = {"id": conversation.channel_id}
        return {
            "type": kind,
            "id": activity_id,
            "timestamp": "2026-12-01T22:00:00.000Z",
            "localTimestamp": "2026-12-01T23:00:00.000+01:00",
            "serviceUrl": self.service_url,
            "channelId": "msteams",
            "from": {
                "id": user,
                "name": name,
                "aadObjectId": USER_AAD if user == USER_ID else f"aad-{user}",
            },
            "conversation": {
                "id": conversation_id,
                "conversationType": conversation.kind,
                "tenantId": TENANT,
                **({"isGroup": True} if conversation.kind != "personal" else {}),
            },
            "recipient": {"id": BOT_ID, "name": BOT_NAME},
            "entities": [
                {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}
            ],
            "channelData": channel_data,
            "locale": "en-US",
        }
