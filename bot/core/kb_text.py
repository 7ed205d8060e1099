"""What the knowledge admin commands say: pure functions from run state to Markdown.

The progress line of a running reindex (documents done/total, chunks, errors, rate, ETA), the
summary that replaces it at the end (added, changed, removed and failed files with reasons),
the one-line headline kept as the last run, and the answer to a second request while one runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.ports import LastReindex, LeaseHolder, ReindexSummary

LISTED = 10
"""Files named per group in a summary; the rest are counted."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def target_name(target: str) -> str:
    return f"`{target}`" if target else "every source"


def progress_counts(progress: dict[str, float]) -> str:
    """ "12/40 documents · 310 chunks · 1 error · 4.2 documents/s · about 7 s left"."""
    if not progress:
        return "starting…"
    done, total = int(progress.get("documents", 0)), int(progress.get("documents_total", 0))
    rate = progress.get("rate", 0.0)
    parts = [
        f"{done}/{total} documents",
        _plural(int(progress.get("chunks", 0)), "chunk"),
        _plural(int(progress.get("errors", 0)), "error"),
        f"{rate:.1f} documents/s",
    ]
    if rate > 0 and total > done:
        parts.append(f"about {duration((total - done) / rate)} left")
    return " · ".join(parts)


def progress_text(target: str, progress: dict[str, float], cancel_by: str = "") -> str:
    if cancel_by:
        return f"Cancelling the reindex of {target_name(target)} (asked by {cancel_by})… " + (
            progress_counts(progress)
        )
    return f"Reindexing {target_name(target)}… {progress_counts(progress)}"


def headline(summary: ReindexSummary) -> str:
    """ "2 added, 1 changed, 0 removed, 1 failed, 40 unchanged; 120 chunks in 4 s"."""
    return (
        f"{len(summary.added)} added, {len(summary.changed)} changed, "
        f"{len(summary.removed)} removed, {len(summary.failed)} failed, "
        f"{summary.unchanged} unchanged; {_plural(summary.chunks, 'chunk')} in "
        f"{duration(summary.duration_s)}"
    )


def _names(label: str, names: Sequence[str]) -> list[str]:
    if not names:
        return []
    shown = ", ".join(f"`{n}`" for n in names[:LISTED])
    more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
    return [f"• {label}: {shown}{more}"]


def summary_text(target: str, summary: ReindexSummary, *, cancelled_by: str = "") -> str:
    if summary.cancelled:
        who = f" by {cancelled_by}" if cancelled_by else ""
        head = (
            f"Reindex of {target_name(target)} cancelled{who}. Finished documents are kept; "
            "the next `kb reindex` resumes with the rest."
        )
    elif summary.failure:
        head = f"Reindex of {target_name(target)} failed: {summary.failure}"
    else:
        head = f"Reindex of {target_name(target)} finished"
        head += " with errors." if summary.failed else "."
    lines = [head, headline(summary)]
    lines += _names("Added", summary.added)
    lines += _names("Changed", summary.changed)
    lines += _names("Removed", summary.removed)
    if summary.failed:
        lines.append("• Failed:")
        lines += [f"    `{src}`: {why}" for src, why in summary.failed[:LISTED]]
        if len(summary.failed) > LISTED:
            lines.append(f"    … and {len(summary.failed) - LISTED} more")
    if summary.flagged:
        lines.append("• Flagged for injection patterns (see `kb status`):")
        lines += [f"    `{src}`: {', '.join(names)}" for src, names in summary.flagged[:LISTED]]
    return "\n".join(lines)


def ago(when: datetime, now: datetime | None = None) -> str:
    return duration(((now or datetime.now(UTC)) - when).total_seconds()) + " ago"


def busy_text(holder: LeaseHolder) -> str:
    """The answer to a reindex request while another runs, in any process."""
    return (
        f"A reindex is already running: {target_name(holder.target)}, started by "
        f"{holder.actor} {ago(holder.started_at)}; {progress_counts(holder.progress)}. "
        "Wait for it to finish, or stop it with `kb cancel`."
    )


def running_line(holder: LeaseHolder | None) -> str:
    if holder is None:
        return "No reindex is running."
    return (
        f"Reindex running: {target_name(holder.target)}, started by {holder.actor} "
        f"{ago(holder.started_at)}; {progress_counts(holder.progress)}"
    )


def last_line(last: LastReindex | None) -> str:
    if last is None:
        return "Last reindex: none recorded yet."
    when = last.finished_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Last reindex: {when} ({ago(last.finished_at)}), {target_name(last.target)} by "
        f"{last.actor}: {last.outcome}; {last.headline}"
    )
