"""Reporters: the client side of cipulse, run inside other CI systems.

``cipulse send`` posts a payload file to a cipulse server; ``cipulse report github`` and
``cipulse report gitlab`` read a finished (or finishing) run from the CI system's REST API,
convert it into one RunWatch payload with a pure function, and post it the same way.

    retry.py          how long to wait before the next try (pure)
    http.py           an HTTP client that retries with that policy, and follows pages
    ingest_client.py  posting a payload to a cipulse ingest endpoint
    github_*.py       the GitHub Actions REST API: schema, source, converter
    gitlab_*.py       the GitLab CI REST API: schema, source, converter
    payload.py        the RunWatch payload the converters build
    outcome.py        the final status of a run that is still in progress
    errors.py         what goes wrong, each with its exit status

Nothing here touches a database; validating a payload with the server's own schemas is the
CLI's job (``cipulse.ingestion`` is a sibling of this package, not below it)."""
