"""HTML: visible text by section, with scripts, styles, navigation and page chrome removed."""

from __future__ import annotations

import warnings

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString

from knowledge.documents import LoadedDocument, Section

_DROP = (
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "svg",
    "template",
    "iframe",
    "button",
    "select",
)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "blockquote",
        "figure",
        "figcaption",
        "body",
        "details",
        "summary",
        "pre",
        "hr",
        "br",
        "caption",
    }
)


class _Walker:
    def __init__(self) -> None:
        self.stack: list[tuple[int, str]] = []
        self.sections: list[Section] = []
        self.paragraphs: list[str] = []
        self.inline: list[str] = []
        self.first_h1: str | None = None

    def end_paragraph(self) -> None:
        text = " ".join(" ".join(self.inline).split())
        if text:
            self.paragraphs.append(text)
        self.inline.clear()

    def flush(self) -> None:
        self.end_paragraph()
        if self.paragraphs:
            self.sections.append(
                Section(headings=tuple(h for _, h in self.stack), text="\n\n".join(self.paragraphs))
            )
        self.paragraphs.clear()

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:
                    self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name.lower()
            if name in _HEADINGS:
                self.flush()
                level, title = _HEADINGS[name], " ".join(child.get_text(" ").split())
                while self.stack and self.stack[-1][0] >= level:
                    self.stack.pop()
                if title:
                    self.stack.append((level, title))
                    if level == 1 and self.first_h1 is None:
                        self.first_h1 = title
            elif name == "pre":
                self.end_paragraph()
                code = child.get_text().strip("\n")
                if code.strip():
                    self.paragraphs.append(f"```\n{code}\n```")
            elif name in _BLOCKS:
                self.end_paragraph()
                self.walk(child)
                self.end_paragraph()
            else:
                self.walk(child)


def load_html(text: str, fallback_title: str) -> LoadedDocument:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns about markup that looks like a URL or file name
        soup = BeautifulSoup(text, "html.parser")
    title_tag = soup.find("title")
    page_title = " ".join(title_tag.get_text(" ").split()) if isinstance(title_tag, Tag) else ""
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.find_all(role=["navigation", "banner", "contentinfo"]):
        tag.decompose()
    if isinstance(title_tag, Tag):
        title_tag.decompose()
    walker = _Walker()
    root = soup.find("body")
    walker.walk(root if isinstance(root, Tag) else soup)
    walker.flush()
    return LoadedDocument(
        title=page_title or walker.first_h1 or fallback_title, sections=tuple(walker.sections)
    )
