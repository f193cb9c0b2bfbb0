"""Smoke test of the browser harness: headless Chromium reaches a real cipulse server, the
vendored ECharts loads and draws, and a JavaScript error on a page is caught."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import ColorScheme, LiveServer

pytestmark = pytest.mark.browser

ECHARTS = Path(__file__).resolve().parents[2] / "src/cipulse/web/static/vendor/echarts.min.js"


def test_the_browser_reaches_a_real_server(page: Page, live_server: LiveServer) -> None:
    response = page.goto(f"{live_server.url}/healthz")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    # Chromium shows a JSON document as its text in a <pre>.
    health = json.loads(page.locator("pre").first.inner_text())
    assert {k: health[k] for k in ("status", "database", "checks")} == {
        "status": "ok",
        "database": "sqlite",
        "checks": {"read": "ok", "write": "ok"},
    }
    assert health["rollups"]["failing_partitions"] == 0


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_vendored_echarts_draws_a_line_chart(
    page: Page, color_scheme: ColorScheme, screenshot: Callable[..., Path]
) -> None:
    page.set_content('<div id="chart" style="width: 600px; height: 300px"></div>')
    page.add_script_tag(path=ECHARTS)
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") is (
        color_scheme == "dark"
    )
    version = page.evaluate("window.echarts.version")
    assert version.startswith("5.")

    drawn = page.evaluate(
        """() => {
            const chart = echarts.init(document.getElementById("chart"), null,
                                       {renderer: "canvas"});
            chart.setOption({
                animation: false,
                xAxis: {type: "category", data: ["Mon", "Tue", "Wed", "Thu", "Fri"]},
                yAxis: {type: "value"},
                series: [{type: "line", data: [12, 9, 15, 7, 11]}],
            });
            const canvas = chart.getDom().querySelector("canvas");
            return {
                points: chart.getOption().series[0].data.length,
                elements: chart.getZr().storage.getDisplayList().length,
                canvas: canvas && [canvas.clientWidth, canvas.clientHeight],
                firstPoint: chart.convertToPixel({seriesIndex: 0}, [0, 12]),
            };
        }"""
    )
    assert drawn["points"] == 5
    assert drawn["elements"] > 10  # axes, labels, the line and its symbols
    assert drawn["canvas"] == [600, 300]
    x, y = drawn["firstPoint"]
    assert 0 < x < 600 and 0 < y < 300

    path = screenshot(page, f"smoke-echarts-{color_scheme}")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_javascript_errors_on_the_page_are_recorded(page: Page) -> None:
    with page.expect_event("pageerror"):
        page.set_content(
            "<script>console.error('logged on purpose');</script>"
            "<script>throw new TypeError('thrown on purpose');</script>"
        )
    errors: list[str] = page.js_errors  # type: ignore[attr-defined]
    assert len(errors) == 2
    assert errors[0].startswith("console.error: logged on purpose")
    assert errors[1].startswith("uncaught TypeError: thrown on purpose")
    errors.clear()  # provoked on purpose: the page fixture would fail the test on them
