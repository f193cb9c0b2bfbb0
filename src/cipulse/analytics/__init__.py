"""Analytics: metric definitions, rollups and the read API's answers.

Analytics: metric definitions and their queries. Empty until the analytics issue lands;
it sits beside ``ingestion`` in the layers and may read storage, never the web layer."""
