"""Recompute (kommunkod, year) partitions of `followup_aggregate` and `source_quality` in the warehouse.

Counting is set-based SQL (GROUP BY in DuckDB or PostgreSQL); turning counts into the contract's rows
(zeros, ALL, year-to-date) is the pure `transform.followup.finalize`. Each partition is deleted and
rewritten inside the caller's transaction, so readers see the old partition or the new one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from schemas import warehouse as w
from schemas.contracts import CONTRACTS, Source
from schemas.promises import Measure
from transform.followup import ALL, NO_COORDINATES, OUTSIDE, finalize, match_values

Partition = tuple[str, int]

FACT_TABLES: dict[Source, tuple[sa.Table, sa.Table | None]] = {
    Source.STATUS: (w.fact_brott, w.fact_brott_area),
    Source.STORM: (w.fact_handelserapport, w.fact_handelserapport_area),
    Source.ACTIVITIES: (w.fact_aktivitet, None),
}


def stored_measures(conn: Connection, kommunkod: str, year: int) -> list[Measure]:
    """The partition's measures as stored from its promises file, in the file's order."""
    pm = w.promise_measure
    rows = conn.execute(
        sa.select(pm).where(pm.c.kommunkod == kommunkod, pm.c.year == year).order_by(pm.c.position)
    ).mappings()
    return [
        Measure(
            id=r["measure_id"],
            label=r["label"],
            source=Source(r["source"]),
            match={k: tuple(v) for k, v in json.loads(r["match_json"]).items()},
            scope_layer=r["scope_layer"],
            breakdown_layer=r["breakdown_layer"],
            target=r["target"],
            expected_places=tuple(json.loads(r["expected_places_json"])),
        )
        for r in rows
    ]


def measure_conditions(
    measure: Measure, kommunkod: str, year: int | Sequence[int]
) -> list[sa.ColumnElement[bool]]:
    """The facts a measure counts in one partition (or the kommun's given years), and every `match`
    column."""
    fact, _ = FACT_TABLES[measure.source]
    contract = CONTRACTS[measure.source]
    in_year = fact.c.year == year if isinstance(year, int) else fact.c.year.in_(list(year))
    conditions = [fact.c.kommunkod == kommunkod, in_year]
    for column, values in measure.match.items():
        field = contract.matchable[column]
        conditions.append(fact.c[field].in_(match_values(measure.source, field, values)))
    return conditions


GroupBy = Callable[[sa.Table], list[sa.ColumnElement[Any]]]


def by_tertial(fact: sa.Table) -> list[sa.ColumnElement[Any]]:
    return [fact.c.tertial]


def count_measure(
    conn: Connection,
    measure: Measure,
    kommunkod: str,
    year: int | Sequence[int],
    by: GroupBy = by_tertial,
) -> pd.DataFrame:
    """Distinct units per (`by` columns, area_id) for one measure in one partition (or years).

    `by` names the fact's columns to count by (labelled): the tertial for the follow-up, the local
    date or weekday and hour for the lägesbild."""
    fact, area = FACT_TABLES[measure.source]
    contract = CONTRACTS[measure.source]
    conditions = measure_conditions(measure, kommunkod, year)
    groups = by(fact)
    names = [g.name for g in groups]
    n = sa.func.count().label("value")
    if not measure.layer or area is None:
        query = sa.select(*groups, sa.literal(ALL).label("area_id"), n).where(*conditions)
        query = query.group_by(*groups)
    else:
        years = [year] if isinstance(year, int) else list(year)
        joined = sa.and_(
            *[area.c[k] == fact.c[k] for k in contract.key],
            area.c.layer == measure.layer,
            # the partition's memberships alone: a nightly file's cost stays with the partitions it touches
            area.c.kommunkod == kommunkod,
            area.c.year == years[0] if len(years) == 1 else area.c.year.in_(years),
        )
        area_id: sa.ColumnElement[str]
        if measure.scope_layer:
            area_id = area.c.area_id
            query = sa.select(*groups, area_id, n).select_from(fact.join(area, joined))
        else:
            area_id = sa.func.coalesce(
                area.c.area_id,
                sa.case((fact.c.koordinat_status == "ok", OUTSIDE), else_=NO_COORDINATES),
            )
            query = sa.select(*groups, area_id.label("area_id"), n).select_from(fact.outerjoin(area, joined))
        query = query.where(*conditions).group_by(*groups, area_id)
    frame = pd.DataFrame(conn.execute(query).all(), columns=[*names, "area_id", "value"])
    frame["measure_id"] = measure.id
    return frame


# The local time of a unit: when in the week and day it happened (activities have a date only).
LOCAL_TIME = {Source.STATUS: "registreringstid", Source.STORM: "starttid_lokal"}


def by_date_and_hour(fact: sa.Table) -> list[sa.ColumnElement[Any]]:
    """The finest grouping any count needs: the local date with its year and tertial, and the weekday
    and hour of the local time (whose date it is); activities have a date only."""
    groups: list[sa.ColumnElement[Any]] = [fact.c.datum, fact.c.year, fact.c.tertial]
    local = next((fact.c[name] for name in LOCAL_TIME.values() if name in fact.c), None)
    if local is None:
        return groups
    return [
        *groups,
        sa.cast(sa.extract("isodow", local), sa.Integer).label("weekday"),
        sa.cast(sa.extract("hour", local), sa.Integer).label("hour"),
    ]


FINE_COUNT_COLUMNS = ["datum", "year", "tertial", "weekday", "hour", "area_id", "value"]


class MeasureCounts:
    """A merge's counts of its measures, each read from the facts once per kommun and year: distinct
    units per local date, tertial, weekday, hour and area. The follow-up sums them per tertial and the
    lägesbild per date and per weekday and hour: one scan of the facts per measure instead of three."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._counted: dict[tuple[str, str], tuple[set[int], pd.DataFrame]] = {}

    def count(
        self, measure: Measure, kommunkod: str, years: Sequence[int], by: Sequence[str]
    ) -> pd.DataFrame:
        """Units per (`by`, area_id) in the given years, as `count_measure` gives them."""
        fine = self._fine(measure, kommunkod, set(years))
        fine = fine[fine["year"].isin(list(years))]
        counted = fine.groupby([*by, "area_id"], as_index=False, dropna=False, sort=False)["value"].sum()
        return counted.assign(measure_id=measure.id)

    def _fine(self, measure: Measure, kommunkod: str, years: set[int]) -> pd.DataFrame:
        key = (measure.model_dump_json(), kommunkod)
        covered, frame = self._counted.get(key, (set(), None))
        missing = sorted(years - covered)
        if missing or frame is None:
            more = count_measure(self.conn, measure, kommunkod, missing, by=by_date_and_hour)
            more = more.drop(columns="measure_id").reindex(columns=FINE_COUNT_COLUMNS)
            frame = more if frame is None else pd.concat([frame, more], ignore_index=True)
            self._counted[key] = (covered | set(missing), frame)
        return frame


def loaded_sources(conn: Connection, kommunkod: str, year: int) -> set[Source]:
    """The sources with at least one fact in the partition: a measure of any other source has no data
    (missing, NULL), which is not the same as having counted nothing (0)."""
    found = set()
    for source, (fact, _) in FACT_TABLES.items():
        query = sa.select(sa.literal(1)).where(fact.c.kommunkod == kommunkod, fact.c.year == year).limit(1)
        if conn.execute(query).first() is not None:
            found.add(source)
    return found


@dataclass
class FollowupResult:
    rows: int = 0
    # Measures whose source has data in the partition but none of it matched: likely a wrong code or
    # value in the promises file, so the run output and the report say so.
    matched_nothing: list[str] = field(default_factory=list)


def recompute_followup(
    conn: Connection,
    partition: Partition,
    run_id: str,
    updated_at: datetime,
    counts_of: MeasureCounts | None = None,
) -> FollowupResult:
    """Replace the partition's follow-up rows from its stored measures (counted by `counts_of`, which
    the merge shares with the lägesbild)."""
    kommunkod, year = partition
    counts_of = counts_of or MeasureCounts(conn)
    fa = w.followup_aggregate
    conn.execute(sa.delete(fa).where(fa.c.kommunkod == kommunkod, fa.c.year == year))
    measures = stored_measures(conn, kommunkod, year)
    if not measures:
        return FollowupResult()
    counts = pd.concat(
        [counts_of.count(m, kommunkod, [year], ["tertial"]) for m in measures], ignore_index=True
    )
    loaded = loaded_sources(conn, kommunkod, year)
    missing = {m.id for m in measures if m.source not in loaded}
    rows = finalize(counts, measures, missing=missing).assign(
        kommunkod=kommunkod, year=year, run_id=run_id, updated_at=updated_at
    )
    # A few hundred rows per partition: a plain insert, the same on both databases.
    conn.execute(sa.insert(fa), rows.astype(object).where(rows.notna(), None).to_dict("records"))
    counted = set(counts.loc[counts["value"] > 0, "measure_id"])
    nothing = [m.id for m in measures if m.id not in missing and m.id not in counted]
    return FollowupResult(len(rows), nothing)


def recompute_quality(
    conn: Connection, partitions: Iterable[Partition], run_id: str, updated_at: datetime
) -> int:
    """Replace `source_quality` for the partitions: distinct units, with/without coordinates, rejected."""
    wanted = sorted(set(partitions))
    if not wanted:
        return 0
    kommuner = sorted({k for k, _ in wanted})
    years = sorted({y for _, y in wanted})
    sq = w.source_quality
    for chunk in _chunks(wanted, 200):
        conn.execute(
            sa.delete(sq).where(sa.or_(*[(sq.c.kommunkod == k) & (sq.c.year == y) for k, y in chunk]))
        )
    counted: dict[tuple[str, int, str], list[int]] = {}
    for source, (fact, _) in FACT_TABLES.items():
        with_coordinates = (
            sa.func.sum(sa.case((fact.c.koordinat_status == "ok", 1), else_=0))
            if "koordinat_status" in fact.c
            else sa.literal(0)
        )
        query = (
            sa.select(fact.c.kommunkod, fact.c.year, sa.func.count(), with_coordinates)
            .where(fact.c.kommunkod.in_(kommuner), fact.c.year.in_(years))
            .group_by(fact.c.kommunkod, fact.c.year)
        )
        for kommunkod, year, rows, with_coords in conn.execute(query):
            counted[(kommunkod, year, str(source))] = [rows, int(with_coords or 0), 0]
    rr = w.rejected_row
    rejected = (
        sa.select(rr.c.kommunkod, rr.c.year, rr.c.source, sa.func.count())
        .where(rr.c.kommunkod.in_(kommuner), rr.c.year.in_(years))
        .group_by(rr.c.kommunkod, rr.c.year, rr.c.source)
    )
    for kommunkod, year, source, n in conn.execute(rejected):
        counted.setdefault((kommunkod, year, source), [0, 0, 0])[2] = n
    keep = set(wanted)
    rows = [
        {
            "kommunkod": k,
            "year": y,
            "source": s,
            "rows_counted": n,
            "rows_with_coordinates": with_coords,
            "rows_missing_coordinates": n - with_coords if s != Source.ACTIVITIES else 0,
            "rows_rejected": rej,
            "run_id": run_id,
            "updated_at": updated_at,
        }
        for (k, y, s), (n, with_coords, rej) in sorted(counted.items())
        if (k, y) in keep
    ]
    if rows:
        conn.execute(sa.insert(sq), rows)
    return len(rows)


def _chunks(items: list[Partition], size: int) -> Iterable[list[Partition]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
