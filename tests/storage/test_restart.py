"""A restart (close, then open a new store on the same DATA_DIR / DATABASE_URL) keeps memory."""

from __future__ import annotations

from bot.ports import MessageStatus, Summary
from bot.refs import Author, ConversationRef
from bot.settings import Settings
from storage import open_store


async def test_history_and_summary_survive_a_restart(db_url: str, ref: ConversationRef) -> None:
    store = await open_store(db_url)
    first = await store.add_message(
        ref, role="user", text="My name is Ada.", author=Author(id="U1")
    )
    reply = await store.add_message(ref, role="assistant", text="", status=MessageStatus.PENDING)
    await store.update_message(reply, text="Hello Ada.", status=MessageStatus.FINAL)
    await store.save_summary(ref.memory_key, Summary(text="Ada said hi.", through_message_id=first))
    assert await store.claim_event("Ev1")
    before = await store.history(ref.memory_key)
    await store.close()

    reopened = await open_store(db_url)
    try:
        assert await reopened.history(ref.memory_key) == before
        assert [m.text for m in before] == ["My name is Ada.", "Hello Ada."]
        assert await reopened.summary(ref.memory_key) == Summary(
            text="Ada said hi.", through_message_id=first
        )
        assert await reopened.claim_event("Ev1") is False
        later = await reopened.add_message(ref, role="user", text="What is my name?")
        assert later > reply
    finally:
        await reopened.close()


async def test_default_settings_put_the_database_under_data_dir(
    tmp_path, ref: ConversationRef
) -> None:
    data_dir = tmp_path / "nested" / "data"
    settings = Settings(data_dir=data_dir)
    store = await open_store(settings.sqlalchemy_url)
    await store.add_message(ref, role="user", text="hi")
    await store.close()
    assert (data_dir / "parley.db").is_file()

    again = await open_store(Settings(data_dir=data_dir).sqlalchemy_url)
    try:
        assert [m.text for m in await again.history(ref.memory_key)] == ["hi"]
    finally:
        await again.close()
