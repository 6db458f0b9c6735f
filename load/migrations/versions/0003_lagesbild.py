"""The lägesbild: period_aggregate, weekday_hour_aggregate, the population, the areas' befolkning

Three tables: `period_aggregate` (the contract: one row per kommunkod, year, period, period_start,
measure_id, area_id), `weekday_hour_aggregate` (one row per kommunkod, year, measure_id, area_id, weekday,
hour) and `dim_folkmangd` (one row per kommunkod and year: the population on 31 December), loaded with the
shipped population (schemas/reference/kommun_folkmangd.csv, based on SCB). `dim_area` gets the areas
file's optional `befolkning`.

Frozen once released: names and types are written out, not taken from schemas/warehouse.py.
"""

from __future__ import annotations

import csv
from importlib import resources

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _key(postgres: bool, table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    # PostgreSQL's keys carry the naming convention's name; DuckDB keeps no constraint names.
    return sa.PrimaryKeyConstraint(*columns, name=f"pk_{table}" if postgres else None)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "period_aggregate",
        sa.Column("kommunkod", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("measure_id", sa.Text, nullable=False),
        sa.Column("area_id", sa.Text, nullable=False),
        sa.Column("value", sa.Integer),
        sa.Column("value_last_year", sa.Integer),
        sa.Column("population", sa.Integer),
        sa.Column("rate_per_100k", sa.Double),
        sa.Column("deviation", sa.Boolean),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _key(
            postgres,
            "period_aggregate",
            "kommunkod",
            "year",
            "period",
            "period_start",
            "measure_id",
            "area_id",
        ),
    )
    op.create_table(
        "weekday_hour_aggregate",
        sa.Column("kommunkod", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("measure_id", sa.Text, nullable=False),
        sa.Column("area_id", sa.Text, nullable=False),
        sa.Column("weekday", sa.SmallInteger, nullable=False),
        sa.Column("hour", sa.SmallInteger, nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _key(
            postgres,
            "weekday_hour_aggregate",
            "kommunkod",
            "year",
            "measure_id",
            "area_id",
            "weekday",
            "hour",
        ),
    )
    op.create_table(
        "dim_folkmangd",
        sa.Column("kommunkod", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("folkmangd", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        _key(postgres, "dim_folkmangd", "kommunkod", "year"),
    )
    op.add_column("dim_area", sa.Column("befolkning", sa.Integer))
    _load_folkmangd()


def _load_folkmangd() -> None:
    """The population as shipped. A new edition comes with a revision that reloads the `scb` rows
    (a run's --population rows have their file's name as `source` and are kept)."""
    text = resources.files("schemas").joinpath("reference/kommun_folkmangd.csv").read_text(encoding="utf-8")
    rows = [
        {
            "kommunkod": r["kommunkod"],
            "year": int(r["year"]),
            "folkmangd": int(r["folkmangd"]),
            "source": "scb",
        }
        for r in csv.DictReader(text.splitlines())
    ]
    folkmangd = sa.table(
        "dim_folkmangd",
        sa.column("kommunkod"),
        sa.column("year"),
        sa.column("folkmangd"),
        sa.column("source"),
    )
    op.bulk_insert(folkmangd, rows)
