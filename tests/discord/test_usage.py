"""`/usage` as a Discord app command, end to end: the real discord.py client against the fake
Discord API and gateway, the real core on SQLite, the fake OpenAI API. The report replaces the
deferred "thinking…" and only the person who ran it sees it; a member asking for someone else's
usage is refused, an admin (ADMIN_USERS) gets it. Token totals are checked against what the
fake API reported for each completion."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage.audit import SqlAuditLog
from tests.discord.test_e2e import Bot, fast_adapter, start_bot
from tests.fakes.discord_api import CHANNEL_ID, OTHER_USER_ID, USER_ID, FakeDiscord
from tests.fakes.openai_api import FakeOpenAI

ADMIN = OTHER_USER_ID


@pytest.fixture
async def bot(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> AsyncIterator[Bot]:
    b = await start_bot(
        tmp_path,
        fake_discord,
        fake_openai,
        fast_adapter(fake_discord),
        admin_users=(f"discord:{ADMIN}",),
    )
    yield b
    await b.app.stop()


async def usage(bot: Bot, options: list[dict[str, Any]], *, user_id: str = USER_ID) -> str:
    """Run `/usage` with these options; the one private answer the person sees."""
    interaction = await bot.fake.slash("usage", options, user_id=user_id)
    await bot.idle()
    assert not interaction.followups  # the report is the deferred response itself
    answer = bot.fake.messages[interaction.original_id]
    assert answer.ephemeral and answer.content
    return answer.content


def tokens_in(text: str) -> int:
    match = re.search(r"([\d,]+) tokens \(", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


async def test_usage_week_answers_privately_and_someone_elses_is_for_admins(bot: Bot) -> None:
    for author, question in ((USER_ID, "what is a refund?"), (ADMIN, "who approves leave?")):
        await bot.fake.user_says(CHANNEL_ID, question, author=author, mention_bot=True)
        await bot.idle()
    ada, grace = (sum(r) for r in bot.llm.reported_usage)
    in_channel = len(bot.answers())

    mine = await usage(bot, [{"name": "period", "type": 3, "value": "week"}])
    assert mine.startswith("**Usage this week") and "yours" in mine
    assert tokens_in(mine) == ada and "By user" not in mine

    refused = await usage(bot, [{"name": "user", "type": 6, "value": ADMIN}])
    assert refused.startswith("Only admins can see other people's")

    theirs = await usage(
        bot,
        [
            {"name": "period", "type": 3, "value": "week"},
            {"name": "user", "type": 6, "value": USER_ID},
        ],
        user_id=ADMIN,
    )
    assert f"@{USER_ID}" in theirs and tokens_in(theirs) == ada
    channel = await usage(bot, [{"name": "channel", "type": 7, "value": CHANNEL_ID}], user_id=ADMIN)
    assert f"#{CHANNEL_ID}" in channel and tokens_in(channel) == ada + grace

    assert len(bot.answers()) == in_channel  # nothing more in the channel
    entries = await SqlAuditLog(bot.app.store.db).entries()
    assert [(e.actor_id, e.action, e.target, e.result) for e in entries] == [  # newest first
        (ADMIN, "usage", f"#{CHANNEL_ID}", "ok"),
        (ADMIN, "usage", f"@{USER_ID}", "ok"),
        (USER_ID, "usage", f"@{ADMIN}", "refused"),
    ]
