"""Compare what a run wrote to the warehouse with a data set's known answers (expected.json format)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from load.warehouse import Warehouse
from read.followup import read_followup
from schemas import warehouse as w
from schemas.contracts import Source


def export_files(root: Path) -> list[tuple[Source, Path]]:
    """The exports of a data-set folder (status/, storm/, activities/), in load order."""
    return [(source, path) for source in Source for path in sorted((root / str(source)).iterdir())]


def actual_answers(url: str, kommunkod: str, year: int) -> dict[str, Any]:
    """The warehouse's follow-up of one partition, in the shape of expected.json."""
    store = Warehouse(url)
    try:
        with store.begin() as conn:
            followup = read_followup(conn, kommunkod, year)
            quality = pd.read_sql(
                sa.select(w.source_quality).where(
                    w.source_quality.c.kommunkod == kommunkod, w.source_quality.c.year == year
                ),
                conn,
            )
    finally:
        store.dispose()
    assert followup is not None, f"no follow-up for {kommunkod} {year}"
    measures: dict[str, Any] = {}
    for item in followup.measures:
        per_tertial: dict[str, Any] = {}
        for tertial in (1, 2, 3):
            rows = item.rows[item.rows["tertial"] == tertial]
            all_row = rows[rows["area_id"] == "ALL"].iloc[0]
            entry: dict[str, Any] = {
                "value": int(all_row["value"]),
                "cumulative_value": int(all_row["cumulative_value"]),
            }
            if item.measure.source == "activities":
                held = item.activities[item.activities["tertial"] == tertial]
                entry["items"] = sorted(_item(r.plats, r.datum) for r in held.itertuples())
            else:
                areas = rows[(rows["area_id"] != "ALL") & (rows["value"] > 0)]
                entry["areas"] = {str(r.area_id): int(r.value) for r in areas.itertuples()}
            per_tertial[str(tertial)] = entry
        measures[item.measure.id] = per_tertial
    source_quality = {
        str(r.source): {
            "rows_counted": int(r.rows_counted),
            "rows_with_coordinates": int(r.rows_with_coordinates),
            "rows_missing_coordinates": int(r.rows_missing_coordinates),
            "rows_rejected": int(r.rows_rejected),
        }
        for r in quality.itertuples()
    }
    return {"measures": measures, "source_quality": source_quality}


def _item(plats: str, datum: object) -> str:
    return f"{plats} {pd.Timestamp(str(datum)):%Y-%m-%d}"


def scan_warehouse(url: str, markers: list[str]) -> list[str]:
    """Every (table, marker) where a marker appears in any column of any row of any table."""
    found = []
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in inspector.get_table_names():
            columns: list[sa.ColumnClause[object]] = [
                sa.column(c["name"]) for c in inspector.get_columns(table)
            ]
            for row in conn.execute(sa.select(*columns).select_from(sa.table(table))):
                text = " ".join(str(v) for v in row)
                found += [f"{table}: {m}" for m in markers if m in text]
    engine.dispose()
    return found


def comparable_expected(expected: dict[str, Any]) -> dict[str, Any]:
    """expected.json reduced to what `actual_answers` reports (items sorted, zero areas dropped)."""
    measures: dict[str, Any] = {}
    for measure_id, tertials in expected["measures"].items():
        measures[measure_id] = {}
        for tertial, entry in tertials.items():
            out: dict[str, Any] = {"value": entry["value"], "cumulative_value": entry["cumulative_value"]}
            if "items" in entry:
                out["items"] = sorted(entry["items"])
            else:
                out["areas"] = {k: v for k, v in entry.get("areas", {}).items() if v}
            measures[measure_id][tertial] = out
    return {"measures": measures}


def assert_matches(url: str, expected: dict[str, Any]) -> None:
    actual = actual_answers(url, expected["kommunkod"], int(expected["year"]))
    assert actual["measures"] == comparable_expected(expected)["measures"]
    for source, counts in expected.get("source_quality", {}).items():
        got = actual["source_quality"].get(source, {})
        for name, value in counts.items():
            assert got.get(name) == value, f"source_quality {source}.{name}: {got.get(name)} != {value}"
