"""The warehouse tables as SQLAlchemy metadata: one definition for DuckDB and PostgreSQL.

Every table states its grain. `followup_aggregate` and `source_quality` are the contract's tables, column
for column; the rest are this project's and are documented in docs/warehouse.md.

Facts are de-identified: no column for personnummer, address (Brottsplats) or free text (Sammanfattning)
exists anywhere, so no code path can store them.
"""

from __future__ import annotations

import sqlalchemy as sa

# Constraint names a migration can rely on (load/migrations/versions/0002): PostgreSQL's default
# `<table>_pkey` is renamed there. DuckDB keeps no constraint names and derives its own.
metadata = sa.MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    }
)

TS = sa.DateTime(timezone=True)


def _fact_key(*columns: str) -> sa.PrimaryKeyConstraint:
    """The natural key of a fact table. PostgreSQL enforces it; on DuckDB (1.5.6) it is left out: its
    index made bulk loads four times slower, a unique index on a big fact table broke the merge's delete
    and reinsert of the same keys after the file was reopened, and building the key failed under the
    200 MB memory limit. The merge's de-duplication already guarantees the key."""
    return sa.PrimaryKeyConstraint(*columns).ddl_if(dialect="postgresql")


def _partition_index(table: str) -> sa.Index:
    """PostgreSQL reads one partition (kommunkod, year) by index, so recomputing the partitions a
    nightly file touched costs what they hold, not the whole warehouse. DuckDB skips by zone maps."""
    return sa.Index(f"ix_{table}_partition", "kommunkod", "year").ddl_if(dialect="postgresql")


def _provenance() -> list[sa.Column]:
    """Where a fact row came from: the file (by SHA-256), its line, and the run that loaded it."""
    return [
        sa.Column("file_sha256", sa.Text, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
    ]


def _coordinates() -> list[sa.Column]:
    return [
        # SWEREF 99 TM metres; null when the row has none or its pair was outside Sweden's box.
        sa.Column("nord", sa.Double),
        sa.Column("ost", sa.Double),
        # 'ok', 'saknas' (empty) or 'ogiltig' (an invalid pair, kept as a row warning).
        sa.Column("koordinat_status", sa.Text, nullable=False),
    ]


def _local_period() -> list[sa.Column]:
    """The local (Europe/Stockholm) date that decides year, tertial and the areas valid for the row."""
    return [
        sa.Column("datum", sa.Date, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("tertial", sa.SmallInteger, nullable=False),
    ]


# One row per crime (Ärendenummer, Brottsnummer) from STATUS: the latest loaded version.
fact_brott = sa.Table(
    "fact_brott",
    metadata,
    sa.Column("arendenummer", sa.Text, nullable=False),
    sa.Column("brottsnummer", sa.Integer, nullable=False),
    sa.Column("brottskod", sa.Text, nullable=False),
    sa.Column("registreringstid", sa.DateTime(timezone=False), nullable=False),  # Swedish local time
    *_local_period(),
    sa.Column("kommunkod", sa.Text, nullable=False),
    sa.Column("kommun", sa.Text),
    sa.Column("brottsdatum", sa.Date),
    *_coordinates(),
    *_provenance(),
    _fact_key("arendenummer", "brottsnummer"),
    _partition_index("fact_brott"),
)

# One row per händelserapport (Händelsenummer) from STORM-HOBIT: the latest loaded version.
fact_handelserapport = sa.Table(
    "fact_handelserapport",
    metadata,
    sa.Column("handelsenummer", sa.Text, nullable=False),
    sa.Column("starttid_utc", TS, nullable=False),
    sa.Column("starttid_lokal", sa.DateTime(timezone=False), nullable=False),
    *_local_period(),
    sa.Column("kommunkod", sa.Text, nullable=False),
    sa.Column("hobit", sa.Text, nullable=False),  # folded: upper case, Å/Ä → A, Ö → O
    sa.Column("hobit_kand", sa.Boolean, nullable=False),  # false: a code outside the contract's list
    sa.Column("handelsekod", sa.Text),
    sa.Column("handelsetyp", sa.Text),
    sa.Column("handelsetyp_key", sa.Text),
    sa.Column("plats", sa.Text),
    sa.Column("enhet", sa.Text),
    sa.Column("enhet_key", sa.Text),
    *_coordinates(),
    *_provenance(),
    _fact_key("handelsenummer"),
    _partition_index("fact_handelserapport"),
)

# One row per activity (Datum, Aktivitet, Plats, Kommunkod; text compared case- and space-insensitively).
fact_aktivitet = sa.Table(
    "fact_aktivitet",
    metadata,
    sa.Column("datum", sa.Date, primary_key=True),
    sa.Column("aktivitet_key", sa.Text, primary_key=True),
    sa.Column("plats_key", sa.Text, primary_key=True),
    sa.Column("kommunkod", sa.Text, primary_key=True),
    sa.Column("aktivitet", sa.Text, nullable=False),
    sa.Column("plats", sa.Text, nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("tertial", sa.SmallInteger, nullable=False),
    *_provenance(),
)


def _membership_partition() -> list[sa.Column]:
    """The fact's partition again: recomputing one partition reads its memberships alone, not the
    memberships of the whole warehouse (older warehouses got them from the last legacy step, 6)."""
    return [sa.Column("kommunkod", sa.Text, nullable=False), sa.Column("year", sa.Integer, nullable=False)]


# One row per crime and area layer whose area (valid on the crime's date) holds the crime's point.
fact_brott_area = sa.Table(
    "fact_brott_area",
    metadata,
    sa.Column("arendenummer", sa.Text, nullable=False),
    sa.Column("brottsnummer", sa.Integer, nullable=False),
    sa.Column("layer", sa.Text, nullable=False),
    sa.Column("area_id", sa.Text, nullable=False),
    *_membership_partition(),
    _fact_key("arendenummer", "brottsnummer", "layer"),
    _partition_index("fact_brott_area"),
)

# One row per händelserapport and area layer whose area (valid on the HR's date) holds its point.
fact_handelserapport_area = sa.Table(
    "fact_handelserapport_area",
    metadata,
    sa.Column("handelsenummer", sa.Text, nullable=False),
    sa.Column("layer", sa.Text, nullable=False),
    sa.Column("area_id", sa.Text, nullable=False),
    *_membership_partition(),
    _fact_key("handelsenummer", "layer"),
    _partition_index("fact_handelserapport_area"),
)

# One row per area of the areas file last loaded (geometry as WGS84 WKT).
dim_area = sa.Table(
    "dim_area",
    metadata,
    sa.Column("area_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("layer", sa.Text, nullable=False),
    sa.Column("kommunkod", sa.Text, nullable=False),
    sa.Column("level", sa.Text),
    sa.Column("valid_from", sa.Date),
    sa.Column("valid_to", sa.Date),
    sa.Column("geometry_wkt", sa.Text, nullable=False),
    sa.Column("befolkning", sa.Integer),  # the areas file's optional population (the lägesbild's rates)
)

# One row per crime code in Brå's list.
dim_brottskod = sa.Table(
    "dim_brottskod",
    metadata,
    sa.Column("brottskod", sa.Text, primary_key=True),
    sa.Column("benamning", sa.Text, nullable=False),
    sa.Column("upphord", sa.Integer),
    sa.Column("kodgrupp", sa.Text),
)

# One row per section of a promises file (kommunkod, year, section_no).
promise_section = sa.Table(
    "promise_section",
    metadata,
    sa.Column("kommunkod", sa.Text, primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("section_no", sa.Integer, primary_key=True),
    sa.Column("kommun", sa.Text),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("promise", sa.Text),
    sa.Column("run_id", sa.Text, nullable=False),
)

# One row per measure of a promises file (kommunkod, year, measure_id).
promise_measure = sa.Table(
    "promise_measure",
    metadata,
    sa.Column("kommunkod", sa.Text, primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("measure_id", sa.Text, primary_key=True),
    sa.Column("section_no", sa.Integer, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # order within the file
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("match_json", sa.Text, nullable=False),
    sa.Column("scope_layer", sa.Text),
    sa.Column("breakdown_layer", sa.Text),
    sa.Column("target", sa.Integer),
    sa.Column("expected_places_json", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
)

# The contract: one row per (kommunkod, year, tertial, measure_id, area_id).
followup_aggregate = sa.Table(
    "followup_aggregate",
    metadata,
    sa.Column("kommunkod", sa.Text, primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("tertial", sa.Integer, primary_key=True),
    sa.Column("measure_id", sa.Text, primary_key=True),
    sa.Column("area_id", sa.Text, primary_key=True),
    # NULL when the measure's source had no row loaded in the partition: missing is not zero.
    sa.Column("value", sa.Integer),
    sa.Column("cumulative_value", sa.Integer),
    sa.Column("target", sa.Integer),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# The contract: one row per (kommunkod, year, source).
source_quality = sa.Table(
    "source_quality",
    metadata,
    sa.Column("kommunkod", sa.Text, primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("rows_counted", sa.Integer, nullable=False),
    sa.Column("rows_with_coordinates", sa.Integer, nullable=False),
    sa.Column("rows_missing_coordinates", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# The contract (the lägesbild): one row per (kommunkod, year, period, period_start, measure_id, area_id).
period_aggregate = sa.Table(
    "period_aggregate",
    metadata,
    sa.Column("kommunkod", sa.Text, primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("period", sa.Text, primary_key=True),  # 'week' | 'month'
    sa.Column("period_start", sa.Date, primary_key=True),
    sa.Column("measure_id", sa.Text, primary_key=True),
    sa.Column("area_id", sa.Text, primary_key=True),
    sa.Column("value", sa.Integer),  # NULL: the measure's source had no rows in the partition
    sa.Column("value_last_year", sa.Integer),
    sa.Column("population", sa.Integer),
    sa.Column("rate_per_100k", sa.Double),
    sa.Column("deviation", sa.Boolean),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# One row per (kommunkod, year, measure_id, area_id, weekday, hour) with a count (zeros left out):
# when in the week the year's units happened, local time (weekday 1 = Monday). Activities have no time.
weekday_hour_aggregate = sa.Table(
    "weekday_hour_aggregate",
    metadata,
    sa.Column("kommunkod", sa.Text, primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("measure_id", sa.Text, primary_key=True),
    sa.Column("area_id", sa.Text, primary_key=True),
    sa.Column("weekday", sa.SmallInteger, primary_key=True),
    sa.Column("hour", sa.SmallInteger, primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# One row per (kommunkod, year): the population on 31 December (shipped, based on SCB; a run's
# --population file adds or overrides years, `source` says which).
dim_folkmangd = sa.Table(
    "dim_folkmangd",
    metadata,
    sa.Column("kommunkod", sa.Text, primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("folkmangd", sa.Integer, nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # 'scb' (shipped) or the file name given
)

# One row per run of lofte (run, nightly, backfill): 'running' until its load commits.
load_run = sa.Table(
    "load_run",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # running | finished | failed
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Column("message", sa.Text),
)

# One row per input file per run: the load audit (rows_read = rows_loaded + rows_rejected).
load_file = sa.Table(
    "load_file",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("file_seq", sa.Integer, primary_key=True),  # load order within the run
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("file_path", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text),  # null when the file could not be opened
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("encoding", sa.Text),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_loaded", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
    sa.Column("rows_with_warnings", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # loaded | unreadable
    sa.Column("error", sa.Text),
    sa.Column("warnings", sa.Text),  # file-level warnings, one per line
    sa.Column("loaded_at", TS, nullable=False),
)

# One row per rejected input line (file by SHA-256, line): non-personal fields only.
rejected_row = sa.Table(
    "rejected_row",
    metadata,
    sa.Column("file_sha256", sa.Text, primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("column_name", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("kommunkod", sa.Text),  # when it could still be read
    sa.Column("year", sa.Integer),  # when the row's date could still be read
    sa.Column("fields_json", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
)

# One row per warning on a loaded line (file, line, column), e.g. a coordinate pair outside Sweden.
row_warning = sa.Table(
    "row_warning",
    metadata,
    sa.Column("file_sha256", sa.Text, primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("column_name", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("warning", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
)

# One row per configuration document last applied (kind 'promises' keyed 'kommunkod-year', or 'areas'):
# a nightly run rewrites promises and areas only when their content changed.
config_document = sa.Table(
    "config_document",
    metadata,
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("document_key", sa.Text, primary_key=True),
    sa.Column("content_sha256", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("applied_at", TS, nullable=False),
)

# One row per applied schema change: steps 1–6 of the releases before Alembic, then one per revision
# (load/migrations; Alembic's own `alembic_version` holds the current revision).
schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", TS, nullable=False),
)


def _staging_twin(table: sa.Table, *, taken_at_merge: tuple[str, ...] = ()) -> sa.Table:
    """A staging table for `table`: the same columns without keys, plus the run and the load order.

    Files are staged one by one (short transactions, flat memory); the run's single merge transaction
    then moves what a finished run staged into the real tables, so a killed run changes nothing.
    Columns in `taken_at_merge` are not staged row by row: the merge takes them from `load_file` (a
    file's SHA-256) or from the winning version (an area membership's key), a third less to copy.
    """
    columns = [
        sa.Column(c.name, c.type, nullable=True)
        for c in table.columns
        if c.name != "run_id" and c.name not in taken_at_merge
    ]
    if "line" not in table.c:  # area memberships: the line of the fact version they belong to
        columns.append(sa.Column("line", sa.Integer))
    return sa.Table(
        f"stg_{table.name}",
        metadata,
        # No index: a run holds the run lock, so staging holds its rows only and every read is a scan.
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("file_seq", sa.Integer, nullable=False),
        *columns,
    )


stg_brott = _staging_twin(fact_brott, taken_at_merge=("file_sha256",))
stg_handelserapport = _staging_twin(fact_handelserapport, taken_at_merge=("file_sha256",))
stg_aktivitet = _staging_twin(fact_aktivitet, taken_at_merge=("file_sha256",))
_FROM_VERSION = ("kommunkod", "year")  # a membership's partition is its fact version's
stg_brott_area = _staging_twin(
    fact_brott_area, taken_at_merge=("arendenummer", "brottsnummer", *_FROM_VERSION)
)
stg_handelserapport_area = _staging_twin(
    fact_handelserapport_area, taken_at_merge=("handelsenummer", *_FROM_VERSION)
)
stg_rejected_row = _staging_twin(rejected_row)
stg_row_warning = _staging_twin(row_warning)
