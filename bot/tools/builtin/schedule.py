"""`schedule_message`: post a message to this conversation later (needs approval).

Jobs live in the bot's shared `bot.scheduling.JobScheduler` (APScheduler 3's job store on the
app database), so they survive restarts and run once however many processes share the database;
a job missed while every process was down runs at start-up if it is less than `MISFIRE_GRACE_S`
late. APScheduler pickles a job's function *by reference*, so the job is the module-level
`post_scheduled` with plain arguments; it finds the running app's poster (its delivery) in a
process-wide registry under a key the app registers. A job's name carries the requester's
`platform:user_id`, so `forget-me` and `export-me` find the messages a person scheduled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from bot.messages import OutgoingMessage
from bot.refs import ConversationRef, MessageHandle
from bot.scheduling import JobScheduler
from bot.scheduling.scheduler import JOB_TABLE, MISFIRE_GRACE_S, sync_database_url
from bot.tools.registry import Risk, Tool, ToolContext

log = structlog.get_logger(__name__)

MAX_AHEAD = timedelta(days=366)
NAME_PREFIX = "Scheduled message from "
__all__ = ["JOB_TABLE", "MISFIRE_GRACE_S", "MessageScheduler", "sync_database_url"]


class Poster(Protocol):
    async def post(self, ref: ConversationRef, message: OutgoingMessage) -> MessageHandle: ...


_POSTERS: dict[str, Poster] = {}


def register_poster(key: str, poster: Poster) -> None:
    """Called by the app at start: scheduled jobs with this key post through `poster`."""
    _POSTERS[key] = poster


def unregister_poster(key: str) -> None:
    _POSTERS.pop(key, None)


async def post_scheduled(
    poster_key: str, ref: dict[str, Any], text: str, requested_by: str
) -> None:
    """The job function (referenced by name in the job store; keep its import path stable)."""
    poster = _POSTERS.get(poster_key)
    if poster is None:
        log.error("scheduled_message_no_poster", poster_key=poster_key)
        raise RuntimeError(f"no poster registered under {poster_key!r}")
    who = f" (scheduled by {requested_by})" if requested_by else ""
    await poster.post(
        ConversationRef.from_dict(ref),
        OutgoingMessage.text(f"{text}\n\n_⏰ Scheduled message{who}_"),
    )


def parse_when(value: str) -> datetime:
    """ISO 8601; a time without a zone is UTC."""
    when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledMessage:
    job_id: str
    at: datetime | None
    ref: dict[str, Any]
    text: str


class MessageScheduler:
    def __init__(self, jobs: JobScheduler, *, poster_key: str = "default") -> None:
        self.poster_key = poster_key
        self._jobs = jobs

    def start(self) -> None:
        """Start the shared scheduler inside the running event loop (idempotent)."""
        self._jobs.start()

    def shutdown(self) -> None:
        self._jobs.shutdown()

    def schedule(
        self,
        *,
        job_id: str,
        ref: ConversationRef,
        text: str,
        when: datetime,
        requested_by: str,
        requester: str = "",
    ) -> None:
        """`requester` is the `platform:user_id` who asked, kept in the job's name."""
        self._jobs.scheduler.add_job(
            post_scheduled,
            trigger="date",
            run_date=when,
            id=job_id,
            name=f"{NAME_PREFIX}{requester or requested_by}",
            replace_existing=True,
            args=[self.poster_key, ref.to_dict(), text, requested_by],
        )

    def scheduled(self) -> list[tuple[str, datetime]]:
        """Every pending scheduled message: (job id, when)."""
        jobs = self._jobs.scheduler.get_jobs()
        return [(job.id, job.next_run_time) for job in jobs if job.func is post_scheduled]

    def requested_by(self, requester: str) -> list[ScheduledMessage]:
        """The pending messages `requester` (`platform:user_id`) scheduled."""
        return [
            ScheduledMessage(
                job_id=job.id, at=job.next_run_time, ref=dict(job.args[1]), text=str(job.args[2])
            )
            for job in self._jobs.scheduler.get_jobs()
            if job.func is post_scheduled and job.name == f"{NAME_PREFIX}{requester}"
        ]

    def cancel(self, job_id: str) -> bool:
        return self._jobs.remove(job_id)


def schedule_message_tool(scheduler: MessageScheduler) -> Tool:
    def precheck(args: Mapping[str, Any]) -> str | None:
        try:
            parse_when(str(args["at"]))
        except ValueError:
            return (
                f"'at' must be an ISO 8601 time such as 2030-01-31T09:00:00Z (got {args['at']!r})."
            )
        return None

    async def run(args: Mapping[str, Any], ctx: ToolContext) -> str:
        when = parse_when(str(args["at"]))
        if when <= ctx.now:
            raise ValueError(
                f"{when.isoformat()} is in the past (now {ctx.now.isoformat(timespec='seconds')})"
            )
        if when - ctx.now > MAX_AHEAD:
            raise ValueError("at most one year ahead")
        name = ctx.author.display_name or ctx.author.id
        scheduler.schedule(
            job_id=f"msg-{ctx.call_id}"[:64],
            ref=ctx.ref,
            text=str(args["text"]),
            when=when,
            requested_by=name,
            requester=ctx.author.qualified_id(ctx.ref.platform),
        )
        return f"Scheduled for {when.isoformat(timespec='minutes')} in this conversation."

    return Tool(
        name="schedule_message",
        description="Post a message to this conversation at a given time (ISO 8601, UTC if no "
        "zone). Needs a person's approval.",
        parameters={
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1, "maxLength": 2_000},
                "at": {"type": "string", "minLength": 10, "maxLength": 40},
            },
            "required": ["text", "at"],
            "additionalProperties": False,
        },
        run=run,
        risk=Risk.WRITE,
        precheck=precheck,
        timeout_s=10.0,
        max_output_chars=500,
        status="Scheduling the message…",
    )
