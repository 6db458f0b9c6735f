"""Recompute (kommunkod, year) partitions of the lägesbild: `period_aggregate` and `weekday_hour_aggregate`.

Counting is set-based SQL (units per local date, and per weekday and hour, grouped in the database);
turning counts into rows is the pure `transform.lagesbild`. Runs inside the merge transaction, beside
the tertial follow-up of the same partitions. A partition reads the year before too (last year's
value and the deviation's history), so a merge also recomputes the next year's partition when it has
promises (see `lagesbild_partitions`).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from load.aggregate import FACT_TABLES, LOCAL_TIME, MeasureCounts, Partition, stored_measures
from load.backend import Backend
from schemas import warehouse as w
from schemas.contracts import Source
from schemas.promises import Measure
from transform.followup import ALL
from transform.lagesbild import Loaded, period_rows, weekday_hour_rows


def _years_with_rows(conn: Connection, kommunkod: str, years: list[int]) -> dict[Source, set[int]]:
    """Per source, the years among `years` with any loaded row in the kommun (missing is not zero).

    Read from `source_quality`, which the merge has already rewritten for every partition whose facts
    changed: a look-up instead of a scan of the facts."""
    sq = w.source_quality
    query = sa.select(sq.c.source, sq.c.year).where(
        sq.c.kommunkod == kommunkod, sq.c.year.in_(years), sq.c.rows_counted > 0
    )
    found: dict[Source, set[int]] = {source: set() for source in FACT_TABLES}
    for source, year in conn.execute(query):
        found[Source(source)].add(year)
    return found


def _populations(conn: Connection, kommunkod: str, year: int) -> tuple[int | None, dict[str, int]]:
    fm, area = w.dim_folkmangd, w.dim_area
    kommun = conn.execute(
        sa.select(fm.c.folkmangd).where(fm.c.kommunkod == kommunkod, fm.c.year == year)
    ).scalar_one_or_none()
    areas = conn.execute(
        sa.select(area.c.area_id, area.c.befolkning).where(
            area.c.kommunkod == kommunkod, area.c.befolkning.is_not(None)
        )
    )
    return kommun, {area_id: int(n) for area_id, n in areas}


def lagesbild_rows(
    conn: Connection,
    measures: list[Measure],
    kommunkod: str,
    year: int,
    counts_of: MeasureCounts | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The partition's period rows and weekday × hour rows, without run_id and updated_at."""
    counts_of = counts_of or MeasureCounts(conn)
    years = [year - 1, year]
    with_rows = _years_with_rows(conn, kommunkod, years)
    loaded = {
        m.id: Loaded(this_year=year in with_rows[m.source], last_year=year - 1 in with_rows[m.source])
        for m in measures
    }
    daily = pd.concat(
        [pd.DataFrame(columns=["datum", "area_id", "value", "measure_id"])]
        + [counts_of.count(m, kommunkod, years, ["datum"]) for m in measures],
        ignore_index=True,
    )
    population, area_population = _populations(conn, kommunkod, year)
    periods = period_rows(daily, measures, year, loaded, population, area_population)
    timed = [m for m in measures if m.source in LOCAL_TIME and loaded[m.id].this_year]
    hours = pd.concat(
        [pd.DataFrame(columns=["weekday", "hour", "area_id", "value", "measure_id"])]
        + [counts_of.count(m, kommunkod, [year], ["weekday", "hour"]) for m in timed],
        ignore_index=True,
    )
    return periods, weekday_hour_rows(hours, timed)


def recompute_lagesbild(
    conn: Connection,
    backend: Backend,
    partition: Partition,
    run_id: str,
    updated_at: datetime,
    counts_of: MeasureCounts | None = None,
) -> int:
    """Replace the partition's lägesbild rows from its stored measures (counted by `counts_of`, which
    the merge shares with the follow-up); returns period rows written."""
    kommunkod, year = partition
    pa_, wh = w.period_aggregate, w.weekday_hour_aggregate
    for table in (pa_, wh):
        conn.execute(sa.delete(table).where(table.c.kommunkod == kommunkod, table.c.year == year))
    measures = stored_measures(conn, kommunkod, year)
    if not measures:
        return 0
    periods, hours = lagesbild_rows(conn, measures, kommunkod, year, counts_of)
    stamp = {"kommunkod": kommunkod, "year": year, "run_id": run_id, "updated_at": updated_at}
    written = backend.bulk_insert(conn, pa_, periods.assign(**stamp))
    backend.bulk_insert(conn, wh, hours.assign(**stamp))
    return written


def lagesbild_partitions(conn: Connection, recomputed: set[Partition]) -> set[Partition]:
    """The recomputed partitions and the year after each, where that year has promises: its last-year
    values and deviations read the recomputed year."""
    if not recomputed:
        return set()
    pm = w.promise_measure
    kommuner = sorted({k for k, _ in recomputed})
    query = sa.select(pm.c.kommunkod, pm.c.year).where(pm.c.kommunkod.in_(kommuner)).distinct()
    stored = {(k, y) for k, y in conn.execute(query)}
    return {p for p in recomputed if p in stored} | {
        (k, y + 1) for k, y in recomputed if (k, y + 1) in stored
    }


def refresh_populations(conn: Connection, kommuner: list[str]) -> None:
    """Populations and rates of the kommuner's stored lägesbild rows, from `dim_folkmangd` (ALL rows)
    and the areas' `befolkning` (area rows): a new areas or population file applies at once, without
    recounting (a backfill writes its areas after the years it merged)."""
    if not kommuner:
        return
    pa_, fm, area = w.period_aggregate, w.dim_folkmangd, w.dim_area
    kommun = (
        sa.select(fm.c.folkmangd)
        .where(fm.c.kommunkod == pa_.c.kommunkod, fm.c.year == pa_.c.year)
        .scalar_subquery()
    )
    of_area = (
        sa.select(area.c.befolkning)
        .where(area.c.area_id == pa_.c.area_id, area.c.kommunkod == pa_.c.kommunkod)
        .scalar_subquery()
    )
    population = sa.case((pa_.c.area_id == ALL, kommun), else_=of_area)
    conn.execute(sa.update(pa_).where(pa_.c.kommunkod.in_(kommuner)).values(population=population))
    conn.execute(
        sa.update(pa_)
        .where(pa_.c.kommunkod.in_(kommuner))
        .values(
            rate_per_100k=sa.case(
                (pa_.c.population > 0, sa.cast(pa_.c.value, sa.Double) * 100_000 / pa_.c.population),
                else_=None,
            )
        )
    )
