"""The areas file (GeoJSON, RFC 7946): a FeatureCollection of polygons in WGS84 lon/lat, each with its
`area_id`, `name`, `layer`, `kommunkod` and validity (`valid_from`/`valid_to`, inclusive, null = open).

Validation errors point at the bad value with its line and column in the file (`AreasError`), as for the
promises file; the feature is named by its index and area_id. See docs/contract.md, "Areas".
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

import shapely
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from schemas.errors import ConfigError
from schemas.located import Loc, dotted, first_error, json_position
from schemas.promises import RESERVED_AREA_IDS

POLYGONS = ("Polygon", "MultiPolygon")


class AreasError(ConfigError):
    """The areas file is missing, not JSON, or breaks the format."""


class AreaProperties(BaseModel):
    # Other properties (a source note) are allowed and ignored; a name or level given as a number reads
    # as its text.
    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)

    area_id: str = Field(min_length=1)
    name: str | None = None
    layer: str = Field(min_length=1)
    kommunkod: str = Field(pattern=r"^\d{4}$")
    level: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    # The area's population (optional): the lägesbild's rates per 100 000 inhabitants for the area.
    befolkning: int | None = Field(default=None, gt=0, strict=True)

    @field_validator("area_id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_AREA_IDS:
            raise ValueError(f"area_id {value!r} is reserved")
        return value

    @field_validator("kommunkod", mode="before")
    @classmethod
    def _pad_kommunkod(cls, value: Any) -> Any:
        return f"{value:04d}" if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("valid_from", "valid_to", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> date | None:
        # Only an ISO date or null: pydantic alone would also take a number as a Unix time.
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD) or null")

    @model_validator(mode="after")
    def _ordered(self) -> AreaProperties:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class AreaFeature(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, arbitrary_types_allowed=True)

    properties: AreaProperties
    geometry: BaseGeometry  # WGS84 lon/lat, as in the file

    @field_validator("geometry", mode="before")
    @classmethod
    def _polygon(cls, value: Any) -> BaseGeometry:
        try:
            geometry = shape(value)
            polygon = geometry.geom_type in POLYGONS and not geometry.is_empty
        except Exception:  # shapely raises many kinds on a malformed GeoJSON object
            polygon = False
        if not polygon:
            raise ValueError("not a GeoJSON Polygon or MultiPolygon")
        if not geometry.is_valid:
            raise ValueError(f"polygon is invalid ({shapely.is_valid_reason(geometry)})")
        minx, miny, maxx, maxy = geometry.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ValueError("coordinates are not WGS84 longitude/latitude (RFC 7946)")
        return geometry


class AreaCollection(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal["FeatureCollection"]
    features: list[AreaFeature]


def validate_areas(document: Any, name: str, text: str | None = None) -> AreaCollection:
    """Validate a parsed areas document; with the file's `text`, errors carry line and column."""

    def position(loc: Loc) -> tuple[int, int]:
        return json_position(text, loc) if text is not None else (1, 1)

    def describe(loc: Loc) -> str:
        """`features[2] (lagersberg): valid_to`: the feature by index and area_id, then the key."""
        if len(loc) < 2 or loc[0] != "features" or not isinstance(loc[1], int):
            return dotted(loc)
        where = f"features[{loc[1]}]"
        area_id = _area_id(document, loc[1])
        if area_id:
            where += f" ({area_id})"
        rest = dotted(loc[3:] if loc[2:3] == ("properties",) else loc[2:])
        return f"{where}: {rest}" if rest else where

    def explain(kind: str, loc: Loc) -> str | None:
        if loc == ("type",) or (kind in ("model_type", "dict_type") and loc == ()):
            return "not a GeoJSON FeatureCollection"
        if kind == "missing" and loc[2:3] == ("properties",) and len(loc) == 4:
            return "missing"
        return None

    if not isinstance(document, dict):
        raise AreasError(f"{name}:1:1: not a GeoJSON FeatureCollection")
    try:
        collection = AreaCollection.model_validate(document)
    except ValidationError as exc:
        raise AreasError(first_error(exc, name, position, describe, explain)) from None
    seen: set[str] = set()
    for index, feature in enumerate(collection.features):
        area_id = feature.properties.area_id
        if area_id in seen:
            loc: Loc = ("features", index, "properties", "area_id")
            line, column = position(loc)
            raise AreasError(f"{name}:{line}:{column}: {describe(loc)}: area_id used twice")
        seen.add(area_id)
    return collection


def parse_areas_text(text: str, name: str) -> AreaCollection:
    """Parse and validate an areas file's text; `name` is used in error messages."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AreasError(f"{name}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    return validate_areas(document, name, text)


def _area_id(document: Any, index: int) -> str | None:
    try:
        area_id = document["features"][index]["properties"]["area_id"]
    except (KeyError, IndexError, TypeError):
        return None
    return area_id if isinstance(area_id, str) and area_id else None
