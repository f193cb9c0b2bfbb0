"""AnalyticsService: one facade over the questions, a database, a clock.

The facade the read API, the dashboard and the tests call: each method answers one
question of ``analytics/questions/`` with the service's database and its clock (now, in
epoch milliseconds: whether a window is still under way, what is red now)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cipulse.analytics import read_plan, teams
from cipulse.analytics.buckets import Interval
from cipulse.analytics.job_metrics import FlakyJob, JobFigures
from cipulse.analytics.list_rows import PipelineRow, RepositoryRow
from cipulse.analytics.paging import DEFAULT_PAGE, MAX_PAGE, Page, PageRequest
from cipulse.analytics.pipeline_search import EVERY_PIPELINE, PipelineSearch
from cipulse.analytics.questions import (
    custom_metrics,
    flaky,
    job_page,
    jobs,
    lists,
    pipelines,
    pull_requests,
    recovery,
    runners,
    runs,
    series,
    summary,
    test_page,
    tests,
    tests_overview,
    waits,
    window_costs,
)
from cipulse.analytics.questions import teams as team_question
from cipulse.analytics.questions.custom_metrics import MetricSeries
from cipulse.analytics.questions.job_page import JobDetail
from cipulse.analytics.questions.jobs import JobHighlights
from cipulse.analytics.questions.lists import PipelineHighlights
from cipulse.analytics.questions.pipelines import PipelineInfo
from cipulse.analytics.questions.pull_requests import (
    PullRequestDetail,
    PullRequestRow,
    PullRequestSummary,
)
from cipulse.analytics.questions.recovery import RecoveryAnswer
from cipulse.analytics.questions.run_answers import Attempt, RunDetail
from cipulse.analytics.questions.runners import LabelSetFigures, LabelSetRunners, QueueByHour
from cipulse.analytics.questions.runs import LatestAttempt, RunSpan
from cipulse.analytics.questions.series import SeriesBucket, Timeseries
from cipulse.analytics.questions.shared import FLAKY_SORTS, JOB_SORTS, LIST_SORTS
from cipulse.analytics.questions.summary import Summary
from cipulse.analytics.questions.teams import TeamRow, TeamsAnswer
from cipulse.analytics.questions.test_page import TestDetail
from cipulse.analytics.questions.tests import TestRow
from cipulse.analytics.questions.tests_overview import TestsOverview
from cipulse.analytics.questions.waits import Waits
from cipulse.analytics.questions.window_costs import CostAnswer
from cipulse.domain.pull_requests import PullRequestKey
from cipulse.domain.window import Window
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database

__all__ = ["FLAKY_SORTS", "JOB_SORTS", "LIST_SORTS", "AnalyticsService", "RunSpan"]


class AnalyticsService:
    def __init__(self, database: Database, clock: Callable[[], int] = now_ms) -> None:
        self.database = database
        #: Now, in epoch milliseconds: whether a window is still under way, what is red now.
        self.clock = clock

    def scoped(self, org_id: str, window: Window) -> Window:
        """The window with its team filter resolved to the team's pipelines."""
        if window.filters.team is None:
            return window
        with self.database.read() as conn:
            return teams.scoped(conn, org_id, window)

    def _bounded(self, org_id: str, window: Window) -> Window:
        """The window scoped to its team; figures under unindexed filters of the change
        are bounded (``read_plan``)."""
        window = self.scoped(org_id, window)
        with self.database.read() as conn:
            read_plan.check_change_cost(conn, org_id, window)
        return window

    def summary(self, org_id: str, window: Window) -> Summary:
        window = self._bounded(org_id, window)
        return summary.summary(self.database, org_id, window, self.clock())

    def waits(self, org_id: str, window: Window) -> Waits:
        window = self.scoped(org_id, window)
        return waits.waits(self.database, org_id, window, self.clock())

    def costs(self, org_id: str, window: Window, group_by: str | None = None) -> CostAnswer:
        """The window's cost and waste by group, and before (``questions/window_costs.py``)."""
        window = self._bounded(org_id, window)
        return window_costs.costs(self.database, org_id, window, self.clock(), group_by)

    def runners(
        self, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
    ) -> Page[LabelSetFigures]:
        window = self._bounded(org_id, window)
        return runners.label_sets(self.database, org_id, window, page)

    def runners_and_hours(
        self, org_id: str, window: Window, page: PageRequest
    ) -> tuple[Page[LabelSetFigures], QueueByHour]:
        window = self._bounded(org_id, window)
        return runners.label_sets_and_hours(self.database, org_id, window, page, self.clock())

    def runners_of(self, org_id: str, window: Window, label_set: str) -> LabelSetRunners:
        window = self._bounded(org_id, window)
        return runners.runners_of(self.database, org_id, window, label_set, self.clock())

    def queue_by_hour(self, org_id: str, window: Window, label_set: str | None) -> QueueByHour:
        window = self._bounded(org_id, window)
        return runners.queue_by_hour(self.database, org_id, window, label_set, self.clock())

    def timeseries(
        self, org_id: str, window: Window, metric: str, interval: Interval
    ) -> Timeseries:
        window = self._bounded(org_id, window)
        return series.timeseries(self.database, org_id, window, metric, interval, self.clock())

    def run_series(self, org_id: str, window: Window, interval: Interval) -> list[SeriesBucket]:
        window = self._bounded(org_id, window)
        return series.run_series(self.database, org_id, window, interval, self.clock())

    def tests(
        self, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE, search: str = ""
    ) -> Page[TestRow]:
        """A page of the tests with results in the window (``questions/tests.py``)."""
        return tests.tests(self.database, org_id, window, page, search)

    def all_tests(
        self, org_id: str, window: Window, sort: str | None, search: str = ""
    ) -> list[TestRow]:
        return tests.sorted_tests(self.database, org_id, window, sort, search)

    def tests_overview(
        self, org_id: str, window: Window, search: str, page: PageRequest
    ) -> TestsOverview:
        """The Tests page: top lists, new failures, a page of the searched list."""
        return tests_overview.tests_overview(self.database, org_id, window, search, page)

    def test(
        self, org_id: str, test_id: int, window: Window, limit: int, cursor: str | None
    ) -> TestDetail:
        """One test's page (``questions/test_page.py``)."""
        return test_page.test_detail(self.database, org_id, test_id, window, limit, cursor)

    def recovery(self, org_id: str, window: Window, limit: int = MAX_PAGE) -> RecoveryAnswer:
        window = self._bounded(org_id, window)
        return recovery.recovery_answer(self.database, org_id, window, limit, self.clock())

    def jobs(
        self, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
    ) -> Page[JobFigures]:
        window = self._bounded(org_id, window)
        return jobs.jobs(self.database, org_id, window, page)

    def job_highlights(
        self, org_id: str, window: Window, count: int, failure_class: str | None = None
    ) -> JobHighlights:
        window = self._bounded(org_id, window)
        return jobs.job_highlights(self.database, org_id, window, count, failure_class)

    def flaky(
        self, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
    ) -> Page[FlakyJob]:
        window = self._bounded(org_id, window)
        return flaky.flaky(self.database, org_id, window, page)

    def all_flaky(self, org_id: str, window: Window, sort: str | None) -> list[FlakyJob]:
        window = self._bounded(org_id, window)
        return flaky.all_flaky(self.database, org_id, window, sort)

    def custom_metric_keys(self, org_id: str, window: Window) -> dict[str, list[str]]:
        window = self._bounded(org_id, window)
        return custom_metrics.metric_keys(self.database, org_id, window)

    def custom_metric(
        self, org_id: str, window: Window, key: str, group_by: str | None, interval: Interval
    ) -> MetricSeries:
        window = self._bounded(org_id, window)
        return custom_metrics.custom_metric(
            self.database, org_id, window, key, group_by, interval, self.clock()
        )

    def repositories(
        self, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
    ) -> Page[RepositoryRow]:
        window = self._bounded(org_id, window)
        return lists.repositories(self.database, org_id, window, page)

    def all_repositories(
        self, org_id: str, window: Window, sort: str | None
    ) -> list[RepositoryRow]:
        window = self._bounded(org_id, window)
        return lists.all_repositories(self.database, org_id, window, sort)

    def pipelines(
        self,
        org_id: str,
        window: Window,
        page: PageRequest = DEFAULT_PAGE,
        search: PipelineSearch = EVERY_PIPELINE,
    ) -> Page[PipelineRow]:
        window = self._bounded(org_id, window)
        return lists.pipelines(self.database, org_id, window, page, search)

    def all_pipelines(
        self, org_id: str, window: Window, sort: str | None, search: PipelineSearch
    ) -> list[PipelineRow]:
        window = self._bounded(org_id, window)
        return lists.all_pipelines(self.database, org_id, window, sort, search)

    def pipelines_shown(
        self,
        org_id: str,
        window: Window,
        sort: str,
        search: PipelineSearch,
        start: int,
        end: int,
    ) -> tuple[list[PipelineRow], int]:
        window = self._bounded(org_id, window)
        return lists.pipelines_shown(self.database, org_id, window, sort, search, start, end)

    def pipeline_highlights(
        self, org_id: str, window: Window, count: int, failure_class: str | None = None
    ) -> PipelineHighlights:
        window = self._bounded(org_id, window)
        return lists.pipeline_highlights(self.database, org_id, window, count, failure_class)

    def pipeline(self, org_id: str, pipeline_id: str) -> PipelineInfo:
        return pipelines.pipeline(self.database, org_id, pipeline_id)

    def every_pipeline(self, org_id: str) -> list[PipelineInfo]:
        return pipelines.every_pipeline(self.database, org_id)

    def repository_names(self, org_id: str) -> list[str]:
        return pipelines.repository_names(self.database, org_id)

    def latest_providers(self, org_id: str) -> dict[str, str]:
        return pipelines.latest_providers(self.database, org_id)

    def runs(self, org_id: str, window: Window, limit: int, cursor: str | None) -> Page[Attempt]:
        window = self.scoped(org_id, window)
        return runs.runs(self.database, org_id, window, limit, cursor)

    def run(self, org_id: str, attempt_id: str) -> RunDetail:
        return runs.run(self.database, org_id, attempt_id)

    def latest_runs(
        self, org_id: str, pipeline_ids: Sequence[str], window: Window, count: int = 30
    ) -> dict[str, list[LatestAttempt]]:
        window = self.scoped(org_id, window)
        return runs.latest_runs(self.database, org_id, pipeline_ids, window, count)

    def run_span(self, org_id: str, pipeline_id: str | None = None) -> RunSpan | None:
        return runs.run_span(self.database, org_id, pipeline_id)

    def attempt_that_turned_red(
        self, org_id: str, pipeline_id: str, branch: str | None, red_since: str
    ) -> str | None:
        return runs.attempt_that_turned_red(self.database, org_id, pipeline_id, branch, red_since)

    def job(
        self,
        org_id: str,
        pipeline_id: str,
        definition_key: str,
        window: Window,
        interval: Interval = Interval.DAY,
    ) -> JobDetail:
        window = self.scoped(org_id, window)
        return job_page.job_detail(
            self.database, org_id, pipeline_id, definition_key, window, interval, self.clock()
        )

    def pull_requests(
        self, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
    ) -> Page[PullRequestRow]:
        window = self.scoped(org_id, window)
        return pull_requests.pull_requests(self.database, org_id, window, page)

    def pull_request(
        self, org_id: str, key: PullRequestKey, limit: int, cursor: str | None
    ) -> PullRequestDetail:
        return pull_requests.pull_request(self.database, org_id, key, limit, cursor)

    def pull_request_summary(self, org_id: str, window: Window) -> PullRequestSummary:
        window = self.scoped(org_id, window)
        return pull_requests.summary(self.database, org_id, window, self.clock())

    def all_pull_requests(
        self, org_id: str, window: Window, sort: str | None
    ) -> list[PullRequestRow]:
        window = self.scoped(org_id, window)
        return pull_requests.every_pull_request(self.database, org_id, window, sort)

    def teams(
        self, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
    ) -> tuple[Page[TeamRow], TeamsAnswer]:
        """A page of the teams ranked (``questions/teams.py``), and every row."""
        window = self._bounded(org_id, window)
        return team_question.teams_page(self.database, org_id, window, self.clock(), page)

    def all_teams(self, org_id: str, window: Window, sort: str | None) -> TeamsAnswer:
        """Every team's row, with the windows compared."""
        window = self._bounded(org_id, window)
        return team_question.teams(self.database, org_id, window, self.clock(), sort)
