"""Read side of the HTML report: the follow-up, the area polygons and the event reports' dots.

Everything is read from the warehouse only (the areas as stored in `dim_area`, WGS84 WKT); the dots are
converted from SWEREF 99 TM to WGS84 with pyproj on whole arrays. The kommun's outline comes from the
municipality boundaries shipped in schemas/reference (context on the map, not used for counting).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from importlib import resources

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from pyproj import Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Connection

from read.followup import Followup, read_followup
from schemas import warehouse as w

_SWEREF_TO_WGS84 = Transformer.from_crs("EPSG:3006", "EPSG:4326", always_xy=True)  # (öst, nord) → (lon, lat)

Ring = list[tuple[float, float]]  # (lon, lat)
Polygon = list[Ring]  # exterior ring first, then holes


@dataclass
class MapArea:
    area_id: str
    name: str
    layer: str
    level: str | None
    polygons: list[Polygon]
    dots: int = 0  # event reports of the year inside this area


@dataclass
class MapData:
    """The "prickar i kartan": every event report of the kommun and year with coordinates, as a dot."""

    areas: list[MapArea]
    lon: np.ndarray
    lat: np.ndarray
    hobit: np.ndarray  # the HR's HOBIT code, per dot
    tertial: np.ndarray  # per dot
    rows_counted: int  # every HR of the kommun and year
    missing: int  # HRs without usable coordinates (saknas)
    invalid: int  # HRs whose pair was outside Sweden's box (ogiltig): counted as without coordinates
    kommun_outline: list[Polygon] = field(default_factory=list)


@dataclass
class ReportData:
    followup: Followup
    map: MapData


def read_report(conn: Connection, kommunkod: str, year: int) -> ReportData | None:
    followup = read_followup(conn, kommunkod, year)
    if followup is None:
        return None
    return ReportData(followup, read_map(conn, kommunkod, year))


def read_map(conn: Connection, kommunkod: str, year: int) -> MapData:
    h = w.fact_handelserapport
    partition = (h.c.kommunkod == kommunkod, h.c.year == year)
    dots = pd.DataFrame(
        conn.execute(
            sa.select(h.c.nord, h.c.ost, h.c.hobit, h.c.tertial)
            .where(*partition, h.c.koordinat_status == "ok")
            .order_by(h.c.handelsenummer)
        ).all(),
        columns=["nord", "ost", "hobit", "tertial"],
    )
    lon, lat = _SWEREF_TO_WGS84.transform(
        dots["ost"].to_numpy(dtype=float), dots["nord"].to_numpy(dtype=float)
    )
    by_status: dict[str, int] = dict(
        conn.execute(
            sa.select(h.c.koordinat_status, sa.func.count()).where(*partition).group_by(h.c.koordinat_status)
        ).all()
    )
    return MapData(
        areas=_areas(conn, kommunkod, year),
        lon=np.asarray(lon),
        lat=np.asarray(lat),
        hobit=dots["hobit"].to_numpy(dtype=object),
        tertial=dots["tertial"].to_numpy(dtype=int),
        rows_counted=int(sum(by_status.values())),
        missing=int(by_status.get("saknas", 0)),
        invalid=int(by_status.get("ogiltig", 0)),
        kommun_outline=_kommun_outline(kommunkod),
    )


def _areas(conn: Connection, kommunkod: str, year: int) -> list[MapArea]:
    """The kommun's areas valid at some time in the year, with their count of the year's dots."""
    a, h, ha = w.dim_area, w.fact_handelserapport, w.fact_handelserapport_area
    first, last = date(year, 1, 1), date(year, 12, 31)
    rows = conn.execute(
        sa.select(a.c.area_id, a.c.name, a.c.layer, a.c.level, a.c.geometry_wkt)
        .where(
            a.c.kommunkod == kommunkod,
            sa.or_(a.c.valid_from.is_(None), a.c.valid_from <= last),
            sa.or_(a.c.valid_to.is_(None), a.c.valid_to >= first),
        )
        .order_by(a.c.layer, a.c.area_id)
    ).all()
    counts: dict[str, int] = dict(
        conn.execute(
            sa.select(ha.c.area_id, sa.func.count())
            .select_from(ha.join(h, h.c.handelsenummer == ha.c.handelsenummer))
            .where(
                h.c.kommunkod == kommunkod, h.c.year == year, ha.c.kommunkod == kommunkod, ha.c.year == year
            )
            .group_by(ha.c.area_id)
        ).all()
    )
    return [
        MapArea(
            r.area_id,
            r.name,
            r.layer,
            r.level,
            _polygons(shapely.from_wkt(r.geometry_wkt)),
            counts.get(r.area_id, 0),
        )
        for r in rows
    ]


def _polygons(geometry: BaseGeometry) -> list[Polygon]:
    parts = getattr(geometry, "geoms", [geometry])
    return [
        [list(part.exterior.coords), *[list(ring.coords) for ring in part.interiors]]
        for part in parts
        if part.geom_type == "Polygon"
    ]


def _kommun_outline(kommunkod: str) -> list[Polygon]:
    text = resources.files("schemas").joinpath("reference/swedish_municipalities.geojson").read_text("utf-8")
    for feature in json.loads(text)["features"]:
        if str(feature["properties"].get("id", "")).zfill(4) == kommunkod:
            return _polygons(shape(feature["geometry"]))
    return []
