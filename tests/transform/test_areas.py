"""Area classification in SWEREF 99 TM: a few metres inside or outside a border, validity by date."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from schemas.errors import ConfigError
from tests.conftest import ESKILSTUNA_2020
from transform.areas import AreaIndex, area_memberships, parse_areas


@pytest.fixture(scope="module")
def index() -> AreaIndex:
    document = json.loads((ESKILSTUNA_2020 / "areas.geojson").read_text(encoding="utf-8"))
    return AreaIndex(parse_areas(document, "areas.geojson"))


def _near_border(index: AreaIndex, area_id: str, metres: float) -> tuple[float, float]:
    """A point `metres` inside (positive) or outside (negative) the middle of the polygon's first edge."""
    polygon = index.sweref_polygon(area_id)
    ring = np.asarray(polygon.exterior.coords)
    a, b = ring[0], ring[1]
    middle = (a + b) / 2
    normal = np.array([-(b - a)[1], (b - a)[0]])
    normal /= np.linalg.norm(normal)
    if not polygon.contains(Point(*(middle + normal))):
        normal = -normal  # make it point inwards
    east, north = middle + normal * metres
    return float(north), float(east)


def _classify(
    index: AreaIndex, points: list[tuple[float, float]], day: str, kommun: str = "0484"
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "kommunkod": [kommun] * len(points),
            "datum": pd.to_datetime([day] * len(points)),
            "nord": [p[0] for p in points],
            "ost": [p[1] for p in points],
            "line": range(2, 2 + len(points)),
            "id": range(len(points)),
        }
    )
    return area_memberships(frame, index, ("id",))


@pytest.mark.parametrize("metres", [3.0, 10.0])
def test_points_a_few_metres_inside_and_outside_a_border(index: AreaIndex, metres: float) -> None:
    inside = _near_border(index, "stadsdel-centrum", metres)
    outside = _near_border(index, "stadsdel-centrum", -metres)
    found = _classify(index, [inside, outside], "2020-06-01")
    stadsdel = found[found["layer"] == "stadsdelar"]
    assert stadsdel["id"].tolist() == [0]
    assert stadsdel["area_id"].tolist() == ["stadsdel-centrum"]
    assert shapely.distance(
        index.sweref_polygon("stadsdel-centrum").exterior, Point(inside[1], inside[0])
    ) == (pytest.approx(metres, abs=0.01))


def test_an_area_counts_only_on_dates_it_is_valid(index: AreaIndex) -> None:
    lagersberg = index.sweref_polygon("utsatt-lagersberg").representative_point()
    arby = index.sweref_polygon("utsatt-arby").representative_point()
    points = [(lagersberg.y, lagersberg.x), (arby.y, arby.x)]

    def utsatta(day: str) -> dict[int, str]:
        found = _classify(index, points, day)
        found = found[found["layer"] == "utsatta_omraden"]
        return dict(zip(found["id"], found["area_id"], strict=True))

    assert utsatta("2023-12-31") == {0: "utsatt-lagersberg"}
    assert utsatta("2024-01-01") == {1: "utsatt-arby"}
    assert utsatta("2015-11-30") == {}  # before either was utsatt


def test_no_point_no_area_and_other_kommuners_areas_do_not_count(index: AreaIndex) -> None:
    centre = index.sweref_polygon("stadsdel-centrum").representative_point()
    assert _classify(index, [(np.nan, np.nan)], "2020-01-01").empty
    assert _classify(index, [(centre.y, centre.x)], "2020-01-01", kommun="0480").empty


def test_areas_file_errors_name_the_feature() -> None:
    good = json.loads((ESKILSTUNA_2020 / "areas.geojson").read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(good))
    broken["features"][2]["properties"]["valid_from"] = "2019-13-01"
    with pytest.raises(ConfigError, match=r"features\[2\] \(stadsdel-froslunda\): valid_from"):
        parse_areas(broken, "areas.geojson")
    doubled = json.loads(json.dumps(good))
    doubled["features"].append(good["features"][0])
    with pytest.raises(ConfigError, match="area_id used twice"):
        parse_areas(doubled, "areas.geojson")
    assert {a.valid_to for a in parse_areas(good, "x") if a.area_id == "utsatt-lagersberg"} == {
        date(2023, 12, 31)
    }
