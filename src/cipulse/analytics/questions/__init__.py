"""The questions the read API and the dashboard ask, one module each.

Each module answers one question (a summary, a series, recovery, jobs, flaky jobs, custom
metrics, the lists, runs) over a window, reading the engine (``window_figures``,
``recovery``, ``metric_figures``) and the raw store; ``AnalyticsService`` is their facade."""
