"""The rollup tables: marks, stored figures, red periods, custom metrics.

What the refresher stores and reads back, by concern: which stored figures are stale
(``marks``) and which partitions it set aside (``set_aside``); the keys every rollup table
shares (``keys``); run and job figures written (``figure_writes``), as named rows
(``stored_rows``) and read back (``figure_reads``); red periods (``red_periods``); custom
metrics' histograms (``metric_rollups``)."""
