"""`kb` subcommands for `python -m bot`: reindex (with a progress bar), status, search.

`register(subparsers)` adds them; each handler is `func(args, settings) -> int`, set as
`kb_handler`. Errors the user can fix (Qdrant down, index locked, bad configuration) print one
clear line on stderr and return 2; Ctrl-C during a reindex keeps finished documents (exit 130).
`kb reindex` while the bot holds the local index hands the work to the bot (bot.reindex_requests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.errors import ParleyError
from bot.settings import Settings
from knowledge import KnowledgeBase, KnowledgeUnavailable, open_knowledge_base
from knowledge.relevance import Hit
from knowledge.report import ReindexReport

T = TypeVar("T")


def _run(settings: Settings, work: Callable[[KnowledgeBase], Awaitable[T]]) -> T:
    async def main() -> T:
        kb = await open_knowledge_base(settings, schedule=False)
        try:
            return await work(kb)
        finally:
            await kb.close()

    return asyncio.run(main())


def _fail(exc: Exception) -> int:
    print(f"parley kb: {exc}", file=sys.stderr)
    return 2


class _Bar:
    """A tqdm bar driven by the reindex progress callback."""

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, info: dict[str, float]) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=int(info["documents_total"]), unit="doc", file=sys.stderr)
        self.bar.n = int(info["documents"])
        self.bar.set_postfix(chunks=int(info["chunks"]), errors=int(info["errors"]), refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def reindex_command(args: argparse.Namespace, settings: Settings) -> int:
    bar = _Bar()

    async def work(kb: KnowledgeBase) -> ReindexReport:
        from bot.cli_reindex import reindex_under_lease

        try:
            progress = None if args.quiet else bar
            return await reindex_under_lease(settings, kb, list(args.paths), progress)
        finally:
            bar.close()

    try:
        report = _run(settings, work)
    except KeyboardInterrupt:
        print(
            "Reindex interrupted; finished documents are kept. Run it again to resume.",
            file=sys.stderr,
        )
        return 130
    except KnowledgeUnavailable as exc:
        if settings.qdrant_url is not None:
            return _fail(exc)
        from bot.cli_reindex import reindex_through_running_bot  # the bot holds the local index

        return reindex_through_running_bot(settings, list(args.paths), exc)
    except ParleyError as exc:
        return _fail(exc)
    print(report.render())
    return 1 if report.errors or report.failure else 0  # the report above says which files


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(kb: KnowledgeBase) -> str:
        return await kb.status()

    try:
        print(_run(settings, work))
    except ParleyError as exc:
        return _fail(exc)
    return 0


def _hit_record(rank: int, hit: Hit) -> dict[str, Any]:
    section = str(hit.payload.get("section", ""))
    return {
        "rank": rank,
        "id": hit.id,
        "source": hit.payload.get("source", ""),
        "title": hit.payload.get("title", ""),
        "heading_path": section.split(" > ") if section else [],
        "chunk_index": hit.payload.get("chunk_index"),
        "text": hit.payload.get("text", ""),
        "scores": {"fused": round(hit.fused, 4), "cosine": round(hit.cosine, 4)},
    }


def search_command(args: argparse.Namespace, settings: Settings) -> int:
    query = " ".join(args.query)
    scopes = list(args.scope) if args.scope else None

    async def work(kb: KnowledgeBase) -> list[Hit]:
        return await kb.search_hits(query, scopes=scopes, limit=args.limit)

    try:
        hits = _run(settings, work)
    except ParleyError as exc:
        return _fail(exc)
    if args.json:
        records = [_hit_record(rank, hit) for rank, hit in enumerate(hits, start=1)]
        print(json.dumps({"query": query, "hits": records}, ensure_ascii=False, indent=2))
        return 0 if hits else 1
    if not hits:
        print(f"Nothing relevant in the knowledge base for {query!r}.")
        return 1
    for rank, hit in enumerate(hits, start=1):
        record = _hit_record(rank, hit)
        headings = record["heading_path"]
        if headings and headings[0] == record["title"]:
            headings = headings[1:]  # a Markdown file's H1 is usually its title too
        path = " › ".join([record["title"], *headings])
        print(
            f"{rank:>2}. {record['source']} — {path}  "
            f"[{hit.id[:8]}] fused {hit.fused:.3f}, cosine {hit.cosine:.3f}"
        )
        snippet = " ".join(str(record["text"]).split())
        print(f"      {snippet[:240]}{'…' if len(snippet) > 240 else ''}")
    return 0


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more (got {value!r})")
    return number


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    kb = subparsers.add_parser("kb", help="knowledge base: reindex, status, search")
    commands = kb.add_subparsers(dest="kb_command", required=True, metavar="COMMAND")

    reindex = commands.add_parser("reindex", help="index files (default: KNOWLEDGE_PATHS)")
    reindex.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to index")
    reindex.add_argument("--quiet", action="store_true", help="no progress bar")
    reindex.set_defaults(kb_handler=reindex_command)

    status = commands.add_parser("status", help="documents, chunks, model, last run, errors")
    status.set_defaults(kb_handler=status_command)

    search = commands.add_parser("search", help="ranked passages for a query")
    search.add_argument("query", nargs="+", metavar="QUERY")
    search.add_argument("--limit", type=_positive, default=5, help="passages to show (1 or more)")
    search.add_argument(
        "--json", action="store_true", help="ranked hits as JSON (id, source, path, text, scores)"
    )
    search.add_argument(
        "--scope",
        action="append",
        metavar="SCOPE",
        help="only what this scope sees (repeatable); default: everything",
    )
    search.set_defaults(kb_handler=search_command)
