"""Prometheus metrics, served at /metrics. One registry for the process (not the global default),
so tests that build several apps never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS = Counter(
    "parley_events_total", "Events received from adapters", ["platform", "kind"], registry=REGISTRY
)
DROPPED = Counter(
    "parley_events_dropped_total", "Events not acted on", ["platform", "reason"], registry=REGISTRY
)
TURNS = Counter(
    "parley_turns_total", "Answers finished", ["platform", "outcome"], registry=REGISTRY
)
TURN_SECONDS = Histogram(
    "parley_turn_seconds",
    "Time from event to final answer",
    ["platform"],
    registry=REGISTRY,
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 60, 120),
)
ACTIVE_CONVERSATIONS = Gauge(
    "parley_active_conversations", "Conversations with work queued", registry=REGISTRY
)


def render() -> bytes:
    return generate_latest(REGISTRY)
