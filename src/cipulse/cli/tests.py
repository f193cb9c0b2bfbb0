"""``cipulse tests …``: the flaky test rules, replayed on history.

The rules are documented in docs/metrics.md; a backtest reads stored results only."""

from __future__ import annotations

import click

from cipulse.analytics.flaky_tests import FlakyTestService
from cipulse.cli.context import Context, format_time, reports_errors, say, say_table
from cipulse.cli.test_quarantine import quarantine
from cipulse.domain.flaky_rules import RULES, RuleSettings
from cipulse.storage.clock import from_ms

org_option = click.option("--org", "org_name", required=True, help="Organisation.")


@click.group()
def tests() -> None:
    """Tests: the flaky rules (rules show|set), backtest, and the quarantine list."""


@tests.group("rules")
def rules() -> None:
    """The flaky test rules of an organisation (docs/metrics.md)."""


def _show(settings: RuleSettings) -> None:
    say_table(
        [
            ("SETTING", "VALUE"),
            ("rules", ",".join(settings.rules)),
            ("clear_after_passes", str(settings.clear_after_passes)),
            ("max_flip_failures", str(settings.max_flip_failures)),
        ]
    )


@rules.command("show")
@org_option
@click.pass_obj
@reports_errors
def rules_show(obj: Context, org_name: str) -> None:
    """Show which flaky rules apply, and their parameters."""
    _show(FlakyTestService(obj.database).settings(org_name))


@rules.command("set")
@org_option
@click.option("--rules", "chosen", help="The rules that apply, comma-separated: a, b, c.")
@click.option("--clear-after-passes", type=int, help="Passes in a row that end flakiness.")
@click.option("--max-flip-failures", type=int, help="Rule c: most failures between passes.")
@click.pass_obj
@reports_errors
def rules_set(
    obj: Context,
    org_name: str,
    chosen: str | None,
    clear_after_passes: int | None,
    max_flip_failures: int | None,
) -> None:
    """Change the flaky rules; what is not given stays as it was."""
    service = FlakyTestService(obj.database)
    now = service.settings(org_name)
    wanted = RuleSettings(
        tuple(r.strip() for r in chosen.split(",") if r.strip())
        if chosen is not None
        else now.rules,
        now.clear_after_passes if clear_after_passes is None else clear_after_passes,
        now.max_flip_failures if max_flip_failures is None else max_flip_failures,
    )
    _show(service.set_settings(org_name, wanted, "cli"))


@tests.command("backtest")
@org_option
@click.option("--rule", type=click.Choice(RULES), required=True, help="The rule replayed.")
@click.option("--days", type=int, default=90, show_default=True, help="Days of history.")
@click.option("--limit", type=int, default=50, show_default=True, help="Tests listed.")
@click.pass_obj
@reports_errors
def backtest(obj: Context, org_name: str, rule: str, days: int, limit: int) -> None:
    """Replay one flaky rule on the stored results of the last DAYS days: how many tests
    it would have flagged, and which, with their newest evidence (run and commit)."""
    found = FlakyTestService(obj.database).backtest(org_name, rule, days)
    evidence = sum(len(f.evidence) for f in found.flagged)
    say(
        f"rule {rule} over {days} days: {len(found.flagged)} of {found.tests_read} tests "
        f"flagged, {evidence} occurrences, {found.results_read} results read"
    )
    rows = [("TEST", "REPOSITORY", "OCCURRENCES", "NEWEST", "RUN", "COMMIT")]
    for flagged in found.flagged[:limit]:
        newest = flagged.evidence[-1]
        rows.append(
            (
                f"{flagged.case.class_name}::{flagged.case.name}",
                flagged.case.repository,
                str(len(flagged.evidence)),
                format_time(from_ms(newest.at_ms)),
                newest.run_key,
                (newest.commit_sha or "")[:12],
            )
        )
    if found.flagged:
        say_table(rows)


tests.add_command(quarantine)
