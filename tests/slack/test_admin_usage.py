"""Admin roles from Slack (users.info) and the `usage` report, end to end: signed requests to the
bot's `/slack/events`, the real Slack adapter and slack_sdk against the fake Web API, and the
fake OpenAI API through the official SDK. Usage totals are checked against what the fake API
reported for each completion."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import Parley
from bot.errors import RateLimited
from bot.refs import ConversationRef
from bot.settings import Settings
from storage.audit import SqlAuditLog
from storage.models import usage_records
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlackApi, SlackEventSender, slash_command_form
from tests.slack.test_e2e import SECRET, Bot, stop_bot

ADA, BOB, OWNER = "U0USER1", "U0BOB", "U0OWNER"


@pytest.fixture
async def bot(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> AsyncIterator[Bot]:
    fake_slack.add_user(ADA, "ada")
    fake_slack.add_user(BOB, "bob")
    fake_slack.add_user(OWNER, "olive", is_owner=True)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        slack_bot_token=fake_slack.token,
        slack_signing_secret=SECRET,
        slack_api_url=fake_slack.api_url,
        openai_model="gpt-4o-mini",
        **fake_openai.settings_overrides(),
    )
    app = Parley(settings, knowledge=False)
    await app.start()
    adapter = app.adapters["slack"]
    sender = SlackEventSender(f"http://127.0.0.1:{app.http_port}/slack/events", SECRET)
    await sender.__aenter__()
    b = Bot(app=app, adapter=adapter, fake=fake_slack, llm=fake_openai, sender=sender)  # type: ignore[arg-type]
    yield b
    await stop_bot(b)


async def slash(bot: Bot, text: str, user: str) -> str:
    url = bot.fake.new_response_url()
    before = len(bot.fake.responses)
    form = slash_command_form(text, response_url=url, user_id=user)
    form["user_name"] = {ADA: "ada", BOB: "bob", OWNER: "olive"}[user]
    assert (await bot.sender.command(form))[0] == 200
    await bot.idle()
    [response] = bot.fake.responses[before:]
    assert response["response_type"] == "ephemeral"
    return str(response["text"])


def tokens_in(text: str) -> int:
    match = re.search(r"([\d,]+) tokens \(", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


async def test_usage_totals_match_what_the_model_reported_and_admins_see_all(bot: Bot) -> None:
    for user, question in ((ADA, "what is a refund?"), (BOB, "who approves leave?")):
        await bot.mention(question, user=user)
        await bot.idle()
    reported = bot.llm.reported_usage
    assert len(reported) == 2
    async with bot.app.store.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    usage_records.c.user_id,
                    usage_records.c.channel_id,
                    usage_records.c.workspace_id,
                    usage_records.c.input_tokens,
                    usage_records.c.output_tokens,
                    usage_records.c.cost_usd,
                ).order_by(usage_records.c.id)
            )
        ).all()
    # One record per model call, each as the API reported it, billed to who asked.
    assert [(r.user_id, r.input_tokens, r.output_tokens) for r in rows] == [
        (ADA, *reported[0]),
        (BOB, *reported[1]),
    ]
    assert {(r.channel_id, r.workspace_id) for r in rows} == {("C0GENERAL", bot.fake.team_id)}
    for r in rows:  # gpt-4o-mini: $0.15 / $0.60 per million tokens
        assert r.cost_usd == pytest.approx((r.input_tokens * 0.15 + r.output_tokens * 0.60) / 1e6)

    total = sum(i + o for i, o in reported)
    mine = await slash(bot, "usage", BOB)
    assert "yours" in mine and tokens_in(mine) == sum(reported[1])
    assert "By user" not in mine

    everyone = await slash(bot, "usage today", OWNER)  # a workspace owner is an admin
    assert tokens_in(everyone) == total
    by_user = everyone.split("By user")[1].split("By channel")[0]
    assert f"{ADA}: {sum(reported[0])} tokens" in by_user
    assert f"{BOB}: {sum(reported[1])} tokens" in by_user
    assert f"#C0GENERAL: {total} tokens" in everyone
    only_ada = await slash(bot, f"usage week <@{ADA}|ada>", OWNER)
    assert tokens_in(only_ada) == sum(reported[0])

    refused = await slash(bot, f"usage @{ADA}", BOB)
    assert refused.startswith("Only admins")
    entries = await SqlAuditLog(bot.app.store.db).entries()
    assert [(e.actor_id, e.action, e.result) for e in entries] == [
        (BOB, "usage", "refused"),
        (OWNER, "usage", "ok"),
        (OWNER, "usage", "ok"),
    ]
    async with bot.app.store.engine.connect() as conn:
        calls = (await conn.execute(select(func.count()).select_from(usage_records))).scalar_one()
    assert calls == 2  # the reports themselves cost no model call


async def test_slack_admins_and_owners_by_users_info(bot: Bot) -> None:
    bot.fake.add_user("U0ADMIN", "adam", is_admin=True)
    bot.fake.add_user("U0PRIMARY", "pat", is_primary_owner=True)
    bot.fake.add_user("U0GONE", "gone", is_admin=True, deleted=True)
    ref = ConversationRef(platform="slack", workspace_id=bot.fake.team_id, channel_id="C0GENERAL")
    slack = bot.adapter
    assert await slack.is_platform_admin(ref, "U0ADMIN")
    assert await slack.is_platform_admin(ref, "U0PRIMARY")
    assert not await slack.is_platform_admin(ref, ADA)
    assert not await slack.is_platform_admin(ref, "U0GONE")  # deactivated
    assert not await slack.is_platform_admin(ref, "U0NOBODY")  # user_not_found: a firm no
    asked = len(bot.fake.calls_to("users.info"))
    assert await slack.is_platform_admin(ref, "U0ADMIN")  # cached: no second call
    assert len(bot.fake.calls_to("users.info")) == asked


async def test_a_rate_limited_lookup_refuses_and_the_next_command_asks_again(bot: Bot) -> None:
    bot.fake.fail_next("users.info", "ratelimited", status=429)
    text = await slash(bot, f"usage @{ADA}", OWNER)
    assert text.startswith("Only admins")  # a failing lookup grants nothing
    text = await slash(bot, f"usage @{ADA}", OWNER)
    assert "Usage today" in text and f"@{ADA}" in text
    assert [c.status for c in bot.fake.calls_to("users.info")] == [429, 200]


async def test_users_info_past_its_tier_is_a_429_that_is_raised_not_cached(bot: Bot) -> None:
    bot.fake.configure(users_info_limit=1)  # Tier 4 squeezed to one call a minute
    ref = ConversationRef(platform="slack", workspace_id=bot.fake.team_id, channel_id="C0GENERAL")
    assert not await bot.adapter.is_platform_admin(ref, ADA)
    with pytest.raises(RateLimited) as raised:
        await bot.adapter.is_platform_admin(ref, OWNER)
    assert raised.value.retry_after > 0
    bot.fake.configure(users_info_limit=100)
    assert await bot.adapter.is_platform_admin(ref, OWNER)  # asked again, not a cached "no"
