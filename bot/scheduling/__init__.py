"""Scheduled jobs: APScheduler 3 with its job store in the bot's database, shared by every bot
process, each run claimed once (`bot.scheduling.scheduler` has the theory)."""

from bot.scheduling.scheduler import JobScheduler, RunClaims, ScheduledJob
from bot.scheduling.tasks import register_task, run_task, unregister_task

__all__ = [
    "JobScheduler",
    "RunClaims",
    "ScheduledJob",
    "register_task",
    "run_task",
    "unregister_task",
]
