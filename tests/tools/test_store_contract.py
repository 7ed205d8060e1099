"""The ApprovalStore contract, on the in-memory store, SQLite and (under make test) PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.llm.types import ChatMessage, ToolCall
from bot.refs import Author, ConversationRef
from bot.tools.approvals import (
    ApprovalRequest,
    ApprovalStatus,
    ApprovalStore,
    AuditEntry,
    PausedTurn,
    TurnStatus,
)
from bot.tools.memory import MemoryApprovalStore
from storage import open_store
from storage.approvals import SqlApprovalStore
from tests.storage.conftest import empty_database

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
REF = ConversationRef(platform="slack", workspace_id="T1", channel_id="C1", thread_id="9.1")
CALL = ToolCall(id="call_1", name="deploy", arguments={"service": "api", "n": [1, {"x": None}]})
TURN = PausedTurn(
    turn_id="turn1",
    ref=REF,
    author=Author(id="U1", display_name="Ada"),
    step=3,
    messages=(
        ChatMessage(role="system", content="sys"),
        ChatMessage(role="user", content="hi"),
        ChatMessage(role="assistant", content="Let me.", tool_calls=(CALL,)),
    ),
    done=(ChatMessage(role="tool", content="r", tool_call_id="call_0", name="echo"),),
    created_at=NOW,
)


def request(approval_id: str = "a1", **kw: Any) -> ApprovalRequest:
    base: dict[str, Any] = dict(
        id=approval_id,
        tool_call_id="call_1",
        turn_id="turn1",
        tool="deploy",
        args_preview="{}",
        args_hash="h" * 64,
        reason="Let me.",
        requested_by="slack:U1",
        requester_name="Ada",
        ref=REF,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=5),
    )
    base.update(kw)
    return ApprovalRequest(**base)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ApprovalStore]:
    if request.param == "memory":
        yield MemoryApprovalStore()
        return
    async with empty_database(request.param, tmp_path) as url:
        sql = await open_store(url)
        try:
            yield SqlApprovalStore(sql.db)
        finally:
            await sql.close()


async def test_round_trip(store: ApprovalStore) -> None:
    await store.save_paused(TURN, [request("a1"), request("a2", tool_call_id="call_2")])
    assert await store.paused_turn("turn1") == TURN
    assert await store.paused_turn("nope") is None
    assert await store.get("a1") == request("a1")
    await store.set_card("a1", "1700000000.0001")
    got = await store.get("a1")
    assert got is not None and got.card_message_id == "1700000000.0001"
    assert [a.id for a in await store.turn_approvals("turn1")] == ["a1", "a2"]
    assert {a.id for a in await store.pending()} == {"a1", "a2"}


async def test_decide_once_and_respect_expiry(store: ApprovalStore) -> None:
    await store.save_paused(TURN, [request("a1"), request("a2"), request("a3")])
    early, late = NOW + timedelta(minutes=1), NOW + timedelta(minutes=5)
    # expiring before the deadline, approving after it: refused
    assert not await store.decide("a1", ApprovalStatus.EXPIRED, decided_by="system", at=early)
    assert not await store.decide("a2", ApprovalStatus.APPROVED, decided_by="slack:U1", at=late)
    assert await store.decide(
        "a1", ApprovalStatus.APPROVED, decided_by="slack:U1", decided_by_name="Ada", at=early
    )
    assert not await store.decide("a1", ApprovalStatus.DENIED, decided_by="slack:U1", at=early)
    assert await store.decide("a2", ApprovalStatus.EXPIRED, decided_by="system", at=late)
    assert not await store.decide("missing", ApprovalStatus.DENIED, decided_by="x", at=early)
    a1 = await store.get("a1")
    assert a1 is not None and a1.status is ApprovalStatus.APPROVED and a1.decided_at == early
    assert a1.decided_by_name == "Ada" and not a1.finished
    await store.finish("a1", result="ok (3 chars)", output="<tool_result>…")
    a1 = await store.get("a1")
    assert a1 is not None and a1.finished and a1.result == "ok (3 chars)"
    assert [a.id for a in await store.pending()] == ["a3"]


async def test_concurrent_decisions_and_resume_claims_have_one_winner(store: ApprovalStore) -> None:
    await store.save_paused(TURN, [request("a1")])
    at = NOW + timedelta(seconds=30)
    wins = await asyncio.gather(
        *(
            store.decide("a1", status, decided_by=f"slack:U{i}", at=at)
            for i, status in enumerate([ApprovalStatus.APPROVED, ApprovalStatus.DENIED] * 5)
        )
    )
    assert sum(wins) == 1
    claims = await asyncio.gather(*(store.claim_resume("turn1") for _ in range(6)))
    assert sum(claims) == 1
    turn = await store.paused_turn("turn1")
    assert turn is not None and turn.status is TurnStatus.RESUMED


async def test_audit_log_is_append_only_and_ordered(store: ApprovalStore) -> None:
    entry = AuditEntry(
        approval_id="a1",
        event="requested",
        tool="deploy",
        requested_by="slack:U1",
        args_hash="h",
        actor="slack:U1",
        at=NOW,
    )
    await store.add_audit(entry)
    await store.add_audit(replace(entry, event="approved", at=NOW + timedelta(seconds=1)))
    await store.add_audit(replace(entry, approval_id="a2", event="refused", actor="slack:U9"))
    await store.add_audit(replace(entry, event="result", detail="ok (3 chars)"))
    assert [e.event for e in await store.audit_log("a1")] == ["requested", "approved", "result"]
    assert len(await store.audit_log()) == 4
    assert (await store.audit_log("a1"))[-1].detail == "ok (3 chars)"


async def test_paused_turns_lists_only_paused_ones(store: ApprovalStore) -> None:
    await store.save_paused(TURN, [request("a1")])
    await store.save_paused(replace(TURN, turn_id="turn2"), [])
    assert sorted(await store.paused_turns()) == ["turn1", "turn2"]
    assert await store.claim_resume("turn1")
    assert await store.paused_turns() == ["turn2"]
