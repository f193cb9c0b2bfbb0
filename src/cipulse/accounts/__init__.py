"""Organisations, keys, users and members: the administrative service.

Organisations, API keys and plan limits: the administrative service behind the CLI."""
