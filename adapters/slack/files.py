"""A file for one person alone (`export-me`): uploaded into their direct messages with the bot.

`conversations.open` gives the bot's DM channel with the user (scope `im:write`), and the SDK's
`files_upload_v2` does Slack's three steps (`files.getUploadURLExternal`, the upload itself,
`files.completeUploadExternal`, scope `files:write`) and shares the file there, so no one else
sees it. An install that predates those scopes fails with `missing_scope`; the core then sends
the text privately instead.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import call


async def upload_private_file(
    client: AsyncWebClient, user_id: str, name: str, data: bytes, *, comment: str
) -> str:
    """Share `data` as `name` in the bot's DM with `user_id`; say where it went."""
    opened = await call("conversations.open", client.conversations_open(users=user_id))
    channel = str((opened.get("channel") or {}).get("id") or "")
    await call(
        "files.completeUploadExternal",
        client.files_upload_v2(
            channel=channel, content=data, filename=name, title=name, initial_comment=comment
        ),
    )
    return "your direct messages with me"
