"""Versioned schema changes: each step runs once, in order, recorded in `schema_version`.

An existing warehouse upgrades in place: `upgrade` applies the steps it has not seen. A new step is
appended here (never edit an applied one), with the table definitions in schemas/warehouse.py.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from load import views
from schemas import warehouse as w


def _create_v1(conn: Connection) -> None:
    w.metadata.create_all(conn, tables=[t for t in w.metadata.sorted_tables if t is not w.schema_version])
    _load_brottskoder(conn)


def _load_brottskoder(conn: Connection) -> None:
    """Brå's crime-code list, shipped with the project (schemas/reference/brottskoder.csv)."""
    text = resources.files("schemas").joinpath("reference/brottskoder.csv").read_text(encoding="utf-8")
    rows = [
        {
            "brottskod": r["brottskod"],
            "benamning": r["benamning"],
            "upphord": int(r["upphord"]) if r["upphord"] else None,
            "kodgrupp": r["kodgrupp"],
        }
        for r in csv.DictReader(text.splitlines(), delimiter=";")
    ]
    conn.execute(sa.delete(w.dim_brottskod))
    conn.execute(sa.insert(w.dim_brottskod), rows)


def _unlogged_staging(conn: Connection) -> None:
    """PostgreSQL: staging rows live from COPY to merge, so they skip the write-ahead log (a crash
    empties the tables, which only ever hold an unfinished run). DuckDB stages in temporary tables."""
    if conn.dialect.name != "postgresql":
        return
    for table in w.metadata.sorted_tables:
        if table.name.startswith("stg_"):
            conn.execute(
                sa.text(f"ALTER TABLE {conn.dialect.identifier_preparer.format_table(table)} SET UNLOGGED")
            )


def _partition_indexes(conn: Connection) -> None:
    """PostgreSQL: the fact tables' (kommunkod, year) indexes (schemas/warehouse.py) on a warehouse
    made before them; a new warehouse has them from step 1."""
    if conn.dialect.name != "postgresql":
        return
    for table in (w.fact_brott, w.fact_handelserapport):
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def _narrow_staging(conn: Connection) -> None:
    """Staging tables lose the columns the merge now takes from elsewhere (schemas/warehouse.py:
    `_staging_twin`); they hold no finished run's rows, so nothing is lost. DuckDB stages in
    temporary tables made from the definitions."""
    if conn.dialect.name != "postgresql":
        return
    inspector = sa.inspect(conn)
    quote = conn.dialect.identifier_preparer.quote
    for table in w.metadata.sorted_tables:
        if not table.name.startswith("stg_"):
            continue
        for column in inspector.get_columns(table.name):
            if column["name"] not in table.c:
                conn.execute(sa.text(f"ALTER TABLE {quote(table.name)} DROP COLUMN {quote(column['name'])}"))


def _membership_partitions(conn: Connection) -> None:
    """The area memberships get their fact's partition (kommunkod, year), filled in from the facts,
    so that recomputing a partition reads its own memberships only (PostgreSQL: by index)."""
    quote = conn.dialect.identifier_preparer.quote
    if "kommunkod" in {c["name"] for c in sa.inspect(conn).get_columns(w.fact_brott_area.name)}:
        return  # made with them by step 1
    pairs = ((w.fact_brott, w.fact_brott_area), (w.fact_handelserapport, w.fact_handelserapport_area))
    for fact, area in pairs:
        table = quote(area.name)
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN kommunkod TEXT"))
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN year INTEGER"))
        same_fact = [area.c[k] == fact.c[k] for k in area.primary_key.columns.keys() if k in fact.c]  # noqa: SIM118
        conn.execute(sa.update(area).values(kommunkod=fact.c.kommunkod, year=fact.c.year).where(*same_fact))
        if conn.dialect.name != "postgresql":
            continue  # DuckDB refuses NOT NULL after an update in the same transaction, and has no index
        for column in ("kommunkod", "year"):
            conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL"))
        for index in area.indexes:
            index.create(conn, checkfirst=True)


def _nullable_followup_values(conn: Connection) -> None:
    """`followup_aggregate.value` and `cumulative_value` may be NULL: a measure whose source had no data
    in the partition is missing, not zero. Rows already written keep their values (a rerun rewrites
    them by the new rule). Both databases take this while the views read the table."""
    for column in ("value", "cumulative_value"):
        conn.execute(sa.text(f"ALTER TABLE followup_aggregate ALTER COLUMN {column} DROP NOT NULL"))


STEPS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "tables of the follow-up warehouse, Brå's crime codes", _create_v1),
    (2, "the analysts' views (v_…, docs/warehouse.md)", views.create_all),
    (3, "PostgreSQL: staging tables unlogged, without indexes", _unlogged_staging),
    (4, "PostgreSQL: fact tables indexed by partition (kommunkod, year)", _partition_indexes),
    (5, "PostgreSQL: staging without the file SHA-256 and the memberships' keys", _narrow_staging),
    (6, "area memberships carry their fact's partition (kommunkod, year)", _membership_partitions),
    (7, "followup_aggregate values nullable: missing is not zero", _nullable_followup_values),
]


def upgrade(conn: Connection) -> int:
    w.schema_version.create(conn, checkfirst=True)
    applied = set(conn.execute(sa.select(w.schema_version.c.version)).scalars())
    for version, description, step in STEPS:
        if version in applied:
            continue
        step(conn)
        conn.execute(
            sa.insert(w.schema_version).values(
                version=version, description=description, applied_at=datetime.now(UTC)
            )
        )
    return max(v for v, _, _ in STEPS)
