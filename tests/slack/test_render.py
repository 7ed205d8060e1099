"""render(): Markdown → mrkdwn golden, citations, approval buttons, section splitting."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.slack.mrkdwn import to_mrkdwn
from adapters.slack.render import SECTION_LIMIT, SlackMessage, render, split_sections
from bot.messages import Action, ActionStyle, Citation, OutgoingMessage

GOLDEN = Path(__file__).parent / "golden"


def test_golden_answer() -> None:
    source = (GOLDEN / "answer.md").read_text()
    assert to_mrkdwn(source) == (GOLDEN / "answer.mrkdwn").read_text().rstrip("\n")


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*it* and _it_", "_it_ and _it_"),
        ("~~gone~~", "~gone~"),
        ("**bold *and it***", "*bold _and it_*"),
        ("# **Already bold** title", "*Already bold title*"),
        ("[x](https://a.b/c|d)", "<https://a.b/c%7Cd|x>"),
        ("[a|b](https://a.b)", "<https://a.b|a¦b>"),
        ("[https://a.b](https://a.b)", "<https://a.b>"),
        ("[mail](mailto:x@y.z)", "<mailto:x@y.z|mail>"),
        ("![chart](https://a.b/c.png)", "<https://a.b/c.png|chart>"),
        ("line one  \nline two", "line one\nline two"),
        ("<b>html</b>", "&lt;b&gt;html&lt;/b&gt;"),
        ("1 < 2 & 3 > 2", "1 &lt; 2 &amp; 3 &gt; 2"),
        ("5. five\n6. six", "5. five\n6. six"),
        ("    indented code", "```\nindented code\n```"),
        ("", ""),
    ],
)
def test_inline_and_block_cases(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_half_streamed_markup_is_inert() -> None:
    # A reply cut mid-stream: the open fence runs to the end, a lone ** is literal text.
    assert to_mrkdwn("Here **is the\n\n```py\nx = 1") == "Here **is the\n\n```\nx = 1\n```"


def test_plain_answer_is_text_only() -> None:
    assert render(OutgoingMessage.text("Hello **Ada**")) == SlackMessage(text="Hello *Ada*")


def test_empty_text_is_never_sent_empty() -> None:
    assert render(OutgoingMessage.text("")).text == "…"


def test_citations_become_one_compact_context_block() -> None:
    message = OutgoingMessage(
        text_markdown="Refunds take 5 days [1][2].",
        citations=(
            Citation(number=2, title="FAQ", source="docs/faq.md", section="Refunds"),
            Citation(number=1, title="Policy", source="https://example.com/p?a=1&b=2"),
        ),
    )
    rendered = render(message)
    assert rendered.text == "Refunds take 5 days [1][2]."
    assert rendered.blocks == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Refunds take 5 days [1][2]."}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "*Sources:* [1] <https://example.com/p?a=1&amp;b=2|Policy> · "
                    "[2] FAQ › Refunds (`docs/faq.md`)",
                }
            ],
        },
    ]


def test_many_citations_stay_within_the_context_limit() -> None:
    citations = tuple(
        Citation(number=i, title="T" * 200, source=f"https://x.io/{i}") for i in range(1, 40)
    )
    block = render(OutgoingMessage(text_markdown="x", citations=citations)).blocks[-1]
    assert len(block["elements"][0]["text"]) <= 3000


def test_approval_buttons_carry_only_the_approval_id() -> None:
    message = OutgoingMessage(
        text_markdown="Run `schedule_message`?",
        actions=(
            Action(id="approve", label="Approve", value="ap_7Kq2", style=ActionStyle.PRIMARY),
            Action(id="deny", label="Deny", value="ap_7Kq2", style=ActionStyle.DANGER),
        ),
    )
    rendered = render(message)
    assert rendered.text == "Run `schedule_message`?"
    actions = rendered.blocks[-1]
    assert actions == {
        "type": "actions",
        "block_id": "parley_actions:ap_7Kq2",
        "elements": [
            {
                "type": "button",
                "action_id": "parley_approve",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve", "emoji": True},
                "value": "ap_7Kq2",
            },
            {
                "type": "button",
                "action_id": "parley_deny",
                "style": "danger",
                "text": {"type": "plain_text", "text": "Deny", "emoji": True},
                "value": "ap_7Kq2",
            },
        ],
    }


def test_long_body_with_blocks_is_split_into_sections_with_fences_intact() -> None:
    body = "intro\n\n```\n" + "\n".join(f"line {i:04d} " + "x" * 40 for i in range(150)) + "\n```"
    rendered = render(
        OutgoingMessage(text_markdown=body, citations=(Citation(number=1, title="t", source="s"),))
    )
    sections = [b["text"]["text"] for b in rendered.blocks if b["type"] == "section"]
    assert len(sections) >= 3
    assert all(len(s) <= SECTION_LIMIT for s in sections)
    assert all(s.count("```") % 2 == 0 for s in sections)
    joined = "\n".join(sections)
    assert all(f"line {i:04d}" in joined for i in range(150))


@pytest.mark.parametrize("size", [SECTION_LIMIT - 1, SECTION_LIMIT, SECTION_LIMIT + 1])
def test_split_at_exact_limits(size: int) -> None:
    text = ("word " * size)[:size]
    pieces = split_sections(text, SECTION_LIMIT)
    assert len(pieces) == (1 if size <= SECTION_LIMIT else 2)
    assert "".join(pieces) == text
    assert all(len(p) <= SECTION_LIMIT for p in pieces)
