"""The demo's rate card: the published rates and the demo's own runners.

The demo organisation's rates on top of the published ones (``domain/published_rates.py``):
its larger GitHub runner (``ubuntu-latest-8-cores``: GitHub's Linux 8-core price, $0.032 a
minute until 2026-01-01 and $0.022 from then on), its self-hosted pools (made-up prices of
the user's own machines: $0.003 a minute for Linux, $0.05 for the GPU pool, matched by the
pattern ``*gpu*``; plus GitHub's announced $0.002 platform charge from 2026-03-01) and the
GitLab pool on its own Kubernetes runners (a made-up $0.004). Every demo label set is priced,
so the demo's costs are known (``demo/runners.py`` lists them)."""

from __future__ import annotations

from datetime import date

from cipulse.domain.billing import Rate
from cipulse.domain.published_rates import GITHUB_2026, PUBLISHED_RATES, SINCE_EVER

#: GitHub's announced (and postponed) platform charge for self-hosted runners.
PLATFORM_CHARGE_FROM = date(2026, 3, 1)

DEMO_RATES: tuple[Rate, ...] = (
    *PUBLISHED_RATES,
    Rate("github", "ubuntu-latest-8-cores", SINCE_EVER, 32_000),
    Rate("github", "ubuntu-latest-8-cores", GITHUB_2026, 22_000),
    Rate("github", "linux,self-hosted,x64", SINCE_EVER, 3_000),
    Rate("github", "linux,self-hosted,x64", PLATFORM_CHARGE_FROM, 3_000, 2_000),
    Rate("github", "*gpu*", SINCE_EVER, 50_000),
    Rate("github", "*gpu*", PLATFORM_CHARGE_FROM, 50_000, 2_000),
    Rate("gitlab", "docker,k8s,linux", SINCE_EVER, 4_000),
)
