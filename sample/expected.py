"""The known answers, in the format of the shared sample's expected.json, from the generator's own truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from sample import activities, text, truth
from sample.geo import Kommun

TERTIALS = (1, 2, 3)


@dataclass(frozen=True)
class Measure:
    id: str
    source: str  # status, storm or activities
    codes: frozenset[str] = frozenset()  # Brottskod or HOBIT values that match
    aktivitet: str = ""
    kind: str = "breakdown"  # breakdown, scope or activities


MEASURES = [
    Measure("narkotika-ingripanden", "status", frozenset({"5010", "5011"})),
    Measure("trygghetsvandringar", "activities", aktivitet=activities.TRYGGHETSVANDRING, kind="activities"),
    Measure("medborgarforum", "activities", aktivitet=activities.MEDBORGARFORUM, kind="activities"),
    Measure("trafikkontroller-utsatta-omraden", "storm", frozenset({"TRAFIKKONTROLL"}), kind="scope"),
]


def _area_measure(units: pd.DataFrame, m: Measure) -> dict[str, Any]:
    """Per tertial: the ALL value, its year-to-date sum and the count per area (zero areas left out)."""
    matched = units[units.code.isin(m.codes)]
    if m.kind == "scope":
        matched = matched[matched.area != truth.NOT_IN_SCOPE]  # only HRs inside a valid area of the layer
    out: dict[str, Any] = {}
    cumulative = 0
    for t in TERTIALS:
        in_tertial = matched[matched.tertial == t]
        by_area = in_tertial.groupby("area").n.sum()
        value = int(by_area.sum())
        cumulative += value
        areas = {str(a): int(n) for a, n in sorted(by_area.items()) if n > 0}
        out[str(t)] = {"value": value, "cumulative_value": cumulative, "areas": areas}
    return out


def _activity_measure(found: list[truth.Activity], m: Measure) -> dict[str, Any]:
    mine = sorted((a.day, activities.display_place(a.plats)) for a in found if a.aktivitet == m.aktivitet)
    out: dict[str, Any] = {}
    cumulative = 0
    for t in TERTIALS:
        items = [f"{place} {day}" for day, place in mine if (int(day[5:7]) - 1) // 4 + 1 == t]
        cumulative += len(items)
        out[str(t)] = {"value": len(items), "cumulative_value": cumulative, "items": items}
    return out


def _quality(units: pd.DataFrame, rejected: int) -> dict[str, int]:
    with_coords = int(units.loc[units.has_coords, "n"].sum())
    counted = int(units.n.sum())
    return {
        "rows_counted": counted,
        "rows_with_coordinates": with_coords,
        "rows_missing_coordinates": counted - with_coords,
        "rows_rejected": rejected,
    }


def _places_met(k: Kommun, found: list[truth.Activity]) -> dict[str, dict[str, bool]]:
    """Is each promised place met (an activity of the measure there during the year)?"""
    promised = {
        "trygghetsvandringar": (activities.TRYGGHETSVANDRING, k.trygghet_places),
        "medborgarforum": (activities.MEDBORGARFORUM, [k.forum_place]),
    }
    out = {}
    for measure_id, (aktivitet, places) in promised.items():
        done = {activities.normalised_place(a.plats) for a in found if a.aktivitet == aktivitet}
        out[measure_id] = {p: activities.normalised_place(p) in done for p in places}
    return out


def expected(
    k: Kommun, year: int, status_counts: pd.DataFrame, storm_counts: pd.DataFrame, found: truth.Truth
) -> dict[str, Any]:
    def mine(table: pd.DataFrame) -> pd.DataFrame:
        return table[(table.kommunkod == k.kommunkod) & (table.year == year)]

    status_units, storm_units = mine(status_counts), mine(storm_counts)
    acts = [a for a in found.activities if a.kommunkod == k.kommunkod and a.day.startswith(f"{year}-")]
    rejected = {s: r.by_partition.get((k.kommunkod, year), 0) for s, r in found.rejected.items()}
    measures: dict[str, Any] = {}
    for m in MEASURES:
        if m.kind == "activities":
            measures[m.id] = _activity_measure(acts, m)
        else:
            measures[m.id] = _area_measure(status_units if m.source == "status" else storm_units, m)
    return {
        "kommunkod": k.kommunkod,
        "year": year,
        "measures": measures,
        "source_quality": {
            "status": _quality(status_units, rejected["status"]),
            "storm": _quality(storm_units, rejected["storm"]),
            "activities": {
                "rows_counted": len(acts),
                "rows_with_coordinates": 0,
                "rows_missing_coordinates": 0,
                "rows_rejected": rejected["activities"],
            },
        },
        "rejected": rejected,
        "rejected_total": {s: r.total for s, r in found.rejected.items()},
        "expected_places": _places_met(k, acts),
        "pii_markers": text.PII_MARKERS,
    }
