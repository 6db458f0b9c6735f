"""Areas: parsed from GeoJSON, projected to SWEREF 99 TM, and points classified on their date (pure).

Classification is vectorised: per area, the rows of its kommun dated within its validity and inside its
bounding box are tested with `shapely.contains_xy` against the prepared polygon. (STRtree predicate
queries were measured at minutes for a million points here; this is well under a second.)
A point exactly on a border is not inside (the contract: "lies inside the polygon").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from schemas.areas import AreaCollection, validate_areas

_WGS84_TO_SWEREF = Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)


@dataclass(frozen=True)
class Area:
    area_id: str
    name: str
    layer: str
    kommunkod: str
    level: str | None
    valid_from: date | None  # inclusive; None = open
    valid_to: date | None  # inclusive; None = open
    geometry: BaseGeometry  # WGS84 lon/lat, as in the file
    befolkning: int | None = None  # optional population: the lägesbild's rates per 100 000 for the area


def parse_areas(document: Any, name: str, text: str | None = None) -> list[Area]:
    """Validate an areas FeatureCollection (`schemas.areas`); errors name the feature by index and
    area_id, with line and column when the file's `text` is given."""
    return areas_of(validate_areas(document, name, text))


def areas_of(collection: AreaCollection) -> list[Area]:
    return [
        Area(
            area_id=p.area_id,
            name=p.name or p.area_id,
            layer=p.layer,
            kommunkod=p.kommunkod,
            level=p.level,
            valid_from=p.valid_from,
            valid_to=p.valid_to,
            geometry=feature.geometry,
            befolkning=p.befolkning,
        )
        for feature in collection.features
        for p in [feature.properties]
    ]


class AreaIndex:
    """The areas projected to SWEREF 99 TM, prepared for fast point-in-polygon tests."""

    def __init__(self, areas: list[Area]):
        self.areas = sorted(areas, key=lambda a: (a.layer, a.area_id))
        self._polygons = [shapely.transform(a.geometry, _project, interleaved=False) for a in self.areas]
        for polygon in self._polygons:
            shapely.prepare(polygon)
        self._bounds = np.array([p.bounds for p in self._polygons]).reshape(-1, 4)
        never = np.datetime64("NaT")
        self._from = np.array([np.datetime64(a.valid_from) if a.valid_from else never for a in self.areas])
        self._to = np.array([np.datetime64(a.valid_to) if a.valid_to else never for a in self.areas])
        self._layer = pa.array([a.layer for a in self.areas], pa.string())
        self._area_id = pa.array([a.area_id for a in self.areas], pa.string())

    def layers(self) -> set[str]:
        return {a.layer for a in self.areas}

    def sweref_polygon(self, area_id: str) -> BaseGeometry:
        return self._polygons[[a.area_id for a in self.areas].index(area_id)]

    def classify(
        self, kommunkod: pd.Series, datum: pd.Series, nord: np.ndarray, ost: np.ndarray
    ) -> pd.DataFrame:
        """Rows inside an area valid on their date: a frame of (row position, layer, area_id).

        At most one area per layer and row (areas of a layer never overlap; if a file breaks that, the
        first area by area_id wins, deterministically).
        """
        positions: list[np.ndarray] = [np.array([], dtype=np.int64)]
        areas: list[np.ndarray] = [np.array([], dtype=np.int32)]  # the row's area: its index in self.areas
        if self.areas and len(nord):
            has_point = ~(np.isnan(nord) | np.isnan(ost))
            # Compared in Arrow, once per kommun (a kommun has dozens of areas): no Python string per row,
            # so the two files' threads do not take turns here.
            in_kommun = {
                k: has_point & (kommunkod == k).to_numpy(dtype=bool, na_value=False)
                for k in {a.kommunkod for a in self.areas}
            }
            day = datum.to_numpy(dtype="datetime64[D]")
            taken: dict[str, np.ndarray] = {}
            for i, area in enumerate(self.areas):
                minx, miny, maxx, maxy = self._bounds[i]
                candidate = in_kommun[area.kommunkod].copy()
                candidate &= (ost >= minx) & (ost <= maxx) & (nord >= miny) & (nord <= maxy)
                if area.valid_from:
                    candidate &= day >= self._from[i]
                if area.valid_to:
                    candidate &= day <= self._to[i]
                layer_taken = taken.setdefault(area.layer, np.zeros(len(nord), dtype=bool))
                candidate &= ~layer_taken
                index = np.flatnonzero(candidate)
                if not len(index):
                    continue
                inside = index[shapely.contains_xy(self._polygons[i], ost[index], nord[index])]
                layer_taken[inside] = True
                positions.append(inside)
                areas.append(np.full(len(inside), i, dtype=np.int32))
        area = pa.array(np.concatenate(areas))
        # Layer and area_id taken in Arrow from the few areas' own, as the frame's text columns.
        return pd.DataFrame(
            {
                "position": np.concatenate(positions),
                "layer": pd.array(self._layer.take(area), dtype="str"),
                "area_id": pd.array(self._area_id.take(area), dtype="str"),
            }
        )


def _project(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    easting, northing = _WGS84_TO_SWEREF.transform(lon, lat)
    return easting, northing


def area_memberships(facts: pd.DataFrame, index: AreaIndex, key: tuple[str, ...]) -> pd.DataFrame:
    """One row per fact and layer whose area holds the fact's point: the key, `line`, layer, area_id."""
    found = index.classify(
        facts["kommunkod"], facts["datum"], facts["nord"].to_numpy(), facts["ost"].to_numpy()
    )
    rows = facts[[*key, "line"]].take(found["position"].to_numpy()).reset_index(drop=True)
    rows["layer"] = found["layer"].array  # as they are: through NumPy each would become a Python string
    rows["area_id"] = found["area_id"].array
    return rows
