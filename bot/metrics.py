"""Prometheus metrics, served at /metrics. One registry for the process (not the global default),
so tests that build several apps never collide.

Every series an operator needs to see a problem is declared here, with its labels, so the names
are one list (documented with alert rules in docs/operations.md). Label values are small closed
sets (platform, provider, method, outcome, …), never user or conversation ids. Code that records
a series imports it from here; the few helpers below exist where a caller would otherwise repeat
bookkeeping (the reindex gauges).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 60, 120)
_COUNT_BUCKETS = (1, 2, 3, 5, 8, 13, 20, 40, 80)

# --- inbound -------------------------------------------------------------------------------
EVENTS = Counter(
    "parley_events_total", "Events received from adapters", ["platform", "kind"], registry=REGISTRY
)
DROPPED = Counter(
    "parley_events_dropped_total", "Events not acted on", ["platform", "reason"], registry=REGISTRY
)
ACTIVE_CONVERSATIONS = Gauge(
    "parley_active_conversations", "Conversations with work queued", registry=REGISTRY
)
QUEUED_JOBS = Gauge(
    "parley_queued_jobs", "Jobs waiting or running across all conversations", registry=REGISTRY
)

# --- answers -------------------------------------------------------------------------------
TURNS = Counter(
    "parley_turns_total", "Answers finished", ["platform", "outcome"], registry=REGISTRY
)
TURN_SECONDS = Histogram(
    "parley_turn_seconds",
    "Time from event to final answer",
    ["platform"],
    registry=REGISTRY,
    buckets=_LATENCY_BUCKETS,
)
FIRST_TEXT_SECONDS = Histogram(
    "parley_first_text_seconds",
    "Time from event to the first answer text the user can see",
    ["platform"],
    registry=REGISTRY,
    buckets=_LATENCY_BUCKETS,
)
REPLY_OPERATIONS = Histogram(
    "parley_reply_operations",
    "Platform posts and edits one reply took",
    ["platform", "operation"],
    registry=REGISTRY,
    buckets=_COUNT_BUCKETS,
)

# --- platforms -----------------------------------------------------------------------------
PLATFORM_CALLS = Counter(
    "parley_platform_calls_total",
    "Platform API calls by method and result (ok, rate_limited, error)",
    ["platform", "method", "result"],
    registry=REGISTRY,
)
PLATFORM_ERRORS = Counter(
    "parley_platform_errors_total",
    "Platform API calls refused or failed, by method and error code",
    ["platform", "method", "code"],
    registry=REGISTRY,
)

# --- language models -----------------------------------------------------------------------
LLM_REQUESTS = Counter(
    "parley_llm_requests_total",
    "Model streams by provider and outcome (ok, error, interrupted)",
    ["provider", "outcome"],
    registry=REGISTRY,
)
LLM_FIRST_TOKEN_SECONDS = Histogram(
    "parley_llm_first_token_seconds",
    "Time from request to the provider's first event (retries included)",
    ["provider"],
    registry=REGISTRY,
    buckets=_LATENCY_BUCKETS,
)
LLM_SECONDS = Histogram(
    "parley_llm_seconds",
    "Time from request to the end of the provider's stream",
    ["provider"],
    registry=REGISTRY,
    buckets=_LATENCY_BUCKETS,
)
LLM_TOKENS = Counter(
    "parley_llm_tokens_total",
    "Tokens reported by the provider (direction: input, output)",
    ["provider", "direction"],
    registry=REGISTRY,
)
LLM_FALLBACKS = Counter(
    "parley_llm_fallbacks_total",
    "Requests passed on to the next provider after this one failed or was paused",
    ["provider"],
    registry=REGISTRY,
)

# --- tools ---------------------------------------------------------------------------------
TOOL_CALLS = Counter(
    "parley_tool_calls_total",
    "Tool calls by tool and outcome (ok, error, denied, timeout)",
    ["tool", "outcome"],
    registry=REGISTRY,
)
APPROVALS = Counter(
    "parley_approvals_total",
    "Approval requests by outcome (approved, denied, expired)",
    ["outcome"],
    registry=REGISTRY,
)

# --- knowledge -----------------------------------------------------------------------------
REINDEX_DOCUMENTS = Gauge(
    "parley_reindex_documents",
    "Documents of the running (or last) reindex, by state (done, total)",
    ["state"],
    registry=REGISTRY,
)
REINDEX_RUNS = Counter(
    "parley_reindex_runs_total",
    "Reindex runs by outcome (ok, errors, failed, busy)",
    ["outcome"],
    registry=REGISTRY,
)
REINDEX_FILE_ERRORS = Counter(
    "parley_reindex_file_errors_total", "Files a reindex could not read", registry=REGISTRY
)
REINDEX_LAST_SUCCESS = Gauge(
    "parley_reindex_last_success_timestamp_seconds",
    "When a reindex last finished without errors (Unix time)",
    registry=REGISTRY,
)


def reindex_progress(info: dict[str, float]) -> None:
    """A reindex ProgressCallback: keep the documents gauges current."""
    REINDEX_DOCUMENTS.labels("done").set(info["documents"])
    REINDEX_DOCUMENTS.labels("total").set(info["documents_total"])


def reindex_finished(*, errors: int, failed: bool) -> None:
    outcome = "failed" if failed else "errors" if errors else "ok"
    REINDEX_RUNS.labels(outcome).inc()
    REINDEX_FILE_ERRORS.inc(errors)
    if outcome == "ok":
        REINDEX_LAST_SUCCESS.set(time.time())


def record_usage(provider: str, input_tokens: int, output_tokens: int) -> None:
    LLM_TOKENS.labels(provider, "input").inc(input_tokens)
    LLM_TOKENS.labels(provider, "output").inc(output_tokens)


def record_platform_error(platform: str, method: str, code: str, rate_limited: bool) -> None:
    PLATFORM_CALLS.labels(platform, method, "rate_limited" if rate_limited else "error").inc()
    PLATFORM_ERRORS.labels(platform, method, code or "unknown").inc()


def render() -> bytes:
    return generate_latest(REGISTRY)
