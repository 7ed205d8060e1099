"""Structured logging with structlog: JSON or console lines, bound to conversation and event ids,
with secrets redacted before anything is rendered.

Two layers keep secrets out of logs: values of keys that look secret (token, secret, password,
api_key, authorization, …) are masked, and every configured secret value is replaced wherever it
appears inside any string (an SDK error message that echoes a header, say).

Where lines go (`configure_logging`):

- `run`: stderr. Parley's own loggers (bot, adapters, knowledge, storage) at LOG_LEVEL; every
  library (alembic's plugin and migration lines, httpx request lines, apscheduler, Bolt, Qdrant)
  only from WARNING up, unless LOG_LEVEL=DEBUG shows everything.
- `chat`: a file, DATA_DIR/logs/parley.log, so the terminal shows only the conversation; when
  that file cannot be opened, stderr at WARNING.
- The format is LOG_FORMAT, else json when stdout is not a terminal (a Procfile, a container),
  console lines when it is.
- A line that cannot be written (the stream closed or full) is reported on the process's own
  stderr in one line, without the record: the stock handler would print the record and its
  exception chain there, past the redaction.

Bolt warns "As you gave `client` as well, `token` will be unused" on every start because it reads
SLACK_BOT_TOKEN from the environment itself while the adapter hands it a configured client; the
warning says nothing actionable, so one filter drops exactly that line.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any, Literal

import structlog

_SECRET_KEY = re.compile(r"(token|secret|password|passwd|api_?key|authorization|signature)", re.I)
_MASK = "***"
_secret_values: set[str] = set()
OWN_LOGGERS = ("bot", "adapters", "knowledge", "storage", "__main__")
_BOLT_CLIENT_WARNING = "As you gave `client` as well"


def register_secrets(values: Iterable[str | None]) -> None:
    """Remember secret values so they are masked wherever they appear in a log line."""
    _secret_values.update(v for v in values if v and len(v) >= 6)


def mask_secrets(text: str) -> str:
    """`text` with every registered secret value masked (for messages printed outside logging)."""
    return str(_scrub(text))


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _secret_values:
            if secret in value:
                value = value.replace(secret, _MASK)
        return value
    if isinstance(value, dict):
        return {k: _MASK if _SECRET_KEY.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def scrub(text: str) -> str:
    """`text` with every registered secret masked: for what is stored, not only for logs."""
    return str(_scrub(text))


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _MASK if _SECRET_KEY.search(key) else _scrub(event_dict[key])
    return event_dict


def default_format(fmt: str | None) -> Literal["json", "console"]:
    """LOG_FORMAT when set; otherwise json when stdout is not a terminal (Procfile, container)."""
    if fmt in ("json", "console"):
        return fmt  # type: ignore[return-value]
    return "console" if sys.stdout.isatty() else "json"


class _QuietLibraries(logging.Filter):
    """Library records below WARNING are dropped (all pass at DEBUG); so is Bolt's token warning."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("slack_bolt") and str(record.msg).startswith(
            _BOLT_CLIENT_WARNING
        ):
            return False
        if self.verbose or record.levelno >= logging.WARNING:
            return True
        return record.name.split(".", 1)[0] in OWN_LOGGERS


def configure_logging(
    level: str = "INFO", fmt: str | None = None, *, log_file: Path | None = None
) -> None:
    """Route structlog and stdlib logging (SDKs, aiohttp) through one redacting pipeline.

    With `log_file` (the console chat) lines go to that file, or to stderr at WARNING when it
    cannot be opened; otherwise to stderr.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    handler: logging.Handler = _Stderr(sys.stderr)
    handler_level = logging.NOTSET
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = _File(log_file, maxBytes=10_000_000, backupCount=3, encoding="utf-8")
        except OSError:
            handler_level = logging.WARNING  # no file: stderr, warnings and errors only
    colors = not isinstance(handler, logging.FileHandler) and sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if default_format(fmt) == "json"
        else structlog.dev.ConsoleRenderer(colors=colors)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    handler.setLevel(handler_level)
    handler.addFilter(_QuietLibraries(verbose=level == "DEBUG"))
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that would otherwise build every INFO record only for the filter to drop it.
    for noisy in ("aiohttp.access", "httpx", "httpcore", "openai", "anthropic", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


class _PlainErrors(logging.Handler):
    def handleError(self, record: logging.LogRecord) -> None:
        """Say in one line that a log line could not be written. The stock handler prints the
        record and the whole exception chain to stderr, unredacted: an SDK error that echoes a
        key would reach the terminal that way."""
        failure = type(sys.exc_info()[1]).__name__
        with contextlib.suppress(Exception):  # nowhere left to report it
            if sys.__stderr__ is not None:
                sys.__stderr__.write(f"parley: a log line could not be written ({failure})\n")


class _Stderr(_PlainErrors, logging.StreamHandler):  # type: ignore[type-arg]
    pass


class _File(_PlainErrors, logging.handlers.RotatingFileHandler):
    pass


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)  # type: ignore[no-any-return]
