"""Plain-text structure: headings and indented entries read from layout (knowledge.loaders.outline)."""

from __future__ import annotations

from pathlib import Path

from knowledge.loaders import load_bytes
from knowledge.loaders.outline import outline_sections

PAYLOADS = Path(__file__).parent / "payloads"


def _paths(text: str) -> list[str]:
    return [s.path for s in outline_sections(text)]


def test_man_page_sections_subsections_and_options() -> None:
    """A captured man page (grep(1) rendered by `man` at 80 columns, start and end)."""
    sections = outline_sections((PAYLOADS / "grep.1.txt").read_text())
    by_path = {s.path: s for s in sections}
    assert [s.path for s in sections[:4]] == ["", "NAME", "SYNOPSIS", "DESCRIPTION"]
    assert by_path["NAME"].text == "grep, egrep, fgrep, rgrep - print lines that match patterns"
    entry = by_path["OPTIONS > Matching Control > -i, --ignore-case"]
    assert entry.titled
    assert entry.text == (
        "-i, --ignore-case\n"
        "       Ignore case distinctions in patterns and  input  data,  so  that\n"
        "       characters that differ only in case match each other."
    )
    # an entry right under its subsection title (no blank line between) is still an entry
    assert "OPTIONS > Matching Control > -e PATTERNS, --regexp=PATTERNS" in by_path
    assert "OPTIONS > Pattern Syntax > -E, --extended-regexp" in by_path
    # `--help Output a usage message` is a one-line paragraph of its subsection, not an entry
    assert by_path["OPTIONS > Generic Program Information"].text.endswith(
        "--help Output a usage message and exit."
    )
    # nothing is lost: every word of the page is in exactly one section
    words = (PAYLOADS / "grep.1.txt").read_text().split()
    assert sorted(w for s in sections for w in s.text.split()) == sorted(
        w for w in words if w not in {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"}
    )


def test_one_line_option_entries_and_their_tag() -> None:
    text = (
        "OPTIONS\n"
        "       -C     list entries by columns\n\n"
        "       -c     with -lt: sort by, and show, ctime (time of last modification of\n"
        "              file status information)\n\n"
        "       --zero end each output line with NUL, not newline\n"
    )
    sections = outline_sections(text)
    assert [s.path for s in sections] == ["OPTIONS > -C", "OPTIONS > -c", "OPTIONS"]
    assert sections[1].text.startswith("-c     with -lt") and sections[1].text.endswith(
        "information)"
    )


def test_pydoc_class_rails_and_methods() -> None:
    text = (
        "class JSONDecoder(builtins.object)\n"
        " |  JSONDecoder(*, object_hook=None)\n"
        " |  \n"
        " |  Simple JSON decoder\n"
        " |  \n"
        " |  Methods defined here:\n"
        " |  \n"
        " |  decode(self, s)\n"
        " |      Return the Python representation of ``s``\n"
        " |      (a ``str`` instance containing a JSON document).\n"
        " |  \n"
        " |  raw_decode(self, s, idx=0)\n"
        " |      Decode a JSON document from ``s``.\n"
    )
    sections = outline_sections(text)
    assert [s.path for s in sections] == [
        "class JSONDecoder(builtins.object)",
        "class JSONDecoder(builtins.object) > decode(self, s)",
        "class JSONDecoder(builtins.object) > raw_decode(self, s, idx=0)",
    ]
    assert sections[1].text == (
        "decode(self, s)\n    Return the Python representation of ``s``\n"
        "    (a ``str`` instance containing a JSON document)."
    )
    assert "|" not in "".join(s.text for s in sections)


def test_underlined_and_numbered_headings_nest_by_first_use() -> None:
    text = (
        "User Guide\n==========\n\nIntro text.\n\n"
        "1 Installing\n\nRun the installer.\n\n"
        "1.1 On Linux\n\nUse the package.\n\n"
        "Appendix\n========\n\nLast words.\n"
    )
    assert _paths(text) == [
        "User Guide",
        "User Guide > 1 Installing",
        "User Guide > 1 Installing > 1.1 On Linux",
        "Appendix",
    ]


def test_numbered_list_items_in_prose_are_not_headings() -> None:
    text = "Steps:\n\n1. Open the settings page and\n   choose Security.\n\n2. Press Reset.\n"
    sections = outline_sections(text)
    # the wrapped item reads as an entry at most; nothing nests under it as under a heading
    assert all(len(s.headings) <= 1 for s in sections)
    assert any("1. Open the settings page and\n   choose Security." in s.text for s in sections)
    assert "2. Press Reset." in sections[-1].text and sections[-1].headings == ()


def test_info_style_multi_line_terms() -> None:
    text = (
        "2.1.2 Matching Control\n----------------------\n\n"
        "‘-i’\n‘-y’\n‘--ignore-case’\n     Ignore case distinctions in patterns and input data.\n\n"
        "‘-v’\n     Invert the sense of matching.\n"
    )
    assert _paths(text) == [
        "2.1.2 Matching Control > ‘-i’, ‘-y’, ‘--ignore-case’",
        "2.1.2 Matching Control > ‘-v’",
    ]


def test_text_without_structure_is_one_section_and_prose_stays_prose() -> None:
    text = (
        "Boil the pasta for nine minutes.\nThen drain it.\n\n"
        "Add the sauce:\n    two spoons of tomato\n    one of oil\n"
    )
    sections = outline_sections(text)
    assert [s.path for s in sections] == [""]
    assert sections[0].text == text.strip("\n")


def test_txt_files_are_outlined_and_legacy_mode_is_not() -> None:
    data = (PAYLOADS / "grep.1.txt").read_bytes()
    doc = load_bytes(Path("grep.txt"), data)
    assert len(doc.sections) > 10
    assert doc.title == "grep, egrep, fgrep, rgrep - print lines that match patterns"  # NAME line
    assert load_bytes(Path("notes.txt"), b"Just a note.\n").title == "Notes"
    assert len(load_bytes(Path("grep.txt"), data, structure=False).sections) == 1
    assert len(load_bytes(Path("grep.csv"), data).sections) == 1  # data files stay whole


def test_captured_pydoc_module_page() -> None:
    """pydoc's text of textwrap (Python 3.11): classes indented with rails, functions, data."""
    sections = outline_sections((PAYLOADS / "textwrap.pydoc.txt").read_text())
    paths = [s.path for s in sections]
    assert paths[:3] == ["", "NAME", "MODULE REFERENCE"]
    cls = "CLASSES > class TextWrapper(builtins.object)"
    assert f"{cls} > fill(self, text)" in paths and f"{cls} > wrap(self, text)" in paths
    assert [p for p in paths if p.startswith("FUNCTIONS >")] == [
        "FUNCTIONS > dedent(text)",
        "FUNCTIONS > fill(text, width=70, **kwargs)",
        "FUNCTIONS > indent(text, prefix, predicate=None)",
        "FUNCTIONS > shorten(text, width, **kwargs)",
        "FUNCTIONS > wrap(text, width=70, **kwargs)",
    ]
    fill = next(s for s in sections if s.path == f"{cls} > fill(self, text)")
    assert fill.text.startswith("fill(self, text)\n    fill(text : string) -> string")
    assert not any(line.lstrip().startswith("|") for s in sections for line in s.text.split("\n"))
