"""The platform-neutral conversation core: pipeline, per-conversation queues, turns, memory."""
