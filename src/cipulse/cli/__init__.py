"""The command-line adapter (Click).

The command-line adapter: ``cipulse serve`` (the default), ``migrate``, ``orgs``, ``keys``
and ``ingest``. Messages go to stderr; only what a script wants to capture goes to stdout."""
