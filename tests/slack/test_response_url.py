"""A response_url takes five posts (and lasts 30 minutes); private replies past that still arrive.

The fake refuses what Slack refuses; the adapter counts each URL's uses and sends the rest with
chat.postEphemeral, so a long private reply or a command's many private notes all reach the
person (`adapters.slack.respond`)."""

from __future__ import annotations

import aiohttp

from adapters.slack.normalize import RESPONSE_URL_TTL_S, RESPONSE_URL_USES
from bot.delivery import Delivery
from bot.events import Origin, OriginKind
from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationKind, ConversationRef
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.conftest import Rig

USER = "U0USER1"
HERE = ConversationRef(
    platform="slack", workspace_id="T0FAKE", channel_id="C0GENERAL", kind=ConversationKind.CHANNEL
)


def command_origin(url: str) -> Origin:
    return Origin(kind=OriginKind.COMMAND, token=url, token_ttl_s=RESPONSE_URL_TTL_S)


async def post(url: str, text: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(url, json={"text": text}) as r:
        return r.status, await r.text()


def received(fake: FakeSlackApi) -> list[str]:
    """Every private text the user was shown, response_url posts first (they came first)."""
    return [r["text"] for r in fake.responses] + [e["text"] for e in fake.ephemerals]


# --- the fake refuses like Slack ----------------------------------------------------------------


async def test_the_fake_refuses_a_sixth_post_to_one_response_url(fake_slack: FakeSlackApi) -> None:
    url = fake_slack.new_response_url()
    answers = [await post(url, f"note {i}") for i in range(RESPONSE_URL_USES + 1)]
    assert answers == [(200, "ok")] * RESPONSE_URL_USES + [(404, "used_url")]
    assert [r["text"] for r in fake_slack.responses] == [f"note {i}" for i in range(5)]
    [refused] = fake_slack.calls_to("response_url", ok=False)
    assert (refused.status, refused.error) == (404, "used_url")
    assert await post(fake_slack.new_response_url(), "another command") == (200, "ok")


async def test_the_fake_refuses_an_expired_or_unknown_response_url(
    fake_slack: FakeSlackApi,
) -> None:
    fake_slack.configure(response_url_ttl_s=0.0)  # every URL is already past its 30 minutes
    assert await post(fake_slack.new_response_url(), "late") == (404, "expired_url")
    unknown = fake_slack.new_response_url().replace("/response/R", "/response/X")
    assert await post(unknown, "lost") == (404, "no_service")
    assert fake_slack.responses == []


# --- the adapter never loses a part -------------------------------------------------------------


async def test_a_private_reply_in_more_than_five_parts_reaches_the_user(rig: Rig) -> None:
    paragraphs = [f"part{i} " + "word " * 700 for i in range(7)]  # ~3,500 chars each
    delivery = Delivery(rig.adapter)
    origin = command_origin(rig.fake.new_response_url())
    await delivery.private(HERE, USER, OutgoingMessage.text("\n\n".join(paragraphs)), origin=origin)

    assert len(rig.fake.responses) == RESPONSE_URL_USES
    assert len(rig.fake.ephemerals) >= 2
    assert {e["user"] for e in rig.fake.ephemerals} == {USER}
    assert {e["channel"] for e in rig.fake.ephemerals} == {"C0GENERAL"}
    shown = " ".join(received(rig.fake))
    positions = [shown.find(f"part{i} ") for i in range(7)]
    assert -1 not in positions and positions == sorted(positions), "a part is missing or reordered"
    assert shown.count("word") == 7 * 700
    assert rig.fake.calls_to("response_url", ok=False) == []  # counted, never refused


async def test_seven_private_notes_for_one_command_all_arrive(rig: Rig) -> None:
    class Asker:
        ref = HERE
        author = Author(id=USER, display_name="ada")
        origin = command_origin(rig.fake.new_response_url())

    delivery = Delivery(rig.adapter)
    for i in range(7):
        await delivery.tell(Asker(), f"note {i}")

    assert [r["text"] for r in rig.fake.responses] == [f"note {i}" for i in range(5)]
    assert [e["text"] for e in rig.fake.ephemerals] == ["note 5", "note 6"]
    assert rig.fake.calls_to("response_url", ok=False) == []


async def test_a_url_slack_refuses_as_used_falls_back_at_once(rig: Rig) -> None:
    """Spent where the adapter could not count it (another process, an evicted count)."""
    url = rig.fake.new_response_url()
    for i in range(RESPONSE_URL_USES):
        assert await post(url, f"elsewhere {i}") == (200, "ok")
    origin = command_origin(url)
    await rig.adapter.send_private(HERE, USER, OutgoingMessage.text("first"), origin=origin)
    await rig.adapter.send_private(HERE, USER, OutgoingMessage.text("second"), origin=origin)

    assert [e["text"] for e in rig.fake.ephemerals] == ["first", "second"]
    # Refused once; the second note went straight to chat.postEphemeral.
    assert [c.error for c in rig.fake.calls_to("response_url", ok=False)] == ["used_url"]


async def test_a_url_slack_refuses_as_expired_falls_back(rig: Rig) -> None:
    """Slack's clock may run out first: the core still thinks the token is valid."""
    rig.fake.configure(response_url_ttl_s=0.0)
    origin = command_origin(rig.fake.new_response_url())
    await rig.adapter.send_private(HERE, USER, OutgoingMessage.text("in time"), origin=origin)

    assert [e["text"] for e in rig.fake.ephemerals] == ["in time"]
    assert [c.error for c in rig.fake.calls_to("response_url", ok=False)] == ["expired_url"]
