"""`kb reindex` while the bot holds the local index: hand the request over (bot.reindex_requests)."""

from __future__ import annotations

import sys

from bot import reindex_requests
from bot.settings import Settings


def reindex_through_running_bot(settings: Settings, paths: list[str], locked: Exception) -> int:
    """Ask the running bot to reindex `paths`; print its report and return its exit code."""
    request_id = reindex_requests.submit(settings.data_dir, paths)
    print(
        "The running bot holds the knowledge index; asking it to reindex "
        f"{', '.join(paths) or 'the configured folders'}…",
        file=sys.stderr,
    )
    try:
        result = reindex_requests.wait(settings.data_dir, request_id)
    except KeyboardInterrupt:
        print("Stopped waiting; the bot finishes the reindex on its own.", file=sys.stderr)
        return 130
    if result is None:
        print(
            f"parley kb: {locked} (No running bot answered the reindex request within "
            f"{reindex_requests.PICKUP_S:.0f} s.)",
            file=sys.stderr,
        )
        return 2
    print(result.text)
    return result.exit_code
