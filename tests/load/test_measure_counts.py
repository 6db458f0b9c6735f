"""The merge's shared counts (one scan per measure, kommun and year) sum to exactly what a count per
tertial, per date and per weekday and hour gives: real warehouses, both backends."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from load.aggregate import MeasureCounts, by_tertial, count_measure, stored_measures
from load.warehouse import Warehouse
from pipeline.config import read_config
from pipeline.run import load_exports
from schemas.contracts import Source
from tests.conftest import ESKILSTUNA_2020


def _by_date(fact: sa.Table) -> list[sa.ColumnElement[Any]]:
    return [fact.c.datum]


def _by_weekday_hour(fact: sa.Table) -> list[sa.ColumnElement[Any]]:
    local = fact.c["registreringstid" if "registreringstid" in fact.c else "starttid_lokal"]
    return [
        sa.cast(sa.extract("isodow", local), sa.Integer).label("weekday"),
        sa.cast(sa.extract("hour", local), sa.Integer).label("hour"),
    ]


def _sorted(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    columns = sorted(frame.columns)
    return sorted(tuple(str(v) for v in row) for row in frame[columns].itertuples(index=False))


def test_shared_counts_equal_a_count_per_grouping(warehouse_url: str) -> None:
    files = [
        (source, path)
        for source, folder in ((Source.STATUS, "status"), (Source.STORM, "storm"), (Source.ACTIVITIES, "activities"))
        for path in sorted((ESKILSTUNA_2020 / folder).iterdir())
    ]  # fmt: skip
    load_exports(
        warehouse_url,
        files,
        read_config([ESKILSTUNA_2020 / "promises.yaml"], ESKILSTUNA_2020 / "areas.geojson", None),
    )
    store = Warehouse(warehouse_url)
    compared = 0
    with store.begin() as conn:
        measures = stored_measures(conn, "0484", 2020)
        counts_of = MeasureCounts(conn)
        for measure in measures:
            for years, by, grouping in (
                ([2020], ["tertial"], by_tertial),
                ([2019, 2020], ["datum"], _by_date),
                ([2020], ["weekday", "hour"], _by_weekday_hour),
            ):
                if by == ["weekday", "hour"] and measure.source is Source.ACTIVITIES:
                    continue  # activities have a date only
                direct = count_measure(conn, measure, "0484", years, by=grouping)
                shared = counts_of.count(measure, "0484", years, by)
                assert _sorted(shared) == _sorted(direct), (measure.id, by)
                compared += int(direct["value"].sum())
    store.dispose()
    assert compared > 0  # the fixture's measures count something
