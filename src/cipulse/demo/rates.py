"""The demo's rate card: the published rates and the demo's own runners.

The demo organisation's rates on top of the published ones (``domain/published_rates.py``):
its larger GitHub runner (``ubuntu-latest-8-cores``: GitHub's Linux 8-core price, $0.032 a
minute until 2026-01-01 and $0.022 from then on), its self-hosted pools (made-up prices of
the user's own machines: $0.003 a minute for Linux, $0.05 for the GPU pool, matched by the
pattern ``*gpu*``; plus GitHub's announced $0.002 platform charge from 2026-03-01) and the
GitLab pool on its own Kubernetes runners (a made-up $0.004).

CircleCI's resource classes, at CircleCI's credits a minute times the price of a credit:
``docker/medium`` 10 credits a minute (CircleCI's pricing page, circleci.com/pricing: the
Medium compute option, 2 vCPUs and 4 GB, "uses 10 credits per minute"), ``docker/large`` 20
(from third-party pages only, not confirmed from CircleCI's own), a credit $0.0006 ($15 per
25,000 credits, from third-party pages only): $0.006 and $0.012 a minute. CircleCI consumes
credits by the second, so exact minutes (``domain/billing.py``) bill as it does.

Jenkins' agent pools are the organisation's own machines: made-up prices, $0.006 a minute
for ``linux-large``, $0.003 for ``linux-medium`` and ``docker``.

Every demo label set is priced, so the demo's costs are known (``demo/runners.py`` and the
Jenkins pools of ``demo/layout.py`` list them); only jobs that never started (no runner)
are unpriced, and they bill no time."""

from __future__ import annotations

from datetime import date

from cipulse.domain.billing import Rate
from cipulse.domain.published_rates import GITHUB_2026, PUBLISHED_RATES, SINCE_EVER

#: GitHub's announced (and postponed) platform charge for self-hosted runners.
PLATFORM_CHARGE_FROM = date(2026, 3, 1)
#: A CircleCI credit in micro-USD ($15 per 25,000 credits; third-party pages only).
CIRCLECI_CREDIT_MICROS = 600
#: The Jenkins agent pools (``layout.JENKINS_AGENT_POOLS``), micro-USD a minute: made up.
JENKINS_POOL_PRICES = {"linux-large": 6_000, "linux-medium": 3_000, "docker": 3_000}

DEMO_RATES: tuple[Rate, ...] = (
    *PUBLISHED_RATES,
    Rate("github", "ubuntu-latest-8-cores", SINCE_EVER, 32_000),
    Rate("github", "ubuntu-latest-8-cores", GITHUB_2026, 22_000),
    Rate("github", "linux,self-hosted,x64", SINCE_EVER, 3_000),
    Rate("github", "linux,self-hosted,x64", PLATFORM_CHARGE_FROM, 3_000, 2_000),
    Rate("github", "*gpu*", SINCE_EVER, 50_000),
    Rate("github", "*gpu*", PLATFORM_CHARGE_FROM, 50_000, 2_000),
    Rate("gitlab", "docker,k8s,linux", SINCE_EVER, 4_000),
    Rate("circleci", "docker/medium", SINCE_EVER, 10 * CIRCLECI_CREDIT_MICROS),
    Rate("circleci", "docker/large", SINCE_EVER, 20 * CIRCLECI_CREDIT_MICROS),
    *(Rate("jenkins", pool, SINCE_EVER, price) for pool, price in JENKINS_POOL_PRICES.items()),
)
