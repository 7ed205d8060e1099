"""What the model is given for a question: the standalone search query, the retrieved
passages, the system prompt, the remembered history and the question itself (laid out as
`bot.core.prompt` describes: instructions in the system message, data in delimited blocks).

Retrieval failures degrade the answer, never the turn: an outage is told to the model (and so
to the user), "nothing found" likewise. Follow-ups that lean on earlier turns ("what about
it?") are rewritten into a self-contained query first; only short or referring messages are,
so most turns cost no extra model call.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bot.core.completion import complete
from bot.core.memory import Memory, Recall
from bot.core.model_time import ModelTime
from bot.core.prompt import (
    KNOWLEDGE_DOWN,
    NOTHING_FOUND,
    NOTHING_FOUND_GENERAL,
    data_blocks,
    history_messages,
    question_message,
    system_message,
)
from bot.errors import ProviderError
from bot.grounding import NumberedPassage, build_context, estimate_tokens
from bot.llm.types import ChatMessage, ChatModel, LLMRequest
from bot.logs import get_logger
from bot.ports import Passage, Retriever, scopes_for
from bot.refs import Author, ConversationRef
from bot.security.data import escape

log = get_logger(__name__)

REFERRING_WORDS = frozenset(
    [
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "they",
        "them",
        "their",
        "he",
        "she",
        "him",
        "her",
        "there",
        "such",
        "same",
        "above",
    ]
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    messages: list[ChatMessage]
    passages: tuple[NumberedPassage, ...]


class Composer:
    def __init__(
        self,
        *,
        memory: Memory,
        model: ChatModel,
        retriever: Retriever | None,
        general_knowledge: bool,
        canary: str = "",
        tools: bool = False,
    ) -> None:
        self._canary = canary
        self._tools = tools
        self._memory = memory
        self._model = model
        self._retriever = retriever
        self._general = general_knowledge

    async def first_step(
        self,
        ref: ConversationRef,
        author: Author,
        text: str,
        recall: Recall,
        model_time: ModelTime | None = None,
    ) -> Prompt:
        passages: list[Passage] | None = []
        if self._retriever is not None:
            query = await self._standalone_query(text, recall, model_time)
            passages = await self.retrieve(ref, query)
        context, numbered = build_context(passages or [], self._memory.budget.knowledge)
        note = ""
        if passages is None:
            note = KNOWLEDGE_DOWN
        elif self._retriever is not None and not numbered:
            note = NOTHING_FOUND_GENERAL if self._general else NOTHING_FOUND
        blocks = data_blocks(recall, context)
        messages = [
            system_message(ref, recall, blocks, note=note, canary=self._canary, tools=self._tools),
            *history_messages(recall),
            question_message(blocks, author.display_name, text),
        ]
        return Prompt(messages=messages, passages=numbered)

    async def retrieve(self, ref: ConversationRef, query: str) -> list[Passage] | None:
        """Passages for `query`, or None when the knowledge base could not be searched."""
        if self._retriever is None:
            return []
        try:
            return await self._retriever.retrieve(query, scopes=scopes_for(ref))
        except Exception as exc:
            log.warning("knowledge retrieval failed", error=str(exc))
            return None

    async def _standalone_query(
        self, text: str, recall: Recall, model_time: ModelTime | None
    ) -> str:
        words = text.lower().replace("?", " ").split()
        if not recall.messages or (len(words) > 12 and not REFERRING_WORDS.intersection(words)):
            return text
        last = escape("\n".join(f"{m.role}: {m.text[:500]}" for m in recall.messages[-4:]))
        request = LLMRequest(
            messages=(
                ChatMessage(
                    role="system",
                    content="Rewrite the user's last message as one self-contained search query, "
                    "resolving references to the earlier conversation. Reply with the query only.",
                ),
                ChatMessage(
                    role="user",
                    content=f"<conversation>\n{last}\n</conversation>\n"
                    f"Last message: {escape(text)}",
                ),
            ),
            max_output_tokens=80,
        )
        try:
            if model_time is None:
                rewritten = await complete(self._model, request)
            else:  # the rewrite is model time of the turn too
                with model_time.call() as left_s:
                    request = dataclasses.replace(request, deadline_s=left_s)
                    rewritten = await complete(self._model, request)
        except ProviderError:
            return text
        return rewritten if 0 < estimate_tokens(rewritten) < 200 else text
