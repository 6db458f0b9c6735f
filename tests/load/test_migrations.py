"""The schema history: a new warehouse and one written by the last release before Alembic (the fixtures in
tests/fixtures/warehouse-30a2d7a/, made by that release) end with identical schemas on both databases,
the old one upgrades in place and keeps giving the same follow-up, and an older one is refused."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from load import migrations, views
from load.warehouse import Warehouse
from pipeline.config import read_config
from pipeline.run import load_exports
from schemas import warehouse as w
from schemas.contracts import Source
from schemas.errors import WarehouseError
from tests.conftest import FIXTURES, fresh_postgres_database

OLD = FIXTURES / "warehouse-30a2d7a"
# Columns that say when or from which run a row was written, not what it holds.
MOVING = {"run_id", "updated_at", "applied_at", "loaded_at", "started_at", "finished_at", "file_path"}


def old_duckdb(tmp_path: Path) -> str:
    """A copy of the DuckDB warehouse the release at 30a2d7a wrote."""
    path = tmp_path / "old.duckdb"
    with gzip.open(OLD / "warehouse.duckdb.gz") as source, path.open("wb") as target:
        shutil.copyfileobj(source, target)
    return f"duckdb:///{path}"


def restore_postgres(url: str) -> str:
    """The release's pg_dump (plain SQL) restored into the empty database at `url`, by psql as a DBA would."""
    libpq = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with gzip.open(OLD / "warehouse.sql.gz") as dump:
        subprocess.run(
            ["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", libpq],
            input=dump.read(),
            check=True,
            capture_output=True,
        )
    return url


@pytest.fixture(params=["duckdb", "postgres"])
def old_warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The release's warehouse on each database."""
    if request.param == "duckdb":
        yield old_duckdb(tmp_path)
        return
    with fresh_postgres_database() as url:
        yield restore_postgres(url)


@contextmanager
def new_warehouse_like(url: str, tmp_path: Path) -> Iterator[str]:
    """An empty warehouse on the same database as `url`."""
    if url.startswith("duckdb"):
        yield f"duckdb:///{tmp_path / 'new.duckdb'}"
        return
    with fresh_postgres_database() as new:
        yield new


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample exports (one kommun, one year) the fixtures were loaded from."""
    folder = tmp_path_factory.mktemp("exports")
    with tarfile.open(OLD / "exports.tar.gz") as tar:
        tar.extractall(folder, filter="data")
    return folder


def run_exports(url: str, folder: Path) -> None:
    """What `lofte run` did to write the fixtures, without Prefect: the same files in the same order."""
    inbox = folder / "inbox"
    files = [
        (source, path)
        for source, sub in (
            (Source.STATUS, "status"),
            (Source.STORM, "storm"),
            (Source.ACTIVITIES, "activities"),
        )
        for path in sorted((inbox / sub).iterdir())
    ]
    config = read_config([folder / "config/promises/0484-2019.yaml"], folder / "config/areas.geojson", None)
    load_exports(url, files, config)


def migrate(url: str) -> str:
    warehouse = Warehouse(url)
    try:
        return str(warehouse.migrate())
    finally:
        warehouse.dispose()


def reflected(url: str) -> dict[str, Any]:
    """Everything reflection tells an analyst's tool about the warehouse: tables, columns with type,
    nullability and default, keys with their names, indexes, views, sequences (PostgreSQL: whether a
    table is logged)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            schema: dict[str, Any] = {
                table: {
                    "columns": [
                        (c["name"], repr(c["type"]), c["nullable"], str(c.get("default")))
                        for c in inspector.get_columns(table)
                    ],
                    "primary_key": inspector.get_pk_constraint(table),
                    "indexes": sorted(
                        (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                        for i in inspector.get_indexes(table)
                    ),
                    "unique": sorted(
                        (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
                    ),
                    "foreign_keys": inspector.get_foreign_keys(table),
                }
                for table in sorted(inspector.get_table_names())
            }
            schema["views"] = {
                v: inspector.get_view_definition(v) for v in sorted(inspector.get_view_names())
            }
            schema["sequences"] = sorted(inspector.get_sequence_names())
            if conn.dialect.name == "postgresql":
                schema["persistence"] = dict(
                    conn.execute(
                        sa.text("SELECT relname, relpersistence FROM pg_class WHERE relkind = 'r'")
                    ).all()
                )
            return schema
    finally:
        engine.dispose()


def content(url: str, table: sa.Table) -> list[tuple[str, ...]]:
    """A table's rows without the columns that only say when they were written, sorted."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            columns = [c for c in table.columns if c.name not in MOVING]
            return sorted(tuple(str(v) for v in row) for row in conn.execute(sa.select(*columns)))
    finally:
        engine.dispose()


def schema_history(url: str) -> list[tuple[str, ...]]:
    return content(url, w.schema_version)


def test_old_warehouse_upgrades_in_place_to_the_schema_of_a_new_one(
    old_warehouse_url: str, tmp_path: Path
) -> None:
    with new_warehouse_like(old_warehouse_url, tmp_path) as warehouse_url:
        check_upgrade_equals_new(old_warehouse_url, warehouse_url)


def check_upgrade_equals_new(old_warehouse_url: str, warehouse_url: str) -> None:
    facts_before = content(old_warehouse_url, w.fact_brott)
    assert migrate(old_warehouse_url) == migrations.HEAD
    assert migrate(warehouse_url) == migrations.HEAD
    old, new = reflected(old_warehouse_url), reflected(warehouse_url)
    assert old.keys() == new.keys()
    for name in old:
        assert old[name] == new[name], name
    assert schema_history(old_warehouse_url) == schema_history(warehouse_url)
    assert content(old_warehouse_url, w.dim_brottskod) == content(warehouse_url, w.dim_brottskod)
    assert content(old_warehouse_url, w.fact_brott) == facts_before  # upgraded in place: nothing lost
    if warehouse_url.startswith("postgresql"):
        assert new["fact_brott"]["primary_key"]["name"] == "pk_fact_brott"
        assert {new[t]["primary_key"]["name"] for t in ("load_run", "fact_brott_area")} == {
            "pk_load_run",
            "pk_fact_brott_area",
        }


def test_a_rerun_after_the_upgrade_gives_the_same_follow_up(old_warehouse_url: str, exports: Path) -> None:
    tables = (w.followup_aggregate, w.source_quality, w.fact_brott, w.fact_handelserapport, w.fact_brott_area)
    before = {t.name: content(old_warehouse_url, t) for t in tables}
    assert before["followup_aggregate"] and before["fact_brott"]
    migrate(old_warehouse_url)
    run_exports(old_warehouse_url, exports)
    after = {t.name: content(old_warehouse_url, t) for t in tables}
    for table in tables:
        assert after[table.name] == before[table.name], table.name


@pytest.mark.parametrize(
    "command",
    [["export", "--out", "out"], ["report", "--kommun", "0484", "--year", "2019"]],
    ids=["export", "report"],
)
def test_readers_refuse_a_warehouse_not_yet_upgraded_in_one_line(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader never upgrades: before `lofte run` it refuses in one line, after it reads the views."""
    monkeypatch.chdir(tmp_path)
    url = old_duckdb(tmp_path)
    runner = CliRunner()
    refused = runner.invoke(app, command, env={"LOFTE_WAREHOUSE_URL": url})
    assert refused.exit_code == 1
    assert "run `lofte run`" in refused.output and len(refused.output.strip().splitlines()) == 1
    migrate(url)
    read = runner.invoke(app, command, env={"LOFTE_WAREHOUSE_URL": url})
    assert read.exit_code == 0, read.output


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ("DELETE FROM schema_version WHERE version = 6", "step 5 of the releases before Alembic"),
        ("INSERT INTO schema_version VALUES (7, 'x', now())", "a development build"),
    ],
    ids=["older", "unreleased"],
)
def test_a_warehouse_at_another_legacy_step_is_refused_in_one_line(
    tmp_path: Path, history: str, expected: str
) -> None:
    url = old_duckdb(tmp_path)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # as if the release's step 6 had not run yet, or a later one had
        conn.execute(sa.text(history))
    engine.dispose()
    with pytest.raises(WarehouseError) as refused:
        migrate(url)
    message = str(refused.value)
    assert "\n" not in message and expected in message and message.startswith(f"warehouse {url}")
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # the refused upgrade changed nothing, views included
        assert migrations.current_revision(conn) is None
        assert "v_followup" in sa.inspect(conn).get_view_names()
    engine.dispose()


def test_an_old_duckdb_warehouse_with_legacy_differences_is_made_equal(
    tmp_path: Path, duckdb_url: str
) -> None:
    """DuckDB warehouses older than steps 5 and 6 kept wide staging tables and nullable partitions."""
    url = old_duckdb(tmp_path)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE stg_fact_brott ADD COLUMN file_sha256 VARCHAR"))
        conn.execute(sa.text("ALTER TABLE stg_fact_brott_area ADD COLUMN arendenummer VARCHAR"))
        for table in ("fact_brott_area", "fact_handelserapport_area"):
            conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN kommunkod DROP NOT NULL"))
            conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN year DROP NOT NULL"))
    engine.dispose()
    migrate(url)
    migrate(duckdb_url)
    assert reflected(url) == reflected(duckdb_url)


def test_views_that_differ_from_this_loftes_are_recreated(duckdb_url: str) -> None:
    migrate(duckdb_url)
    engine = sa.create_engine(duckdb_url)
    with engine.begin() as conn:  # a view as an older release defined it
        conn.execute(sa.text("DROP VIEW v_followup_table"))
        conn.execute(sa.text("CREATE VIEW v_followup_table AS SELECT 1 AS stale"))
        # An older release's views carry another fingerprint (or none).
        conn.execute(sa.text(f"COMMENT ON VIEW {views.VIEWS[-1].table.name} IS 'lofte views 0'"))
    engine.dispose()
    migrate(duckdb_url)
    engine = sa.create_engine(duckdb_url)
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("v_followup_table")}
    engine.dispose()
    assert "stale" not in columns and "target_text" in columns


def test_a_current_warehouse_gets_no_ddl(postgres_url: str) -> None:
    """At the head with this lofte's views, an upgrade takes no lock: an analyst's open transaction that
    read a view does not hold it up (recreating the views would wait for it)."""
    migrate(postgres_url)
    analyst = sa.create_engine(postgres_url)
    with analyst.connect() as reading:
        reading.execute(sa.text("SELECT count(*) FROM v_followup"))  # keeps its lock until rollback
        engine = sa.create_engine(postgres_url)
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
            assert migrations.upgrade(conn) == migrations.HEAD
        engine.dispose()
        reading.rollback()
    analyst.dispose()


def test_a_database_holding_other_tables_is_refused(duckdb_url: str) -> None:
    engine = sa.create_engine(duckdb_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE somebody_elses (x INTEGER)"))
    engine.dispose()
    with pytest.raises(WarehouseError, match="no lofte schema"):
        migrate(duckdb_url)


def test_every_revision_after_the_baseline_is_in_schema_version(duckdb_url: str) -> None:
    migrate(duckdb_url)
    history = schema_history(duckdb_url)
    assert [row[0] for row in history] == [str(v) for v in range(1, 6 + int(migrations.HEAD))]
    assert history[-1][1].startswith(f"{migrations.HEAD}: ")


def test_the_models_match_the_history(warehouse_url: str, tmp_path: Path) -> None:
    """schemas/warehouse.py and the revisions describe one schema: a table or column changed in the models
    without a revision (or the other way round) fails here."""
    migrate(warehouse_url)
    with new_warehouse_like(warehouse_url, tmp_path) as from_models:
        engine = sa.create_engine(from_models)
        with engine.begin() as conn:
            w.metadata.create_all(conn)
        engine.dispose()
        history, models = reflected(warehouse_url), reflected(from_models)
    # Views and unlogged staging are made by the upgrade, not by the table definitions.
    for schema in (history, models):
        for made_by_upgrade in ("alembic_version", "views", "persistence"):
            schema.pop(made_by_upgrade, None)
    assert history.keys() == models.keys()
    for name in history:
        assert history[name] == models[name], name


def test_revisions_never_read_the_live_models() -> None:
    """Frozen history: a revision that imported schemas.warehouse would change with every model edit."""
    for path in sorted((migrations.HERE / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "schemas.warehouse" not in source and "import warehouse" not in source, path.name
