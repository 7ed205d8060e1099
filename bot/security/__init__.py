"""Edge hardening shared by every adapter: text sanitizing (`text`)."""
