"""`lofte report --format html` opened in a real headless Chromium (Debian's, driven by Playwright).

The page must render offline (every request other than the file itself is refused and counted), show the
published cells, a chart per measure, every event report with coordinates as a dot, and print. A
screenshot and a PDF are kept under tests/artifacts/ for a human look.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from tests.conftest import ESKILSTUNA_2020

EXPECTED = json.loads((ESKILSTUNA_2020 / "expected.json").read_text(encoding="utf-8"))
KOMMUN, YEAR = EXPECTED["kommunkod"], EXPECTED["year"]
ARTIFACTS = Path(__file__).parent.parent / "artifacts"
CHROMIUM = os.environ.get("LOFTE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _browser_or_skip() -> None:
    """Locally a missing browser skips; in CI (CI=true) it fails: CI must install it."""
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package"
    if missing is None and not shutil.which(CHROMIUM):
        missing = CHROMIUM
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} is not installed (CI installs it: apt-get install chromium)")
        pytest.skip(f"{missing} is not installed")


def _areas_valid_in(year: int) -> set[str]:
    features = json.loads((ESKILSTUNA_2020 / "areas.geojson").read_text(encoding="utf-8"))["features"]
    first, last = date(year, 1, 1), date(year, 12, 31)
    return {
        f["properties"]["area_id"]
        for f in features
        if (f["properties"].get("valid_from") or "0001-01-01") <= last.isoformat()
        and (f["properties"].get("valid_to") or "9999-12-31") >= first.isoformat()
    }


def test_html_report_renders_offline_in_chromium(loaded_duckdb: str, tmp_path: Path) -> None:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "report.html"
    result = CliRunner().invoke(
        app,
        ["report", "--kommun", KOMMUN, "--year", str(YEAR), "--format", "html", "--out", str(page_file)],
        env={"LOFTE_WAREHOUSE_URL": loaded_duckdb},
    )
    assert result.exit_code == 0, result.output
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            problems: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            def refuse_network(route) -> None:  # Playwright's Route: only the page's own file may load
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    requests.append(route.request.url)
                    route.abort()

            page.route("**/*", refuse_network)
            page.goto(page_file.as_uri(), wait_until="load")

            # The published cells, row by measure.
            for measure_id, tertials in EXPECTED["measures"].items():
                cells = page.locator(f'tr[data-measure="{measure_id}"] td.num').all_inner_texts()
                want = [
                    str(tertials["1"]["value"]),
                    *[f"{tertials[t]['value']} ({tertials[t]['cumulative_value']})" for t in ("2", "3")],
                ]
                assert cells == want, measure_id
                # Its chart: one bar per tertial with the tertial's value, drawn with a real size.
                bars = page.locator(f'figure.chart[data-measure="{measure_id}"] rect.bar')
                assert bars.count() == 3
                for i, t in enumerate(("1", "2", "3")):
                    assert bars.nth(i).get_attribute("data-value") == str(tertials[t]["value"])
                    box = bars.nth(i).bounding_box()
                    assert box is not None and (box["height"] > 0) == (tertials[t]["value"] > 0)
            target = page.locator('figure.chart[data-measure="trafikkontroller-utsatta-omraden"] line.target')
            assert target.get_attribute("data-target") == "200"

            # The map: every HR with coordinates a dot inside the drawing; the rest counted beside it.
            storm = EXPECTED["source_quality"]["storm"]
            dots = page.eval_on_selector_all(
                "#map circle", "cs => cs.map(c => Number(c.getAttribute('data-n') || 1))"
            )
            assert sum(dots) == storm["rows_with_coordinates"]
            inside = page.eval_on_selector(
                "#map",
                """svg => { const b = svg.viewBox.baseVal;
                    return [...svg.querySelectorAll('circle')].every(c =>
                        c.cx.baseVal.value >= 0 && c.cx.baseVal.value <= b.width &&
                        c.cy.baseVal.value >= 0 && c.cy.baseVal.value <= b.height); }""",
            )
            assert inside
            line = page.locator("p.dots-line").inner_text()
            assert line == (
                f"STORM: {storm['rows_counted']} händelserapporter - {storm['rows_with_coordinates']} "
                f"prickar i kartan ({storm['rows_missing_coordinates']} saknar koordinater)"
            )
            drawn = set(page.eval_on_selector_all("#map path.area", "ps => ps.map(p => p.dataset.area)"))
            assert drawn == _areas_valid_in(YEAR)  # Årby as utsatt område only from 2024: not drawn

            page.screenshot(path=str(ARTIFACTS / "report_html.png"), full_page=True)
            page.emulate_media(media="print")
            page.pdf(path=str(ARTIFACTS / "report_html.pdf"), format="A4", print_background=True)
            assert (ARTIFACTS / "report_html.pdf").stat().st_size > 10_000
            assert problems == [] and requests == []
        finally:
            browser.close()
