"""From counts to the contract's rows: zeros, ALL rows, year-to-date values, targets."""

from __future__ import annotations

import pandas as pd

from schemas.contracts import Source
from schemas.promises import Measure
from transform.followup import finalize, match_values


def _counts(rows: list[tuple[str, int, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["measure_id", "tertial", "area_id", "value"])


def test_every_measure_gets_three_all_rows_even_with_nothing_counted() -> None:
    measure = Measure(id="m", label="M", source=Source.ACTIVITIES, target=4)
    rows = finalize(_counts([]), [measure])
    assert rows[["tertial", "area_id", "value", "cumulative_value"]].values.tolist() == [
        [1, "ALL", 0, 0],
        [2, "ALL", 0, 0],
        [3, "ALL", 0, 0],
    ]
    assert rows["target"].tolist() == [4, 4, 4]


def test_scope_layer_all_is_the_sum_of_its_areas_and_cumulates() -> None:
    measure = Measure(id="t", label="T", source=Source.STORM, scope_layer="utsatta", target=200)
    counts = _counts([("t", 1, "a", 50), ("t", 1, "b", 33), ("t", 2, "a", 43), ("t", 3, "b", 64)])
    rows = finalize(counts, [measure]).set_index(["area_id", "tertial"])
    assert rows.loc["ALL", "value"].tolist() == [83, 43, 64]
    assert rows.loc["ALL", "cumulative_value"].tolist() == [83, 126, 190]
    # An area counted in any tertial reads on in the others (value 0, year-to-date kept).
    assert rows.loc["b", "value"].tolist() == [33, 0, 64]
    assert rows.loc["b", "cumulative_value"].tolist() == [33, 33, 97]
    assert rows.loc["a", "target"].isna().all()


def test_layerless_measure_uses_the_counted_all() -> None:
    measure = Measure(id="n", label="N", source=Source.STATUS)
    rows = finalize(_counts([("n", 1, "ALL", 540), ("n", 2, "ALL", 479), ("n", 3, "ALL", 451)]), [measure])
    assert rows["cumulative_value"].tolist() == [540, 1019, 1470]


def test_match_values_are_normalised_like_the_facts() -> None:
    assert match_values(Source.STATUS, "brottskod", ("5010", "501", "x")) == ["5010", "0501"]
    assert match_values(Source.STORM, "hobit", ("Ordningshållning",)) == ["ORDNINGSHALLNING"]
    assert match_values(Source.ACTIVITIES, "plats_key", ("  Centrala   Torshälla ",)) == [
        "centrala torshälla"
    ]
