"""The Teams view's figure definitions, beside the registry's others."""

from __future__ import annotations

from cipulse.analytics.definitions import MetricDefinition

#: The Teams view's figures (``analytics/questions/teams.py``): a team's pipelines added up.
TEAM_METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "team (of a pipeline)",
        "a name",
        "The first rule that says, in this order: the last added pipeline rule whose pattern "
        "matches the pipeline's name or key; the last added repository rule matching its "
        "repository (owner/name); its repository's CODEOWNERS (else the organisation's "
        "default file): the first owner of the last line matching the pipeline's CI file when "
        "its name or key is one (a path ending .yml or .yaml, or a Jenkinsfile: GitHub names "
        "an unnamed workflow by its file, GitLab a pipeline by its CI configuration), else of "
        "the file's last catch-all line (`*`); otherwise none (`unowned`). Patterns of rules "
        "are globs in any case (`*` any characters, `?` one).",
    ),
    MetricDefinition(
        "team filter",
        "-",
        "`team=NAME` (any case) keeps the attempts of the pipelines whose team is NAME "
        "(`unowned`: of no team), with every other filter. Job lists keep the team's jobs: a "
        "job's team is the last added job rule matching its name, else its pipeline's; with "
        "no job rule, the jobs of the team's pipelines.",
    ),
    MetricDefinition(
        "compute_seconds (team)",
        "seconds",
        "The sum of compute_seconds over the team's pipelines: its CI time.",
    ),
    MetricDefinition(
        "runs / decided_runs / failed_runs (team)",
        "run attempts",
        "`runs`: the attempts of its pipelines; `decided_runs`: those that ended success, "
        "failure or timed_out (the sample of failure_rate); `failed_runs`: failure or "
        "timed_out.",
    ),
    MetricDefinition(
        "failure_rate (team)",
        "ratio from 0 to 1",
        "failed_runs / decided_runs; null when decided_runs is 0.",
    ),
    MetricDefinition(
        "flaky_runs (team)",
        "runs",
        "The sum of flaky_runs over its pipelines.",
    ),
    MetricDefinition(
        "red_seconds (team)",
        "seconds",
        "The total length of the red periods of its pipelines that ended in the window "
        "(`recovered_periods` of them: MTTR times their number); `red_at_end`: its pipelines' "
        "branches still red at the window's end.",
    ),
    MetricDefinition(
        "ranking (Teams view)",
        "-",
        "By compute_seconds in the window, most first, ties by name; `sort=` orders by "
        "another column. The `unowned` row comes last whatever the order. Each row carries "
        "`previous`: the same figures over the window compared with (like with like, as the "
        "summary). `cost` and `waste` are its pipelines' (cost and waste (window)), in the "
        "answer's `currency`; `sort=cost` and `sort=waste` rank by them.",
    ),
)
