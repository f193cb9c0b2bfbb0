"""API keys: generated, shown once, stored as a SHA-256 hash.

API keys: generated with ``secrets``, shown once, stored as a SHA-256 hash with a visible
prefix. Keys carry 190 bits of randomness, so a fast hash is the right tool (a slow
password hash buys nothing against a key that cannot be guessed, and would cost every
request); the prefix lets people tell keys apart in ``cipulse keys list`` without the secret."""

from __future__ import annotations

import hashlib
import secrets

KEY_MARKER = "cip"
PREFIX_LENGTH = 8
#: A key's ``last_used_at`` is refreshed at most this often (ingest and reads alike), not on
#: every request: a write per key and minute at most.
KEY_TOUCH_INTERVAL_MS = 60_000


def generate_key() -> tuple[str, str]:
    """A new key and its visible prefix: ``cip_<prefix>_<secret>``."""
    prefix = f"{KEY_MARKER}_{secrets.token_hex(PREFIX_LENGTH // 2)}"
    return f"{prefix}_{secrets.token_urlsafe(24)}", prefix


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
