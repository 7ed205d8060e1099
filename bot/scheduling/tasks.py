"""Named tasks for scheduled jobs. APScheduler pickles a job's function by reference, so every
recurring job the bot defines stores the one module-level `run_task` with the task's name; the
running process registers what the name does (with the store, clock and settings it has) at
start. A run in a process that registered nothing under the name fails loudly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Task = Callable[[], Awaitable[str]]
"""Does the work and returns a one-line report for the job's last-run outcome."""

_TASKS: dict[str, Task] = {}


def register_task(name: str, task: Task) -> None:
    _TASKS[name] = task


def unregister_task(name: str) -> None:
    _TASKS.pop(name, None)


async def run_task(name: str) -> str:
    """The job function (referenced by name in the job store; keep its import path stable)."""
    task = _TASKS.get(name)
    if task is None:
        raise RuntimeError(f"no task registered under {name!r} in this process")
    return await task()
