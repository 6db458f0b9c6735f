"""`lofte export`: Parquet and Excel-ready CSV per kommun and year, read back and checked."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from cli import app
from load.warehouse import Warehouse
from read.export import EXPORTS, export
from tests.conftest import ESKILSTUNA_2020

EXPECTED = json.loads((ESKILSTUNA_2020 / "expected.json").read_text(encoding="utf-8"))
KOMMUN, YEAR = EXPECTED["kommunkod"], EXPECTED["year"]


def test_export_writes_both_formats_that_read_back_alike(loaded_url: str, tmp_path: Path) -> None:
    store = Warehouse(loaded_url)
    try:
        with store.begin() as conn:
            result = export(conn, tmp_path, [KOMMUN], [YEAR])
    finally:
        store.dispose()
    folder = tmp_path / KOMMUN / str(YEAR)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{name}.{ext}" for name in EXPORTS for ext in ("parquet", "csv")
    )
    for name in EXPORTS:
        csv_path = folder / f"{name}.csv"
        assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
        as_csv = pd.read_csv(
            csv_path, sep=";", decimal=",", encoding="utf-8-sig", dtype=str, keep_default_na=False
        )
        as_parquet = pd.read_parquet(folder / f"{name}.parquet")
        assert len(as_csv) == len(as_parquet) == result.rows[(KOMMUN, YEAR, name)]
        assert list(as_csv.columns) == list(as_parquet.columns)
        assert set(as_csv["kommunkod"]) <= {KOMMUN}  # codes keep their leading zero
    quality = EXPECTED["source_quality"]
    brott = pd.read_parquet(folder / "brott.parquet")
    assert len(brott) == quality["status"]["rows_counted"]
    assert brott["nord"].notna().sum() == quality["status"]["rows_with_coordinates"]
    hr = pd.read_csv(folder / "handelserapporter.csv", sep=";", decimal=",", encoding="utf-8-sig", dtype=str)
    assert len(hr) == quality["storm"]["rows_counted"]
    # Decimal comma: a SWEREF 99 TM northing reads back as a number in the Swedish convention.
    northing = pd.to_numeric(hr["nord"].dropna().str.replace(",", ".", regex=False))
    assert northing.between(6_130_000, 7_675_000).all()
    table = pd.read_csv(folder / "uppfoljning_tabell.csv", sep=";", encoding="utf-8-sig", dtype=str)
    narkotika = table.set_index("measure_id").loc["narkotika-ingripanden"]
    t2 = EXPECTED["measures"]["narkotika-ingripanden"]["2"]
    assert narkotika["tertial_2"] == f"{t2['value']} ({t2['cumulative_value']})"


def test_export_command(loaded_duckdb: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["export", "--out", str(tmp_path), "--kommun", "484", "--year", str(YEAR), "--format", "csv"],
        env={"LOFTE_WAREHOUSE_URL": loaded_duckdb},
    )
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / KOMMUN / str(YEAR)).iterdir())
    assert written == sorted(f"{name}.csv" for name in EXPORTS)
    bad = CliRunner().invoke(app, ["export", "--out", str(tmp_path), "--format", "xls"])
    assert bad.exit_code == 2


def test_export_keeps_types_names_the_kommun_and_types_empty_views(loaded_url: str, tmp_path: Path) -> None:
    store = Warehouse(loaded_url)
    try:
        with store.begin() as conn:
            result = export(conn, tmp_path)
    finally:
        store.dispose()
    folder = tmp_path / KOMMUN / str(YEAR)
    brott = pq.read_schema(folder / "brott.parquet")
    assert brott.field("datum").type == pa.date32() and brott.field("brottsdatum").type == pa.date32()
    hr = pd.read_parquet(folder / "handelserapporter.parquet")
    assert pq.read_schema(folder / "handelserapporter.parquet").field("datum").type == pa.date32()
    assert set(hr["kommun"]) == {"Eskilstuna"}
    empty = [(k, y, name) for (k, y, name), n in result.rows.items() if n == 0]
    assert empty  # the fixture has partitions without some sources
    for k, y, name in empty:
        schema = pq.read_schema(tmp_path / k / str(y) / f"{name}.parquet")
        assert not any(pa.types.is_null(f.type) for f in schema) and "kommunkod" in schema.names
        header = (tmp_path / k / str(y) / f"{name}.csv").read_text(encoding="utf-8-sig").splitlines()
        assert header and header[0].startswith(schema.names[0])
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    mine = next(p for p in manifest["partitions"] if (p["kommunkod"], p["year"]) == (KOMMUN, YEAR))
    assert mine["files"]["brott"] == result.rows[(KOMMUN, YEAR, "brott")]
    assert mine["data_until"]["status"].startswith(str(YEAR))
