"""`forget-me` and `export-me` on Slack: signed slash commands and `block_actions` to the
server `Parley` starts, the real Slack adapter against the fake Web API, the fake OpenAI API.
The confirmation card is private, a click by someone else forgets no one, the owner's click
forgets them, and the export arrives as private JSON text."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from storage.models import messages
from tests.fakes.slack_api import block_actions_payload, slash_command_form
from tests.slack.test_e2e import Bot, bot, user_texts

__all__ = ["bot"]


def _button(response: dict[str, Any], action: str) -> str:
    for block in response.get("blocks") or ():
        for element in block.get("elements") or ():
            if element.get("action_id") == f"parley_{action}":
                return str(element["value"])
    raise AssertionError(f"no {action} button in {response}")


async def _command(bot: Bot, text: str, *, user: str = "U0USER1") -> dict[str, Any]:
    url = bot.fake.new_response_url()
    form = slash_command_form(text, response_url=url, channel_id="D0DIRECT", user_id=user)
    assert (await bot.sender.command(form))[0] == 200
    await bot.idle()
    response = bot.fake.responses[-1]
    assert response["response_type"] == "ephemeral"
    return response


async def _click(bot: Bot, action: str, value: str, user: str) -> None:
    payload = block_actions_payload(
        action, value, channel="D0DIRECT", message_ts="1700000000.000100", user_id=user
    )
    assert (await bot.sender.action(payload))[0] == 200
    await bot.idle()


async def _stored_texts(bot: Bot) -> list[str]:
    async with bot.app.store.engine.connect() as conn:
        return [row.text for row in await conn.execute(select(messages.c.text))]


async def test_slack_export_me_is_a_file_in_the_users_dm(bot: Bot) -> None:
    await bot.dm("My name is Ada.")
    await bot.idle()
    response = await _command(bot, "export-me")
    assert response["text"] == "Your data export is in your direct messages with me"
    [shared] = bot.fake.files
    assert shared["channel"] == "D0USER1" and shared["title"].endswith(".json")
    document = json.loads(shared["data"])
    assert document["user"] == {"platform": "slack", "id": "U0USER1"}
    assert "My name is Ada." in [m["text"] for m in document["tables"]["messages"]]


async def test_slack_export_me_without_upload_scopes_is_private_json(bot: Bot) -> None:
    bot.fake.scopes = set()  # an install from before the upload scopes
    await bot.dm("My name is Ada.")
    await bot.idle()
    response = await _command(bot, "export-me")
    text = response["text"]
    body = text[text.index("```") + 3 : text.rindex("```")]  # mrkdwn fences take no language
    document = json.loads(body)
    assert document["user"] == {"platform": "slack", "id": "U0USER1"}
    assert "My name is Ada." in [m["text"] for m in document["tables"]["messages"]]
    assert bot.fake.bot_messages("D0DIRECT")[-1].text != text  # not posted in the channel


async def test_slack_forget_me_asks_then_only_the_owner_can_confirm(bot: Bot) -> None:
    await bot.dm("My name is Ada.")
    await bot.idle()
    card = await _command(bot, "forget-me")
    assert "cannot be undone" in card["text"]
    value = _button(card, "forget-me")
    assert "U0USER1" not in value  # the button carries a hash, not the id

    await _click(bot, "forget-me", value, "U0SOMEONE")
    [refusal] = bot.fake.ephemerals
    assert refusal["user"] == "U0SOMEONE" and "send `forget-me` yourself" in refusal["text"]
    assert "My name is Ada." in await _stored_texts(bot)

    await _click(bot, "forget-me-cancel", value, "U0USER1")
    assert "nothing was deleted" in bot.fake.ephemerals[-1]["text"]
    assert "My name is Ada." in await _stored_texts(bot)

    await _click(bot, "forget-me", value, "U0USER1")
    done = bot.fake.ephemerals[-1]
    assert done["user"] == "U0USER1" and done["text"].startswith("Done: I deleted 2 messages")
    assert await _stored_texts(bot) == []

    await bot.dm("What is my name?")
    await bot.idle()
    assert not any("Ada" in t for t in user_texts(bot.llm))
