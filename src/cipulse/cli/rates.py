"""``cipulse rates …``: an organisation's rate card and currency.

``cipulse rates …``: the prices per minute that turn CI time into money, and the currency."""

from __future__ import annotations

import click

from cipulse.accounts.rates import RateService, parse_rate
from cipulse.cli.context import Context, reports_errors, say, say_table
from cipulse.domain.billing import rounding_rule
from cipulse.domain.money import money_text
from cipulse.domain.published_rates import PUBLISHED_CURRENCY

org_option = click.option("--org", "org_name", required=True, help="Organisation.")


@click.group()
def rates() -> None:
    """Rate card: list, set, remove, load-defaults, currency."""


@rates.command("list")
@org_option
@click.pass_obj
@reports_errors
def rates_list(obj: Context, org_name: str) -> None:
    """List an organisation's rates per minute, by provider, pattern and day."""
    card = RateService(obj.database).card_of(org_name)
    rows = [("PROVIDER", "PATTERN", "FROM", f"PRICE ({card.currency})", "PLATFORM", "BILLED")]
    for rate in card.rates:
        rows.append(
            (
                rate.provider,
                rate.pattern,
                rate.effective.isoformat(),
                money_text(rate.price_micros) or "",
                money_text(rate.platform_micros) or "",
                rounding_rule(rate.provider),
            )
        )
    say_table(rows)
    if len(rows) == 1:
        say(f"no rates for {org_name!r}: costs are unknown until some are set")
        say(f"(cipulse rates load-defaults --org {org_name} loads GitHub's and GitLab's)")


@rates.command("set")
@click.argument("provider")
@click.argument("pattern")
@click.argument("price")
@org_option
@click.option(
    "--platform", default="0", show_default=True, help="A per-minute platform charge on top."
)
@click.option(
    "--from",
    "effective",
    default=None,
    help="The day (YYYY-MM-DD, UTC) the price applies from [default: every day].",
)
@click.pass_obj
@reports_errors
def rates_set(
    obj: Context,
    provider: str,
    pattern: str,
    price: str,
    org_name: str,
    platform: str,
    effective: str | None,
) -> None:
    """Price PROVIDER's jobs on runners matching PATTERN at PRICE a minute.

    PROVIDER is github, gitlab, another provider's name or * (every provider). PATTERN is a
    label set (ubuntu-latest, or self-hosted,linux,x64 in any order) or a pattern where *
    stands for any text (*gpu*; * alone: every known label set). PRICE is in the
    organisation's currency, at most six decimals (0.006). A later --from day starts a new
    price without changing what earlier runs cost."""
    rate = parse_rate(provider, pattern, price, platform, effective)
    RateService(obj.database).set_rates(org_name, [rate])
    charge = f" + {money_text(rate.platform_micros)} platform" if rate.platform_micros else ""
    say(
        f"{rate.provider} jobs on {rate.pattern} cost {money_text(rate.price_micros)}{charge} "
        f"a minute from {rate.effective.isoformat()} ({rounding_rule(rate.provider)})"
    )


@rates.command("remove")
@click.argument("provider")
@click.argument("pattern")
@org_option
@click.option("--from", "effective", default=None, help="Only the rate from this day.")
@click.pass_obj
@reports_errors
def rates_remove(
    obj: Context, provider: str, pattern: str, org_name: str, effective: str | None
) -> None:
    """Remove PROVIDER's rates for PATTERN (every effective day, or the one --from)."""
    removed = RateService(obj.database).remove(org_name, provider, pattern, effective)
    say(f"removed {removed} rate{'s' if removed != 1 else ''}")


@rates.command("load-defaults")
@org_option
@click.pass_obj
@reports_errors
def rates_load_defaults(obj: Context, org_name: str) -> None:
    """Add GitHub's and GitLab's published rates (docs/metrics.md cites them), in USD.

    Replaces the rates of the same provider, pattern and day; keeps every other one."""
    service = RateService(obj.database)
    loaded = service.load_defaults(org_name)
    say(f"loaded {loaded} published rates into {org_name!r}")
    currency = service.card_of(org_name).currency
    if currency != PUBLISHED_CURRENCY:
        say(f"note: they are in {PUBLISHED_CURRENCY}, the organisation's currency is {currency}")


@rates.command("currency")
@click.argument("code", required=False)
@org_option
@click.pass_obj
@reports_errors
def rates_currency(obj: Context, code: str | None, org_name: str) -> None:
    """Show the organisation's currency, or set it to CODE (ISO 4217: USD, EUR…).

    Prices are not converted: set the rates in the new currency too."""
    service = RateService(obj.database)
    if code is None:
        click.echo(service.card_of(org_name).currency)
        return
    say(f"the currency of {org_name!r} is now {service.set_currency(org_name, code)}")
