"""Nightly runs and backfills on DuckDB and PostgreSQL, with the generator's known answers.

Two years, 2023 and 2024, because Eskilstuna's areas change at that New Year (Lagersberg stops and Årby
starts being an utsatt område): each year must be classified with its own areas.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from flows.backfill import backfill_run
from flows.nightly import nightly_run
from sample.generator import write_sample
from schemas import warehouse as w
from tests.expected import assert_matches

YEARS = [2023, 2024]


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    write_sample(root, YEARS, kommuner=1, scale=1, seed=7)
    return root


def _table(url: str, table: sa.Table, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(table), conn)
    engine.dispose()
    keys = [c.name for c in table.primary_key.columns]
    return frame.drop(columns=list(drop)).sort_values(keys).reset_index(drop=True)


def _values(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The contract tables without the columns that name the run."""
    moving = ("run_id", "updated_at")
    return _table(url, w.followup_aggregate, moving), _table(url, w.source_quality, moving)


def test_nightly_runs_equal_one_backfill(sample_dir: Path, tmp_path: Path, warehouse_url: str) -> None:
    inbox = tmp_path / "inbox"
    arrivals = sorted((sample_dir / "inbox").rglob("*.*"), key=lambda p: p.name)
    for export in arrivals:  # one export arrives per night
        target = inbox / export.parent.name / export.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(export, target)
        nightly_run(sample_dir / "config", inbox, warehouse_url)
    for year in YEARS:
        expected = json.loads((sample_dir / "expected" / f"0484-{year}.json").read_text(encoding="utf-8"))
        assert_matches(warehouse_url, expected)

    # A night with nothing new writes nothing: same rows, same run_id and updated_at, no new run.
    before = _table(warehouse_url, w.followup_aggregate), _table(warehouse_url, w.load_run)
    summary = nightly_run(sample_dir / "config", inbox, warehouse_url)
    assert summary.merged is None and summary.audits == []
    after = _table(warehouse_url, w.followup_aggregate), _table(warehouse_url, w.load_run)
    pd.testing.assert_frame_equal(before[0], after[0])
    pd.testing.assert_frame_equal(before[1], after[1])

    # The backfill of the same files into the same warehouse gives the same values, and again on rerun.
    nightly_values = _values(warehouse_url)
    backfill_run(sample_dir / "config", inbox, YEARS[0], YEARS[-1], warehouse_url)
    for got, want in zip(_values(warehouse_url), nightly_values, strict=True):
        pd.testing.assert_frame_equal(got, want)
    backfill_run(sample_dir / "config", inbox, YEARS[0], YEARS[-1], warehouse_url)
    for got, want in zip(_values(warehouse_url), nightly_values, strict=True):
        pd.testing.assert_frame_equal(got, want)


def test_backfill_into_a_new_warehouse_classifies_each_year_with_its_areas(
    sample_dir: Path, duckdb_url: str
) -> None:
    backfill_run(sample_dir / "config", sample_dir / "inbox", YEARS[0], YEARS[-1], duckdb_url)
    for year in YEARS:
        expected = json.loads((sample_dir / "expected" / f"0484-{year}.json").read_text(encoding="utf-8"))
        assert_matches(duckdb_url, expected)
    aggregate = _table(duckdb_url, w.followup_aggregate)
    scope = aggregate[aggregate["measure_id"] == "trafikkontroller-utsatta-omraden"]
    areas_by_year = scope[scope["area_id"] != "ALL"].groupby("year")["area_id"].agg(set)
    assert "utsatt-lagersberg" not in areas_by_year.get(2024, set())
    assert "utsatt-arby" not in areas_by_year.get(2023, set())
    assert "utsatt-arby" in areas_by_year[2024]
