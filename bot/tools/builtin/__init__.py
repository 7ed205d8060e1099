"""The built-in tools; `bot.tools.build` decides which are offered with the current settings."""
