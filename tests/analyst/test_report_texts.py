"""The report in good Swedish: provenance instead of the run id, HOBIT codes as the contract spells
them, area names in `--public` (HTML too), singulars, the map legend complete, the format taken from
`--out`, and rejected rows explained and reconciled with the load audit."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from load.views import view
from load.warehouse import Warehouse
from pipeline.run import open_warehouse
from schemas import warehouse as w
from tests.analyst.test_report_html import KOMMUN, YEAR

REPORT = ["report", "--kommun", KOMMUN, "--year", str(YEAR)]


def _report(url: str, *args: str) -> str:
    done = CliRunner().invoke(app, [*REPORT, "--warehouse", url, *args])
    assert done.exit_code == 0, done.output
    return done.output


def test_html_header_says_data_until_and_when_made_not_the_run_id(loaded_duckdb: str) -> None:
    html = _report(loaded_duckdb, "--format", "html")
    header = html.split("<header>", 1)[1].split("</header>", 1)[0]
    assert re.search(
        r"Data t\.o\.m\. 2020-12-31 \(STATUS\), 2020-12-31 \(STORM\); framtagen \d{4}-\d\d-\d\d \d\d:\d\d",
        header,
    )
    assert "Körning" not in header and "Körning:" in html.split("</main>", 1)[1]  # a footnote


def test_hobit_codes_in_the_contracts_spelling_and_the_legend_names_the_outlines(loaded_duckdb: str) -> None:
    html = _report(loaded_duckdb, "--format", "html")
    legend = html.split('<table class="legend">', 1)[1].split("</table>", 1)[0]
    assert "ORDNINGSHÅLLNING" in legend and "ORDNINGSHALLNING" not in legend
    outlines = html.split('<table class="outlines">', 1)[1].split("</table>", 1)[0]
    layers = set(re.findall(r'data-layer="([^"]+)"', html.split('<svg id="map"', 1)[1].split("</svg>", 1)[0]))
    assert layers and all(f'data-layer="{layer}"' in outlines for layer in layers)
    assert "stroke-dasharray" in outlines  # the dashed outlines are explained


def test_public_tables_name_the_areas_in_markdown_and_html(loaded_duckdb: str) -> None:
    md = _report(loaded_duckdb, "--public")
    html = _report(loaded_duckdb, "--public", "--format", "html")
    visible = re.sub(r"<[^>]+>", " ", html)  # ids may stay in data- attributes, never in the text
    for text in (md, visible):
        assert "OUTSIDE" not in text and "NO_COORDINATES" not in text and "stadsdel-" not in text
    area_rows = re.findall(r"^\| ([^|]+) \| [^|]+ \| [^|]+ \| [^|]+ \|$", md.split("per område", 1)[1], re.M)
    names = {r.strip() for r in area_rows} - {"Område", "---"}
    assert names and all(f'<th scope="row">{name}</th>' in html for name in names)
    assert '<table class="areas"' in html


def test_out_suffix_picks_the_format(loaded_duckdb: str, tmp_path: Path) -> None:
    CliRunner().invoke(app, [*REPORT, "--warehouse", loaded_duckdb, "--out", str(tmp_path / "rapport.html")])
    assert (tmp_path / "rapport.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    CliRunner().invoke(app, [*REPORT, "--warehouse", loaded_duckdb, "--out", str(tmp_path / "rapport.csv")])
    assert (tmp_path / "rapport.csv").read_text(encoding="utf-8-sig").startswith("Avsnitt;")


def test_rejected_rows_are_explained_and_reconcile_with_the_load_audit(loaded_url: str) -> None:
    md = _report(loaded_url)
    quality = md.split("## Datakvalitet", 1)[1]
    store = Warehouse(loaded_url, read_only=True)
    with store.begin() as conn:
        rr = w.rejected_row
        for source, label in (("status", "STATUS"), ("storm", "STORM")):
            line = next(x for x in quality.splitlines() if x.startswith(f"- {label}:"))
            placed = conn.execute(
                sa.select(sa.func.count()).where(
                    rr.c.source == source, rr.c.kommunkod == KOMMUN, rr.c.year == YEAR
                )
            ).scalar_one()
            unplaced = conn.execute(
                sa.select(sa.func.count()).where(
                    rr.c.source == source, sa.or_(rr.c.kommunkod.is_(None), rr.c.year.is_(None))
                )
            ).scalar_one()
            assert f"{placed} rader avvisade (" in line and "saknas: " in line
            reasons = sum(int(n) for n in re.findall(r": (\d+)[,)]", line.split("avvisade (", 1)[1]))
            assert reasons == placed
            # The fixture's files all feed this kommun: every rejected row is accounted for.
            assert f"ytterligare {unplaced} rader utan läsbar kommun eller datum" in line
            audit = conn.execute(
                sa.select(sa.func.sum(w.load_file.c.rows_rejected)).where(w.load_file.c.source == source)
            ).scalar_one()
            others = conn.execute(
                sa.select(sa.func.count()).where(
                    rr.c.source == source, rr.c.kommunkod.is_not(None), rr.c.year.is_not(None),
                    sa.or_(rr.c.kommunkod != KOMMUN, rr.c.year != YEAR),
                )
            ).scalar_one()  # fmt: skip
            assert placed + unplaced + others == audit
    store.dispose()


def test_singular_forms_in_the_quality_lines(duckdb_url: str) -> None:
    store = open_warehouse(duckdb_url)
    with store.begin() as conn:
        values = {"kommunkod": "0484", "year": 2020, "rows_counted": 1, "rows_with_coordinates": 1}
        values |= {"rows_missing_coordinates": 0, "rows_rejected": 1, "run_id": "r"}
        for source in ("status", "storm", "activities"):
            conn.execute(
                sa.insert(w.source_quality).values(source=source, updated_at=sa.func.now(), **values)
            )
        quality = view("v_source_quality")
        lines: dict[str, str] = {
            source: line for source, line in conn.execute(sa.select(quality.c.source, quality.c.quality_line))
        }
    store.dispose()
    assert (
        lines["storm"] == "STORM: 1 händelserapport - 1 prick i kartan (0 saknar koordinater); 1 rad avvisad"
    )
    assert lines["status"] == "STATUS: 1 brott - 1 med koordinater (0 saknar koordinater); 1 rad avvisad"
    assert lines["activities"] == "Aktiviteter: 1 aktivitet; 1 rad avvisad"
