"""Discord admins by server role, through discord.py against the fake (gateway cache + REST):
the owner, Manage Server and Administrator are admins; others, strangers and DMs are not; a
member lookup is cached."""

from __future__ import annotations

import asyncio

from bot.refs import ConversationRef
from tests.discord.conftest import Rig
from tests.fakes.discord_api import CHANNEL_ID, GUILD_ID

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
