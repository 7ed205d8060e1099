"""End to end through the composition root: Teams activities POSTed to `/api/messages` on the
server `Parley` starts, the real Teams adapter (botbuilder CloudAdapter and ConnectorClient)
against the fake Bot Connector, the real core, and the fake OpenAI API through the official SDK.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.teams.adapter import TeamsAdapter, teams_capabilities
from adapters.teams.auth import TeamsAuth
from bot.app import Parley
from bot.settings import Settings
from bot.tools.build import build_tool_host
from bot.tools.host import ApprovingToolHost
from bot.tools.registry import Risk, Tool, ToolContext
from storage.approvals import SqlApprovalStore
from tests.fakes.llm_fixtures import Call, Text, ToolCalls
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.teams_auth import OpenIdServer, StaticBotCredentials
from tests.fakes.teams_connector import Conversation, FakeActivity, FakeConnector


@dataclass
class Deployments:
    runs: list[str] = field(default_factory=list)

    def tool(self) -> Tool:
        async def deploy(args: Mapping[str, Any], ctx: ToolContext) -> str:
            self.runs.append(str(args["service"]))
            return f"deployed {args['service']}"

        return Tool(
            name="deploy",
            description="Deploy a service",
            parameters={
                "type": "object",
                "properties": {"service": {"type": "string"}},
                "required": ["service"],
            },
            run=deploy,
            risk=Risk.WRITE,
        )


class TeamsParley(Parley):
    """The app with a `deploy` tool that needs approval."""

    def __init__(self, settings: Settings, *, deployments: Deployments, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self.deployments = deployments

    def _build_tool_host(self) -> ApprovingToolHost:
        return build_tool_host(
            self.settings,
            store=SqlApprovalStore(self.store.db),
            retriever=None,
            resumer=self,
            clock=self.clock,
            extra_tools=[self.deployments.tool()],
            plugins=False,
        )


@dataclass
class Bot:
    app: TeamsParley
    adapter: TeamsAdapter
    fake: FakeConnector
    llm: FakeOpenAI
    session: aiohttp.ClientSession
    deployments: Deployments

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app.http_port}/api/messages"

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(self.url, json=activity) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body

    async def idle(self, within: float = 60.0) -> None:
        """Until every handed-off activity is handled and every conversation is quiet."""
        async with asyncio.timeout(within):
            while True:
                while self.adapter._tasks:
                    await asyncio.wait(set(self.adapter._tasks))
                await self.app.settled()
                if not self.adapter._tasks:
                    return

    def answers(self, conversation_id: str) -> list[FakeActivity]:
        return self.fake.written(conversation_id)


async def start_bot(
    tmp_path: Path, fake: FakeConnector, llm: FakeOpenAI, *, adapter: TeamsAdapter | None = None
) -> Bot:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        teams_allow_anonymous=True,
        **llm.settings_overrides(),
    )
    deployments = Deployments()
    app = TeamsParley(
        settings,
        deployments=deployments,
        adapters=[adapter] if adapter else (),
        load_platforms=adapter is None,
        knowledge=False,
    )
    await app.start()
    teams = app.adapters["teams"]
    assert isinstance(teams, TeamsAdapter)
    return Bot(
        app=app,
        adapter=teams,
        fake=fake,
        llm=llm,
        session=aiohttp.ClientSession(),
        deployments=deployments,
    )


async def stop_bot(bot: Bot) -> None:
    await bot.session.close()
    await bot.app.stop()


@pytest.fixture
async def bot(
    tmp_path: Path, fake_connector: FakeConnector, fake_openai: FakeOpenAI
) -> AsyncIterator[Bot]:
    """The adapter loaded by name through the composition root, as `parley run` does."""
    b = await start_bot(tmp_path, fake_connector, fake_openai)
    yield b
    await stop_bot(b)


def chain_of(activity: dict[str, Any]) -> str:
    return str(activity["conversation"]["id"])


async def test_channel_mention_is_answered_in_its_reply_chain_by_post_updates_final(
    bot: Bot,
) -> None:
    answer = "Refunds take five business days. Keep the receipt, and use the refund form."
    bot.llm.script(Text(answer, chunks=6, delay_s=0.4))
    channel = bot.fake.channel()
    activity = bot.fake.inbound(channel, "how do refunds work?", mention=True)
    status, _ = await bot.post(activity)
    assert status == 201
    await bot.idle()
    (reply,) = bot.answers(chain_of(activity))  # the post's reply chain, nowhere else
    assert len(reply.texts) >= 3  # the first post, updates as it grew, the final text
    assert reply.texts[-1] == f"<p>{answer}</p>"
    assert len(set(reply.texts)) == len(reply.texts)  # every write showed something new
    assert reply.entities[0]["additionalType"] == ["AIGeneratedContent"]
    assert "how do refunds work?" in str(bot.llm.last_body["messages"][-1]["content"])
    assert bot.fake.rate_limited == []


async def test_personal_chat_streams_natively_and_ends_with_the_final_message(bot: Bot) -> None:
    answer = "The VPN policy: always on, from every laptop, including at home and abroad."
    bot.llm.script(Text(answer, chunks=5, delay_s=0.6))
    chat = bot.fake.personal_chat()
    await bot.post(bot.fake.inbound(chat, "What is our VPN policy?"))
    await bot.idle()
    (stream,) = bot.fake.streams.values()
    sequences = [c["entities"][0]["streamSequence"] for c in stream.chunks]
    assert len(sequences) >= 2 and sequences == sorted(set(sequences))
    assert stream.final is not None
    (message,) = bot.answers(chat.id)
    assert message.id == stream.id and message.text == f"<p>{answer}</p>"
    assert bot.fake.rate_limited == []


async def test_group_chat_without_a_mention_is_ignored(bot: Bot) -> None:
    group = bot.fake.group_chat()
    status, _ = await bot.post(bot.fake.inbound(group, "see you tomorrow"))
    assert status == 201
    await bot.idle()
    assert bot.fake.calls == [] and bot.llm.requests == []
    await bot.post(bot.fake.inbound(group, "what is the VPN policy?", mention=True))
    await bot.idle()
    assert len(bot.answers(group.id)) == 1


async def test_the_same_activity_twice_is_answered_once(bot: Bot) -> None:
    chat = bot.fake.personal_chat()
    activity = bot.fake.inbound(chat, "hello")
    for _ in range(2):
        assert (await bot.post(activity))[0] == 201
    await bot.idle()
    assert len(bot.answers(chat.id)) == 1
    assert len(bot.llm.requests) == 1


async def test_install_is_welcomed(bot: Bot) -> None:
    chat = bot.fake.personal_chat()
    await bot.post(bot.fake.conversation_update(chat))
    (welcome,) = bot.answers(chat.id)
    assert "Parley" in welcome.text


def the_card(bot: Bot, conversation: Conversation) -> FakeActivity:
    return next(a for a in bot.answers(conversation.id) if a.attachments)


async def test_action_execute_answers_with_the_refreshed_card_and_the_tool_runs_once(
    bot: Bot,
) -> None:
    bot.llm.script(ToolCalls([Call("deploy", {"service": "api"})], reason="I'll deploy it."))
    group = bot.fake.group_chat()
    await bot.post(bot.fake.inbound(group, "please deploy api", mention=True))
    await bot.idle()
    card = the_card(bot, group)
    content = card.attachments[0]["content"]
    approve = next(a for a in content["actions"] if a["title"] == "Approve")
    assert approve["type"] == "Action.Execute" and approve["fallback"]["type"] == "Action.Submit"
    assert bot.deployments.runs == []

    status, body = await bot.post(bot.fake.invoke_action(group, card.id, approve["data"]))
    assert status == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    refreshed = body["value"]["body"][0]["text"]
    assert "Approved by Ada Lovelace" in refreshed and "actions" not in body["value"]
    status, body = await bot.post(bot.fake.invoke_action(group, card.id, approve["data"]))
    assert status == 200  # a double click: answered, and nothing runs again
    await bot.idle()
    assert bot.deployments.runs == ["api"]
    assert any("deployed api" in a.text for a in bot.answers(group.id))


async def test_someone_else_cannot_decide(bot: Bot) -> None:
    bot.llm.script(ToolCalls([Call("deploy", {"service": "api"})]))
    group = bot.fake.group_chat()
    await bot.post(bot.fake.inbound(group, "please deploy api", mention=True))
    await bot.idle()
    card = the_card(bot, group)
    data = card.attachments[0]["content"]["actions"][0]["data"]
    status, body = await bot.post(
        bot.fake.invoke_action(group, card.id, data, user="29:1mallory", name="Mallory")
    )
    assert status == 200 and body["type"] == "application/vnd.microsoft.activity.message"
    await bot.idle()
    assert bot.deployments.runs == []


async def test_twenty_concurrent_answers_in_one_channel_never_see_a_429(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """Teams' per-conversation windows at a tenth of their length (7 / 0.1 s, 60 / 3 s), the
    same in the fake and in the capabilities: 20 answers at once in reply chains of one channel
    share them."""
    async with FakeConnector(time_scale=0.1) as fake:
        adapter = TeamsAdapter(
            TeamsAuth(allow_anonymous=True), capabilities=teams_capabilities(window_scale=0.1)
        )
        bot = await start_bot(tmp_path, fake, fake_openai, adapter=adapter)
        try:
            channel = fake.channel()
            for n in range(20):
                fake_openai.script(
                    Text(f"Answer number {n} is here, in a few parts.", chunks=8, delay_s=0.25)
                )
            posts = [
                fake.inbound(channel, f"question {n}", mention=True, user=f"29:user{n}")
                for n in range(20)
            ]
            statuses = await asyncio.gather(*(bot.post(p) for p in posts))
            assert {s for s, _ in statuses} == {201}
            await bot.idle(within=120)
            assert fake.rate_limited == []
            finals = sorted(bot.answers(chain_of(p))[-1].text for p in posts)
            assert finals == sorted(
                f"<p>Answer number {n} is here, in a few parts.</p>" for n in range(20)
            )
        finally:
            await stop_bot(bot)


async def test_a_429_is_waited_out_and_the_answer_still_arrives(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """The Connector is stricter than declared (1 write per 1.5 s): it answers 429 with
    Retry-After, the engine waits, and the final text arrives."""
    async with FakeConnector(limits=((1, 1.5),)) as fake:
        bot = await start_bot(tmp_path, fake, fake_openai)
        try:
            answer = "One two three four five six seven eight nine ten eleven twelve."
            fake_openai.script(Text(answer, chunks=6, delay_s=0.2))
            group = fake.group_chat()
            await bot.post(fake.inbound(group, "count", mention=True))
            await bot.idle()
            assert fake.rate_limited != []
            assert bot.answers(group.id)[-1].text == f"<p>{answer}</p>"
        finally:
            await stop_bot(bot)


async def test_over_the_connector_size_limit_rolls_over_into_smaller_messages(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with FakeConnector(max_body_bytes=3_000) as fake:
        bot = await start_bot(tmp_path, fake, fake_openai)
        try:
            paragraphs = [f"Paragraph {n}: " + "lorem ipsum dolor sit amet " * 8 for n in range(20)]
            answer = "\n\n".join(p.strip() for p in paragraphs)
            fake_openai.script(Text(answer, chunks=4))
            group = fake.group_chat()
            await bot.post(fake.inbound(group, "write a lot", mention=True))
            await bot.idle()
            assert any(c.status == 413 for c in fake.calls)
            parts = bot.answers(group.id)
            assert len(parts) >= 2
            shown = "".join(p.text for p in parts)
            for paragraph in paragraphs:
                assert paragraph.strip() in shown  # nothing lost
        finally:
            await stop_bot(bot)


async def test_a_stream_past_the_cap_is_finished_as_a_normal_message(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with FakeConnector(stream_cap_s=1.5) as fake:
        bot = await start_bot(tmp_path, fake, fake_openai)
        try:
            answer = "A slow answer that takes longer than the stream may last, in many parts."
            fake_openai.script(Text(answer, chunks=6, delay_s=0.6))
            chat = fake.personal_chat()
            await bot.post(fake.inbound(chat, "take your time"))
            await bot.idle()
            assert any(c.status == 403 for c in fake.calls)
            assert bot.answers(chat.id)[-1].text == f"<p>{answer}</p>"
        finally:
            await stop_bot(bot)


async def test_typed_commands_go_through_the_core_grammar(bot: Bot) -> None:
    """`help` in a channel: the core's grammar answers it, privately, so in the 1:1 chat."""
    channel = bot.fake.channel()
    activity = bot.fake.inbound(channel, "help", mention=True)
    await bot.post(activity)
    await bot.idle()
    assert bot.answers(chain_of(activity)) == []
    (create,) = bot.fake.calls_to("create", ok=True)
    assert create.body["members"] == [{"id": activity["from"]["id"]}]
    chat = next(c for c in bot.fake.conversations.values() if c.kind == "personal")
    (reply,) = bot.answers(chat.id)
    assert "reset" in reply.text and "kb" in reply.text
    assert bot.llm.requests == []  # answered by the command, not the model


APP_ID = "c9e1c3a5-9cbb-4a4e-8f7b-1b7f3c1f0d2e"
BOT_TOKEN = "bot-token-from-entra"


@pytest.fixture
async def secured(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[tuple[Bot, OpenIdServer]]:
    """TEAMS_APP_ID set: every request's JWT is checked against a local OpenID/JWKS endpoint,
    and the bot's own calls must carry its (static) bearer token."""
    with OpenIdServer() as idp:
        async with FakeConnector(bot_token=BOT_TOKEN) as fake:
            adapter = TeamsAdapter(
                TeamsAuth(
                    app_id=APP_ID, app_password="unused", openid_metadata_url=idp.metadata_url
                ),
                credentials=StaticBotCredentials(APP_ID, BOT_TOKEN),
            )
            bot = await start_bot(tmp_path, fake, fake_openai, adapter=adapter)
            try:
                yield bot, idp
            finally:
                await stop_bot(bot)


async def post_with(bot: Bot, activity: dict[str, Any], token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with bot.session.post(bot.url, json=activity, headers=headers) as response:
        return response.status


async def test_a_valid_token_is_answered(secured: tuple[Bot, OpenIdServer]) -> None:
    bot, idp = secured
    chat = bot.fake.personal_chat()
    token = idp.token(audience=APP_ID, service_url=bot.fake.service_url)
    assert await post_with(bot, bot.fake.inbound(chat, "hello"), token) == 201
    await bot.idle()
    (answer,) = bot.answers(chat.id)
    assert answer.text.startswith("<p>You said:") and answer.text.endswith("hello</p>")
    assert all(c.status != 401 for c in bot.fake.calls)  # its own calls carried its token


@pytest.mark.parametrize("kind", ["no token", "unknown key", "wrong audience"])
async def test_refused_tokens_get_401_and_no_answer(
    secured: tuple[Bot, OpenIdServer], kind: str
) -> None:
    bot, idp = secured
    url = bot.fake.service_url
    token = {
        "no token": "",
        "unknown key": idp.stranger_token(audience=APP_ID, service_url=url),
        "wrong audience": idp.token(
            audience="00000000-1111-2222-3333-444444444444", service_url=url
        ),
    }[kind]
    chat = bot.fake.personal_chat()
    assert await post_with(bot, bot.fake.inbound(chat, "hello"), token) == 401
    await bot.idle()
    assert bot.fake.calls == [] and bot.llm.requests == []


async def test_a_tool_step_shows_as_an_informative_update_in_the_stream(bot: Bot) -> None:
    bot.llm.script(
        ToolCalls([Call("calculator", {"expression": "6 * 7"})], reason="Let me work it out."),
        Text("Six times seven is 42.", chunks=3, delay_s=0.3),
    )
    chat = bot.fake.personal_chat()
    await bot.post(bot.fake.inbound(chat, "what is 6 times 7?"))
    await bot.idle()
    (stream,) = bot.fake.streams.values()
    kinds = [c["entities"][0]["streamType"] for c in stream.chunks]
    assert "informative" in kinds
    assert bot.answers(chat.id)[-1].text.endswith("42.</p>")
