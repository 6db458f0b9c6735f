"""The follow-up of one partition as the report prints it, read from the analysts' views only.

The published texts (the cells "479 (1019)", "204 av 200 (102 %)", the data-quality lines) are built
once, in the views (load/views.py); the report reads them here, so the report and the exported tables
never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from load.aggregate import FACT_TABLES, measure_conditions, stored_measures
from load.views import MISSING, view
from schemas import warehouse as w
from schemas.contracts import Source
from schemas.promises import Measure
from transform.followup import ALL, TERTIALS
from transform.text import text_key


@dataclass
class MeasureFollowup:
    measure: Measure
    section_no: int
    rows: pd.DataFrame  # v_followup rows of this measure (all areas): value NULL where data is missing
    cells: list[str] = field(default_factory=lambda: [MISSING] * len(TERTIALS))  # the published cells
    target_text: str = ""  # "204 av 200 (102 %)"; empty without a target
    activities: pd.DataFrame = field(default_factory=pd.DataFrame)  # datum, plats, tertial (activities)
    places_missing: list[str] = field(default_factory=list)  # promised places with no activity this year

    @property
    def matched_nothing(self) -> bool:
        """Its source has data in the partition (values are not NULL) yet the measure counted nothing all
        year: most likely a code or value in the promises file that the exports never carry."""
        if not len(self.rows):
            return False
        totals = self.rows[self.rows["area_id"] == ALL]["cumulative_value"]
        return bool(len(totals)) and bool(totals.notna().all()) and int(totals.max()) == 0


@dataclass
class Followup:
    kommunkod: str
    kommun: str
    year: int
    sections: list[dict]
    measures: list[MeasureFollowup]
    quality: pd.DataFrame  # v_source_quality rows of the partition (one per source)
    run_ids: list[str]
    data_until: dict[str, date] = field(default_factory=dict)  # source → the partition's last date
    produced_at: datetime | None = None  # when the partition was last recomputed
    rejected: dict[str, dict[str, int]] = field(default_factory=dict)  # source → reason → rows
    unplaced: dict[str, int] = field(default_factory=dict)  # source → rejected rows of no partition

    def quality_lines(self, sources: tuple[str, ...] = ("status", "storm")) -> list[str]:
        """The data-quality lines of `sources`, as the view writes them, each followed by why rows were
        rejected and how many rejected rows of the same files could not be placed in any partition
        (a run counts those too: the two numbers reconcile the report with the run's)."""
        by_source = dict(zip(self.quality["source"], self.quality["quality_line"], strict=True))
        lines = []
        for s in sources:
            if s not in by_source:
                continue
            line = str(by_source[s])
            reasons = self.rejected.get(s, {})
            if reasons:
                line += " (" + ", ".join(f"{_reason_sv(r)}: {n}" for r, n in sorted(reasons.items())) + ")"
            unplaced = self.unplaced.get(s, 0)
            if unplaced:
                rows = "1 rad" if unplaced == 1 else f"{unplaced} rader"
                line += (
                    f"; ytterligare {rows} utan läsbar kommun eller datum kunde inte knytas till någon kommun"
                )
            lines.append(line)
        return lines

    def warning_lines(self) -> list[str]:
        """A line per measure that matched no row although its source has data for the year."""
        return [
            f"Varning: {m.measure.label}: ingen rad matchade i {str(m.measure.source).upper()} "
            "(källan har data för året: kontrollera koder och värden i löftesfilen)"
            for m in self.measures
            if m.matched_nothing
        ]


def _reason_sv(reason: str) -> str:
    """A rejection reason ("Brottskod missing") in the report's Swedish."""
    column, _, what = reason.rpartition(" ")
    words = {"missing": "saknas", "unparseable": "kan inte tolkas"}
    return f"{column} {words[what]}" if column and what in words else reason


def read_followup(conn: Connection, kommunkod: str, year: int) -> Followup | None:
    ps = w.promise_section
    sections = [
        dict(r)
        for r in conn.execute(
            sa.select(ps).where(ps.c.kommunkod == kommunkod, ps.c.year == year).order_by(ps.c.section_no)
        ).mappings()
    ]
    if not sections:
        return None
    rows = _frame(conn, view("v_followup"), kommunkod, year)
    table = _frame(conn, view("v_followup_table"), kommunkod, year)
    published = {r.measure_id: r for r in table.itertuples()}
    pm = w.promise_measure
    section_of = dict(
        conn.execute(
            sa.select(pm.c.measure_id, pm.c.section_no).where(pm.c.kommunkod == kommunkod, pm.c.year == year)
        ).all()
    )
    measures = []
    for measure in stored_measures(conn, kommunkod, year):
        mine = rows[rows["measure_id"] == measure.id].reset_index(drop=True) if len(rows) else rows
        item = MeasureFollowup(measure, section_of[measure.id], mine)
        cells = published.get(measure.id)
        if cells is not None:
            item.cells = [str(cells.tertial_1), str(cells.tertial_2), str(cells.tertial_3)]
            item.target_text = "" if pd.isna(cells.target_text) else str(cells.target_text)
        if measure.source is Source.ACTIVITIES:
            item.activities = _activities(conn, measure, kommunkod, year)
            held = set(item.activities["plats_key"]) if len(item.activities) else set()
            item.places_missing = [p for p in measure.expected_places if text_key(p) not in held]
        measures.append(item)
    quality = _frame(conn, view("v_source_quality"), kommunkod, year)
    run_ids = sorted(set(rows["run_id"])) if len(rows) else []
    followup = Followup(
        kommunkod, sections[0].get("kommun") or "", year, sections, measures, quality, run_ids
    )
    _read_provenance(conn, followup)
    return followup


def _read_provenance(conn: Connection, followup: Followup) -> None:
    """The partition's last dates, when it was recomputed, and its rejected rows with their reasons."""
    kommunkod, year = followup.kommunkod, followup.year
    rr = w.rejected_row
    for source in (Source.STATUS, Source.STORM):
        fact, _ = FACT_TABLES[source]
        mine = (fact.c.kommunkod == kommunkod, fact.c.year == year)
        last = conn.execute(sa.select(sa.func.max(fact.c.datum)).where(*mine)).scalar()
        if last is not None:
            followup.data_until[str(source)] = last
        reasons = conn.execute(
            sa.select(rr.c.reason, sa.func.count())
            .where(rr.c.source == str(source), rr.c.kommunkod == kommunkod, rr.c.year == year)
            .group_by(rr.c.reason)
        ).all()
        if reasons:
            followup.rejected[str(source)] = {str(r): int(n) for r, n in reasons}
        files = sa.select(fact.c.file_sha256).where(*mine).distinct()
        unplaced = conn.execute(
            sa.select(sa.func.count()).where(
                rr.c.source == str(source),
                sa.or_(rr.c.kommunkod.is_(None), rr.c.year.is_(None)),
                rr.c.file_sha256.in_(files),
            )
        ).scalar_one()
        if unplaced:
            followup.unplaced[str(source)] = int(unplaced)
    if len(followup.quality) and followup.quality["updated_at"].notna().any():
        followup.produced_at = pd.Timestamp(followup.quality["updated_at"].max()).to_pydatetime()


def _frame(conn: Connection, source: sa.Table, kommunkod: str, year: int) -> pd.DataFrame:
    query = sa.select(source).where(source.c.kommunkod == kommunkod, source.c.year == year)
    result = conn.execute(query)
    return pd.DataFrame(result.mappings().all(), columns=list(result.keys()))


def _activities(conn: Connection, measure: Measure, kommunkod: str, year: int) -> pd.DataFrame:
    fact, _ = FACT_TABLES[Source.ACTIVITIES]
    query = (
        sa.select(fact.c.datum, fact.c.plats, fact.c.plats_key, fact.c.tertial)
        .where(*measure_conditions(measure, kommunkod, year))
        .order_by(fact.c.datum, fact.c.plats_key)
    )
    return pd.DataFrame(conn.execute(query).all(), columns=["datum", "plats", "plats_key", "tertial"])
