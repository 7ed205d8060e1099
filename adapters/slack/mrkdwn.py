"""CommonMark → Slack mrkdwn, by walking markdown-it's syntax tree.

Slack's `mrkdwn` is not Markdown: bold is `*x*`, italic `_x_`, strike `~x~`, links `<url|label>`,
no headings, tables or nested emphasis, no language tag on fences, and `&`, `<`, `>` must be
escaped as entities everywhere. Parsing with a real Markdown parser (instead of regexes) keeps code
spans and fences literal and makes unbalanced markers inert, which matters for streamed text that
is cut mid-sentence.

Mapping: headings → bold line; bullet lists → `•`/`◦`/`▪` by depth, ordered lists keep their
numbers; block quotes → `> ` on every line; fences and indented code → ``` blocks; tables → an
aligned ``` block; thematic break → a rule of `─`; images → a link to the image.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_BULLETS = ("•", "◦", "▪")
_RULE = "───────────"


def escape(text: str) -> str:
    """Slack's three control characters as entities (the only escaping mrkdwn has)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Render CommonMark (with GFM tables and strikethrough) as Slack mrkdwn."""
    root = SyntaxTreeNode(_MD.parse(markdown))
    return "\n\n".join(b for b in (_block(child, 0) for child in root.children) if b)


def _block(node: SyntaxTreeNode, depth: int) -> str:
    kind = node.type
    if kind == "paragraph":
        return _inline_of(node)
    if kind == "heading":
        text = _inline_of(node, bold=True)
        return f"*{text}*" if text else ""
    if kind in ("bullet_list", "ordered_list"):
        return _list(node, depth)
    if kind == "blockquote":
        inner = "\n\n".join(b for b in (_block(c, depth) for c in node.children) if b)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if kind in ("fence", "code_block"):
        return _fence(node.content)
    if kind == "hr":
        return _RULE
    if kind == "table":
        return _table(node)
    if kind == "html_block":
        return escape(node.content.rstrip("\n"))
    return "\n".join(b for b in (_block(c, depth) for c in node.children) if b)


def _fence(code: str) -> str:
    return f"```\n{escape(code.rstrip(chr(10)))}\n```"


def _list(node: SyntaxTreeNode, depth: int) -> str:
    ordered = node.type == "ordered_list"
    number = int(str(node.attrs.get("start", 1))) if ordered else 0
    bullet = _BULLETS[min(depth, len(_BULLETS) - 1)]
    lines: list[str] = []
    for item in node.children:
        marker = f"{number}." if ordered else bullet
        number += 1
        body = "\n".join(b for b in (_block(c, depth + 1) for c in item.children) if b)
        pad = " " * (len(marker) + 1)
        for i, line in enumerate(body.split("\n") or [""]):
            lines.append(f"{marker} {line}" if i == 0 else (f"{pad}{line}" if line else ""))
    return "\n".join(lines)


def _table(node: SyntaxTreeNode) -> str:
    rows = [
        [_plain(cell) for cell in row.children]
        for section in node.children
        for row in section.children
    ]
    if not rows:
        return ""
    widths = [max(len(r[i]) if i < len(r) else 0 for r in rows) for i in range(len(rows[0]))]
    out = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return _fence("\n".join(out))


def _plain(node: SyntaxTreeNode) -> str:
    """A node's text without any markup (table cells, link labels)."""
    if node.type in ("text", "code_inline", "html_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(_plain(c) for c in node.children)


def _inline_of(node: SyntaxTreeNode, *, bold: bool = False) -> str:
    return "".join(_inline(c, bold=bold) for c in node.children).strip()


def _inline(node: SyntaxTreeNode, *, bold: bool = False) -> str:
    kind = node.type
    if kind == "inline":
        return "".join(_inline(c, bold=bold) for c in node.children)
    if kind == "text":
        return escape(node.content)
    if kind in ("softbreak", "hardbreak"):
        return "\n"
    if kind == "code_inline":
        return f"`{escape(node.content)}`"
    if kind == "html_inline":
        return escape(node.content)
    if kind == "strong":
        inner = "".join(_inline(c, bold=True) for c in node.children)
        return inner if bold else _wrap("*", inner)
    if kind == "em":
        return _wrap("_", "".join(_inline(c, bold=bold) for c in node.children))
    if kind == "s":
        return _wrap("~", "".join(_inline(c, bold=bold) for c in node.children))
    if kind == "link":
        return _link(str(node.attrs.get("href", "")), _plain(node))
    if kind == "image":
        return _link(str(node.attrs.get("src", "")), _plain(node) or "image")
    return "".join(_inline(c, bold=bold) for c in node.children)


def _wrap(marker: str, inner: str) -> str:
    """Slack only formats markers that hug the text: move outer spaces outside."""
    stripped = inner.strip()
    if not stripped:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{marker}{stripped}{marker}{trail}"


def _link(href: str, label: str) -> str:
    label = label.strip()
    if not href:
        return escape(label)
    if "://" not in href and not href.startswith("mailto:"):
        # Slack cannot link a relative path; show it instead of dropping it.
        return escape(f"{label} ({href})" if label and label != href else href)
    safe_href = (
        href.replace("&", "&amp;").replace(">", "%3E").replace("<", "%3C").replace("|", "%7C")
    )
    if not label or label == href:
        return f"<{safe_href}>"
    return f"<{safe_href}|{escape(label.replace('|', '¦'))}>"
