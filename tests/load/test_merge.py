"""De-duplication by natural key and partition replacement, in a real warehouse (both backends)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from pipeline.config import read_config
from pipeline.run import load_exports
from schemas import warehouse as w
from schemas.contracts import Source
from tests.conftest import ESKILSTUNA_2020

HEADER = "Ärendenummer;Brottsnummer;Brottskod;Registreringsdatum;Kommunkod;Nord;Öst\n"
PROMISES = ESKILSTUNA_2020 / "promises.yaml"  # 0484 2020: narkotika-ingripanden = 5010, 5011
AREAS = ESKILSTUNA_2020 / "areas.geojson"


def _status(path: Path, *rows: str) -> tuple[Source, Path]:
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return Source.STATUS, path


def _narkotika(url: str) -> dict[tuple[int, int], int]:
    """(year, tertial) → ALL value of the narcotics measure, for every year the warehouse has."""
    engine = sa.create_engine(url)
    fa = w.followup_aggregate
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(fa.c.year, fa.c.tertial, fa.c.value).where(
                fa.c.measure_id == "narkotika-ingripanden", fa.c.area_id == "ALL", fa.c.kommunkod == "0484"
            )
        ).all()
    engine.dispose()
    return {(y, t): v for y, t, v in rows if v}


def test_later_file_then_later_line_wins(tmp_path: Path, warehouse_url: str) -> None:
    first = _status(
        tmp_path / "a.csv",
        "K1;1;5010;2020-02-01 10:00;0484;;",
        "K2;1;5010;2020-02-01 10:00;0484;;",
        "K3;1;5011;2020-02-01 10:00;0484;;",
        "K3;1;5011;2020-06-01 10:00;0484;;",  # the same crime again, later line: T2
    )
    second = _status(
        tmp_path / "b.csv",
        "K1;1;5010;2020-02-01 10:00;0484;;",  # unchanged duplicate: counts once
        "K2;1;5005;2020-02-01 10:00;0484;;",  # changed code: no longer narcotics
    )
    summary = load_exports(warehouse_url, [first, second], read_config([PROMISES], AREAS, None))
    assert [a.rows_read for a in summary.audits] == [4, 2]
    assert _narkotika(warehouse_url) == {(2020, 1): 1, (2020, 2): 1}

    # A later run replaces the earlier version; the partition is rewritten.
    third = _status(tmp_path / "c.csv", "K2;1;5011;2020-10-01 10:00;0484;;")
    load_exports(warehouse_url, [third], read_config([PROMISES], AREAS, None))
    assert _narkotika(warehouse_url) == {(2020, 1): 1, (2020, 2): 1, (2020, 3): 1}


def test_a_crime_moving_to_another_year_updates_both_partitions(tmp_path: Path, duckdb_url: str) -> None:
    load_exports(
        duckdb_url,
        [_status(tmp_path / "a.csv", "K1;1;5010;2020-12-31 23:00;0484;;")],
        read_config([PROMISES], AREAS, None),
    )
    assert _narkotika(duckdb_url) == {(2020, 3): 1}
    load_exports(
        duckdb_url,
        [_status(tmp_path / "b.csv", "K1;1;5010;2021-01-01 00:10;0484;;")],
        read_config([], AREAS, None),
    )
    assert _narkotika(duckdb_url) == {}  # 2021 has no promises; 2020 lost its crime
    engine = sa.create_engine(duckdb_url)
    with engine.connect() as conn:
        quality = pd.read_sql(sa.select(w.source_quality), conn).set_index(["year", "source"])
    engine.dispose()
    assert quality.loc[(2021, "status"), "rows_counted"] == 1
    assert (2020, "status") not in quality.index


def test_analysts_can_reflect_the_duckdb_warehouse(tmp_path: Path, duckdb_url: str) -> None:
    load_exports(
        duckdb_url,
        [_status(tmp_path / "a.csv", "K1;1;5010;2020-02-01 10:00;0484;;")],
        read_config([PROMISES], AREAS, None),
    )
    engine = sa.create_engine(duckdb_url)
    aggregate = pd.read_sql_table("followup_aggregate", engine)
    assert set(aggregate.columns) >= {"kommunkod", "year", "tertial", "measure_id", "area_id", "value"}
    assert "fact_brott" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_postgres_stages_unlogged_and_leaves_staging_empty(tmp_path: Path, postgres_url: str) -> None:
    """Staging skips PostgreSQL's write-ahead log, a finished run leaves no staged row behind, and the
    facts are indexed by partition."""
    load_exports(
        postgres_url,
        [_status(tmp_path / "a.csv", "K1;1;5010;2020-02-01 10:00;0484;;")],
        read_config([PROMISES], AREAS, None),
    )
    assert _narkotika(postgres_url) == {(2020, 1): 1}
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        persistence: dict[str, str] = dict(
            conn.execute(
                sa.text(
                    "SELECT relname, relpersistence FROM pg_class WHERE relkind = 'r' AND relname LIKE 'stg_%'"
                )
            ).all()
        )
        indexes = set(
            conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE tablename LIKE 'fact_%'")).scalars()
        )
        staged = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in w.metadata.sorted_tables
            if t.name.startswith("stg_")
        }
    engine.dispose()
    assert persistence and set(persistence.values()) == {"u"}
    assert set(staged.values()) == {0}
    # A first load builds the keys and indexes after its insert: all are back.
    assert indexes == {
        "ix_fact_brott_partition",
        "ix_fact_handelserapport_partition",
        "ix_fact_brott_area_partition",
        "ix_fact_handelserapport_area_partition",
        *(f"{t}_pkey" for t in ("fact_brott", "fact_brott_area", "fact_handelserapport")),
        *(f"{t}_pkey" for t in ("fact_handelserapport_area", "fact_aktivitet")),
    }


def test_postgres_upgrade_narrows_staging_made_wide(postgres_url: str) -> None:
    """Step 5 on a warehouse whose staging still has the columns the merge now takes elsewhere."""
    from load import migrations
    from load.warehouse import Warehouse

    warehouse = Warehouse(postgres_url)
    warehouse.migrate()
    with warehouse.begin() as conn:
        conn.execute(sa.text("ALTER TABLE stg_fact_brott ADD COLUMN file_sha256 TEXT"))
        conn.execute(sa.text("ALTER TABLE stg_fact_brott_area ADD COLUMN arendenummer TEXT"))
        conn.execute(sa.delete(w.schema_version).where(w.schema_version.c.version == 5))
    assert warehouse.migrate() == len(migrations.STEPS)
    with warehouse.begin() as conn:
        inspector = sa.inspect(conn)
        columns = {
            t: {c["name"] for c in inspector.get_columns(t)}
            for t in ("stg_fact_brott", "stg_fact_brott_area")
        }
    warehouse.dispose()
    assert columns["stg_fact_brott"] == {c.name for c in w.stg_brott.columns}
    assert "file_sha256" not in columns["stg_fact_brott"]
    assert columns["stg_fact_brott_area"] == {"run_id", "file_seq", "layer", "area_id", "line"}


def test_upgrade_gives_memberships_their_partition(tmp_path: Path, warehouse_url: str) -> None:
    """Step 6 on a warehouse whose area memberships lack (kommunkod, year): filled in from the facts."""
    from load import migrations
    from load.warehouse import Warehouse

    rows = (
        "K1;1;5010;2020-02-01 10:00;0484;6581054,3;584605,4",
        "K2;1;5011;2021-03-01 10:00;0484;6583090,7;583281,6",
    )
    load_exports(warehouse_url, [_status(tmp_path / "a.csv", *rows)], read_config([PROMISES], AREAS, None))
    warehouse = Warehouse(warehouse_url)
    with warehouse.begin() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(w.fact_brott_area)).scalar_one()
        for index in w.fact_brott_area.indexes:
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {index.name}"))
        for table in ("fact_brott_area", "fact_handelserapport_area"):
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN kommunkod"))
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN year"))
        conn.execute(sa.delete(w.schema_version).where(w.schema_version.c.version == 6))
    assert warehouse.migrate() == len(migrations.STEPS)
    fa, f = w.fact_brott_area, w.fact_brott
    with warehouse.begin() as conn:
        memberships = conn.execute(
            sa.select(fa.c.arendenummer, fa.c.kommunkod, fa.c.year, f.c.kommunkod, f.c.year).join_from(
                fa, f, sa.and_(fa.c.arendenummer == f.c.arendenummer, fa.c.brottsnummer == f.c.brottsnummer)
            )
        ).all()
    warehouse.dispose()
    assert before > 0 and len(memberships) == before
    assert {(r[0], r[1], r[2]) for r in memberships} == {(r[0], r[3], r[4]) for r in memberships}
    assert {r[2] for r in memberships} == {2020, 2021}
