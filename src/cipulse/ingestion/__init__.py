"""Ingestion: wire formats in, domain model out, then storage.

Ingestion: wire schemas, one pure converter per wire format, and the service that
authenticates, enforces plan limits and hands converted runs to storage."""
