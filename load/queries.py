"""Read side: what the report and the analysts' commands need, read from the warehouse only."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from load.aggregate import FACT_TABLES, measure_conditions, stored_measures
from schemas import warehouse as w
from schemas.contracts import Source
from schemas.promises import Measure
from transform.text import text_key


@dataclass
class MeasureFollowup:
    measure: Measure
    section_no: int
    rows: pd.DataFrame  # followup_aggregate rows of this measure (all areas)
    activities: pd.DataFrame = field(default_factory=pd.DataFrame)  # datum, plats, tertial (activities)
    places_missing: list[str] = field(default_factory=list)  # promised places with no activity this year


@dataclass
class Followup:
    kommunkod: str
    kommun: str
    year: int
    sections: list[dict]
    measures: list[MeasureFollowup]
    quality: pd.DataFrame  # source_quality rows of the partition
    run_ids: list[str]


def read_followup(conn: Connection, kommunkod: str, year: int) -> Followup | None:
    sections = [
        dict(r)
        for r in conn.execute(
            sa.select(w.promise_section)
            .where(w.promise_section.c.kommunkod == kommunkod, w.promise_section.c.year == year)
            .order_by(w.promise_section.c.section_no)
        ).mappings()
    ]
    if not sections:
        return None
    fa = w.followup_aggregate
    aggregate = pd.DataFrame(
        conn.execute(sa.select(fa).where(fa.c.kommunkod == kommunkod, fa.c.year == year)).mappings().all()
    )
    pm = w.promise_measure
    section_of = dict(
        conn.execute(
            sa.select(pm.c.measure_id, pm.c.section_no).where(pm.c.kommunkod == kommunkod, pm.c.year == year)
        ).all()
    )
    measures = []
    for measure in stored_measures(conn, kommunkod, year):
        rows = aggregate[aggregate["measure_id"] == measure.id] if len(aggregate) else aggregate
        item = MeasureFollowup(measure, section_of[measure.id], rows.reset_index(drop=True))
        if measure.source is Source.ACTIVITIES:
            item.activities = _activities(conn, measure, kommunkod, year)
            held = set(item.activities["plats_key"]) if len(item.activities) else set()
            item.places_missing = [p for p in measure.expected_places if text_key(p) not in held]
        measures.append(item)
    sq = w.source_quality
    quality = pd.DataFrame(
        conn.execute(sa.select(sq).where(sq.c.kommunkod == kommunkod, sq.c.year == year)).mappings().all()
    )
    run_ids = sorted(set(aggregate["run_id"])) if len(aggregate) else []
    return Followup(kommunkod, sections[0].get("kommun") or "", year, sections, measures, quality, run_ids)


def _activities(conn: Connection, measure: Measure, kommunkod: str, year: int) -> pd.DataFrame:
    fact, _ = FACT_TABLES[Source.ACTIVITIES]
    query = (
        sa.select(fact.c.datum, fact.c.plats, fact.c.plats_key, fact.c.tertial)
        .where(*measure_conditions(measure, kommunkod, year))
        .order_by(fact.c.datum, fact.c.plats_key)
    )
    return pd.DataFrame(conn.execute(query).all(), columns=["datum", "plats", "plats_key", "tertial"])
