"""The order of the job list, the same on every page and export.

The order of the job list by a figure read straight off a job's tally, or by its
pipeline's name: one function for the Jobs page, the API's pages and the whole-list export,
so that a CSV holds the rows in the order the pages show them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cipulse.analytics.job_metrics import TALLY_SORTS, JobKey, PipelineName
from cipulse.domain.tallies import JobTally

#: Per pipeline id, its name and repository.
Names = dict[str, PipelineName]


def _sort_value(
    tallies: dict[JobKey, JobTally], field: str, names: Names
) -> Callable[[JobKey], Any] | None:
    if field == "pipeline":

        def by_pipeline(key: JobKey) -> tuple[str, str, str]:
            named = names.get(key[0])
            if named is None:
                return ("", "", tallies[key].name)
            return (named.pipeline or "", named.repository or "", tallies[key].name)

        return by_pipeline
    figure = TALLY_SORTS.get(field)
    if figure is None:
        return None
    return lambda key: figure(tallies[key])


def keys_in_order(tallies: dict[JobKey, JobTally], sort: str, names: Names) -> list[JobKey] | None:
    """The jobs' keys in ``sort`` order (ties by key), or None when that order needs the
    rows' duration percentiles."""
    value = _sort_value(tallies, sort.removeprefix("-"), names)
    if value is None:
        return None
    keys = sorted(tallies, key=lambda key: (value(key), key))
    if sort.startswith("-"):
        keys.reverse()
    return keys


def by_key(tallies: dict[JobKey, JobTally]) -> dict[JobKey, JobTally]:
    """The tallies in key order: jobs that tie in a sort keep the same order on every page
    and in every export, whatever order the database returned them in."""
    return dict(sorted(tallies.items()))
