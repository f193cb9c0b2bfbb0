"""Ingestion: wire schemas, one pure converter per wire format, and the service that
authenticates, enforces plan limits and hands converted runs to storage."""
