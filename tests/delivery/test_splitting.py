"""Rollover splitting: exact limits, boundary preference, code fences, nothing lost."""

from __future__ import annotations

import random

import pytest

from bot.delivery.splitting import close_open_fence, cut, split_text


def fence_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("```")]


def check(text: str, limit: int) -> list[str]:
    parts = split_text(text, limit)
    assert "".join(p.body for p in parts) == text
    for part in parts:
        assert len(part.text) <= limit, part
        assert len(fence_lines(part.text)) % 2 == 0, part
    return [p.text for p in parts]


@pytest.mark.parametrize(("extra", "count"), [(-1, 1), (0, 1), (1, 2)])
def test_exact_limit(extra: int, count: int) -> None:
    limit = 100
    text = ("word " * 40)[: limit + extra]
    parts = check(text, limit)
    assert len(parts) == count
    if count == 1:
        assert parts == [text]


def test_prefers_paragraph_then_line_then_sentence_then_word() -> None:
    para = "a" * 60 + "\n\n" + "b" * 30 + "\n" + "c" * 50
    assert cut(para, 100).head == "a" * 60 + "\n\n"
    line = "a" * 60 + "\n" + "b" * 30 + ". " + "c" * 50
    assert cut(line, 100).head == "a" * 60 + "\n"
    sentence = "a" * 60 + ". " + "b" * 20 + " " + "c" * 50
    assert cut(sentence, 100).head == "a" * 60 + ". "
    word = "a" * 60 + " " + "b" * 80
    assert cut(word, 100).head == "a" * 60 + " "
    assert cut("x" * 150, 100).head == "x" * 100


def test_an_early_paragraph_does_not_beat_a_late_line() -> None:
    text = "a" * 5 + "\n\n" + "b" * 80 + "\n" + "c" * 50
    assert cut(text, 100).head == "a" * 5 + "\n\n" + "b" * 80 + "\n"


def test_code_fence_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"x{i} = {i}" for i in range(40))
    text = "Intro.\n\n```python\n" + code + "\n```\nAfter."
    parts = split_text(text, 120)
    assert len(parts) > 2
    for part in parts[1:-1]:
        assert part.text.startswith("```python\n") or not part.reopen
    assert parts[0].close == "```" or parts[0].body.endswith("\n\n")
    assert any(p.reopen == "```python\n" for p in parts)
    assert "".join(p.body for p in parts) == text
    check(text, 120)


def test_cut_inside_fence_when_no_line_fits_closes_on_its_own_line() -> None:
    text = "```js\n" + "y" * 200 + "\n```"
    head = cut(text, 50)
    assert head.head.endswith("\n```") and len(head.head) <= 50
    assert head.reopen == "```js\n"
    check(text, 50)


def test_tilde_fences_and_unclosed_fences() -> None:
    text = "~~~\n" + "line\n" * 60  # still open: the stream is in the middle of a block
    parts = split_text(text.replace("~~~", "```"), 80)
    assert all(p.text.startswith("```\n") for p in parts)
    assert all(p.close == "```" for p in parts[:-1])
    assert "".join(p.body for p in parts) == text.replace("~~~", "```")
    tilde = split_text(text, 80)
    assert tilde[0].close == "~~~"
    assert close_open_fence("```py\nx = 1") == "```py\nx = 1\n```"
    assert close_open_fence("```py\nx = 1\n```\n") == "```py\nx = 1\n```\n"
    assert close_open_fence("plain") == "plain"


def test_the_cut_depends_only_on_the_window() -> None:
    """What streaming cut when the text first passed the limit is what the final split cuts."""
    rng = random.Random(7)
    text = generated(rng, 2000)
    limit = 150
    final = cut(text, limit)
    for end in range(limit + 1, len(text), 37):
        assert cut(text[:end], limit) == final


def generated(rng: random.Random, size: int) -> str:
    pieces: list[str] = []
    total = 0
    while total < size:
        roll = rng.random()
        if roll < 0.15:
            body = "\n".join(
                rng.choice(["x = 1", "print(x)", "for i in y:", "  pass"])
                for _ in range(rng.randint(1, 30))
            )
            lead = "" if not pieces or pieces[-1].endswith("\n") else "\n"
            piece = f"{lead}```{rng.choice(['python', 'js', ''])}\n{body}\n```\n"
        elif roll < 0.3:
            piece = "\n\n"
        elif roll < 0.4:
            piece = "\n"
        else:
            words = [
                rng.choice(["alpha", "beta", "gamma", "delta", "x" * rng.randint(1, 40)])
                for _ in range(rng.randint(1, 20))
            ]
            piece = " ".join(words) + rng.choice([". ", "! ", " ", ""])
        pieces.append(piece)
        total += len(piece)
    return "".join(pieces)


@pytest.mark.parametrize("seed", range(40))
def test_random_texts_split_safely(seed: int) -> None:
    rng = random.Random(seed)
    check(generated(rng, rng.randint(100, 3000)), rng.randint(40, 400))
