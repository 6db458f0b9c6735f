"""No CSV lofte writes can run a formula in a spreadsheet: text cells beginning with `=`, `+`, `-`, `@`,
tab or CR get a leading `'`; numbers stay numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from pipeline.config import read_config
from pipeline.run import load_exports
from report.csvfile import csv_text, neutralise, write_csv
from schemas.contracts import Source
from tests.conftest import ESKILSTUNA_2020
from tests.robustness.corpus import write_csv as write_export

HOSTILE = [
    '=HYPERLINK("http://evil.example/x","klicka")',
    "@SUM(1+1)",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "\t=1+1",
]


@pytest.mark.parametrize("value", [*HOSTILE, "\r=1"])
def test_a_formula_gets_a_leading_apostrophe(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Göksten", "5000-K1-20", "479 (1019)", "", "'=x", "a=b", 7, -2, None])
def test_other_values_are_unchanged(value: object) -> None:
    assert neutralise(value) == value


def test_numbers_stay_numbers_and_text_is_neutralised(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "plats": pd.Series(["=1+1", "-2", None], dtype="str"),
            "n": pd.Series([-2, 3, None], dtype="Int64"),
            "x": [-2.5, 0.5, 1.0],
            "kod": pd.Series(["@a", "b", "+c"], dtype=object),
        }
    )
    rows = list(csv.reader(csv_text(frame).splitlines(), delimiter=";"))
    assert rows[1] == ["'=1+1", "-2", "-2.5", "'@a"]
    assert rows[2] == ["'-2", "3", "0.5", "b"]  # "-2" as text is text: neutralised like any other
    written = write_csv(frame, tmp_path / "f.csv").read_bytes()
    assert written.startswith(b"\xef\xbb\xbf") and b";-2;-2,5;" in written and b"\r\n" in written


def test_export_and_report_csv_neutralise_values_from_the_exports(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    status = write_export(
        tmp_path / "status.csv",
        ["Ärendenummer", "Brottsnummer", "Brottskod", "Registreringsdatum", "Kommunkod", "Kommun"],
        [["5000-K000001-20", "1", "5010", "2020-03-04 10:00", "0484", HOSTILE[3]]],
    )
    storm = write_export(
        tmp_path / "storm.csv",
        ["Händelsenummer", "Starttid", "HOBIT", "Kommunkod", "Plats", "Enhet"],
        [["2024840140", "2020-05-01T10:00:00+02:00", HOSTILE[0], "0484", HOSTILE[1], HOSTILE[4]]],
    )
    activities = write_export(
        tmp_path / "aktiviteter.csv",
        ["Datum", "Aktivitet", "Plats", "Kommunkod"],
        [["2020-03-03", "Trygghetsvandring", HOSTILE[2], "0484"]],
    )
    promises = tmp_path / "promises.yaml"
    text = (ESKILSTUNA_2020 / "promises.yaml").read_text(encoding="utf-8")
    promises.write_text(text.replace("label: Trygghetsvandring", "label: '=1+2'"), encoding="utf-8")
    files = [(Source.STATUS, status), (Source.STORM, storm), (Source.ACTIVITIES, activities)]
    load_exports(url, files, read_config([promises], ESKILSTUNA_2020 / "areas.geojson", None))

    runner = CliRunner()
    done = runner.invoke(
        app, ["export", "--out", str(tmp_path / "ut"), "--format", "csv", "--warehouse", url]
    )
    assert done.exit_code == 0, done.output
    report = tmp_path / "rapport.csv"
    args = [
        "report",
        "--kommun",
        "0484",
        "--year",
        "2020",
        "--format",
        "csv",
        "--public",
        "--out",
        str(report),
    ]
    done = runner.invoke(app, [*args, "--warehouse", url])
    assert done.exit_code == 0, done.output

    cells: list[str] = []
    for path in [report, *(tmp_path / "ut").rglob("*.csv")]:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            cells += [cell for row in csv.reader(handle, delimiter=";") for cell in row]
    assert cells
    dangerous = [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert dangerous == []
    for value in ["'@SUM(1+1)", "'+cmd|' /C calc'!A0", "'-2+3", "'=1+2"]:
        assert value in cells, value
    assert any(c.startswith("'=HYPERLINK") for c in cells)
