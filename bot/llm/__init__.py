"""LLM providers behind one streaming interface (see `bot.llm.types`)."""
