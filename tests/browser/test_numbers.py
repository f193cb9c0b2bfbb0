"""Every number a page shows is the read API's, in real Chromium, on SQLite and PostgreSQL.

Each figure is read off the rendered page as a reader sees it (text such as ``1,234``,
``95.3%``, ``12m 05s``, ``47.6`` under a header naming its unit, ``1,299 h``), turned back into
a number, and compared with the read API's answer for the same view within the precision the
page shows: the overview's key figures and both windows' values, every row and column of the
Pipelines, Jobs and Flaky tables, and the Flaky page's heading, summed over the whole list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.test_dashboard import api, demo_server, sign_in

__all__ = ["demo_server"]  # a fixture, used by name

#: Seconds in each unit a page writes a duration in.
UNITS = {"d": 86400.0, "h": 3600.0, "min": 60.0, "m": 60.0, "s": 1.0}
NUMBER = r"-?[\d,]+(?:\.\d+)?"

TABLE_OF_PAGE = """(table) => {
  const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
  return [...table.querySelectorAll('tbody tr')].map((row) => ({
    key: row.dataset.jobKey || null,
    link: (row.querySelector('a[href*="/pipelines/"]') || {href: null}).href,
    cells: [...row.children]
      .map((cell, index) => ({field: cell.dataset.field, text: cell.textContent.trim(),
                              head: heads[index] || ''}))
      .filter((cell) => cell.field),
  }));
}"""


def decimals(text: str) -> int:
    return len(text.partition(".")[2])


def shown(text: str, unit_of_column: str | None = None) -> tuple[float, float] | None:
    """The value a page's text stands for and how far off it may be from rounding (half of
    its last digit), in the API's units (seconds, ratios, counts); None for "—"."""
    text = text.strip()
    if text == "—":
        return None
    if match := re.fullmatch(rf"({NUMBER})%", text):
        digits = match.group(1)
        return float(digits) / 100, 0.5 * 10 ** -decimals(digits) / 100
    if match := re.fullmatch(rf"({NUMBER}) h", text):
        digits = match.group(1).replace(",", "")
        return float(digits) * 3600, 0.5 * 10 ** -decimals(digits) * 3600
    parts = re.findall(r"(\d+(?:\.\d+)?)(d|h|m|s)\b", text)
    if parts and re.fullmatch(r"(?:\d+(?:\.\d+)?(?:d|h|m|s)\s*)+", text):
        seconds = sum(float(value) * UNITS[unit] for value, unit in parts)
        value, unit = parts[-1]
        return seconds, 0.5 * 10 ** -decimals(value) * UNITS[unit]
    match = re.fullmatch(NUMBER, text)
    assert match, f"not a figure: {text!r}"
    digits = text.replace(",", "")
    scale = UNITS[unit_of_column] if unit_of_column else 1.0
    return float(digits) * scale, 0.5 * 10 ** -decimals(digits) * scale


def unit_in(header: str) -> str | None:
    match = re.search(r"\((d|h|min|s)\)", header)
    return match.group(1) if match else None


def agrees(text: str, expected: float | None, unit: str | None = None) -> bool:
    found = shown(text, unit)
    if found is None or expected is None:
        return found is None and expected is None
    value, tolerance = found
    return abs(value - expected) <= tolerance * 1.0001 + 1e-9


def last_figure(text: str) -> str:
    """The figure a card's "previous …" line ends with: ``1,234``, ``95.3%``, ``1,299 h``,
    ``42s``, or a duration of two parts (``1h 02m``, ``12m 05s``)."""
    words = text.split()
    if len(words) >= 2 and (words[-1] == "h" or re.fullmatch(r"\d\d[ms]", words[-1])):
        return " ".join(words[-2:])
    return words[-1]


def check_table(page: Page, selector: str, api_rows: dict[str, dict[str, Any]]) -> int:
    """Every cell with a ``data-field`` equals the API row's field; returns the cells seen."""
    rows = page.locator(selector).evaluate(TABLE_OF_PAGE)
    assert rows, f"no rows in {selector}"
    seen = 0
    for row in rows:
        key = row["key"] or re.search(r"/pipelines/([^/?#]+)", row["link"] or "").group(1)
        expected = api_rows[key]
        for cell in row["cells"]:
            if cell["field"] == "level":
                assert cell["text"] == expected["level"]
                continue
            field = cell["field"]
            if field.startswith("failed_"):  # a class's column: failures_by_class.<class>
                wanted = expected["failures_by_class"][field.removeprefix("failed_")]
            else:
                wanted = expected[field]
            assert agrees(cell["text"], wanted, unit_in(cell["head"])), (
                f"{selector} {key} {cell['field']}: page {cell['text']!r}, API {wanted!r}"
            )
            seen += 1
    return seen


@pytest.mark.usefixtures("demo_server")
def test_every_number_on_the_pages_is_the_read_apis(demo_server: str, page: Page) -> None:
    url = demo_server
    sign_in(page, url)

    summary = api(page, url, "/api/v1/analytics/summary")
    cards = page.get_by_role("region", name="Key figures").locator(".kpi[data-metric]")
    assert cards.count() >= 6
    for card in cards.all():
        metric = card.get_attribute("data-metric") or ""
        value = card.locator("[data-value]").inner_text()
        assert agrees(value, summary[metric]), f"overview {metric}: {value!r} vs {summary[metric]}"
        previous_text = card.locator(".previous").inner_text()
        before = (summary.get("previous") or {}).get(metric)
        figure = last_figure(previous_text)
        assert agrees(figure, before), f"overview {metric} before: {previous_text!r} vs {before}"

    costs = api(page, url, "/api/v1/analytics/costs")
    for card in page.locator('.kpis[aria-label^="Cost in"] .kpi[data-metric]').all():
        metric = card.get_attribute("data-metric") or ""
        value = card.locator("[data-value]").inner_text().removesuffix(f" {costs['currency']}")
        value = value.removesuffix(" min")
        expected = costs[metric]
        if value == "unknown":  # no rate prices any of its minutes: null, never 0
            assert expected is None, (metric, expected)
        else:
            assert agrees(value, float(expected)), (metric, value, expected)
    page.goto(url + "/pipelines")
    pipelines = api(page, url, "/api/v1/pipelines?limit=1000")["items"]
    assert check_table(page, 'table[data-table="pipelines"]', {row["id"]: row for row in pipelines})

    page.goto(url + "/jobs")
    jobs = api(page, url, "/api/v1/analytics/jobs?limit=1000")["items"]
    by_key = {f"{row['pipeline_id']}/{row['definition_key']}": row for row in jobs}
    assert check_table(page, "main table", by_key)
    # Mean queue per job is a column like the others (this small demo has no GitHub or
    # GitLab jobs, so each is "—": test_webhooks_github shows the figures).
    assert "Mean queue" in (page.locator("main table thead").text_content() or "")

    page.goto(url + "/flaky")
    flaky = api(page, url, "/api/v1/analytics/flaky?limit=1000")["items"]
    if flaky:
        by_key = {f"{row['pipeline_id']}/{row['definition_key']}": row for row in flaky}
        assert check_table(page, "main table", by_key)
        heading = page.locator("main h2").first.inner_text()
        count = re.match(r"([\d,]+) flaky job", heading)
        assert count and int(count.group(1).replace(",", "")) == len(flaky)
        cost = re.search(rf"retries cost ({NUMBER} h)", heading)
        assert cost and agrees(cost.group(1), sum(row["retry_compute_seconds"] for row in flaky))
