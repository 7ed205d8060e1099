"""Discord admins by server role, through discord.py against the fake (gateway cache + REST):
the owner, Manage Server and Administrator are admins; others, strangers and DMs are not; a
member lookup is cached; end to end, a moderator's report and a member's refusal reach their
DMs and the audit log."""

from __future__ import annotations

import asyncio

from bot.refs import ConversationRef
from storage.audit import SqlAuditLog
from tests.discord.conftest import Rig
from tests.discord.test_e2e import start_bot
from tests.fakes.discord_api import CHANNEL_ID, GUILD_ID, OTHER_USER_ID, USER_ID

MANAGE_GUILD, ADMINISTRATOR, SEND_MESSAGES = 1 << 5, 1 << 3, 1 << 11
GUILD = ConversationRef(platform="discord", workspace_id=GUILD_ID, channel_id=CHANNEL_ID)


async def test_manage_server_administrator_and_owner_are_admins(rig: Rig) -> None:
    fake = rig.fake
    mods = fake.add_role("Moderators", MANAGE_GUILD | SEND_MESSAGES)
    admins = fake.add_role("Admins", ADMINISTRATOR)
    talkers = fake.add_role("Talkers", SEND_MESSAGES)
    fake.add_member("900000000000000001", "mia", roles=(mods,))
    fake.add_member("900000000000000002", "abe", roles=(admins,))
    fake.add_member("900000000000000003", "tom", roles=(talkers,))
    fake.guilds[GUILD_ID]["owner_id"] = "900000000000000004"
    # The roles and owner reach discord.py's cache the way Discord sends them: GUILD_UPDATE.
    await fake.gateway.dispatch("GUILD_UPDATE", fake.guild_payload(GUILD_ID), guild_id=GUILD_ID)
    adapter = rig.adapter
    assert adapter.client is not None
    async with asyncio.timeout(5):
        while adapter.client.get_guild(int(GUILD_ID)).owner_id != 900000000000000004:  # type: ignore[union-attr]  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    assert await adapter.is_platform_admin(GUILD, "900000000000000001")
    assert await adapter.is_platform_admin(GUILD, "900000000000000002")
    assert await adapter.is_platform_admin(GUILD, "900000000000000004")  # the owner
    assert not await adapter.is_platform_admin(GUILD, "900000000000000003")
    assert not await adapter.is_platform_admin(GUILD, "900000000000000009")  # not a member
    dm = ConversationRef(platform="discord", workspace_id="@me", channel_id="1")
    assert not await adapter.is_platform_admin(dm, "900000000000000002")

    lookups = len(fake.calls_to("GET /guilds/{guild_id}/members/{user_id}"))
    assert lookups == 4  # the owner needs no member lookup
    assert await adapter.is_platform_admin(GUILD, "900000000000000001")
    assert len(fake.calls_to("GET /guilds/{guild_id}/members/{user_id}")) == lookups


async def test_a_moderator_sees_the_report_and_a_member_is_refused_in_dms(
    tmp_path, fake_discord, fake_openai
) -> None:
    fake = fake_discord
    fake.add_member(OTHER_USER_ID, "grace", roles=(fake.add_role("Moderators", MANAGE_GUILD),))
    bot = await start_bot(tmp_path, fake, fake_openai)
    try:
        await fake.user_says(CHANNEL_ID, f"usage week <@{OTHER_USER_ID}>", mention_bot=True)
        await bot.idle()
        await fake.user_says(
            CHANNEL_ID, f"usage week <@{USER_ID}>", author=OTHER_USER_ID, mention_bot=True
        )
        await bot.idle()
        refused = [m.content for m in fake.bot_messages(fake.open_dm_channel(USER_ID))]
        shown = [m.content for m in fake.bot_messages(fake.open_dm_channel(OTHER_USER_ID))]
        assert len(refused) == 1 and refused[0].startswith("Only admins")
        assert len(shown) == 1 and "Usage this week" in shown[0]
        assert bot.answers() == []  # nothing in the channel
        entries = await SqlAuditLog(bot.app.store.db).entries()
        assert [(e.actor_id, e.result) for e in entries] == [
            (OTHER_USER_ID, "ok"),
            (USER_ID, "refused"),
        ]
    finally:
        await bot.app.stop()
