"""`/export-me` and `/forget-me` as Discord app commands: the real discord.py client against the
fake Discord API and gateway, the fake OpenAI API. Both answer only the person who ran them; the
confirmation's Forget me button refuses anyone else and forgets its owner."""

from __future__ import annotations

import json

from tests.discord.test_e2e import Bot, bot, user_texts
from tests.fakes.discord_api import CHANNEL_ID, OTHER_USER_ID, USER_ID

__all__ = ["bot"]


async def test_discord_export_me_is_private_json(bot: Bot) -> None:
    await bot.fake.user_says(CHANNEL_ID, "My favourite colour is teal.", mention_bot=True)
    await bot.idle()
    interaction = await bot.fake.slash("export-me")
    await bot.idle()
    ids = [interaction.original_id, *interaction.followups]
    parts = [bot.fake.messages[i] for i in ids if i]
    assert parts and all(p.ephemeral for p in parts)
    # Discord's 2,000 chars: several parts, each closing the code fence the next reopens.
    assert len(parts) > 1
    body = "".join(p.content.split("```json\n", 1)[-1].rsplit("\n```", 1)[0] for p in parts)
    document = json.loads(body)
    assert document["user"] == {"platform": "discord", "id": USER_ID}
    texts = [m["text"] for m in document["tables"]["messages"]]
    assert any("teal" in t for t in texts)


async def test_discord_forget_me_button_forgets_only_its_owner(bot: Bot) -> None:
    await bot.fake.user_says(CHANNEL_ID, "My favourite colour is teal.", mention_bot=True)
    await bot.idle()
    interaction = await bot.fake.slash("forget-me")
    await bot.idle()
    card = bot.fake.messages[interaction.original_id]
    assert card.ephemeral and "cannot be undone" in card.content
    forget = next(
        b["custom_id"] for b in card.components[0]["components"] if ":forget-me:" in b["custom_id"]
    )

    stranger = await bot.fake.click(card.id, forget, user_id=OTHER_USER_ID)
    await bot.idle()
    refusal = bot.fake.messages[stranger.original_id]
    assert refusal.ephemeral and "send `forget-me` yourself" in refusal.content

    owner = await bot.fake.click(card.id, forget)
    await bot.idle()
    done = bot.fake.messages[owner.original_id]
    assert done.ephemeral and done.content.startswith("Done: I deleted 2 messages")

    await bot.fake.user_says(CHANNEL_ID, "What is my favourite colour?", mention_bot=True)
    await bot.idle()
    assert not any("teal" in t for t in user_texts(bot.llm))
