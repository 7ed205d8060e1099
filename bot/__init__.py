"""Parley: one platform-neutral conversation core behind Slack, Discord, Teams and console adapters."""

__version__ = "0.1.0"
