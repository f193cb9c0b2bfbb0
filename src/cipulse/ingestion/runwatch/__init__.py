"""The RunWatch Ingest API wire format (``POST /functions/v1/ingest``)."""
