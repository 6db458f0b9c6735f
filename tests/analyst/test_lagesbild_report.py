"""`lofte lagesbild` on the two-year data set of tests/load/test_lagesbild.py: the Markdown's numbers
against the known answers counted there, `--public` suppression, and the HTML page in a real browser."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from tests.analyst.test_report_html import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _browser_or_skip
from tests.load.test_lagesbild import (
    AREA,
    BURST_WEEK,
    ESKILSTUNA,
    YEARS,
    Data,
    _backfill,
    _expected,
    make_data,
)

UNTIL = date(2020, 3, 31)


@pytest.fixture
def data(tmp_path: Path) -> Data:
    return make_data(tmp_path)


def _lagesbild(url: str, *args: str) -> str:
    result = CliRunner().invoke(
        app,
        ["lagesbild", "--kommun", "0484", "--year", "2020", "--until", UNTIL.isoformat(), *args],
        env={"LOFTE_WAREHOUSE_URL": url},
    )
    assert result.exit_code == 0, result.output
    return result.output


def _table(text: str, caption: str) -> list[list[str]]:
    """The rows of the Markdown table under the first `**caption…**` after the narkotika heading."""
    section = text.split("## Ingripande narkotikabrott", 1)[1]
    block = section.split(f"**{caption}", 1)[1].split("\n\n", 2)[1]
    return [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()[2:]]


def test_markdown_shows_the_known_weeks_months_and_deviation(warehouse_url: str, data: Data) -> None:
    rows, files, promises, areas = data
    _backfill(warehouse_url, files, promises, areas, YEARS)
    text = _lagesbild(warehouse_url)
    assert text.startswith("# Lägesbild Eskilstuna (0484) 2020")
    expected = _expected(rows)
    last_year = {p["label"]: p["value"] for p in expected[(2019, "week")]}
    weeks = [p for p in expected[(2020, "week")] if p["start"] <= UNTIL][-8:]
    got = _table(text, "Senaste veckorna")
    assert [r[0] for r in got] == [f"v. {p['start'].isocalendar()[1]}" for p in weeks]
    assert [r[1] for r in got] == [f"{p['value']} ({last_year[p['label']]})" for p in weeks]
    assert [r[2] for r in got] == [
        f"{p['value'] * 100_000 / ESKILSTUNA[2020]:.1f}".replace(".", ",") for p in weeks
    ]
    burst = [r for r, p in zip(got, weeks, strict=True) if p["start"] == BURST_WEEK]
    assert burst[0][3] == "▲"
    months = _table(text, "Månader")
    assert [r[0] for r in months] == ["januari", "februari", "mars"]
    assert [int(r[1].split(" ")[0]) for r in months] == [p["value"] for p in expected[(2020, "month")][:3]]
    assert "Veckodag och tid på dygnet" in text


def test_public_suppresses_small_area_counts(duckdb_url: str, data: Data) -> None:
    _, files, promises, areas = data
    _backfill(duckdb_url, files, promises, areas, YEARS)
    text = _lagesbild(duckdb_url, "--public")
    for row in _table(text, "Per område"):
        for cell in row[1:]:
            for number in re.findall(r"(?<![<\d])\d+", cell):
                assert int(number) >= 3, (row, cell)


def test_html_renders_in_chromium_with_deviating_areas_on_the_map(
    duckdb_url: str, tmp_path: Path, data: Data
) -> None:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    _, files, promises, areas = data
    _backfill(duckdb_url, files, promises, areas, YEARS)
    page_file = tmp_path / "lagesbild.html"
    _lagesbild(duckdb_url, "--format", "html", "--out", str(page_file))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            problems: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            def refuse_network(route) -> None:  # only the page's own file may load
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    requests.append(route.request.url)
                    route.abort()

            page.route("**/*", refuse_network)
            page.goto(page_file.as_uri(), wait_until="load")
            measure = 'section[data-measure="narkotika-ingripanden"]'
            assert page.locator(f"{measure} table.lagesbild").count() == 4
            sparks = page.locator(f"{measure} figure.spark")
            assert sparks.count() >= 2  # the whole kommun and the areas
            box = sparks.first.locator("polyline.this-year").bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 5
            deviating = set(
                page.eval_on_selector_all("#map path.deviating-area", "ps => ps.map(p => p.dataset.area)")
            )
            assert AREA in deviating  # the burst week fell a third inside the area
            fill = page.eval_on_selector(f'#map path[data-area="{AREA}"]', "p => getComputedStyle(p).fill")
            assert fill == "rgb(179, 38, 30)"
            page.screenshot(path=str(ARTIFACTS / "lagesbild_html.png"), full_page=True)
            assert problems == [] and requests == []
        finally:
            browser.close()


def test_lagesbild_out_into_a_missing_folder_is_a_usage_error_before_reading(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    out = tmp_path / "nodir" / "l.md"
    arguments = ["lagesbild", "--kommun", "0484", "--year", "2020", "--out", str(out)]
    result = CliRunner().invoke(app, [*arguments, "--warehouse", str(warehouse)])
    assert result.exit_code == 2
    assert "no such folder" in result.output and "Traceback" not in result.output
    assert not warehouse.exists()  # nothing was opened, let alone created
