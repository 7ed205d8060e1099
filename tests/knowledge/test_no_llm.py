"""No-LLM answers quote clean passages: whole sentences, each section once, one label."""

from __future__ import annotations

from bot.grounding import answer_without_llm, number_passages, resolve_citations
from bot.grounding.no_llm import QUOTE_CHARS, label, quotes
from bot.ports import Passage


def passage(
    text: str, *, section: str = "Setup", source: str = "docs/slack.md", **kw: str
) -> Passage:
    return Passage(
        text=text, title=kw.get("title", "Slack"), source=source, section=section, score=0.5
    )


def test_overlapping_and_repeated_chunks_of_a_section_become_one_quote() -> None:
    first = "Create a Slack app. Copy the bot token into SLACK_BOT_TOKEN and restart Parley."
    second = "Copy the bot token into SLACK_BOT_TOKEN and restart Parley. Then invite the bot."
    answer = answer_without_llm(
        "slack setup",
        [passage(first), passage(second), passage(first), passage("Other.", section="FAQ")],
    )
    assert answer.count("Copy the bot token") == 1 and answer.count("— Slack › Setup") == 1
    assert (
        "> Create a Slack app. Copy the bot token into SLACK_BOT_TOKEN and restart Parley. "
        "Then invite the bot." in answer
    )
    # The merged quote cites its best passage; the other section keeps its own number.
    assert "— Slack › Setup [1]" in answer and "— Slack › FAQ [4]" in answer
    text, citations = resolve_citations(
        answer, number_passages([passage(first)] * 3 + [passage("Other.", section="FAQ")])
    )
    assert [c.number for c in citations] == [1, 4] and "[2]" not in text


def test_quotes_start_and_end_at_sentence_or_line_boundaries() -> None:
    chunk = (
        "the signing secret, then save. Error E4711 means the signature did not verify.\n"
        "Check SLACK_SIGNING_SECRET against the app's Basic Information page. And then the"
    )
    ((_, _, quoted),) = quotes([passage(chunk)])
    assert quoted.startswith("> … Error E4711 means")
    assert quoted.endswith("Basic Information page. …")
    long = " ".join(f"Sentence number {i} says something useful." for i in range(60))
    ((_, _, quoted),) = quotes([passage(long)])
    assert len(quoted) <= QUOTE_CHARS + 10 and quoted.endswith("useful. …")
    assert quotes([passage("A whole sentence.")])[0][2] == "> A whole sentence."


def test_label_does_not_repeat_the_title_and_has_no_scores() -> None:
    assert label(passage("x", section="Slack > 3. Tokens")) == "Slack › 3. Tokens"
    assert label(passage("x", section="")) == "Slack"
    assert (
        label(passage("x", section="Install > Linux", title=""))
        == "docs/slack.md › Install › Linux"
    )
    answer = answer_without_llm("q", [passage("One.", section="Slack > Tokens")])
    assert "Slack › Slack" not in answer and "0.5" not in answer and "score" not in answer


def test_at_most_three_sections_are_quoted() -> None:
    many = [passage(f"Fact {i}.", section=f"S{i}") for i in range(6)]
    assert [n for n, _, _ in quotes(many)] == [1, 2, 3]
