"""A run stages into Parquet files of its own, read by the merge through views typed as the staging
tables: real files, a real DuckDB warehouse and a real PostgreSQL database."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from load.staged_files import StagedFiles
from load.staging import abandon_run, start_run
from load.warehouse import Warehouse
from pipeline.config import read_config
from pipeline.run import load_exports, open_warehouse
from schemas import warehouse as w
from schemas.contracts import Source
from schemas.settings import load_settings
from tests.conftest import ESKILSTUNA_2020
from tests.expected import assert_matches


def test_batches_of_differing_types_read_back_typed_as_the_table(tmp_path: Path) -> None:
    """A batch whose column is all missing (Arrow: null), integers with gaps (float) and without (int):
    the view gives the table's types, as an insert would; a file's batches are dropped by its number."""
    folder = tmp_path / "o'brien; drop"  # quoted as a literal, never as SQL
    folder.mkdir()
    engine = sa.create_engine(f"duckdb:///{folder / 'w.duckdb'}")
    staged = StagedFiles(folder / "w.duckdb.staging", "run-1", alone=True)
    table = w.stg_rejected_row
    first = pd.DataFrame(
        {"run_id": "another run's id, never written", "file_seq": 9, "file_sha256": "a", "line": [2, 3], "source": "status",
         "reason": ["x", "y"], "kommunkod": ["0484", None], "year": pd.array([2020, None], dtype="Int64")}
    )  # fmt: skip
    second = pd.DataFrame(
        {"file_sha256": "b", "line": [7.0], "source": "storm",
         "reason": ["z"], "kommunkod": [None], "year": [float("nan")]}
    )  # fmt: skip
    staged.write(table, first, 1)
    staged.write(table, second, 2)
    with engine.begin() as conn:
        staged.view(conn, w.stg_brott)  # nothing staged for it: a view of no rows
        assert conn.execute(sa.select(sa.func.count()).select_from(w.stg_brott)).scalar_one() == 0
        staged.view(conn, table)
        rows = conn.execute(
            sa.select(table.c.file_seq, table.c.line, table.c.kommunkod, table.c.year).order_by(table.c.line)
        ).all()
        runs = conn.execute(sa.select(table.c.run_id).distinct()).scalars().all()
        types = conn.exec_driver_sql("SELECT typeof(line), typeof(year) FROM stg_rejected_row LIMIT 1").one()
    assert rows == [(1, 2, "0484", 2020), (1, 3, None, None), (2, 7, None, None)]
    assert runs == ["run-1"]  # the folder's run, and the file's number as `write` was told
    assert types == ("INTEGER", "INTEGER")

    # Statistics for the numbers the merge filters on, none for text (the costly ones to write).
    first_file = next((staged.folder / table.name).glob("000001-*.parquet"))
    group = pq.ParquetFile(first_file).metadata.row_group(0)
    statistics = {
        group.column(i).path_in_schema: group.column(i).statistics for i in range(group.num_columns)
    }
    assert statistics["line"] is not None and (statistics["line"].min, statistics["line"].max) == (2, 3)
    assert statistics["file_seq"] is not None and statistics["reason"] is None

    staged.drop(2)
    with engine.begin() as conn:
        staged.view(conn, table)
        assert conn.execute(sa.select(table.c.file_seq).distinct()).scalars().all() == [1]
    engine.dispose()
    staged.remove()
    assert not (folder / "w.duckdb.staging").exists()


def test_a_run_stages_beside_the_file_and_its_end_removes_the_files(tmp_path: Path) -> None:
    """An abandoned run's staged files go with it; a dead run's folder goes with the next run's start."""
    store = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    store.migrate()
    dead = tmp_path / "w.duckdb.staging" / "dead-run" / "stg_fact_brott"
    dead.mkdir(parents=True)
    (dead / "000001-00000001.parquet").write_bytes(b"left by a killed run")
    start_run(store, "run-2", "run")
    assert [p.name for p in (tmp_path / "w.duckdb.staging").iterdir()] == ["run-2"]
    frame = pd.DataFrame({"arendenummer": ["K1"], "brottsnummer": [1], "year": [2020]})
    staged = store.backend._staging_files()
    staged.write(w.stg_brott, frame.assign(line=2, datum=datetime.now(UTC).date()), 1)
    assert list((tmp_path / "w.duckdb.staging" / "run-2").rglob("*.parquet"))
    abandon_run(store, "run-2", "test")
    assert not (tmp_path / "w.duckdb.staging").exists()
    with store.begin() as conn:  # the persistent staging tables, empty, are what the name reads again
        assert conn.execute(sa.select(sa.func.count()).select_from(w.stg_brott)).scalar_one() == 0
    store.dispose()


def test_in_memory_warehouse_stages_in_a_temporary_folder() -> None:
    store = Warehouse("duckdb:///:memory:")
    store.migrate()
    start_run(store, "run-3", "run")
    staged = store.backend._staging_files()
    assert staged.folder.is_dir() and staged.root is None
    abandon_run(store, "run-3", "test")
    assert not staged.folder.exists()
    store.dispose()


def test_staging_before_a_run_began_is_a_clear_error() -> None:
    store = Warehouse("duckdb:///:memory:")
    with pytest.raises(RuntimeError, match="no run has begun staging"):
        store.backend._staging_files()
    store.dispose()


def test_a_finished_run_leaves_no_staged_file(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    status = sorted((ESKILSTUNA_2020 / "status").iterdir())
    config = read_config([ESKILSTUNA_2020 / "promises.yaml"], ESKILSTUNA_2020 / "areas.geojson", None)
    load_exports(url, [(Source.STATUS, p) for p in status], config)
    assert not (tmp_path / "w.duckdb.staging").exists()
    store = Warehouse(url, read_only=True)
    with store.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(w.fact_brott)).scalar_one() > 0
    store.dispose()


def test_a_postgres_run_stages_on_this_machine_in_a_folder_of_the_warehouse(
    tmp_path: Path, postgres_url: str
) -> None:
    """PostgreSQL: staged in LOFTE_STAGING_DIR, a folder per warehouse only its owner may read; a dead
    run's folder goes with the next run that holds the run lock, the run's own with its end."""
    settings = load_settings({"LOFTE_STAGING_DIR": str(tmp_path / "staging")})
    store = open_warehouse(postgres_url, settings)  # holds the run lock
    root = store.backend.staging_root()
    assert root is not None and root.parent == tmp_path / "staging"
    other = Warehouse(postgres_url.rsplit("/", 1)[0] + "/postgres", settings=settings)
    assert other.backend.staging_root() != root  # another database: a folder of its own
    other.dispose()
    dead = root / "dead-run" / "stg_fact_brott"
    dead.mkdir(parents=True)
    (dead / "000001-00000001.parquet").write_bytes(b"left by a killed run")
    start_run(store, "run-4", "run")
    assert [p.name for p in root.iterdir()] == ["run-4"]
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "run-4").stat().st_mode) == 0o700
    frame = pd.DataFrame({"arendenummer": ["K1"], "brottsnummer": [1], "year": [2020]})
    store.backend._staging_files().write(w.stg_brott, frame.assign(line=2, datum=datetime.now(UTC).date()), 1)
    abandon_run(store, "run-4", "test")
    assert not root.exists()
    store.dispose()


def test_a_postgres_run_merges_from_its_files_and_leaves_nothing(tmp_path: Path, postgres_url: str) -> None:
    """The whole 2020 fixture into PostgreSQL: the known answers, nothing left in staging (files or
    tables), and the same facts as the same run into DuckDB."""
    settings = load_settings({"LOFTE_STAGING_DIR": str(tmp_path / "staging")})
    config = read_config([ESKILSTUNA_2020 / "promises.yaml"], ESKILSTUNA_2020 / "areas.geojson", None)
    files = [
        (source, path)
        for source in (Source.STATUS, Source.STORM, Source.ACTIVITIES)
        for path in sorted((ESKILSTUNA_2020 / str(source)).iterdir())
    ]
    duckdb_url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    for url in (postgres_url, duckdb_url):
        load_exports(url, files, config, settings=settings)
    assert_matches(postgres_url, json.loads((ESKILSTUNA_2020 / "expected.json").read_text(encoding="utf-8")))
    assert not (tmp_path / "staging").exists() or not any((tmp_path / "staging").iterdir())
    facts = {}
    for url in (postgres_url, duckdb_url):
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            facts[url] = {
                t.name: sorted(
                    tuple(str(v) for v in row)
                    for row in conn.execute(sa.select(*[c for c in t.columns if c.name != "run_id"]))
                )
                for t in w.metadata.sorted_tables
                if t.name.startswith("fact_") or t.name in ("rejected_row", "row_warning")
            }
            if url == postgres_url:
                staged = sum(
                    conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for t in w.metadata.sorted_tables
                    if t.name.startswith("stg_")
                )
                assert staged == 0
        engine.dispose()
    assert facts[postgres_url]["fact_brott"] and facts[postgres_url]["fact_handelserapport_area"]
    assert facts[postgres_url] == facts[duckdb_url]
