"""The sample generator (`lofte sample`): layout, encodings, determinism and the consistency of its answers.

These tests check the generator only; the pipeline is tested elsewhere against the generator's answers.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import openpyxl
import pytest
import shapely
import yaml
from pyproj import Transformer

from sample import clock, write_sample
from sample.generator import SampleSummary

YEAR = 2019
TO_SWEREF = Transformer.from_crs(4326, 3006, always_xy=True)


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleSummary]:
    out = tmp_path_factory.mktemp("default")
    return out, write_sample(out, [YEAR])


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_csv(path: Path, encoding: str) -> list[dict[str, str]]:
    with io.StringIO(path.read_bytes().decode(encoding), newline="") as f:
        return [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(f, delimiter=";")]


def expected_of(root: Path, kommunkod: str = "0484", year: int = YEAR) -> dict[str, Any]:
    return json.loads((root / "expected" / f"{kommunkod}-{year}.json").read_text(encoding="utf-8"))


def test_layout(default: tuple[Path, SampleSummary]) -> None:
    root, summary = default
    assert sorted(files_of(root)) == [
        "config/areas.geojson",
        "config/promises/0484-2019.yaml",
        "expected/0484-2019.json",
        "inbox/activities/aktiviteter_2019.csv",
        "inbox/status/status_2019_1_jan-maj.csv",
        "inbox/status/status_2019_2_apr-sep.xlsx",
        "inbox/status/status_2019_3_aug-dec.csv",
        "inbox/storm/storm_hobit_2019_1_h1.csv",
        "inbox/storm/storm_hobit_2019_2_h2.csv",
    ]
    assert summary.files == 9 and summary.partitions == [("0484", YEAR)]
    assert 2_400 < summary.lines["status"] < 2_800 and 850 < summary.lines["storm"] < 1_100


def test_same_arguments_give_identical_bytes(default: tuple[Path, SampleSummary], tmp_path: Path) -> None:
    root, _ = default
    write_sample(tmp_path, [YEAR])
    assert files_of(tmp_path) == files_of(root)


def test_status_encodings_and_formats(default: tuple[Path, SampleSummary]) -> None:
    folder = default[0] / "inbox" / "status"
    cp1252 = (folder / "status_2019_1_jan-maj.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        cp1252.decode("utf-8")
    assert cp1252.startswith("Ärendenummer;".encode("cp1252")) and cp1252.count(b"\r\n") == cp1252.count(
        b"\n"
    )
    assert b'"Provgatan 12; port B"' in cp1252
    bom = (folder / "status_2019_3_aug-dec.csv").read_bytes()
    assert bom.startswith(b"\xef\xbb\xbf" + "Misstänkt personnummer;".encode()) and b"\r\n" not in bom
    assert f"{YEAR}-13-45 10:00".encode() in bom
    sheet = openpyxl.load_workbook(folder / "status_2019_2_apr-sep.xlsx").worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    assert header == [h.upper() for h in header] and "KOMMUNKOD" in header
    data = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert {row["KOMMUNKOD"] for row in data} == {484}
    assert all(isinstance(row["BROTTSKOD"], int) for row in data if row["BROTTSKOD"] is not None)
    assert 857 in {row["BROTTSKOD"] for row in data}  # 0857 without its leading zero
    assert all(isinstance(row["REGISTRERINGSDATUM"], datetime) for row in data)
    assert datetime(YEAR, 4, 30, 23, 59) in {row["REGISTRERINGSDATUM"] for row in data}


def test_storm_encodings_and_times(default: tuple[Path, SampleSummary]) -> None:
    folder = default[0] / "inbox" / "storm"
    h1 = (folder / "storm_hobit_2019_1_h1.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        h1.decode("utf-8")
    assert h1.count(b"\r\n") == h1.count(b"\n")
    h2 = read_csv(folder / "storm_hobit_2019_2_h2.csv", "utf-8")
    starts = [r["Starttid"] for r in read_csv(folder / "storm_hobit_2019_1_h1.csv", "cp1252")]
    starts += [r["Starttid"] for r in h2]
    assert any(s.endswith("Z") for s in starts) and any(s.endswith("+02:00") for s in starts)
    assert any(s.endswith("+01:00") for s in starts) and any(len(s) == 19 and " " in s for s in starts)
    for trap in [f"{YEAR}-04-30T22:30:00Z", f"{YEAR - 1}-12-31T23:30:00Z", f"{YEAR}-12-31T23:30:00Z"]:
        assert trap in starts
    hobit = {r["Hobit"] for r in h2}
    assert {"trafikkontroll", "Trafikkontroll", "TRAFIKKONTROLL", "DRONARINSATS"} <= hobit | {
        r["HOBIT"] for r in read_csv(folder / "storm_hobit_2019_1_h1.csv", "cp1252")
    }


def test_expected_is_internally_consistent(default: tuple[Path, SampleSummary]) -> None:
    answer = expected_of(default[0])
    for measure_id, tertials in answer["measures"].items():
        assert list(tertials) == ["1", "2", "3"]
        running = 0
        for row in tertials.values():
            running += row["value"]
            assert row["cumulative_value"] == running
            if "areas" in row:
                assert row["value"] == sum(row["areas"].values()) and all(
                    n > 0 for n in row["areas"].values()
                )
            else:
                assert row["value"] == len(row["items"]) and row["items"] == sorted(
                    row["items"], key=lambda item: item[-10:]
                )
        if measure_id == "trafikkontroller-utsatta-omraden":
            assert all(a.startswith("utsatt-") for t in tertials.values() for a in t["areas"])
    narkotika = answer["measures"]["narkotika-ingripanden"]
    assert 1_400 <= narkotika["3"]["cumulative_value"] <= 1_550
    assert {"OUTSIDE", "NO_COORDINATES"} <= set(narkotika["1"]["areas"])
    assert 185 <= answer["measures"]["trafikkontroller-utsatta-omraden"]["3"]["cumulative_value"] <= 215
    for source in ("status", "storm"):
        quality = answer["source_quality"][source]
        assert (
            quality["rows_with_coordinates"] + quality["rows_missing_coordinates"] == quality["rows_counted"]
        )
    assert answer["rejected"] == {"status": 3, "storm": 2, "activities": 1}
    assert answer["rejected_total"] == {"status": 5, "storm": 4, "activities": 1}
    assert {s: q["rows_rejected"] for s, q in answer["source_quality"].items()} == answer["rejected"]
    assert answer["expected_places"] == {
        "trygghetsvandringar": {"Skiftinge": True, "Lagersberg": False},
        "medborgarforum": {"Fröslunda": True},
    }
    assert "19000101-" in answer["pii_markers"] and "Provgatan" in answer["pii_markers"]


def test_promises_follow_the_example(default: tuple[Path, SampleSummary]) -> None:
    reference = (
        Path(__file__).resolve().parents[2] / "schemas" / "reference" / "eskilstuna_2019_promises.yaml"
    )
    made = yaml.safe_load((default[0] / "config" / "promises" / "0484-2019.yaml").read_text(encoding="utf-8"))
    assert made == yaml.safe_load(reference.read_text(encoding="utf-8"))


def test_scale_multiplies_lines(default: tuple[Path, SampleSummary], tmp_path: Path) -> None:
    base = default[1].lines
    scaled = write_sample(tmp_path, [YEAR], scale=3).lines
    for source in ("status", "storm"):
        assert 2.8 * base[source] < scaled[source] < 3.0 * base[source]  # planted traps do not scale
    assert scaled["activities"] == base["activities"]


def test_more_kommuner_have_their_own_areas(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, [2023, 2024], kommuner=3)
    assert len(summary.kommuner) == 3 and summary.kommuner[0] == "0484"
    features = json.loads((tmp_path / "config" / "areas.geojson").read_text(encoding="utf-8"))["features"]
    ids = [f["properties"]["area_id"] for f in features]
    assert len(ids) == len(set(ids))
    for kommunkod in summary.kommuner[1:]:
        mine = [f["properties"] for f in features if f["properties"]["kommunkod"] == kommunkod]
        assert all(p["area_id"].startswith(f"{kommunkod}-") for p in mine)
        assert 6 <= sum(p["layer"] == "stadsdelar" for p in mine) <= 10
        utsatta = [p for p in mine if p["layer"] == "utsatta_omraden"]
        assert {p["valid_to"] for p in utsatta} == {None, "2023-12-31"}
        assert {p["valid_from"] for p in utsatta} >= {"2024-01-01"}
        for year in (2023, 2024):
            assert expected_of(tmp_path, kommunkod, year)["kommunkod"] == kommunkod
    rows = read_csv(tmp_path / "inbox" / "status" / "status_2023_1_jan-maj.csv", "cp1252")
    assert {r["Kommunkod"] for r in rows} >= set(summary.kommuner)


def _boundaries(root: Path, layer: str) -> shapely.Geometry:
    features = json.loads((root / "config" / "areas.geojson").read_text(encoding="utf-8"))["features"]
    rings = []
    for f in features:
        if f["properties"]["layer"] == layer:
            lon, lat = np.array(f["geometry"]["coordinates"][0]).T
            rings.append(shapely.LineString(np.column_stack(TO_SWEREF.transform(lon, lat))))
    return shapely.union_all(rings)


def _distances(rows: list[dict[str, str]], border: shapely.Geometry) -> np.ndarray:
    pairs = [(r["Öst"], r["Nord"]) for r in rows if r["Öst"] and r["Nord"]]
    xy = np.array([(float(x.replace(",", ".")), float(y.replace(",", "."))) for x, y in pairs])
    inside_box = (xy[:, 1] > 6_130_000) & (xy[:, 0] > 260_000) & (xy[:, 0] < 925_000)
    return shapely.distance(border, shapely.points(xy[inside_box]))


def test_near_border_points_are_3_to_10_metres_from_a_border(default: tuple[Path, SampleSummary]) -> None:
    """Planted points lie 3-10 m from a border (in EPSG:3006); no other point is closer than 10 m,
    so no count depends on a decimetre."""
    root = default[0]
    status = read_csv(root / "inbox" / "status" / "status_2019_1_jan-maj.csv", "cp1252")
    status += read_csv(root / "inbox" / "status" / "status_2019_3_aug-dec.csv", "utf-8-sig")
    d = _distances(status, _boundaries(root, "stadsdelar"))
    assert (d < 3).sum() == 0 and ((d >= 3) & (d <= 10)).sum() >= 6
    storm = read_csv(root / "inbox" / "storm" / "storm_hobit_2019_1_h1.csv", "cp1252")
    storm += read_csv(root / "inbox" / "storm" / "storm_hobit_2019_2_h2.csv", "utf-8")
    d = _distances(storm, _boundaries(root, "utsatta_omraden"))
    assert (d < 3).sum() == 0 and ((d >= 3) & (d <= 10)).sum() == 8


def test_summer_time_rule_matches_zoneinfo() -> None:
    rng = np.random.default_rng(1)
    utc = np.datetime64("2018-12-31T00:00:00") + rng.integers(0, 8 * 366 * 86_400, 2_000).astype(
        "timedelta64[s]"
    )
    utc = np.concatenate([utc, [clock.summer_time_utc(y)[i] + d for y in (2019, 2024) for i in (0, 1)
                                for d in (np.timedelta64(-1, "s"), np.timedelta64(0, "s"))]])  # fmt: skip
    stockholm = ZoneInfo("Europe/Stockholm")
    want = [
        datetime.fromisoformat(f"{t}+00:00").astimezone(stockholm).utcoffset().total_seconds() // 3600  # type: ignore[union-attr]
        for t in utc.astype(str)
    ]
    assert clock.utc_offset_hours(utc).tolist() == want
