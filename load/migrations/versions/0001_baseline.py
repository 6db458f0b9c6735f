"""Baseline: the schema of the last release before Alembic (commit 30a2d7a, schema_version steps 1–6).

Frozen: every table is written out here, not taken from schemas/warehouse.py, so a later edit of the
models never changes what this revision creates. A warehouse written by that release (its
`schema_version` ends at step 6) has this schema already: it is stamped as it is. An older one is
refused: only that release knows how to bring it to step 6.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from importlib import resources

import sqlalchemy as sa
from alembic import op

from schemas.errors import WarehouseError

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LAST_LEGACY_STEP = 6
LEGACY_RELEASE = "30a2d7a"
# The steps of the releases before Alembic, as their schema_version rows read.
LEGACY_STEPS = [
    (1, "tables of the follow-up warehouse, Brå's crime codes"),
    (2, "the analysts' views (v_…, docs/warehouse.md)"),
    (3, "PostgreSQL: staging tables unlogged, without indexes"),
    (4, "PostgreSQL: fact tables indexed by partition (kommunkod, year)"),
    (5, "PostgreSQL: staging without the file SHA-256 and the memberships' keys"),
    (6, "area memberships carry their fact's partition (kommunkod, year)"),
]

TS = sa.DateTime(timezone=True)
LOCAL = sa.DateTime(timezone=False)


def _text(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Text, nullable=nullable)


def _int(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=nullable)


def _period() -> list[sa.Column]:
    return [
        sa.Column("datum", sa.Date, nullable=False),
        _int("year", False),
        sa.Column("tertial", sa.SmallInteger, nullable=False),
    ]


def _coordinates() -> list[sa.Column]:
    return [sa.Column("nord", sa.Double), sa.Column("ost", sa.Double), _text("koordinat_status", False)]


def _provenance() -> list[sa.Column]:
    return [_text("file_sha256", False), _int("line", False), _text("run_id", False)]


def _fact_brott() -> list[sa.Column]:
    return [
        _text("arendenummer", False),
        _int("brottsnummer", False),
        _text("brottskod", False),
        sa.Column("registreringstid", LOCAL, nullable=False),
        *_period(),
        _text("kommunkod", False),
        _text("kommun"),
        sa.Column("brottsdatum", sa.Date),
        *_coordinates(),
    ]


def _fact_handelserapport() -> list[sa.Column]:
    return [
        _text("handelsenummer", False),
        sa.Column("starttid_utc", TS, nullable=False),
        sa.Column("starttid_lokal", LOCAL, nullable=False),
        *_period(),
        _text("kommunkod", False),
        _text("hobit", False),
        sa.Column("hobit_kand", sa.Boolean, nullable=False),
        _text("handelsekod"),
        _text("handelsetyp"),
        _text("handelsetyp_key"),
        _text("plats"),
        _text("enhet"),
        _text("enhet_key"),
        *_coordinates(),
    ]


def _create_tables(postgres: bool) -> None:
    def key(*columns: str) -> list[sa.PrimaryKeyConstraint]:
        # DuckDB's fact tables have no key: its index made bulk loads four times slower.
        return [sa.PrimaryKeyConstraint(*columns)] if postgres else []

    def partition_index(table: str) -> None:
        if postgres:  # DuckDB skips by zone maps
            op.create_index(f"ix_{table}_partition", table, ["kommunkod", "year"])

    op.create_table("fact_brott", *_fact_brott(), *_provenance(), *key("arendenummer", "brottsnummer"))
    partition_index("fact_brott")
    op.create_table("fact_handelserapport", *_fact_handelserapport(), *_provenance(), *key("handelsenummer"))
    partition_index("fact_handelserapport")
    op.create_table(
        "fact_aktivitet",
        sa.Column("datum", sa.Date, primary_key=True),
        sa.Column("aktivitet_key", sa.Text, primary_key=True),
        sa.Column("plats_key", sa.Text, primary_key=True),
        sa.Column("kommunkod", sa.Text, primary_key=True),
        _text("aktivitet", False),
        _text("plats", False),
        _int("year", False),
        sa.Column("tertial", sa.SmallInteger, nullable=False),
        *_provenance(),
    )
    op.create_table(
        "fact_brott_area",
        _text("arendenummer", False),
        _int("brottsnummer", False),
        _text("layer", False),
        _text("area_id", False),
        _text("kommunkod", False),
        _int("year", False),
        *key("arendenummer", "brottsnummer", "layer"),
    )
    partition_index("fact_brott_area")
    op.create_table(
        "fact_handelserapport_area",
        _text("handelsenummer", False),
        _text("layer", False),
        _text("area_id", False),
        _text("kommunkod", False),
        _int("year", False),
        *key("handelsenummer", "layer"),
    )
    partition_index("fact_handelserapport_area")
    op.create_table(
        "dim_area",
        sa.Column("area_id", sa.Text, primary_key=True),
        _text("name", False),
        _text("layer", False),
        _text("kommunkod", False),
        _text("level"),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_to", sa.Date),
        _text("geometry_wkt", False),
    )
    op.create_table(
        "dim_brottskod",
        sa.Column("brottskod", sa.Text, primary_key=True),
        _text("benamning", False),
        _int("upphord"),
        _text("kodgrupp"),
    )
    op.create_table(
        "promise_section",
        sa.Column("kommunkod", sa.Text, primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("section_no", sa.Integer, primary_key=True),
        _text("kommun"),
        _text("title", False),
        _text("promise"),
        _text("run_id", False),
    )
    op.create_table(
        "promise_measure",
        sa.Column("kommunkod", sa.Text, primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("measure_id", sa.Text, primary_key=True),
        _int("section_no", False),
        _int("position", False),
        _text("label", False),
        _text("source", False),
        _text("match_json", False),
        _text("scope_layer"),
        _text("breakdown_layer"),
        _int("target"),
        _text("expected_places_json", False),
        _text("run_id", False),
    )
    op.create_table(
        "followup_aggregate",
        sa.Column("kommunkod", sa.Text, primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("tertial", sa.Integer, primary_key=True),
        sa.Column("measure_id", sa.Text, primary_key=True),
        sa.Column("area_id", sa.Text, primary_key=True),
        _int("value", False),
        _int("cumulative_value", False),
        _int("target"),
        _text("run_id", False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "source_quality",
        sa.Column("kommunkod", sa.Text, primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("source", sa.Text, primary_key=True),
        _int("rows_counted", False),
        _int("rows_with_coordinates", False),
        _int("rows_missing_coordinates", False),
        _int("rows_rejected", False),
        _text("run_id", False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "load_run",
        sa.Column("run_id", sa.Text, primary_key=True),
        _text("kind", False),
        _text("status", False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        _text("message"),
    )
    op.create_table(
        "load_file",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("file_seq", sa.Integer, primary_key=True),
        _text("source", False),
        _text("file_name", False),
        _text("file_path", False),
        _text("sha256"),
        sa.Column("size_bytes", sa.BigInteger),
        _text("encoding"),
        _int("rows_read", False),
        _int("rows_loaded", False),
        _int("rows_rejected", False),
        _int("rows_with_warnings", False),
        _text("status", False),
        _text("error"),
        _text("warnings"),
        sa.Column("loaded_at", TS, nullable=False),
    )
    op.create_table(
        "rejected_row",
        sa.Column("file_sha256", sa.Text, primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        _text("source", False),
        _text("column_name"),
        _text("reason", False),
        _text("kommunkod"),
        _int("year"),
        _text("fields_json", False),
        _text("run_id", False),
    )
    op.create_table(
        "row_warning",
        sa.Column("file_sha256", sa.Text, primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("column_name", sa.Text, primary_key=True),
        _text("source", False),
        _text("warning", False),
        _text("run_id", False),
    )
    op.create_table(
        "config_document",
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("document_key", sa.Text, primary_key=True),
        _text("content_sha256", False),
        _text("run_id", False),
        sa.Column("applied_at", TS, nullable=False),
    )
    # An integer key of its own: SERIAL on PostgreSQL, a sequence on DuckDB, as the release made it.
    op.create_table(
        "schema_version",
        sa.Column("version", sa.Integer, primary_key=True),
        _text("description", False),
        sa.Column("applied_at", TS, nullable=False),
    )
    _create_staging(postgres)


def _create_staging(postgres: bool) -> None:
    """The staging twins: no keys, every column nullable but the run's. PostgreSQL's are unlogged (a
    crash empties them, and they only ever hold an unfinished run); DuckDB stages in temporary tables
    of the same names, so its own are never written."""
    prefixes = ["UNLOGGED"] if postgres else []

    def staging(name: str, columns: list[sa.Column], extra_line: bool = False) -> None:
        nullable = [sa.Column(c.name, c.type, nullable=True) for c in columns]
        line = [_int("line")] if extra_line else []
        op.create_table(
            name, _text("run_id", False), _int("file_seq", False), *nullable, *line, prefixes=prefixes
        )

    staging("stg_fact_brott", [*_fact_brott(), _int("line")])
    staging("stg_fact_handelserapport", [*_fact_handelserapport(), _int("line")])
    staging(
        "stg_fact_aktivitet",
        [
            sa.Column("datum", sa.Date),
            _text("aktivitet_key"),
            _text("plats_key"),
            _text("kommunkod"),
            _text("aktivitet"),
            _text("plats"),
            _int("year"),
            sa.Column("tertial", sa.SmallInteger),
            _int("line"),
        ],
    )
    staging("stg_fact_brott_area", [_text("layer"), _text("area_id")], extra_line=True)
    staging("stg_fact_handelserapport_area", [_text("layer"), _text("area_id")], extra_line=True)
    staging(
        "stg_rejected_row",
        [
            _text("file_sha256"),
            _int("line"),
            _text("source"),
            _text("column_name"),
            _text("reason"),
            _text("kommunkod"),
            _int("year"),
            _text("fields_json"),
        ],
    )
    staging(
        "stg_row_warning",
        [_text("file_sha256"), _int("line"), _text("column_name"), _text("source"), _text("warning")],
    )


def _load_brottskoder() -> None:
    """Brå's crime-code list as shipped (schemas/reference/brottskoder.csv). A new edition of the list
    comes with a revision that reloads it, so new and upgraded warehouses end with the same rows."""
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
    codes = sa.table(
        "dim_brottskod",
        sa.column("brottskod"),
        sa.column("benamning"),
        sa.column("upphord"),
        sa.column("kodgrupp"),
    )
    op.bulk_insert(codes, rows)


def upgrade() -> None:
    conn = op.get_bind()
    tables = set(sa.inspect(conn).get_table_names())
    if "schema_version" in tables:
        step = conn.execute(sa.text("SELECT max(version) FROM schema_version")).scalar()
        if step == LAST_LEGACY_STEP:
            return  # written by the last release before Alembic: this very schema, stamped as it is
        if step is not None and step > LAST_LEGACY_STEP:
            raise WarehouseError(
                f"the warehouse's schema is at step {step}, which no release before Alembic had (a "
                "development build wrote it): restore a backup or start a new warehouse"
            )
        raise WarehouseError(
            f"the warehouse's schema is at step {step} of the releases before Alembic: upgrade it with "
            f"the release at commit {LEGACY_RELEASE} first (`lofte run` there), then run this lofte"
        )
    if tables - {"alembic_version"}:
        raise WarehouseError(
            f"the database holds tables ({', '.join(sorted(tables)[:3])}, …) but no lofte schema: "
            "give lofte an empty database or a lofte warehouse"
        )
    _create_tables(postgres=conn.dialect.name == "postgresql")
    _load_brottskoder()
    history = sa.table(
        "schema_version", sa.column("version"), sa.column("description"), sa.column("applied_at")
    )
    now = datetime.now(UTC)
    op.bulk_insert(history, [{"version": v, "description": d, "applied_at": now} for v, d in LEGACY_STEPS])
