"""Organisations, API keys and plan limits: the administrative service behind the CLI."""
