"""The areas and aliases files: bad ones stop the run with one line naming the file, the line and column
of the bad value, the key and what is wrong (as promises do); good ones read as before."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from extract.config import load_aliases, load_areas
from schemas.contracts import Source
from schemas.errors import ConfigError
from tests.conftest import ESKILSTUNA_2020

AREAS = ESKILSTUNA_2020 / "areas.geojson"


def _areas(tmp_path: Path, change: str, to: str) -> Path:
    text = AREAS.read_text(encoding="utf-8")
    assert change in text
    path = tmp_path / "areas.geojson"
    path.write_text(text.replace(change, to, 1), encoding="utf-8")
    return path


def _position(path: Path, needle: str) -> str:
    """`line:column` of the first occurrence of `needle` in the file."""
    text = path.read_text(encoding="utf-8")
    at = text.index(needle)
    return f"{text.count(chr(10), 0, at) + 1}:{at - text.rfind(chr(10), 0, at)}"


def _first_feature(key: str) -> tuple[str, str]:
    """The first feature's `"key": value` as written in the fixture, and its area_id."""
    document = json.loads(AREAS.read_text(encoding="utf-8"))
    properties = document["features"][0]["properties"]
    return f'"{key}": {json.dumps(properties[key], ensure_ascii=False)}', properties["area_id"]


@pytest.mark.parametrize(
    ("key", "bad", "message"),
    [
        ("valid_from", '"2019-13-01"', "valid_from: '2019-13-01' is not an ISO date (YYYY-MM-DD) or null"),
        ("kommunkod", '"484x"', "kommunkod: String should match pattern"),
        ("layer", '""', "layer: String should have at least 1 character"),
        ("area_id", '"ALL"', "area_id: area_id 'ALL' is reserved"),
    ],
)
def test_a_bad_property_is_named_at_its_line_and_column(
    tmp_path: Path, key: str, bad: str, message: str
) -> None:
    written, area_id = _first_feature(key)
    path = _areas(tmp_path, written, f'"{key}": {bad}')
    where = _position(path, f'"{key}": {bad}')
    line, column = where.split(":")
    at = f"{line}:{int(column) + len(key) + 4}"  # the value, after `"key": `
    feature = f"features[0] ({area_id})" if key != "area_id" else "features[0] (ALL)"
    with pytest.raises(ConfigError) as raised:
        load_areas(path)
    assert str(raised.value).startswith(f"{path}:{at}: {feature}: {message}")


def test_a_missing_property_and_a_doubled_area_id(tmp_path: Path) -> None:
    written, area_id = _first_feature("layer")
    path = _areas(tmp_path, written + ", ", "")
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(str(path))}:\d+:\d+: features\[0\] \({area_id}\): layer: missing$"
    ):
        load_areas(path)

    document = json.loads(AREAS.read_text(encoding="utf-8"))
    document["features"].append(document["features"][0])
    doubled = tmp_path / "doubled.geojson"
    doubled.write_text(json.dumps(document, indent=1), encoding="utf-8")
    last = len(document["features"]) - 1
    with pytest.raises(
        ConfigError, match=rf":\d+:\d+: features\[{last}\] \({area_id}\): area_id: area_id used twice$"
    ):
        load_areas(doubled)


def test_bad_geometry_and_bad_json(tmp_path: Path) -> None:
    document = json.loads(AREAS.read_text(encoding="utf-8"))
    document["features"][1]["geometry"] = {"type": "Point", "coordinates": [16.5, 59.4]}
    point = tmp_path / "point.geojson"
    point.write_text(json.dumps(document, indent=2), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"features\[1\] \([^)]+\): geometry: not a GeoJSON Polygon or MultiPolygon"
    ):
        load_areas(point)

    document["features"][1]["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[0, 6_500_000], [1, 6_500_000], [1, 6_500_001], [0, 6_500_000]]],
    }
    sweref = tmp_path / "sweref.geojson"
    sweref.write_text(json.dumps(document, indent=2), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"geometry: coordinates are not WGS84 longitude/latitude"):
        load_areas(sweref)

    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection",\n "features": [}', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(broken))}:2:15: not valid JSON"):
        load_areas(broken)

    single = tmp_path / "feature.geojson"
    single.write_text(json.dumps(document["features"][0]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r":1:\d+: type: not a GeoJSON FeatureCollection"):
        load_areas(single)


def test_the_fixture_areas_read_as_before() -> None:
    areas = load_areas(AREAS)
    assert len({a.area_id for a in areas}) == len(areas) > 0
    assert all(len(a.kommunkod) == 4 and a.layer and a.name for a in areas)


ALIASES = """\
status:
  Registreringsdatum: [Reg.datum, Registrerad]
  kommunkod: Kommun-kod
storm:
  Händelsenummer: HR-nummer
"""


def test_aliases_read_one_name_or_a_list_under_the_contracts_spelling(tmp_path: Path) -> None:
    path = tmp_path / "aliases.yaml"
    path.write_text(ALIASES, encoding="utf-8")
    assert load_aliases(path) == {
        Source.STATUS: {"Registreringsdatum": ["Reg.datum", "Registrerad"], "Kommunkod": ["Kommun-kod"]},
        Source.STORM: {"Händelsenummer": ["HR-nummer"]},
    }
    empty = tmp_path / "empty.yaml"
    empty.write_text("# none yet\n", encoding="utf-8")
    assert load_aliases(empty) == {}


@pytest.mark.parametrize(
    ("change", "to", "where"),
    [
        ("storm:", "stormen:", "4:1: stormen: not a source (status, storm, activities)"),
        ("  Händelsenummer", "  Plats-id", "5:3: storm.Plats-id: not a column of the storm contract"),
        (
            "[Reg.datum, Registrerad]",
            "{a: b}",
            "2:23: status.Registreringsdatum: expected a header name or a list",
        ),
        (
            "[Reg.datum, Registrerad]",
            "[Reg.datum, 12]",
            "2:35: status.Registreringsdatum[1]: expected a header name",
        ),
        (
            "storm:\n  Händelsenummer: HR-nummer\n",
            "storm: [HR-nummer]\n",
            "4:8: storm: expected column → [header names]",
        ),
        ("[Reg.datum, Registrerad]", "[Reg.datum", "3:12: not valid YAML"),
    ],
)
def test_a_bad_aliases_file_is_named_at_its_line_and_column(
    tmp_path: Path, change: str, to: str, where: str
) -> None:
    assert change in ALIASES
    path = tmp_path / "aliases.yaml"
    path.write_text(ALIASES.replace(change, to), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_aliases(path)
    assert str(raised.value).startswith(f"{path}:{where}"), str(raised.value)
    assert "\n" not in str(raised.value)
