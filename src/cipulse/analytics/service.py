"""The analytics service behind the read API and the dashboard.

The analytics service behind the read API: summaries over a window, lists of runs,
repositories and pipelines, and one run with its job tree."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from cipulse.analytics import (
    comparison,
    custom_metrics,
    job_metrics,
    metric_figures,
    rankings,
    recovery,
    run_metrics,
    summaries,
)
from cipulse.analytics.buckets import Interval, bucket_length, bucket_starts
from cipulse.analytics.definitions import SERIES_METRICS
from cipulse.analytics.job_order import by_key, keys_in_order
from cipulse.analytics.paging import (
    DEFAULT_PAGE,
    MAX_PAGE,
    PageRequest,
    check_sort,
    cursor_after,
    decode_position,
    encode_position,
    ordered,
    page_of,
    page_range,
)
from cipulse.analytics.pipeline_search import EVERY_PIPELINE, PipelineSearch, searched_pipelines
from cipulse.analytics.rollups import add_run_tally, new_run_tally
from cipulse.analytics.summaries import iso, window_json
from cipulse.analytics.window import parse_time
from cipulse.analytics.window_figures import (
    Figures,
    JobKey,
    collect,
    hourly,
    job_durations,
    run_durations,
    served_by_rollups,
    top_by_duration,
    top_pipelines_by_duration,
    window_figures,
)
from cipulse.domain.accepted import MAX_TREE_DEPTH, canonical_uuid
from cipulse.domain.tallies import JobTally, RunTally
from cipulse.domain.window import Window
from cipulse.errors import InvalidRequest, NotFound
from cipulse.storage import analytics_store as store
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database


@dataclass(frozen=True, slots=True)
class RunSpan:
    """When the first and the latest stored run attempts started (milliseconds, UTC)."""

    first_ms: int
    last_ms: int

    @property
    def first_day(self) -> date:
        return datetime.fromtimestamp(self.first_ms / 1000, UTC).date()

    @property
    def last_day(self) -> date:
        return datetime.fromtimestamp(self.last_ms / 1000, UTC).date()


#: What the lists may be sorted by (``sort=field`` or ``sort=-field``).
LIST_SORTS = (
    "name",
    "full_name",
    "runs",
    "success_rate",
    "first_attempt_success_rate",
    "p50_duration_seconds",
    "p95_duration_seconds",
    "mean_duration_seconds",
    "compute_seconds",
    "flaky_runs",
    "flaky_rate",
    "retry_compute_seconds",
)
JOB_SORTS = (
    "job",
    "pipeline",
    "runs",
    "success_rate",
    "failure_count",
    "flaky_count",
    "p50_duration_seconds",
    "p95_duration_seconds",
    "mean_duration_seconds",
    "total_duration_seconds",
    "exclusive_seconds",
)
FLAKY_SORTS = (
    "job",
    "flaky_count",
    "runs",
    "flaky_runs_per_execution",
    "flaky_rate",  # the same figure under its old name
    "retry_compute_seconds",
)
#: The run metrics of a listed row (``run_metrics.metrics_of``).
_RUN_METRIC_FIELDS = frozenset(
    {
        "runs",
        "by_status",
        "success_rate",
        "first_attempt_success_rate",
        "p50_duration_seconds",
        "p95_duration_seconds",
        "mean_duration_seconds",
        "compute_seconds",
        "throughput_per_day",
        "flaky_runs",
        "flaky_rate",
        "retry_compute_seconds",
    }
)
#: Job sorts served by reading the histograms of the slowest jobs only: their percentile.
_SLOWEST_FIRST = {"-p95_duration_seconds": 95, "-p50_duration_seconds": 50}


class AnalyticsService:
    def __init__(self, database: Database, clock: Callable[[], int] = now_ms) -> None:
        self.database = database
        #: Now, in epoch milliseconds: whether a window is still under way, what is red now.
        self.clock = clock

    def timeseries(
        self, org_id: str, window: Window, metric: str, interval: Interval
    ) -> dict[str, Any]:
        """One metric per UTC bucket of the window, empty buckets included."""
        if metric not in SERIES_METRICS:
            raise InvalidRequest("metric: must be one of " + ", ".join(SERIES_METRICS))
        if metric == "mttr_seconds":
            points = self._mttr_series(org_id, window, interval)
        else:
            points = [
                {"start": bucket["start"], "value": bucket[metric], "partial": bucket["partial"]}
                for bucket in self.run_series(org_id, window, interval)
            ]
        return {
            "window": window_json(window),
            "metric": metric,
            "interval": interval.value,
            "points": points,
        }

    def run_series(self, org_id: str, window: Window, interval: Interval) -> list[dict[str, Any]]:
        """Every run metric per UTC bucket of the window (``start``, ``partial``: whether the
        bucket is still under way, and the metrics), empty buckets included."""
        buckets = []
        now = self.clock()
        with self.database.read() as conn:
            # Days and weeks add up stored days, recent hours stored hours; older hours, and
            # filters the rollups do not split by, are read from the raw rows bucket by bucket.
            parts = None
            by_hour = interval is Interval.HOUR
            if served_by_rollups(window.filters) and (not by_hour or hourly(window)):
                parts = collect(
                    conn,
                    org_id,
                    window,
                    Figures(),
                    blocks=False,
                    per_pipeline=False,
                    by_hour=by_hour,
                )
            for start in bucket_starts(window.since_ms, window.until_ms, interval):
                bucket = _bucket(window, start, interval)
                if parts is not None:
                    figures = Figures(runs=parts.tallies(bucket.since_ms, bucket.until_ms))
                else:
                    figures = window_figures(conn, org_id, bucket, with_jobs=False)
                metrics = run_metrics.metrics_of(bucket, figures.total())
                partial = comparison.is_partial(bucket, now)
                buckets.append({"start": iso(start), "partial": partial, **metrics})
        return buckets

    def _mttr_series(self, org_id: str, window: Window, interval: Interval) -> list[dict[str, Any]]:
        with self.database.read() as conn:
            ended = recovery.recovery_in(conn, org_id, window, limit=None).ended
        points = []
        for start in bucket_starts(window.since_ms, window.until_ms, interval):
            bucket = _bucket(window, start, interval)
            lengths = [
                p.seconds or 0.0
                for p in ended
                if bucket.since_ms <= (p.ended_at_ms or 0) < bucket.until_ms
            ]
            mean = sum(lengths) / len(lengths) if lengths else None
            partial = comparison.is_partial(bucket, self.clock())
            points.append({"start": iso(start), "value": mean, "partial": partial})
        return points

    def jobs(
        self, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Job metrics per (pipeline, job) over the jobs of the attempts in the window, a
        page at a time (by default the most total time first). Duration percentiles are read
        for the jobs of the page only, or for all of them to sort by one."""
        check_sort(page.sort, JOB_SORTS)
        sort = page.sort or "-total_duration_seconds"
        start, end = page_range(page)
        with self.database.read() as conn:
            figures = window_figures(conn, org_id, window, with_jobs=True, with_runs=False)
            figures.jobs = by_key(_at_level(figures.jobs, window))
            with_durations = sum(t.duration_top_bucket is not None for t in figures.jobs.values())
            if sort in _SLOWEST_FIRST and end <= with_durations:
                # The slowest first: read histograms only of jobs that may be on the page.
                slow = set(top_by_duration(conn, org_id, figures, _SLOWEST_FIRST[sort], end))
                rows = job_metrics.job_rows({k: t for k, t in figures.jobs.items() if k in slow})
                items = self._named(org_id, ordered(rows, sort)[start:end])
                return items, cursor_after(end, len(figures.jobs))
            keys = keys_in_order(figures.jobs, sort, self._pipeline_names(org_id))
            if keys is not None:
                # Order the tallies, and build rows (and read histograms) for the page only.
                page_keys, next_cursor = page_of([{"key": key} for key in keys], None, page)
                chosen = [row["key"] for row in page_keys]
                job_durations(conn, org_id, figures, chosen)
                items = self._named(
                    org_id, job_metrics.job_rows({key: figures.jobs[key] for key in chosen})
                )
            else:
                job_durations(conn, org_id, figures, sorted(figures.jobs))
                rows = self._named(org_id, job_metrics.job_rows(figures.jobs))
                items, next_cursor = page_of(rows, sort, page)
        return items, next_cursor

    def flaky(
        self, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Flaky jobs, most flaky first, with what their retries cost."""
        page_range(page)
        return page_of(self.all_flaky(org_id, window, page.sort), None, page)

    def all_flaky(self, org_id: str, window: Window, sort: str | None) -> list[dict[str, Any]]:
        """Every flaky job of the window in ``sort`` order (None: most flaky first), at the
        level the window's filters ask for (by default the job level, as every job list)."""
        check_sort(sort, FLAKY_SORTS)
        with self.database.read() as conn:
            figures = window_figures(conn, org_id, window, with_jobs=True, with_runs=False)
            figures.jobs = by_key(_at_level(figures.jobs, window))
        return ordered(_flaky_rows(figures, self._pipeline_names(org_id)), sort)

    def job_highlights(self, org_id: str, window: Window, count: int) -> dict[str, Any]:
        """The ``count`` slowest jobs (p95), most failing jobs and flakiest jobs, ranked as
        ``rankings`` says (a minimum sample, by impact), from one computation of the
        window's job figures (the overview's three lists)."""
        with self.database.read() as conn:
            figures = window_figures(conn, org_id, window, with_jobs=True, with_runs=False)
            figures.jobs = by_key(_at_level(figures.jobs, window))
            sampled = replace(figures, jobs=_sampled(figures.jobs, window))
            slowest_keys = set(top_by_duration(conn, org_id, sampled, 95, count))
        names = self._pipeline_names(org_id)
        jobs = figures.jobs
        slowest = job_metrics.job_rows({k: t for k, t in jobs.items() if k in slowest_keys})
        failures = job_metrics.TALLY_SORTS["failure_count"]
        failing = rankings.most_failing_jobs(
            job_metrics.job_rows({key: tally for key, tally in jobs.items() if failures(tally)}),
            count,
        )
        for row in (*slowest, *failing):
            row.update(names.get(row["pipeline_id"], {}))
        return {
            "slowest": ordered(slowest, "-p95_duration_seconds")[:count],
            "failing": failing,
            "flaky": rankings.flakiest_jobs(_flaky_rows(figures, names), count),
        }

    def pipeline_highlights(self, org_id: str, window: Window, count: int) -> dict[str, Any]:
        """The ``count`` slowest pipelines (p95), those failing most and the flakiest,
        ranked as ``rankings`` says (a minimum sample, by impact), from one read of the
        window's figures without histograms but for the pipelines that may be slowest."""
        with self.database.read() as conn:
            figures = window_figures(conn, org_id, window, with_jobs=False, run_histograms=False)
            sampled = replace(figures, runs=_sampled(figures.runs, window))
            slowest = set(top_pipelines_by_duration(conn, org_id, sampled, 95, count))
            rows = store.pipeline_rows(conn, org_id)
        listed = []
        for row in rows:
            if row["id"] not in figures.runs:
                continue
            listed_row = self._pipeline_row(window, row, figures)
            if row["id"] not in slowest:  # read without histograms: no durations
                for field in ("p50_duration_seconds", "p95_duration_seconds"):
                    listed_row[field] = None
                listed_row["mean_duration_seconds"] = None
            listed.append(listed_row)
        samples = {key: tally.decided_runs for key, tally in figures.runs.items()}
        return {
            "slowest": ordered([r for r in listed if r["id"] in slowest], "-p95_duration_seconds")[
                :count
            ],
            "failing": rankings.most_failing_pipelines(listed, count),
            "flaky": rankings.flakiest_pipelines(listed, samples, count),
            "too_few": rankings.too_few_to_rank(listed, count),
        }

    def pipelines_shown(
        self,
        org_id: str,
        window: Window,
        sort: str,
        search: PipelineSearch,
        start: int,
        end: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """The pipelines of the window's filters that ``search`` keeps, sorted as
        ``pipelines`` sorts them, rows ``[start, end)`` of them with every run metric, and
        how many there are. Duration histograms are read for the rows shown
        only, or the candidates of a slowest-first order (``_top_by_bound``): what the
        dashboard's pipelines page needs of a long list."""
        check_sort(sort, LIST_SORTS)
        field = sort.removeprefix("-")
        with self.database.read() as conn:
            figures = window_figures(conn, org_id, window, with_jobs=False, run_histograms=False)
            rows = searched_pipelines(conn, org_id, window, search)
            figures.runs = {
                row["id"]: figures.runs.get(row["id"]) or new_run_tally() for row in rows
            }
            if sort in _SLOWEST_FIRST:
                top_pipelines_by_duration(conn, org_id, figures, _SLOWEST_FIRST[sort], end)
            elif field in ("p50_duration_seconds", "p95_duration_seconds"):
                run_durations(conn, org_id, figures, sorted(figures.runs))
            listed = [self._pipeline_row(window, row, figures) for row in rows]
            shown = ordered(listed, sort)[start:end]
            run_durations(conn, org_id, figures, [row["id"] for row in shown])
        return [self._pipeline_row(window, row, figures) for row in shown], len(listed)

    @staticmethod
    def _pipeline_row(window: Window, row: dict[str, Any], figures: Figures) -> dict[str, Any]:
        row = {k: v for k, v in row.items() if k not in _RUN_METRIC_FIELDS}
        if "created_at_ms" in row:
            row["created_at"] = iso(row.pop("created_at_ms"))
        return {**row, **run_metrics.metrics_of(window, figures.runs[row["id"]])}

    def custom_metric_keys(self, org_id: str, window: Window) -> dict[str, list[str]]:
        with self.database.read() as conn:
            return metric_figures.known_keys(conn, org_id, window)

    def custom_metric(
        self, org_id: str, window: Window, key: str, group_by: str | None, interval: Interval
    ) -> dict[str, Any]:
        if not key:
            raise InvalidRequest("key: required (see /api/v1/analytics/custom-metrics/keys)")
        group_tag = None
        if group_by:
            kind, _, group_tag = group_by.partition(":")
            if kind != "tag" or not group_tag:
                raise InvalidRequest("group_by: must be tag:<tag key> (e.g. group_by=tag:runner)")
        starts = bucket_starts(window.since_ms, window.until_ms, interval)
        with self.database.read() as conn:
            buckets = metric_figures.metric_buckets(conn, org_id, window, key, group_tag, interval)
        groups = custom_metrics.grouped_series(buckets, starts)
        for group in groups:
            for point in group["points"]:
                point["start"] = iso(point["start"])
        return {
            "window": window_json(window),
            "key": key,
            "group_by": group_by,
            "interval": interval.value,
            "groups": groups,
            # Per bucket (as the groups' points): still under way, holding what has happened.
            "partial": [
                comparison.is_partial(_bucket(window, start, interval), self.clock())
                for start in starts
            ],
        }

    def _pipeline_names(self, org_id: str) -> dict[str, dict[str, Any]]:
        with self.database.read() as conn:
            return {
                row["id"]: {"pipeline": row["name"], "repository": row["repository"]}
                for row in store.pipeline_rows(conn, org_id)
            }

    def recovery(self, org_id: str, window: Window, limit: int = MAX_PAGE) -> dict[str, Any]:
        """Red periods that ended in the window and what was red at its end (``summaries``)."""
        if not 0 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit: must be from 0 to {MAX_PAGE}")
        with self.database.read() as conn:
            return summaries.recovery_answer(conn, org_id, window, limit, self.clock())

    def summary(self, org_id: str, window: Window) -> dict[str, Any]:
        """All run-level metrics for the window, compared like with like with the window
        before (``summaries.summary``)."""
        with self.database.read() as conn:
            return summaries.summary(conn, org_id, window, self.clock())

    def _named(self, org_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = self._pipeline_names(org_id)
        for row in rows:
            row.update(names.get(row["pipeline_id"], {}))
        return rows

    def _listed(
        self, org_id: str, window: Window, key: str, rows: list[dict[str, Any]], sort: str | None
    ) -> list[dict[str, Any]]:
        """``rows`` (repositories or pipelines) with the run metrics of their attempts, in
        ``sort`` order: ``key`` names the row's field that holds a pipeline's id or its
        repository's."""
        check_sort(sort, LIST_SORTS)
        with self.database.read() as conn:
            figures = window_figures(conn, org_id, window, with_jobs=False)
            owners = {row["id"]: row["repository_id"] for row in store.pipeline_rows(conn, org_id)}
        grouped: dict[str, RunTally] = {}
        for pipeline_id, tally in figures.runs.items():
            group = pipeline_id if key == "pipeline" else owners.get(pipeline_id, "")
            add_run_tally(grouped.setdefault(group, new_run_tally()), tally)
        listed = []
        for row in rows:
            created_at = iso(row.pop("created_at_ms"))
            tally = grouped.get(row["id"]) or new_run_tally()
            listed.append(
                {**row, "created_at": created_at, **run_metrics.metrics_of(window, tally)}
            )
        return ordered(listed, sort)

    def repositories(
        self, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
    ) -> tuple[list[dict[str, Any]], str | None]:
        page_range(page)
        return page_of(self.all_repositories(org_id, window, page.sort), None, page)

    def all_repositories(
        self, org_id: str, window: Window, sort: str | None
    ) -> list[dict[str, Any]]:
        with self.database.read() as conn:
            rows = store.repository_rows(conn, org_id)
        return self._listed(org_id, window, "repository", rows, sort)

    def pipelines(
        self,
        org_id: str,
        window: Window,
        page: PageRequest = DEFAULT_PAGE,
        search: PipelineSearch = EVERY_PIPELINE,
    ) -> tuple[list[dict[str, Any]], str | None]:
        page_range(page)
        return page_of(self.all_pipelines(org_id, window, page.sort, search), None, page)

    def all_pipelines(
        self, org_id: str, window: Window, sort: str | None, search: PipelineSearch
    ) -> list[dict[str, Any]]:
        """The pipelines of the window's filters that ``search`` keeps, in ``sort`` order."""
        with self.database.read() as conn:
            rows = searched_pipelines(conn, org_id, window, search)
        return self._listed(org_id, window, "pipeline", rows, sort)

    def run_span(self, org_id: str, pipeline_id: str | None = None) -> RunSpan | None:
        """When the organisation's (or a pipeline's) runs started, first to latest: where to
        look when a window holds none of them."""
        with self.database.read() as conn:
            span = store.run_span(conn, org_id, pipeline_id)
        return None if span is None else RunSpan(*span)

    def repository_names(self, org_id: str) -> list[str]:
        with self.database.read() as conn:
            return [row["full_name"] for row in store.repository_rows(conn, org_id)]

    def pipeline(self, org_id: str, pipeline_id: str) -> dict[str, Any]:
        """One pipeline: id, name, key, repository."""
        found = canonical_uuid(pipeline_id)
        with self.database.read() as conn:
            rows = store.pipeline_rows(conn, org_id) if found else []
        for row in rows:
            if row["id"] == found:
                row["created_at"] = iso(row.pop("created_at_ms"))
                return row
        raise NotFound(f"pipeline: no pipeline {pipeline_id!r}")

    def runs(
        self, org_id: str, window: Window, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Attempts newest first, a page at a time; returns the page and the next cursor."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit: must be from 1 to {MAX_PAGE}")
        after = decode_position(cursor) if cursor else None
        with self.database.read() as conn:
            rows = store.attempt_page(conn, org_id, window, limit + 1, after)
        page = [_attempt_json(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_position(last["started_at_ms"], last["id"])
        return page, next_cursor

    def run(self, org_id: str, attempt_id: str) -> dict[str, Any]:
        """One attempt with its job tree, tags, metrics and the other attempts of its run."""
        found = canonical_uuid(attempt_id)
        with self.database.read() as conn:
            row = store.attempt_detail(conn, org_id, found) if found else None
            if row is None or found is None:
                raise NotFound(f"pipeline_run_id: no run attempt {attempt_id!r}")
            jobs = store.jobs_of(conn, org_id, [found])
            siblings = store.sibling_attempts(conn, org_id, row["pipeline_id"], row["run_key"])
        detail = _attempt_json(row)
        detail["attempts"] = [
            {
                "id": sibling["id"],
                "attempt": sibling["attempt"],
                "status": sibling["status"],
                "started_at": iso(sibling["started_at_ms"]),
                "completed_at": iso(sibling["completed_at_ms"]),
            }
            for sibling in siblings
        ]
        detail["jobs"] = job_tree(jobs, row.get("root_node_key"))
        return detail

    def latest_runs(
        self, org_id: str, pipeline_ids: Sequence[str], window: Window, count: int = 30
    ) -> dict[str, list[dict[str, Any]]]:
        """Per pipeline, its ``count`` latest attempts up to the window's end that pass the
        filters, oldest first (``id``, ``status``, ``duration_seconds``, ``started_at``)."""
        with self.database.read() as conn:
            latest = store.latest_attempts(
                conn, org_id, pipeline_ids, window.filters, window.until_ms, count
            )
        return {
            pipeline_id: [
                {
                    "id": row["id"],
                    "status": row["status"],
                    "duration_seconds": row["duration_seconds"],
                    "started_at": iso(row["started_at_ms"]),
                    "branch": row["branch"],
                    "provider": row["provider"],
                }
                for row in rows
            ]
            for pipeline_id, rows in latest.items()
        }

    def latest_providers(self, org_id: str) -> dict[str, str]:
        """Per pipeline, the provider (github, gitlab, jenkins…) of its latest attempt."""
        with self.database.read() as conn:
            return store.latest_providers(conn, org_id)

    def attempt_that_turned_red(
        self, org_id: str, pipeline_id: str, branch: str | None, red_since: str
    ) -> str | None:
        """The id of the attempt whose failure started a red period (``red_since`` as the
        recovery endpoint gives it)."""
        moment = parse_time("red_since", red_since)
        found = canonical_uuid(pipeline_id)
        if found is None:
            return None
        with self.database.read() as conn:
            return store.attempt_completed_at(
                conn, org_id, found, branch, int(moment.timestamp() * 1000)
            )


T = TypeVar("T", RunTally, JobTally)
K = TypeVar("K", str, tuple[str, str])


def _sampled(tallies: dict[K, T], window: Window) -> dict[K, T]:
    """The tallies with at least ``rankings.MIN_SAMPLE`` executions of the statuses whose
    durations count (success, or the status filter's): a p95 of one run ranks nothing."""
    statuses = window.filters.statuses or ("success",)
    return {
        key: tally
        for key, tally in tallies.items()
        if sum(tally.by_status[s] for s in statuses) >= rankings.MIN_SAMPLE
    }


def _at_level(jobs: dict[JobKey, JobTally], window: Window) -> dict[JobKey, JobTally]:
    """The jobs at the level the window's filters ask for (by default the job level: the
    stages and steps inside a job are in its time already)."""
    wanted = window.filters.job_level or "job"
    if wanted == "all":
        return jobs
    return {key: tally for key, tally in jobs.items() if (tally.level or "job") == wanted}


def _flaky_rows(figures: Figures, names: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for (pipeline_id, definition), tally in figures.jobs.items():
        if not tally.flaky_count:
            continue
        executions = sum(tally.by_status.values())
        rows.append(
            {
                "pipeline_id": pipeline_id,
                **names.get(pipeline_id, {}),
                "job": tally.name,
                "definition_key": definition,
                "level": tally.level or "job",
                "flaky_count": tally.flaky_count,
                "runs": executions,
                "flaky_runs_per_execution": _ratio(tally.flaky_count, executions),
                "flaky_rate": _ratio(tally.flaky_count, executions),  # its old name
                "retry_compute_seconds": tally.retry_compute_seconds,
                "last_flaky_at": iso(tally.last_flaky_at_ms),
            }
        )
    rows.sort(key=lambda row: (-row["flaky_count"], -(row["flaky_runs_per_execution"] or 0)))
    return rows


def _bucket(window: Window, start: int, interval: Interval) -> Window:
    return replace(
        window,
        since_ms=max(start, window.since_ms),
        until_ms=min(start + bucket_length(interval), window.until_ms),
    )


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _attempt_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "repository": row["repository"],
        "repository_host": row["repository_host"],
        "pipeline_id": row["pipeline_id"],
        "pipeline": row["pipeline_name"],
        "run_key": row["run_key"],
        "run_number": row["run_number"],
        "attempt": row["attempt"],
        "status": row["status"],
        "raw_status": row["raw_status"],
        "provider": row["provider"],
        "source_format": row["source_format"],
        "branch": row["branch"],
        "actor": row["actor"],
        "triggered_by": row["triggered_by"],
        "run_name": row["run_name"],
        "url": row["run_url"],
        "mode": row["mode"],
        "started_at": iso(row["started_at_ms"]),
        "completed_at": iso(row["completed_at_ms"]),
        "duration_seconds": row["duration_seconds"],
        "compute_seconds": row["compute_seconds"],
        "tags": row["tags"] or {},
        "metrics": row["metrics"] or {},
    }


def job_tree(rows: Sequence[dict[str, Any]], root_node_key: str | None) -> list[dict[str, Any]]:
    """The jobs as a tree: a node whose parent is not among the attempt's nodes (or is the
    run's own node), or whose parents come back to it, is at the top level. The tree has at
    most ``MAX_TREE_DEPTH`` levels: a deeper node (a chain stored by several requests) is
    shown under its ancestor at the last level."""
    nodes: dict[str, dict[str, Any]] = {}
    for row in rows:
        nodes[row["node_key"]] = {
            "id": row["id"],
            "name": row["name"],
            "kind": row["kind"],
            "status": row["status"],
            "raw_status": row["raw_status"],
            "started_at": iso(row["started_at_ms"]),
            "completed_at": iso(row["completed_at_ms"]),
            "duration_seconds": row["duration_seconds"],
            "job_id": row["external_id"],
            "job_url": row["url"],
            "url": row["url"],
            "tags": row["tags"] or {},
            "metrics": row["metrics"] or {},
            "children": [],
        }
    parents = {
        row["node_key"]: row["parent_node_key"]
        for row in rows
        if row["parent_node_key"] in nodes and row["parent_node_key"] != root_node_key
    }
    placed = _placed_under(parents)
    top: list[dict[str, Any]] = []
    for row in rows:
        key = row["node_key"]
        parent = placed.get(key)
        if parent is None:
            top.append(nodes[key])
        else:
            nodes[parent]["children"].append(nodes[key])
    return top


def _placed_under(parents: dict[str, str]) -> dict[str, str]:
    """The node each node is shown under (absent: the top level), in time linear in the
    nodes: its parent or, below ``MAX_TREE_DEPTH`` levels, its ancestor one level above the
    last, so that deeper nodes are shown at the last level. Bad data must not make the tree
    infinite: the nodes of a cycle are shown at the top level."""
    #: The ancestors a node is shown under, from the top level, and the node itself.
    lineage: dict[str, tuple[str, ...]] = {}
    for start in parents:
        path: list[str] = []
        on_path: set[str] = set()
        current = start
        while current in parents and current not in lineage and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = parents[current]
        if current in on_path:  # a cycle: its nodes are shown at the top level
            cut = path.index(current)
            for node in path[cut:]:
                lineage[node] = (node,)
            path = path[:cut]
        above = lineage.get(current, (current,))
        for node in reversed(path):
            above = (*above[: MAX_TREE_DEPTH - 1], node)
            lineage[node] = above
    return {node: shown[-2] for node, shown in lineage.items() if len(shown) > 1}


#: A run attempt and a flaky job with every field: the columns of an export, empty or not.
BLANK_ATTEMPT = _attempt_json(defaultdict(lambda: None))
BLANK_FLAKY = _flaky_rows(
    Figures(jobs={("", ""): JobTally(flaky_count=1)}), {"": {"pipeline": "", "repository": ""}}
)[0]
