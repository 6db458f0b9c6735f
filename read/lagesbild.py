"""Read side of the lägesbild: `v_lagesbild` and `v_tid_pa_dygnet` of one partition, and its areas' shapes.

Every published text (cells, week and month names, rates with a decimal comma, the deviation mark) is the
views'; the report lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from load.views import view
from read.report_data import MapArea, Polygon, _areas, _kommun_outline


@dataclass
class MeasureLagesbild:
    measure_id: str
    label: str
    source: str
    rows: pd.DataFrame  # v_lagesbild rows of the measure, every period and area
    hours: pd.DataFrame  # v_tid_pa_dygnet rows of the measure (empty for activities)


@dataclass
class Lagesbild:
    kommunkod: str
    kommun: str | None
    year: int
    measures: list[MeasureLagesbild]
    run_ids: list[str]
    areas: list[MapArea] = field(default_factory=list)
    kommun_outline: list[Polygon] = field(default_factory=list)


def _frame(conn: Connection, name: str, kommunkod: str, year: int) -> pd.DataFrame:
    v = view(name)
    query = sa.select(v).where(v.c.kommunkod == kommunkod, v.c.year == year)
    return pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in v.columns])


def read_lagesbild(
    conn: Connection, kommunkod: str, year: int, *, with_map: bool = False
) -> Lagesbild | None:
    """The partition's lägesbild; None when it has none (no promises loaded for it)."""
    periods = _frame(conn, "v_lagesbild", kommunkod, year)
    if not len(periods):
        return None
    hours = _frame(conn, "v_tid_pa_dygnet", kommunkod, year)
    periods = periods.sort_values(["position", "period", "period_start", "area_id"], kind="stable")
    periods["period_start"] = pd.to_datetime(periods["period_start"]).dt.date
    measures = []
    for measure_id, rows in periods.groupby("measure_id", sort=False):
        first = rows.iloc[0]
        measures.append(
            MeasureLagesbild(
                measure_id=str(measure_id),
                label=str(first["measure_label"] or measure_id),
                source=str(first["source"]),
                rows=rows.reset_index(drop=True),
                hours=hours[hours["measure_id"] == measure_id].reset_index(drop=True),
            )
        )
    kommun = next((k for k in periods["kommun"] if isinstance(k, str)), None)
    result = Lagesbild(kommunkod, kommun, year, measures, sorted(set(periods["run_id"])))
    if with_map:
        result.areas = _areas(conn, kommunkod, year)
        result.kommun_outline = _kommun_outline(kommunkod)
    return result
