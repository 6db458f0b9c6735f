"""From counts to the follow-up: the contract's rows with zeros, ALL rows and year-to-date values (pure).

The warehouse counts distinct units per (measure, tertial, area) with set-based SQL (load/aggregate.py);
this module turns those counts into `followup_aggregate` rows. The rules that live here:
- every measure has an ALL row for each tertial of its year, zero included;
- with a layer, ALL is the sum of the measure's area rows (a scope layer: its areas only; a breakdown
  layer: its areas plus OUTSIDE and NO_COORDINATES, which together hold everything matched);
- area rows of an area with nothing all year are left out; an area counted in any tertial gets all three
  tertials, so its year-to-date value reads on in the tertials where it had none;
- cumulative_value is the running sum over tertials 1..3; the target stands on ALL rows;
- missing is not zero: a measure whose source had no row loaded in the partition at all gets its ALL
  rows with value and cumulative_value NULL (and no area rows), never 0.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from schemas.contracts import Source
from schemas.promises import Measure
from transform.text import fold_hobit, pad_code4, text_key

TERTIALS = (1, 2, 3)
ALL, OUTSIDE, NO_COORDINATES = "ALL", "OUTSIDE", "NO_COORDINATES"
AGGREGATE_COLUMNS = ["measure_id", "tertial", "area_id", "value", "cumulative_value", "target"]


def match_values(source: Source, field: str, values: tuple[str, ...]) -> list[str]:
    """A measure's `match` values in the normalised form the facts store for that field."""
    if field in ("brottskod", "kommunkod"):
        return [code for v in values if (code := pad_code4(v)) is not None]
    if field == "hobit":
        return [fold_hobit(v) for v in values]
    if field.endswith("_key"):
        return [text_key(v) for v in values]
    return [v.strip() for v in values]


def finalize(counts: pd.DataFrame, measures: list[Measure], missing: Collection[str] = ()) -> pd.DataFrame:
    """`counts`: (measure_id, tertial, area_id, value) as counted; area_id is ALL for layer-less measures.
    `missing`: the measures whose source had no data in the partition."""
    frames = []
    for measure in measures:
        if measure.id in missing:
            frames.append(
                pd.DataFrame(
                    {
                        "area_id": ALL,
                        "tertial": TERTIALS,
                        "value": pd.array([None] * len(TERTIALS), dtype="Int64"),
                        "cumulative_value": pd.array([None] * len(TERTIALS), dtype="Int64"),
                        "measure_id": measure.id,
                        "target": measure.target,
                    }
                )
            )
            continue
        mine = counts[counts["measure_id"] == measure.id]
        if measure.layer:
            areas = mine[mine["area_id"] != ALL]
            totals = areas.groupby("tertial")["value"].sum()
            grid = pd.MultiIndex.from_product([sorted(areas["area_id"].unique()), TERTIALS])
            area_rows = (
                areas.set_index(["area_id", "tertial"])["value"]
                .reindex(grid, fill_value=0)
                .rename_axis(["area_id", "tertial"])
                .reset_index()
            )
        else:
            totals = mine.groupby("tertial")["value"].sum()
            area_rows = pd.DataFrame({"area_id": [], "tertial": [], "value": []})
        all_rows = pd.DataFrame({"area_id": ALL, "tertial": TERTIALS})
        all_rows["value"] = [int(totals.get(t, 0)) for t in TERTIALS]
        rows = pd.concat([all_rows, area_rows], ignore_index=True).astype({"tertial": int, "value": int})
        rows = rows.sort_values(["area_id", "tertial"], kind="stable")
        rows["cumulative_value"] = rows.groupby("area_id")["value"].cumsum().astype(int)
        rows["measure_id"] = measure.id
        rows["target"] = [measure.target if a == ALL else None for a in rows["area_id"]]
        frames.append(rows)
    if not frames:
        return pd.DataFrame(columns=AGGREGATE_COLUMNS)
    result = pd.concat(frames, ignore_index=True)[AGGREGATE_COLUMNS]
    for column in ("value", "cumulative_value", "target"):
        result[column] = result[column].astype("Int64")
    return result.reset_index(drop=True)
