"""Personnummer typed into ordinary columns never reach the warehouse, the audit, Prefect, a report or an
export: real `lofte` processes, then every table, every output and Prefect's files are searched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from schemas import warehouse as w
from tests.conftest import ESKILSTUNA_2020
from tests.robustness.conftest import PrefectServer, run_lofte
from tests.robustness.corpus import write_csv
from transform.personnummer import REDACTED

pytestmark = pytest.mark.flow
PROMISES, AREAS = ESKILSTUNA_2020 / "promises.yaml", ESKILSTUNA_2020 / "areas.geojson"
PLANTED = ["198511111111", "19850222-2222", "19850909-9012", "860101-0101", "19870303-3333"]
# A Händelsenummer is a key, validated by its own format: 10 digits that read as a date stay as they are.
DATE_LIKE_KEY = "8501011234"


def _dump(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [f"{t.name}: {row!r}" for t in w.metadata.sorted_tables for row in conn.execute(sa.select(t))]
    engine.dispose()
    return rows


def test_personnummer_in_ordinary_columns_are_redacted_everywhere(
    duckdb_url: str, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    status = write_csv(
        tmp_path / "status.csv",
        ["Ärendenummer", "Brottsnummer", "Brottskod", "Registreringsdatum", "Kommunkod", "Kommun"],
        [
            ["5000-K000001-20", "1", "5010", "2020-03-04 10:00", "0484", "Erik 198511111111"],
            ["5000-K000002-20", "1", "5010", "2020-03-04 10:00", "19870303-3333", "Eskilstuna"],  # rejected
        ],
    )
    storm = write_csv(
        tmp_path / "storm.csv",
        ["Händelsenummer", "Starttid", "HOBIT", "Kommunkod", "Plats"],
        [
            ["2024840140", "2020-05-01T10:00:00+02:00", "TRAFIKKONTROLL", "0484", "Hos Bertil 19850222-2222"],
            [DATE_LIKE_KEY, "2020-05-02T10:00:00+02:00", "PNR 19850909-9012 DAVID", "0484", "Torget"],
        ],
    )
    activities = write_csv(
        tmp_path / "aktiviteter.csv",
        ["Datum", "Aktivitet", "Plats", "Kommunkod"],
        [["2020-03-03", "Trygghetsvandring", "Hos Helena 860101-0101", "0484"]],
    )
    args = ["--promises", str(PROMISES), "--areas", str(AREAS), "--warehouse", duckdb_url]
    done = run_lofte(
        prefect_server,
        "run",
        *args,
        "--status",
        str(status),
        "--storm",
        str(storm),
        "--activities",
        str(activities),
    )
    assert done.returncode == 0, done.stderr
    outputs = [done.stdout, done.stderr]
    assert "values held a personnummer" in done.stdout

    reports = tmp_path / "reports"
    reports.mkdir()
    for fmt in ("md", "csv", "html"):
        shown = run_lofte(
            prefect_server, "report", "--kommun", "0484", "--year", "2020", "--format", fmt,
            "--out", str(reports / f"report.{fmt}"), "--warehouse", duckdb_url,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        outputs += [shown.stdout, shown.stderr, (reports / f"report.{fmt}").read_text(encoding="utf-8")]
    audit = run_lofte(prefect_server, "audit", "--warehouse", duckdb_url)
    assert audit.returncode == 0, audit.stderr
    outputs += [audit.stdout, audit.stderr]
    assert "2 values held a personnummer" in audit.stdout  # storm.csv: Plats and HOBIT
    exported = run_lofte(
        prefect_server,
        "export",
        "--out",
        str(tmp_path / "export"),
        "--format",
        "csv",
        "--warehouse",
        duckdb_url,
    )
    assert exported.returncode == 0, exported.stderr
    outputs += [p.read_text(encoding="utf-8-sig") for p in (tmp_path / "export").rglob("*.csv")]

    stored = _dump(duckdb_url)
    prefect_files = b"".join(p.read_bytes() for p in prefect_server.home.rglob("*") if p.is_file())
    for planted in PLANTED:
        for text in outputs + stored:
            assert planted not in text, text
        assert planted.encode() not in prefect_files

    joined = "\n".join(stored)
    assert f"Erik {REDACTED}" in joined and f"Hos Bertil {REDACTED}" in joined
    assert f"PNR {REDACTED.upper()} DAVID" in joined  # HOBIT codes are folded to upper case after it
    assert f"Hos Helena {REDACTED}" in joined
    assert DATE_LIKE_KEY in joined  # the key is kept
    assert any(REDACTED in text for text in outputs[2:])  # the report shows the mark, not the number
    shutil.rmtree(tmp_path / "export")
