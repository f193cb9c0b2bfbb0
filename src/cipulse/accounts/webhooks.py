"""Webhook secrets and the verification of deliveries, per organisation.

Each organisation has its own URLs (``/webhooks/github/{org}``, ``/webhooks/gitlab/{org}``)
and one secret per code host. A delivery is verified before anything is parsed: GitHub's
``X-Hub-Signature-256`` (an HMAC-SHA256 of the raw body with the secret), GitLab's
``X-Gitlab-Token`` (the secret itself), both compared in constant time. Verified deliveries
are stored on behalf of the organisation; redeliveries are recognised by their id."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from cipulse.accounts.service import AccountService, principal_for
from cipulse.domain.model import WebhookProvider
from cipulse.errors import InvalidRequest, NotFound, Unauthenticated
from cipulse.storage import webhooks as store
from cipulse.storage.accounts import Principal
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database

MAX_SECRET_LENGTH = 1000
MAX_DELIVERY_ID_LENGTH = 200
#: How long a server keeps an organisation's webhook secret in memory.
SECRET_CACHE_SECONDS = 5.0


def github_signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _verified(
    provider: WebhookProvider, secret: store.WebhookSecret, body: bytes, given: str
) -> bool:
    if provider is WebhookProvider.GITHUB:
        assert secret.secret is not None
        return hmac.compare_digest(github_signature(secret.secret, body), given)
    return hmac.compare_digest(_secret_hash(given), secret.secret_hash)


#: The header that proves a delivery, by provider.
PROOF_HEADER = {
    WebhookProvider.GITHUB: "X-Hub-Signature-256",
    WebhookProvider.GITLAB: "X-Gitlab-Token",
}


class WebhookService:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.accounts = AccountService(database)
        #: (org name, provider) → (until, monotonic seconds; what the database said).
        self._kept: dict[tuple[str, str], tuple[float, store.Verification]] = {}

    def set_secret(self, org_name: str, provider: WebhookProvider, secret: str | None) -> str:
        """Set the organisation's secret for ``provider`` (a new random one when None) and
        return it. It replaces the previous one at once."""
        secret = (secret or "").strip() or secrets.token_urlsafe(32)
        if len(secret) > MAX_SECRET_LENGTH:
            raise InvalidRequest(f"secret: must be at most {MAX_SECRET_LENGTH} characters")
        organisation = self.accounts.organisation(org_name)
        kept = secret if provider is WebhookProvider.GITHUB else None
        with self.database.write() as conn:
            store.set_secret(
                conn, organisation.id, provider.value, kept, _secret_hash(secret), now_ms()
            )
        return secret

    def secrets_set(self, org_id: str) -> dict[str, int]:
        """When each of the organisation's webhook secrets was set (ms), by provider."""
        with self.database.read() as conn:
            return store.secrets_of(conn, org_id)

    def verify(
        self,
        org_name: str,
        provider: WebhookProvider,
        body: bytes,
        proof: str | None,
        delivery_id: str | None = None,
    ) -> Verified:
        """Who a delivery speaks for, once its signature or token checks out against the
        organisation's secret (``Unauthenticated`` otherwise: nothing is parsed or stored).

        The organisation and its secret are kept in memory for ``SECRET_CACHE_SECONDS``, so
        that a stream of deliveries reads the database only in the ingest transaction (on
        SQLite, steady reads beside the writer would starve its checkpoints). A delivery that
        does not match what is kept is checked again against the database: a new secret
        works at once, a replaced one keeps working for those few seconds."""
        header = PROOF_HEADER[provider]
        found = self._verification(org_name, provider, fresh=False)
        if found.secret is None or not (proof and _verified(provider, found.secret, body, proof)):
            found = self._verification(org_name, provider, fresh=True)
        secret = found.secret
        if secret is None:
            raise Unauthenticated(
                f"no {provider.value} webhook secret is set for this organisation "
                f"(cipulse orgs set-webhook-secret {org_name} --provider {provider.value})"
            )
        if not proof:
            raise Unauthenticated(f"{header}: missing")
        if not _verified(provider, secret, body, proof):
            raise Unauthenticated(f"{header}: does not match the organisation's webhook secret")
        return Verified(principal_for(found.organisation), delivery_key(provider, delivery_id))

    def _verification(
        self, org_name: str, provider: WebhookProvider, *, fresh: bool
    ) -> store.Verification:
        key = (org_name, provider.value)
        now = time.monotonic()
        kept = self._kept.get(key)
        if kept is not None and not fresh and kept[0] > now:
            return kept[1]
        with self.database.read() as conn:
            found = store.verification_of(conn, org_name, provider.value)
        if found is None:
            raise NotFound(f"org: no organisation named {org_name!r}")
        self._kept[key] = (now + SECRET_CACHE_SECONDS, found)
        return found


def delivery_key(provider: WebhookProvider, delivery_id: str | None) -> tuple[str, str] | None:
    """What identifies a delivery across redeliveries: (provider, its id), or None."""
    delivery_id = (delivery_id or "").strip()
    if not delivery_id:
        return None
    return provider.value, delivery_id[:MAX_DELIVERY_ID_LENGTH]


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified delivery: on whose behalf it is stored, and its id (the ingest
    transaction skips a delivery it stored already, and remembers a new one)."""

    principal: Principal
    delivery: tuple[str, str] | None
