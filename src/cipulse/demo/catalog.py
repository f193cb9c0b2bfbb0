"""The demo's vocabulary: repositories, people, branch topics.

The vocabulary of the demo organisation: repository names, people, branch topics and the
shape of a working week. Data only; ``layout`` and ``blueprints`` draw from it."""

from __future__ import annotations

#: ``<system>-<kind>`` gives repository names such as ``payments-api`` or ``search-worker``.
SYSTEMS = (
    "payments",
    "billing",
    "checkout",
    "search",
    "catalog",
    "inventory",
    "identity",
    "notifications",
    "gateway",
    "orders",
    "shipping",
    "pricing",
    "recommendations",
    "reporting",
    "ledger",
    "onboarding",
    "messaging",
    "media",
    "profiles",
    "fraud",
    "warehouse",
    "scheduler",
    "feature-flags",
    "audit",
    "storefront",
    "support",
)
COMPONENTS = ("api", "service", "worker", "web", "sdk", "cli", "infra", "etl", "app")

#: The code host and owner each provider's repositories live under (GitLab has subgroups).
OWNERS = {
    "github": ("github.com", "acme"),
    "circleci": ("github.com", "acme"),
    "gitlab": ("gitlab.com", "acme-corp/platform"),
}
#: How the organisation's repositories are split between CI providers.
PROVIDER_SHARES = (("github", 0.6), ("gitlab", 0.25), ("circleci", 0.15))

#: The people who push. Bots have runs of their own on their own branches.
ACTORS = (
    "amara-okafor",
    "bjorn-lind",
    "chen-wei",
    "dana-levi",
    "emre-yilmaz",
    "fatima-zahra",
    "gus-moreau",
    "hana-sato",
    "ivan-petrov",
    "jo-nakamura",
    "kofi-mensah",
    "lena-fischer",
    "marco-rossi",
    "nadia-haddad",
    "oscar-ruiz",
    "priya-raman",
    "quinn-obrien",
    "rosa-jimenez",
    "sam-taylor",
    "tariq-aziz",
    "uma-krishnan",
    "victor-dubois",
    "wen-li",
    "ximena-castro",
    "yusuf-demir",
    "zoe-martin",
    "arjun-mehta",
    "bea-santos",
    "cole-jensen",
    "dmitri-volkov",
    "elif-kaya",
    "finn-murphy",
    "grace-kim",
    "hugo-lambert",
    "ines-duarte",
    "jonas-berg",
    "kira-novak",
    "leo-walsh",
    "mei-huang",
    "nils-andersen",
)
DEPENDENCY_BOTS = {"github": "dependabot[bot]", "circleci": "renovate[bot]", "gitlab": "renovate"}
BUMPED_PACKAGES = (
    "lodash",
    "axios",
    "requests",
    "pydantic",
    "golang.org/x/net",
    "jackson-databind",
    "webpack",
    "eslint",
    "urllib3",
    "react-dom",
    "typescript",
    "grpc",
)

BRANCH_PREFIXES = ("feature", "fix", "chore", "refactor", "perf", "test", "docs")
#: Branch topics; a commit headline is the topic as a sentence.
TOPICS = (
    "add-retry-to-webhooks",
    "cache-exchange-rates",
    "split-invoice-export",
    "paginate-order-history",
    "drop-legacy-endpoint",
    "tighten-input-validation",
    "faster-cold-start",
    "async-email-delivery",
    "batch-inventory-sync",
    "rate-limit-login",
    "fix-timezone-rounding",
    "upgrade-orm",
    "reduce-docker-image-size",
    "parallelise-test-suite",
    "idempotent-refunds",
    "structured-logging",
    "feature-flag-checkout",
    "remove-dead-code",
    "better-error-messages",
    "migrate-to-new-queue",
    "add-search-filters",
    "dark-mode",
    "dedupe-notifications",
    "speed-up-ci",
    "handle-partial-shipments",
    "rotate-signing-keys",
    "tracing-spans",
    "cleanup-fixtures",
    "gdpr-export",
    "postgres-16",
)
TICKET_PREFIXES = ("PAY", "CORE", "WEB", "OPS", "DATA", "APP", "SEC")

#: Relative CI traffic by weekday (Monday first) and by UTC hour: a team spread over Europe
#: and the Americas, quiet at night and at weekends.
WEEKDAY_TRAFFIC = (1.0, 1.05, 1.05, 1.0, 0.85, 0.22, 0.16)
HOURLY_TRAFFIC = (
    0.12,
    0.08,
    0.06,
    0.06,
    0.08,
    0.15,
    0.35,
    0.7,
    1.0,
    1.2,
    1.3,
    1.25,
    1.1,
    1.25,
    1.45,
    1.5,
    1.45,
    1.3,
    1.05,
    0.8,
    0.6,
    0.45,
    0.3,
    0.18,
)
#: Traffic grows over the history (the organisation hires): the newest day is this many
#: times busier than the oldest.
GROWTH_OVER_HISTORY = 1.4
