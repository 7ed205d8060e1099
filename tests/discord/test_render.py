"""render(): limits as golden tests at N-1, N, N+1."""

from __future__ import annotations

import pytest

from adapters.discord.render import (
    MAX_CUSTOM_ID,
    MAX_EMBED_DESCRIPTION,
    decode_custom_id,
    discord_markdown,
    encode_custom_id,
    render,
)
from bot.messages import ACTION_ID_CHARS, Action, ActionStyle, Citation, OutgoingMessage


def test_plain_markdown_passes_through_and_mentions_cannot_ping() -> None:
    body = render(OutgoingMessage.text("**Refunds** take `5` days. @everyone")).to_json()
    assert body["content"] == "**Refunds** take `5` days. @everyone"
    assert body["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert body["embeds"] == [] and body["components"] == []
    assert "message_reference" not in body


def test_a_reply_references_the_message_and_pings_only_its_author() -> None:
    body = render(OutgoingMessage(text_markdown="hi", reply_to="123")).to_json()
    assert body["message_reference"] == {"message_id": "123", "fail_if_not_exists": False}
    assert body["allowed_mentions"] == {"parse": [], "replied_user": True}


def test_deep_headings_and_images_are_rewritten_but_code_is_not() -> None:
    text = "#### Steps\n![diagram](https://x.test/a.png)\n```md\n#### kept\n![a](b)\n```\n"
    assert discord_markdown(text) == (
        "**Steps**\n[diagram](https://x.test/a.png)\n```md\n#### kept\n![a](b)\n```\n"
    )


def test_sources_are_an_embed_outside_the_content() -> None:
    citations = (
        Citation(number=1, title="Refunds", source="https://docs.test/refunds", section="Timing"),
        Citation(number=2, title="handbook.md", source="docs/handbook.md"),
    )
    body = render(OutgoingMessage(text_markdown="x" * 2000, citations=citations)).to_json()
    assert len(body["content"]) == 2000
    [embed] = body["embeds"]
    assert embed["title"] == "Sources"
    assert embed["description"].splitlines() == [
        "[1] [Refunds](https://docs.test/refunds) · Timing",
        "[2] handbook.md · `docs/handbook.md`",
    ]


@pytest.mark.parametrize("count", [10, 40, 200])
def test_many_sources_never_pass_the_embed_limit(count: int) -> None:
    citations = tuple(
        Citation(number=n, title="t" * 150, source=f"https://docs.test/{n}/" + "p" * 100)
        for n in range(1, count + 1)
    )
    description = render(OutgoingMessage(text_markdown="a", citations=citations)).embeds[0][
        "description"
    ]
    assert len(description) <= MAX_EMBED_DESCRIPTION
    if count > 10:
        assert description.splitlines()[-1].startswith("… and ")


def test_buttons_become_rows_of_five_with_styles() -> None:
    actions = tuple(Action(id=f"a{i}", label=f"L{i}", value="v") for i in range(6))
    actions = (
        Action(id="approve", label="Approve", value="apr1", style=ActionStyle.PRIMARY),
        Action(id="deny", label="Deny", value="apr1", style=ActionStyle.DANGER),
        *actions,
    )
    rows = render(OutgoingMessage(text_markdown="Approve?", actions=actions)).to_json()[
        "components"
    ]
    assert [len(r["components"]) for r in rows] == [5, 3]
    first = rows[0]["components"][0]
    assert first == {"type": 2, "style": 1, "label": "Approve", "custom_id": "parley:approve:apr1"}
    assert rows[0]["components"][1]["style"] == 4


def test_custom_ids_round_trip() -> None:
    assert decode_custom_id(encode_custom_id("approve", "apr:1")) == ("approve", "apr:1")
    assert decode_custom_id("poll:yes") is None
    assert decode_custom_id("parley::x") is None


@pytest.mark.parametrize("extra", [-1, 0])
def test_the_longest_action_fits_discords_custom_id(extra: int) -> None:
    value = "v" * (ACTION_ID_CHARS - 1 + extra)
    custom_id = encode_custom_id("a", value)
    assert len(custom_id) <= MAX_CUSTOM_ID


def test_an_action_too_long_for_a_custom_id_is_refused() -> None:
    with pytest.raises(ValueError):
        Action(id="a", label="x", value="v" * ACTION_ID_CHARS)


def test_ephemeral_sets_the_flag() -> None:
    assert render(OutgoingMessage.text("only you"), ephemeral=True).to_json()["flags"] == 64
