"""GitHub's and GitLab's published per-minute rates: a default rate card.

The rates cipulse offers to load into an organisation's rate card (``cipulse rates
load-defaults``, the settings page): list prices in USD, which an organisation changes or
removes like any rate it set. They ignore included minutes, free public repositories and
discounts. docs/metrics.md ("Cost: the default rates") cites where each comes from and when
it was read; a figure that could not be confirmed from the provider's own page is marked so
there and here.

GitHub, "Actions runner pricing" (docs.github.com/en/billing/reference/actions-runner-pricing,
standard runners' table, read in github/docs on 2026-12-07): Linux 2-core $0.008 until
2026-01-01 then $0.006; Windows 2-core $0.016 then $0.010; macOS 3- or 4-core $0.080 then
$0.062. The standard runners' labels (``ubuntu-*``, ``windows-*``, ``macos-*``) are priced
so; larger runners carry labels each organisation names, so they are not among the defaults.
Self-hosted runners have no default: what their minutes cost is the organisation's own
machines' price (unknown until set). GitHub announced a $0.002 per-minute platform charge for
self-hosted runners from 2026-03-01 and then postponed it (reported by third-party pages;
GitHub's own page for it was not found), so an organisation that is charged sets it as the
platform charge of its self-hosted rates.

GitLab, "Compute minutes" (docs.gitlab.com/ci/pipelines/compute_minutes/, "Cost factors for
GitLab-hosted runners", read 2026-12-07): each hosted runner type's cost factor. The price of
one compute minute, $0.01 ($10 per 1,000 minutes), is from third-party pages only and is NOT
confirmed from GitLab's own pricing page: each default GitLab rate is its cost factor * $0.01."""

from __future__ import annotations

from datetime import date

from cipulse.domain.billing import Rate

#: The day before any rate cipulse knows of: a rate from it applies to every earlier run.
SINCE_EVER = date(1970, 1, 1)
#: GitHub's hosted-runner price cut.
GITHUB_2026 = date(2026, 1, 1)
#: A GitLab compute minute in micro-USD (unconfirmed: see the module's docstring).
GITLAB_COMPUTE_MINUTE_MICROS = 10_000

#: (pattern, micro-USD a minute until 2026-01-01, from 2026-01-01).
_GITHUB_STANDARD = (
    ("ubuntu-*", 8_000, 6_000),
    ("windows-*", 16_000, 10_000),
    ("macos-*", 80_000, 62_000),
)

#: GitLab-hosted runner tags and their cost factors.
_GITLAB_COST_FACTORS = (
    ("saas-linux-small-amd64", 1),
    ("saas-linux-medium-amd64", 2),
    ("saas-linux-large-amd64", 3),
    ("saas-linux-xlarge-amd64", 6),
    ("saas-linux-2xlarge-amd64", 12),
    ("saas-linux-medium-amd64-gpu-standard", 7),
    ("saas-linux-small-arm64", 1),
    ("saas-linux-medium-arm64", 2),
    ("saas-linux-large-arm64", 3),
    ("saas-macos-medium-m1", 6),
    ("saas-macos-large-m2pro", 12),
    ("saas-windows-medium-amd64", 1),
)


def _github() -> list[Rate]:
    rates = []
    for pattern, before, after in _GITHUB_STANDARD:
        rates.append(Rate("github", pattern, SINCE_EVER, before))
        rates.append(Rate("github", pattern, GITHUB_2026, after))
    return rates


def _gitlab() -> list[Rate]:
    return [
        Rate("gitlab", tag, SINCE_EVER, factor * GITLAB_COMPUTE_MINUTE_MICROS)
        for tag, factor in _GITLAB_COST_FACTORS
    ]


#: The default rate card, in USD.
PUBLISHED_RATES: tuple[Rate, ...] = (*_github(), *_gitlab())
PUBLISHED_CURRENCY = "USD"
