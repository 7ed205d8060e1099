from __future__ import annotations

import asyncio

from bot.core.toolhost import Paused, ToolResults
from bot.llm.types import ToolCall
from bot.tools.approvals import ApprovalStatus
from tests.tools.conftest import BOB, ROOT, Harness


def deploy_call(cid: str = "call_d", **extra: str) -> ToolCall:
    return ToolCall(id=cid, name="deploy", arguments={"service": "api", **extra})


async def pause(h: Harness, *calls: ToolCall, reason: str = "Deploying as you asked.") -> str:
    outcome = await h.host.handle_calls(h.turn(*calls, reason=reason), calls, h.delivery)
    assert isinstance(outcome, Paused)
    pending = await h.store.pending()
    assert pending
    return pending[0].id


async def test_read_tools_run_at_once_concurrently_in_call_order(harness: Harness) -> None:
    h = harness
    calls = (
        ToolCall(id="a", name="echo", arguments={"text": "one"}),
        ToolCall(id="b", name="nope", arguments={}),
        ToolCall(id="c", name="echo", arguments={"text": "two"}),
    )
    outcome = await h.host.handle_calls(h.turn(*calls), calls, h.delivery)
    assert isinstance(outcome, ToolResults)
    assert [m.tool_call_id for m in outcome.messages] == ["a", "b", "c"]
    assert (
        "echo: one" in outcome.messages[0].content and "<tool_result" in outcome.messages[0].content
    )
    assert "no tool named 'nope'" in outcome.messages[1].content
    assert h.delivery.posts == [] and h.store.approvals == {}
    assert h.host.status_text(calls) == "Echoing… Running nope…"


async def test_write_tool_card_approve_runs_once_and_resumes(harness: Harness) -> None:
    h = harness
    read = ToolCall(id="call_r", name="echo", arguments={"text": "hi"})
    approval_id = await pause(h, read, deploy_call(token="sk-secret"))
    card = h.delivery.posts[0]
    assert "`deploy`" in card.text_markdown and "Deploying as you asked." in card.text_markdown
    assert "sk-secret" not in card.text_markdown and "•••" in card.text_markdown
    assert [(a.id, a.value) for a in card.actions] == [
        ("approve", approval_id),
        ("deny", approval_id),
    ]
    assert h.runs.log == [("echo", {"text": "hi"})]  # the read call ran, the write one waits
    assert h.store.approvals[approval_id].card_message_id == "m1"

    await h.press(h.click(approval_id))
    await h.press(h.click(approval_id, event="e2"))  # double click
    await h.press(h.click(approval_id, action="deny", event="e3"))  # late deny
    assert [name for name, _ in h.runs.log] == ["echo", "deploy"]
    req = h.store.approvals[approval_id]
    assert req.status is ApprovalStatus.APPROVED and req.decided_by == "slack:U_ADA"
    assert req.result == "ok (12 chars)"
    edited_id, edited = h.delivery.edits[0]
    assert (
        edited_id == "m1"
        and "Approved by Ada at 12:00 UTC" in edited.text_markdown
        and not edited.actions
    )
    assert len(h.delivery.edits) == 1
    assert h.delivery.adapter.private == [
        ("U_ADA", "This request was already approved by Ada."),
        ("U_ADA", "This request was already approved by Ada."),
    ]
    [resumed] = h.resumer.calls
    assert resumed.turn_id == "turn1" and resumed.step == 1 and resumed.author.id == "U_ADA"
    tools = resumed.messages[-2:]
    assert [m.tool_call_id for m in tools] == ["call_r", "call_d"]
    assert "deployed api" in tools[1].content
    events = [(e.event, e.actor) for e in await h.store.audit_log(approval_id)]
    assert events == [
        ("requested", "slack:U_ADA"),
        ("approved", "slack:U_ADA"),
        ("result", "slack:U_ADA"),
    ]


async def test_the_request_is_stored_before_its_card_is_posted(harness: Harness) -> None:
    """A crash right after the card went out must leave a request its buttons can decide: at the
    moment of the post, the request and its paused turn are already in the store."""
    h = harness
    seen_at_post: list[tuple[str, bool, bool]] = []
    post = h.delivery.post

    async def checking_post(ref, message, **kw):
        [approve, _] = message.actions
        stored = await h.store.get(approve.value)
        turn = await h.store.paused_turn("turn1")
        seen_at_post.append((approve.value, stored is not None, turn is not None))
        return await post(ref, message, **kw)

    h.delivery.post = checking_post  # type: ignore[method-assign]
    approval_id = await pause(h, deploy_call(), deploy_call("call_e", service="web"))
    assert len(seen_at_post) == 2 and seen_at_post[0][0] == approval_id
    assert all(stored and turn for _, stored, turn in seen_at_post)


async def test_deny_resumes_without_running(harness: Harness) -> None:
    h = harness
    approval_id = await pause(h, deploy_call())
    await h.host.on_command(h.command(f"deny {approval_id}"), "deny", approval_id, h.delivery)
    assert h.runs.log == []
    assert "Denied by Ada" in h.delivery.edits[0][1].text_markdown
    [resumed] = h.resumer.calls
    assert "Ada declined this call of deploy; it was not run" in resumed.messages[-1].content


async def test_non_approver_is_refused_privately_and_nothing_changes(harness: Harness) -> None:
    h = harness
    approval_id = await pause(h, deploy_call())
    await h.press(h.click(approval_id, who=BOB))
    assert h.delivery.adapter.private == [
        ("U_BOB", "You can't approve this: only Ada or an admin can decide.")
    ]
    assert h.store.approvals[approval_id].status is ApprovalStatus.PENDING
    assert h.delivery.edits == [] and h.runs.log == []
    await h.press(h.click(approval_id, who=ROOT))  # an admin may
    assert h.store.approvals[approval_id].decided_by == "slack:U_ROOT"
    assert [e.event for e in await h.store.audit_log(approval_id)][:2] == ["requested", "refused"]


async def test_expiry_denies_edits_the_card_and_resumes(harness: Harness) -> None:
    h = harness
    approval_id = await pause(h, deploy_call())
    h.clock.advance(299)
    await asyncio.sleep(0)
    assert h.store.approvals[approval_id].status is ApprovalStatus.PENDING
    h.clock.advance(1)
    for _ in range(5):
        await asyncio.sleep(0)
    req = h.store.approvals[approval_id]
    assert req.status is ApprovalStatus.EXPIRED and req.decided_by == "system"
    assert "Expired — not run" in h.delivery.edits[0][1].text_markdown
    assert "expired and was not run" in h.resumer.calls[0].messages[-1].content
    await h.press(h.click(approval_id))  # a click after expiry
    assert h.runs.log == [] and len(h.resumer.calls) == 1
    assert h.delivery.adapter.private[-1] == (
        "U_ADA",
        "This request already expired — the tool was not run.",
    )


async def test_click_after_expiry_before_timer_fires_never_runs(harness: Harness) -> None:
    h = harness
    approval_id = await pause(h, deploy_call())
    await h.host.close()  # no timer: only the time check stands between the click and the tool
    h.clock.advance(301)
    await h.press(h.click(approval_id))
    assert h.runs.log == [] and h.store.approvals[approval_id].status is ApprovalStatus.EXPIRED
    assert len(h.resumer.calls) == 1


async def test_restart_between_card_and_click(harness: Harness) -> None:
    h = harness
    approval_id = await pause(h, deploy_call())
    await h.host.close()
    restarted = h.new_host()
    await restarted.start({"slack": h.delivery})
    await h.press(h.click(approval_id), restarted)
    assert [name for name, _ in h.runs.log] == ["deploy"]
    assert h.delivery.edits[0][0] == "m1"  # the old card, found from the stored id
    assert len(h.resumer.calls) == 1
    await restarted.close()


async def test_startup_sweep_expires_requests_that_timed_out_while_down(harness: Harness) -> None:
    h = harness
    approval_id = await pause(h, deploy_call())
    await h.host.close()
    h.clock.advance(3600)
    restarted = h.new_host()
    await restarted.start({"slack": h.delivery})
    assert h.store.approvals[approval_id].status is ApprovalStatus.EXPIRED
    assert "Expired" in h.delivery.edits[0][1].text_markdown and len(h.resumer.calls) == 1
    await restarted.close()


async def test_concurrent_decisions_have_one_winner(harness: Harness) -> None:
    h = harness
    approval_id = await pause(h, deploy_call())
    other = h.new_host()
    clicks = [
        (host, h.click(approval_id, action=action, who=who, event=f"e{i}"))
        for i, (host, action, who) in enumerate(
            [
                (h.host, "approve", ROOT),
                (other, "deny", ROOT),
                (h.host, "approve", ROOT),
                (other, "approve", ROOT),
            ]
        )
    ]
    await asyncio.gather(*(h.press(click, host) for host, click in clicks))
    req = h.store.approvals[approval_id]
    assert req.status in (ApprovalStatus.APPROVED, ApprovalStatus.DENIED)
    assert len(h.runs.log) == (1 if req.status is ApprovalStatus.APPROVED else 0)
    assert len(h.delivery.edits) == 1 and len(h.resumer.calls) == 1
    await other.close()


async def test_two_approvals_in_one_step_resume_once_after_both(harness: Harness) -> None:
    h = harness
    await pause(
        h, deploy_call("d1"), ToolCall(id="d2", name="deploy", arguments={"service": "web"})
    )
    first, second = list(h.store.approvals)
    assert len(h.delivery.posts) == 2
    await h.press(h.click(second))
    assert h.resumer.calls == []
    await h.press(h.click(first, action="deny"))
    [resumed] = h.resumer.calls
    assert [m.tool_call_id for m in resumed.messages[-2:]] == ["d1", "d2"]
    assert (
        "declined" in resumed.messages[-2].content
        and "deployed web" in resumed.messages[-1].content
    )


async def test_unknown_id_and_usage(harness: Harness) -> None:
    h = harness
    await h.host.on_command(h.command("approve feedbeef"), "approve", "feedbeef", h.delivery)
    assert h.delivery.adapter.private == [("U_ADA", "There is no approval request `feedbeef`.")]


async def test_timeout_invalid_arguments_and_step_cap(harness: Harness) -> None:
    h = harness
    calls = (
        ToolCall(id="h", name="hang", arguments={}),
        ToolCall(id="x", name="deploy", arguments={"svc": 1}),
    )
    outcome = await h.host.handle_calls(h.turn(*calls), calls, h.delivery)
    assert isinstance(outcome, ToolResults)
    assert "timed out after 0.05 s" in outcome.messages[0].content
    assert "'service' is a required property" in outcome.messages[1].content
    assert h.delivery.posts == []  # an invalid write call never gets a card
    late = (ToolCall(id="e", name="echo", arguments={"text": "x"}),)
    capped = await h.host.handle_calls(h.turn(*late, step=11), late, h.delivery)
    assert (
        isinstance(capped, ToolResults) and "limit of 10 tool steps" in capped.messages[0].content
    )
    assert h.runs.log == []


async def test_turn_time_cap_bounds_read_tools(harness: Harness) -> None:
    h = harness
    host = h.new_host(turn_timeout_s=10)
    call = (ToolCall(id="e", name="echo", arguments={"text": "x"}),)
    assert isinstance(await host.handle_calls(h.turn(*call), call, h.delivery), ToolResults)
    h.clock.advance(11)
    outcome = await host.handle_calls(h.turn(*call), call, h.delivery)
    assert (
        isinstance(outcome, ToolResults) and "time limit was reached" in outcome.messages[0].content
    )
    await host.close()


async def test_startup_recovers_a_decision_interrupted_by_a_crash(harness: Harness) -> None:
    h = harness
    approval_id = await pause(h, deploy_call())
    await h.host.close()
    # the process died right after winning the decision, before running the tool
    assert await h.store.decide(
        approval_id, ApprovalStatus.APPROVED, decided_by="slack:U_ADA", at=h.host.wall.now()
    )
    restarted = h.new_host()
    await restarted.start({"slack": h.delivery})
    assert h.resumer.calls == []  # within the grace period another worker may still be running it
    h.clock.advance(120)
    again = h.new_host()
    await again.start({"slack": h.delivery})
    [resumed] = h.resumer.calls
    assert "interrupted by a restart" in resumed.messages[-1].content
    assert h.runs.log == []
    await restarted.close()
    await again.close()


async def test_startup_resumes_a_turn_whose_requests_all_finished(harness: Harness) -> None:
    h = harness
    approval_id = await pause(h, deploy_call())
    await h.host.close()
    at = h.host.wall.now()
    assert await h.store.decide(approval_id, ApprovalStatus.DENIED, decided_by="slack:U_ADA", at=at)
    await h.store.finish(approval_id, result="declined", output="declined")
    restarted = h.new_host()
    await restarted.start({"slack": h.delivery})
    [resumed] = h.resumer.calls
    assert resumed.messages[-1].content == "declined"
    await restarted.close()


async def test_waiting_for_approval_does_not_use_up_the_turn_time(harness: Harness) -> None:
    h = harness
    host = h.new_host(turn_timeout_s=10)
    calls = (deploy_call(),)
    await host.handle_calls(h.turn(*calls), calls, h.delivery)
    approval_id = (await h.store.pending())[0].id
    h.clock.advance(60)
    await h.press(h.click(approval_id), host)
    read = (ToolCall(id="e", name="echo", arguments={"text": "x"}),)
    outcome = await host.handle_calls(h.turn(*read, step=2), read, h.delivery)
    assert isinstance(outcome, ToolResults) and "echo: x" in outcome.messages[0].content
    await host.close()
