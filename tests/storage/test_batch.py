"""Group commit of questions: a burst is one transaction, each asker gets its own rows, a value
the database refuses fails only its own question, and a stop never leaves a writer waiting."""

from __future__ import annotations

import asyncio

import pytest

from bot.refs import Author, ConversationRef
from storage import SqlStore
from storage.batch import GroupCommit


async def test_writes_during_a_commit_join_the_next_one() -> None:
    batches: list[list[str]] = []
    gate = asyncio.Event()

    async def write_many(items):
        batches.append(list(items))
        if len(batches) == 1:
            await gate.wait()
        return [item.upper() for item in items]

    async def write_one(item):
        raise AssertionError("no batch failed")

    commit = GroupCommit(write_many, write_one)
    first = asyncio.create_task(commit.write("a"))
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(commit.write(x)) for x in ("b", "c", "d")]
    await asyncio.sleep(0.01)
    gate.set()
    assert await first == "A" and await asyncio.gather(*later) == ["B", "C", "D"]
    assert batches == [["a"], ["b", "c", "d"]]


async def test_a_failed_batch_fails_only_the_item_at_fault() -> None:
    async def write_many(items):
        if "bad" in items:
            raise ValueError("refused a value")
        return list(items)

    async def write_one(item):
        (result,) = await write_many([item])
        return result

    commit = GroupCommit(write_many, write_one)
    results = await asyncio.gather(
        *(commit.write(x) for x in ("a", "bad", "c")), return_exceptions=True
    )
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], ValueError)


async def test_a_stopped_flusher_cancels_its_waiting_writers() -> None:
    started = asyncio.Event()

    async def write_many(items):
        started.set()
        await asyncio.Event().wait()  # a commit that never ends
        return list(items)

    commit = GroupCommit(write_many, write_many)
    writer = asyncio.create_task(commit.write("a"))
    await started.wait()
    queued = asyncio.create_task(commit.write("b"))
    await asyncio.sleep(0)
    assert commit._flusher is not None
    commit._flusher.cancel()
    for task in (writer, queued):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 1)


ADA = Author(id="U1", display_name="Ada")


async def test_concurrent_questions_each_get_their_own_rows(
    store: SqlStore, ref: ConversationRef
) -> None:
    refs = [ref.in_thread(f"{i}.0") for i in range(12)]
    ids = await asyncio.gather(
        *(store.add_question(r, text=f"question {i}", author=ADA) for i, r in enumerate(refs))
    )
    for i, (r, (asked, reply)) in enumerate(zip(refs, ids, strict=True)):
        history = await store.history(r.memory_key)
        assert [(m.id, m.role, m.text) for m in history] == [
            (asked, "user", f"question {i}"),
            (reply, "assistant", ""),
        ]


async def test_a_question_the_database_refuses_fails_alone(
    store: SqlStore, ref: ConversationRef
) -> None:
    # A value each driver refuses: PostgreSQL has no NUL in text, SQLite's driver no lone
    # surrogate.
    bad = "x\ud800" if store.db.is_sqlite else "bad \x00 byte"
    texts = {"t1": "fine one", "t2": bad, "t3": "fine two"}
    results = await asyncio.gather(
        *(store.add_question(ref.in_thread(t), text=x, author=ADA) for t, x in texts.items()),
        return_exceptions=True,
    )
    assert isinstance(results[1], Exception)
    assert await store.history(ref.in_thread("t2").memory_key) == []
    for thread, result in (("t1", results[0]), ("t3", results[2])):
        assert isinstance(result, tuple)
        history = await store.history(ref.in_thread(thread).memory_key)
        assert [m.text for m in history] == [texts[thread], ""]
