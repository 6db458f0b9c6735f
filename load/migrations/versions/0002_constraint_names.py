"""Explicit key names (pk_<table>), and old DuckDB warehouses made equal to new ones

PostgreSQL: the primary keys named `<table>_pkey` by default become `pk_<table>`, the naming convention of
schemas/warehouse.py, so the code can drop and rebuild a key by the name it knows. DuckDB keeps no
constraint names (it derives them from table and columns), so there is nothing to rename there.

DuckDB: a warehouse made before the releases' steps 5 and 6 kept wide staging tables (step 5 narrowed
them on PostgreSQL only) and nullable membership partitions (DuckDB refused NOT NULL in the same
transaction as step 6's update); both are brought to what the baseline makes. On PostgreSQL steps 5 and
6 did the same already.

Frozen once released: names and types are written out, not taken from schemas/warehouse.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KEYED_TABLES = [
    "config_document",
    "dim_area",
    "dim_brottskod",
    "fact_aktivitet",
    "fact_brott",
    "fact_brott_area",
    "fact_handelserapport",
    "fact_handelserapport_area",
    "followup_aggregate",
    "load_file",
    "load_run",
    "promise_measure",
    "promise_section",
    "rejected_row",
    "row_warning",
    "schema_version",
    "source_quality",
]
# The staging tables' columns as the baseline makes them.
STAGING_COLUMNS = {
    "stg_fact_brott": (
        "run_id file_seq arendenummer brottsnummer brottskod registreringstid datum year tertial kommunkod "
        "kommun brottsdatum nord ost koordinat_status line"
    ),
    "stg_fact_handelserapport": (
        "run_id file_seq handelsenummer starttid_utc starttid_lokal datum year tertial kommunkod hobit "
        "hobit_kand handelsekod handelsetyp handelsetyp_key plats enhet enhet_key nord ost koordinat_status "
        "line"
    ),
    "stg_fact_aktivitet": (
        "run_id file_seq datum aktivitet_key plats_key kommunkod aktivitet plats year tertial line"
    ),
    "stg_fact_brott_area": "run_id file_seq layer area_id line",
    "stg_fact_handelserapport_area": "run_id file_seq layer area_id line",
    "stg_rejected_row": (
        "run_id file_seq file_sha256 line source column_name reason kommunkod year fields_json"
    ),
    "stg_row_warning": "run_id file_seq file_sha256 line column_name source warning",
}
MEMBERSHIPS = ("fact_brott_area", "fact_handelserapport_area")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for table in KEYED_TABLES:
            op.execute(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{table}_pkey" TO "pk_{table}"')
        return
    inspector = sa.inspect(conn)
    for table, names in STAGING_COLUMNS.items():
        keep = set(names.split())
        for column in inspector.get_columns(table):
            if column["name"] not in keep:
                op.drop_column(table, column["name"])
    for table in MEMBERSHIPS:
        for column in inspector.get_columns(table):
            if column["name"] in ("kommunkod", "year") and column["nullable"]:
                op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column["name"]}" SET NOT NULL')
