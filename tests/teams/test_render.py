"""render() and the approval card: Teams HTML, AI label, citations, Adaptive Card 1.5."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.teams.cards import adaptive_card
from adapters.teams.render import (
    ABSTRACT_CHARS,
    MAX_CITATIONS,
    NAME_CHARS,
    render,
    to_html,
)
from bot.messages import Action, ActionStyle, Citation, OutgoingMessage

GOLDEN = Path(__file__).parent / "golden"


def cite(n: int, *, title: str = "Refunds", source: str = "docs/refunds.md") -> Citation:
    return Citation(number=n, title=title, source=source, section="Timing")


def test_markdown_becomes_teams_html_and_raw_html_is_escaped() -> None:
    markdown = (GOLDEN / "answer.md").read_text()
    assert to_html(markdown) == (GOLDEN / "answer.html").read_text().rstrip("\n")
    assert "<b>raw html</b>" not in to_html(markdown)


def test_an_answer_is_labelled_ai_generated() -> None:
    message = render(OutgoingMessage.text("Hello **there**"))
    assert message.text == "<p>Hello <strong>there</strong></p>"
    assert message.text_format == "xml"
    (entity,) = message.entities
    assert entity["type"] == "https://schema.org/Message"
    assert entity["additionalType"] == ["AIGeneratedContent"]
    assert "citation" not in entity
    assert render(OutgoingMessage.text("hi"), ai_generated=False).entities == ()


def test_citations_use_teams_claims_when_every_marker_is_in_the_text() -> None:
    message = render(
        OutgoingMessage(
            text_markdown="Five days [1], see the form [2].",
            citations=(cite(1), cite(2, title="Form", source="https://intranet.example/form")),
        )
    )
    claims = message.entities[0]["citation"]
    assert [c["position"] for c in claims] == [1, 2]
    assert claims[0]["appearance"] == {
        "@type": "DigitalDocument",
        "name": "Refunds",
        "abstract": "Timing — docs/refunds.md",
    }
    assert claims[1]["appearance"]["url"] == "https://intranet.example/form"
    assert "Sources" not in message.text


def test_a_citation_without_its_marker_falls_back_to_a_sources_block() -> None:
    message = render(
        OutgoingMessage(text_markdown="Five days [1].", citations=(cite(1), cite(2, title="Form")))
    )
    assert "citation" not in message.entities[0]
    assert "<strong>Sources</strong>" in message.text
    assert "Form (<code>docs/refunds.md</code>) — Timing" in message.text


@pytest.mark.parametrize("count", [MAX_CITATIONS - 1, MAX_CITATIONS, MAX_CITATIONS + 1])
def test_at_most_twenty_native_citations(count: int) -> None:
    citations = tuple(cite(n) for n in range(1, count + 1))
    text = " ".join(f"[{n}]" for n in range(1, count + 1))
    message = render(OutgoingMessage(text_markdown=text, citations=citations))
    native = "citation" in message.entities[0]
    assert native == (count <= MAX_CITATIONS)
    assert ("Sources" in message.text) == (not native)


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_claim_name_and_abstract_stay_within_teams_limits(extra: int) -> None:
    title = "t" * (NAME_CHARS + extra)
    source = "s" * (ABSTRACT_CHARS + extra)
    message = render(
        OutgoingMessage(
            text_markdown="[1]", citations=(Citation(number=1, title=title, source=source),)
        )
    )
    appearance = message.entities[0]["citation"][0]["appearance"]
    assert len(appearance["name"]) == min(len(title), NAME_CHARS)
    assert len(appearance["abstract"]) == min(len(source), ABSTRACT_CHARS)
    assert appearance["name"].endswith("…") == (extra > 0)


def approval() -> OutgoingMessage:
    return OutgoingMessage(
        text_markdown="**Approval needed:** run `http_request`",
        actions=(
            Action(
                id="approve", label="Approve", value="f43d5f54776e837c", style=ActionStyle.PRIMARY
            ),
            Action(id="deny", label="Deny", value="f43d5f54776e837c", style=ActionStyle.DANGER),
        ),
    )


def test_actions_render_as_an_adaptive_card_with_execute_and_submit_fallback() -> None:
    message = render(approval())
    assert message.text == "" and message.entities == ()
    (attachment,) = message.attachments
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["body"][0]["text"] == "**Approval needed:** run `http_request`"
    approve, deny = card["actions"]
    assert approve["type"] == "Action.Execute" and approve["style"] == "positive"
    assert deny["style"] == "destructive"
    assert approve["data"] == {"parley": "parley:approve:f43d5f54776e837c"}
    assert approve["fallback"] == {
        "type": "Action.Submit",
        "title": "Approve",
        "data": {"parley": "parley:approve:f43d5f54776e837c"},
        "style": "positive",
    }


def test_a_decided_card_has_no_actions() -> None:
    card = adaptive_card(OutgoingMessage.text("**✅ Approved by Ada at 14:05 UTC**"))
    assert "actions" not in card
    assert card["body"][0]["text"].startswith("**✅ Approved by Ada")
