"""Command line (the operator contract; docs/architecture.md and docs/commands.md): `python -m bot run|chat|kb …`, also installed as `parley`.

- `run`: every adapter whose credentials are set, plus the HTTP server on PORT; with no platform
  configured it says so and starts `chat`.
- `chat`: the console adapter (streams in a terminal; with piped stdin, one message per line,
  each final answer printed, exit at end of input).
- `kb reindex [PATH ...]`, `kb status`, `kb search QUERY`: knowledge administration.
- `jobs`: the scheduled jobs in the shared job store, with each one's next and last run.
- `usage [today|week|month] [@user|#channel] [--csv]`: tokens and estimated cost (bot.usage.cli).

A start-up failure the user can fix ends in one or two lines on stderr and exit code 2
(`bot.startup.explain`); the traceback is shown only with LOG_LEVEL=DEBUG. Every path out of
`run` and `chat` goes through `Parley.stop()`, so no client or index is left for the interpreter
to complain about after the message.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import ConfigError
from bot.logs import configure_logging, get_logger, mask_secrets, register_secrets
from bot.settings import Settings, load_settings

if TYPE_CHECKING:
    from adapters.console import ConsoleAdapter
    from bot.app import Parley

log = get_logger(__name__)
BANNER = "Parley console. Type a message; /help for commands; Ctrl-D to quit."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley", description="Parley: one LLM bot for Slack, Discord and Teams."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "run", help="run every configured platform adapter and the HTTP server"
    ).set_defaults(handler=_run)
    sub.add_parser("chat", help="chat in the console").set_defaults(handler=_chat)
    sub.add_parser(
        "jobs", help="list the scheduled jobs (next run, last run and how it ended)"
    ).set_defaults(handler=_jobs)
    try:
        from knowledge.cli import register as register_kb
    except ImportError:  # the knowledge package is optional at the CLI level
        pass
    else:
        register_kb(sub)
    from bot.usage.cli import register as register_usage

    register_usage(sub)
    from bot.platforms import register_platform_commands

    register_platform_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    from bot.platforms import configured_platforms, secret_values

    handler: Callable[[argparse.Namespace, Settings], int] | None = getattr(args, "handler", None)
    console = handler is _chat or (handler is _run and not configured_platforms(settings))
    configure_logging(
        settings.log_level,
        settings.log_format,
        log_file=chat_log_path(settings) if console else None,
    )

    register_secrets(secret_values(settings))
    if handler is None:
        kb_handler = getattr(args, "kb_handler", None)
        if kb_handler is None:
            parser.print_help()
            return 2
        handler = kb_handler
    try:
        return handler(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from bot.startup import explain

        message = explain(exc, settings)
        if message is None:
            raise  # a bug, not a setting: keep the traceback
        if settings.log_level == "DEBUG":
            traceback.print_exception(exc, file=sys.stderr)
        print(f"parley: {mask_secrets(message)}", file=sys.stderr)
        return 2


def _interrupt(app: Parley, console: ConsoleAdapter, tasks: set[asyncio.Task[None]]) -> None:
    """Ctrl-C in the terminal chat: cancel the answer being written, or quit at the prompt."""
    if console.cancel_answer():
        task = asyncio.ensure_future(app.queues.cancel())  # the reply ends; the prompt comes back
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    else:
        print(file=sys.stderr)
        console.finished.set()


def chat_log_path(settings: Settings) -> Path:
    """Where `chat` writes its log lines, so the terminal shows only the conversation."""
    return settings.data_dir / "logs" / "parley.log"


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.platforms import configured_platforms

    if not configured_platforms(settings):
        print(
            "parley: no chat platform is configured (set SLACK_BOT_TOKEN, DISCORD_BOT_TOKEN or "
            "TEAMS_APP_ID; see .env.example). Starting the console chat instead.",
            file=sys.stderr,
        )
        return _chat(args, settings)
    _check_data_dir(settings)
    return asyncio.run(_serve(settings))


def _check_data_dir(settings: Settings) -> None:
    from bot.startup import check_data_dir, needs_data_dir

    if needs_data_dir(settings):
        check_data_dir(settings)


async def _serve(settings: Settings) -> int:
    from bot.app import Parley
    from bot.shutdown import ShutdownSignals

    app = Parley(settings)
    signals = ShutdownSignals().install((signal.SIGTERM, signal.SIGINT))
    try:
        await app.start()
        await signals.requested.wait()
    finally:
        await app.shutdown(settings.shutdown_grace_s)  # a second signal exits at once
    return 0


def _jobs(args: argparse.Namespace, settings: Settings) -> int:
    from bot.scheduling.listing import print_jobs

    return asyncio.run(print_jobs(settings, sys.stdout))


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    _check_data_dir(settings)
    return asyncio.run(_console(settings))


async def _console(settings: Settings) -> int:
    from adapters.console import ConsoleAdapter
    from bot.app import Parley
    from bot.progress import StartupProgress
    from bot.shutdown import ShutdownSignals

    console = ConsoleAdapter(
        history_file=settings.data_dir / "console_history", files_dir=settings.data_dir / "exports"
    )
    app = Parley(settings, adapters=[console], load_platforms=False)
    console.settle, console.ready = app.settled, app.wait_indexed
    progress = StartupProgress(sys.stderr) if console.interactive else None
    if progress is not None:
        app.index_progress = progress

        async def ready() -> None:
            await app.wait_indexed()
            progress.finish()
            print(BANNER, file=sys.stderr)

        console.ready = ready
        progress.starting()
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGINT, _interrupt, app, console, set()
        )
    signals = ShutdownSignals().install((signal.SIGTERM,))  # Ctrl-C is the console's own
    try:
        await app.start(http=False)
        ended = (
            asyncio.ensure_future(console.finished.wait()),
            asyncio.ensure_future(signals.requested.wait()),
        )
        await asyncio.wait(ended, return_when=asyncio.FIRST_COMPLETED)
        for waiter in ended:
            waiter.cancel()
    except BaseException:
        if progress is not None:
            progress.finish()  # the error message starts on a clean line
        raise
    finally:
        if signals.requested.is_set():
            await app.shutdown(settings.shutdown_grace_s)
        else:
            await app.stop()
    return 0
