"""Areas of the sample: Eskilstuna's example areas plus synthetic hexagon areas for further kommuner.

All geometry that decides a count is done in SWEREF 99 TM (EPSG:3006), the coordinate system of the exports.
Polygons are built from the WGS84 coordinates exactly as written to areas.geojson, so the truth is computed
on the same shapes the pipeline will read.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

REFERENCE = Path(__file__).resolve().parent.parent / "schemas" / "reference"
ESKILSTUNA = "0484"

# Sweden's box from the contract: pairs outside it are invalid (counted as missing coordinates).
NORD_MIN, NORD_MAX = 6_130_000.0, 7_675_000.0
OST_MIN, OST_MAX = 260_000.0, 925_000.0

TO_SWEREF = Transformer.from_crs(4326, 3006, always_xy=True)
TO_WGS84 = Transformer.from_crs(3006, 4326, always_xy=True)

STADSDELAR = "stadsdelar"
UTSATTA = "utsatta_omraden"

HEX_RADIUS = 700.0  # circumradius in metres: a stadsdel is about 1.2-1.4 km across
HEX_SPACING = 1650.0  # centre distance; > 2 * radius, so hexagons never touch
UTSATT_SCALE = 0.8  # an utsatt område is a smaller hexagon inside its stadsdel
MIN_KOMMUN_DISTANCE = 15_000.0  # keeps clusters of different kommuner (and their OUTSIDE points) apart

# Synthetic stadsdel names; the first is two words so promises can exercise collapsing of spaces.
SYNTHETIC_NAMES = [
    "Norra Berga",
    "Centrum",
    "Hagaby",
    "Söder",
    "Öster",
    "Väster",
    "Ängby",
    "Sjöstaden",
    "Kvarnbacken",
    "Lunden",
]


@dataclass(frozen=True)
class Area:
    area_id: str
    name: str
    layer: str
    kommunkod: str
    valid_from: date | None
    valid_to: date | None
    ring: list[list[float]]  # lon/lat as written to the GeoJSON, closed
    level: str | None = None

    def polygon(self) -> shapely.Polygon:
        lon, lat = np.array(self.ring).T
        x, y = TO_SWEREF.transform(lon, lat)
        return shapely.Polygon(np.column_stack([x, y]))

    def feature(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "area_id": self.area_id,
            "name": self.name,
            "layer": self.layer,
            "kommunkod": self.kommunkod,
        }
        if self.level is not None:
            props["level"] = self.level
        props["valid_from"] = self.valid_from.isoformat() if self.valid_from else None
        props["valid_to"] = self.valid_to.isoformat() if self.valid_to else None
        return {
            "type": "Feature",
            "properties": props,
            "geometry": {"type": "Polygon", "coordinates": [self.ring]},
        }


@dataclass
class Layer:
    """One layer of one kommun in EPSG:3006, with validity as day numbers for vectorised look-ups."""

    areas: list[Area]
    polygons: list[shapely.Polygon] = field(init=False)
    valid_from: np.ndarray = field(init=False)
    valid_to: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.polygons = [a.polygon() for a in self.areas]
        self.valid_from = np.array(
            [a.valid_from or date(1900, 1, 1) for a in self.areas], dtype="datetime64[D]"
        )
        self.valid_to = np.array(
            [a.valid_to or date(2999, 12, 31) for a in self.areas], dtype="datetime64[D]"
        )

    def ids(self) -> np.ndarray:
        return np.array([a.area_id for a in self.areas], dtype=object)

    def valid_on(self, target: np.ndarray, day: np.ndarray) -> np.ndarray:
        """For points placed in polygon `target` (-1 = none): is that area valid on the local date `day`?"""
        t = np.where(target >= 0, target, 0)
        ok = (self.valid_from[t] <= day) & (day <= self.valid_to[t])
        return ok & (target >= 0)

    def indices_valid_in_year(self, year: int) -> list[int]:
        mid = np.datetime64(f"{year}-07-01")
        return [i for i in range(len(self.areas)) if self.valid_from[i] <= mid <= self.valid_to[i]]

    def bbox(self, margin: float) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = shapely.total_bounds(self.polygons)
        return x0 - margin, y0 - margin, x1 + margin, y1 + margin


@dataclass
class Kommun:
    kommunkod: str
    name: str
    index: int  # 0 = Eskilstuna; also used in ids so they stay unique across kommuner
    areas: list[Area]
    trygghet_places: list[str]  # promised places of trygghetsvandringar: [met, not met]
    forum_place: str  # promised place of medborgarforum (met)
    other_place: str  # a stadsdel that is not promised
    stadsdelar: Layer = field(init=False)
    utsatta: Layer = field(init=False)

    def __post_init__(self) -> None:
        self.stadsdelar = Layer([a for a in self.areas if a.layer == STADSDELAR])
        self.utsatta = Layer([a for a in self.areas if a.layer == UTSATTA])


def slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "-".join(ascii_name.lower().split())


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def eskilstuna() -> Kommun:
    collection = json.loads((REFERENCE / "eskilstuna_areas.geojson").read_text(encoding="utf-8"))
    areas = []
    for feature in collection["features"]:
        p = feature["properties"]
        areas.append(
            Area(
                p["area_id"],
                p["name"],
                p["layer"],
                p["kommunkod"],
                _date(p["valid_from"]),
                _date(p["valid_to"]),
                feature["geometry"]["coordinates"][0],
                p.get("level"),
            )
        )
    return Kommun(ESKILSTUNA, "Eskilstuna", 0, areas, ["Skiftinge", "Lagersberg"], "Fröslunda", "Nyfors")


def _hexagon(cx: float, cy: float, radius: float) -> list[list[float]]:
    """A pointy-top hexagon, counter-clockwise (RFC 7946), as rounded lon/lat, closed."""
    angles = np.radians(30.0 + 60.0 * np.arange(6))
    lon, lat = TO_WGS84.transform(cx + radius * np.cos(angles), cy + radius * np.sin(angles))
    ring = [[round(float(a), 6), round(float(b), 6)] for a, b in zip(lon, lat, strict=True)]
    return [*ring, ring[0]]


def _hex_centres(cx: float, cy: float, n: int) -> list[tuple[float, float]]:
    """Centre, the six neighbours, then between-positions of the second ring (never touching)."""
    centres = [(cx, cy)]
    for k in range(6):
        a = math.radians(60.0 * k)
        centres.append((cx + HEX_SPACING * math.cos(a), cy + HEX_SPACING * math.sin(a)))
    for k in range(6):
        a = math.radians(30.0 + 60.0 * k)
        r = HEX_SPACING * math.sqrt(3.0)
        centres.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return centres[:n]


def synthetic_kommun(
    kommunkod: str,
    name: str,
    index: int,
    centre: tuple[float, float],
    change_year: int,
    rng: np.random.Generator,
) -> Kommun:
    """6-10 stadsdelar around the centre; three utsatta områden: one always valid, one ending
    31 Dec of `change_year`, one starting 1 Jan the year after (areas that change at New Year)."""
    n = int(rng.integers(6, 11))
    centres = _hex_centres(*centre, n)
    areas = []
    for (x, y), stadsdel in zip(centres, SYNTHETIC_NAMES, strict=False):
        areas.append(
            Area(
                f"{kommunkod}-stadsdel-{slug(stadsdel)}",
                stadsdel,
                STADSDELAR,
                kommunkod,
                None,
                None,
                _hexagon(x, y, HEX_RADIUS),
            )
        )
    validity = [
        (date(2015, 12, 1), None),
        (date(2015, 12, 1), date(change_year, 12, 31)),
        (date(change_year + 1, 1, 1), None),
    ]
    for (x, y), stadsdel, (start, end) in zip(centres[:3], SYNTHETIC_NAMES[:3], validity, strict=True):
        areas.append(
            Area(
                f"{kommunkod}-utsatt-{slug(stadsdel)}",
                stadsdel,
                UTSATTA,
                kommunkod,
                start,
                end,
                _hexagon(x, y, HEX_RADIUS * UTSATT_SCALE),
                "utsatt",
            )
        )
    # Promised: the always-utsatt (met, written with odd spaces) and the one that ends (not met).
    return Kommun(
        kommunkod,
        name,
        index,
        areas,
        [SYNTHETIC_NAMES[0], SYNTHETIC_NAMES[1]],
        SYNTHETIC_NAMES[2],
        SYNTHETIC_NAMES[3],
    )


def _inside_box_with_margin(x: float, y: float, margin: float) -> bool:
    return NORD_MIN + margin < y < NORD_MAX - margin and OST_MIN + margin < x < OST_MAX - margin


def pick_kommuner(count: int, change_year: int, seed: int) -> list[Kommun]:
    """Eskilstuna first, then a deterministic spread over the country, skipping kommuner too close to one
    already picked (areas of one layer must never overlap) or too near the edge of Sweden's box."""
    kommuner = [eskilstuna()]
    if count <= 1:
        return kommuner
    collection = json.loads((REFERENCE / "swedish_municipalities.geojson").read_text(encoding="utf-8"))
    by_code = {f["properties"]["id"]: f["properties"] for f in collection["features"]}
    candidates = sorted(code for code in by_code if code != ESKILSTUNA)
    centres = [tuple(shapely.centroid(shapely.union_all(kommuner[0].stadsdelar.polygons)).coords[0])]
    for i in range(len(candidates)):
        if len(kommuner) == count:
            break
        code = candidates[(i * 97) % len(candidates)]  # 97 is coprime with 289: visits every candidate once
        lat, lon = by_code[code]["geo_point_2d"]
        x, y = TO_SWEREF.transform(lon, lat)
        too_close = any(math.hypot(x - cx, y - cy) < MIN_KOMMUN_DISTANCE for cx, cy in centres)
        if too_close or not _inside_box_with_margin(x, y, 8_000.0):
            continue
        centres.append((x, y))
        rng = np.random.default_rng([seed, int(code)])
        kommuner.append(
            synthetic_kommun(code, by_code[code]["kom_namn"], len(kommuner), (x, y), change_year, rng)
        )
    if len(kommuner) < count:
        raise ValueError(f"can place at most {len(kommuner)} kommuner without overlapping areas")
    return kommuner


def areas_geojson(kommuner: list[Kommun]) -> str:
    """One FeatureCollection, one feature per line like the example file."""
    lines = [json.dumps(a.feature(), ensure_ascii=False) for k in kommuner for a in k.areas]
    head = '{"type": "FeatureCollection", "name": "lofte_sample_areas", "features": [\n'
    return head + ",\n".join(lines) + "\n]}\n"


# --- placing points --------------------------------------------------------------------------------------


def points_in(polygon: shapely.Polygon, n: int, rng: np.random.Generator, shrink: float = 0.9) -> np.ndarray:
    """Uniform points in a convex polygon shrunk towards its centroid (so they are far from any border)."""
    ring = np.asarray(polygon.exterior.coords)[:-1]
    centre = ring.mean(axis=0)
    a, b = ring[1:-1] - ring[0], ring[2:] - ring[0]
    weights = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    tri = rng.choice(len(weights), size=n, p=weights / weights.sum())
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    pts = ring[0] + u[:, None] * a[tri] + v[:, None] * b[tri]
    return centre + shrink * (pts - centre)


def points_outside(layer: Layer, n: int, rng: np.random.Generator, margin: float = 25.0) -> np.ndarray:
    """Uniform points around the layer's areas but at least `margin` metres from every one of them."""
    keep_out = shapely.buffer(shapely.union_all(layer.polygons), margin)
    shapely.prepare(keep_out)
    x0, y0, x1, y1 = layer.bbox(1500.0)
    found: list[np.ndarray] = []
    total = 0
    while total < n:
        m = int((n - total) * 1.6) + 16
        pts = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        pts = pts[~shapely.contains_xy(keep_out, pts[:, 0], pts[:, 1])]
        found.append(pts)
        total += len(pts)
    return np.concatenate(found)[:n]


def near_border(layer: Layer, index: int, inward: bool, rng: np.random.Generator) -> tuple[float, float]:
    """A point 3.5-9.5 m (so 3-10 m after rounding to decimetres) from an edge of polygon `index`,
    along the edge's inward or outward normal; an outward point lies in no area of the layer."""
    ring = np.asarray(layer.polygons[index].exterior.coords)
    ccw = layer.polygons[index].exterior.is_ccw
    while True:
        e = int(rng.integers(0, len(ring) - 1))
        p, q = ring[e], ring[e + 1]
        t, d = rng.uniform(0.25, 0.75), rng.uniform(3.5, 9.5)
        edge = (q - p) / np.linalg.norm(q - p)
        left = np.array([-edge[1], edge[0]])  # interior is on the left of a counter-clockwise ring
        normal = left if ccw else -left
        point = p + t * (q - p) + (d if inward else -d) * normal
        hits = [i for i, poly in enumerate(layer.polygons) if shapely.contains_xy(poly, *point)]
        if hits == ([index] if inward else []):
            return float(point[0]), float(point[1])


def place(layer: Layer, kind: str, index: int, rng: np.random.Generator) -> dict[str, Any]:
    """A point and the polygon it was placed in: kind in / near_in / near_out / out / none."""
    index %= len(layer.polygons)
    if kind == "in":
        x, y = points_in(layer.polygons[index], 1, rng)[0]
    elif kind in ("near_in", "near_out"):
        x, y = near_border(layer, index, kind == "near_in", rng)
    elif kind == "out":
        x, y = points_outside(layer, 1, rng)[0]
    else:
        return {"nord": None, "ost": None, "target": -1}
    return {
        "nord": round(float(y), 1),
        "ost": round(float(x), 1),
        "target": index if kind in ("in", "near_in") else -1,
    }
