"""The reference for speed: the follow-up computed in memory by a plain pandas + shapely script.

Written from the data contract (docs/contract.md) only, as an analyst would: read every export with
pandas (pyarrow engine), type the columns vectorised, de-duplicate by key keeping the last version in
file-name order, classify points with prepared polygons, count. No orchestration, no warehouse, no
lofte imports: it is the independent yardstick for `lofte run`'s wall time, memory and answers.

    python bench/reference.py OUTDIR [--out answers.json]

OUTDIR is a `lofte sample` folder (config/areas.geojson, config/promises/*.yaml, inbox/{status,storm,
activities}/). Writes {"<kommunkod>-<year>": {"measures": ..., "source_quality": ...}} as JSON.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
import yaml
from pyproj import Transformer
from shapely.geometry import shape

TZ = "Europe/Stockholm"
NORTH = (6_130_000.0, 7_675_000.0)
EAST = (260_000.0, 925_000.0)

# contract header -> our column name, per source (only the non-personal columns we need)
COLUMNS = {
    "status": {
        "ärendenummer": "arende",
        "brottsnummer": "bnr",
        "brottskod": "brottskod",
        "registreringsdatum": "reg",
        "kommunkod": "kommunkod",
        "nord": "nord",
        "öst": "ost",
    },
    "storm": {
        "händelsenummer": "hn",
        "starttid": "start",
        "hobit": "hobit",
        "kommunkod": "kommunkod",
        "händelsekod": "handelsekod",
        "händelsetyp": "handelsetyp",
        "enhet": "enhet",
        "nord": "nord",
        "öst": "ost",
    },
    "activities": {"datum": "datum", "aktivitet": "aktivitet", "plats": "plats", "kommunkod": "kommunkod"},
}
REQUIRED = {
    "status": ["arende", "bnr", "brottskod", "reg", "kommunkod"],
    "storm": ["hn", "start", "hobit", "kommunkod"],
    "activities": ["datum", "aktivitet", "plats", "kommunkod"],
}
KEYS = {
    "status": ["arende", "bnr"],
    "storm": ["hn"],
    "activities": ["datum", "akt_key", "plats_key", "kommunkod"],
}
# promises `match` column -> our normalised column
MATCH = {
    "brottskod": "brottskod",
    "kommunkod": "kommunkod",
    "hobit": "hobit",
    "händelsekod": "handelsekod",
    "händelsetyp": "typ_key",
    "enhet": "enhet_key",
    "aktivitet": "akt_key",
    "plats": "plats_key",
}


# --- reading ---------------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        try:
            while chunk := f.read(8 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def read_file(path: Path, source: str) -> pd.DataFrame:
    wanted = COLUMNS[source]
    if path.suffix.lower() == ".xlsx":
        frame = pd.read_excel(path, dtype=object)
        frame = frame.rename(columns=lambda c: str(c).strip().lower())
        frame = frame[[c for c in frame.columns if c in wanted]].rename(columns=wanted)
        for column in frame.columns:  # Excel cells as the text a CSV would hold
            values = frame[column]
            frame[column] = values.map(_cell_text) if values.dtype == object else values.astype(str)
    else:
        encoding = detect_encoding(path)
        with path.open(encoding=encoding) as f:
            header = f.readline().lstrip("\ufeff").rstrip("\r\n").split(";")
        use = {
            h: wanted[h.strip().strip('"').lower()] for h in header if h.strip().strip('"').lower() in wanted
        }
        frame = pd.read_csv(
            path,
            sep=";",
            encoding=encoding,
            decimal=",",
            dtype=str,
            engine="pyarrow",
            usecols=list(use),
            keep_default_na=False,
            on_bad_lines="skip",
        ).rename(columns=use)
    for column in set(wanted.values()) - set(frame.columns):
        frame[column] = ""
    return frame.fillna("")


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def read_source(folder: Path, source: str) -> pd.DataFrame:
    """All files of a source in file-name order; `order` keeps (file, line) order for 'the later wins'."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    frames = [read_file(p, source) for p in files]
    frame = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=list(COLUMNS[source].values()))
    )
    frame["order"] = np.arange(len(frame))
    return frame


# --- typing ----------------------------------------------------------------------------------------


def code4(text: pd.Series) -> pd.Series:
    return text.str.strip().str.extract(r"^(\d{1,4})(?:\.0*)?$", expand=False).str.zfill(4)


def coordinate(text: pd.Series) -> pd.Series:
    cleaned = text.str.replace(r"\s", "", regex=True).str.replace(",", ".", regex=False)
    return pd.to_numeric(cleaned, errors="coerce")


def local_wall_time(text: pd.Series) -> pd.Series:
    """Naive Swedish local time: repeated hour -> summer time, skipped hour -> moved forward."""
    wall = pd.to_datetime(text.str.strip(), format="ISO8601", errors="coerce")
    wall = wall.dt.tz_localize(TZ, ambiguous=np.ones(len(wall), dtype=bool), nonexistent=pd.Timedelta("1h"))
    return wall.dt.tz_localize(None)


def instant_local(text: pd.Series) -> pd.Series:
    """ISO 8601 with offset or Z -> converted to Swedish local time; naive -> local as written."""
    text = text.str.strip()
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if has_offset.any():
        utc = pd.to_datetime(text[has_offset], format="ISO8601", utc=True, errors="coerce")
        result[has_offset] = utc.dt.tz_convert(TZ).dt.tz_localize(None)
    if (~has_offset).any():
        result[~has_offset] = local_wall_time(text[~has_offset])
    return result


def text_key(text: pd.Series) -> pd.Series:
    return text.str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()


def fold_hobit(text: pd.Series) -> pd.Series:
    folded = text.str.strip().str.upper().str.replace(r"\s+", " ", regex=True)
    return folded.str.translate(str.maketrans({"Å": "A", "Ä": "A", "Ö": "O"}))


def typed(frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept rows with kommunkod, local time, year, tertial, coordinates; rejected rows' partitions)."""
    out = pd.DataFrame({"order": frame["order"]})
    out["kommunkod"] = code4(frame["kommunkod"])
    if source == "status":
        out["arende"] = frame["arende"].str.strip()
        bnr = frame["bnr"].str.strip().str.extract(r"^(\d{1,9})(?:\.0*)?$", expand=False)
        out["bnr"] = pd.to_numeric(bnr, errors="coerce")
        out["brottskod"] = code4(frame["brottskod"])
        out["local"] = local_wall_time(frame["reg"])
        ok = (out["arende"] != "") & out["bnr"].notna() & out["brottskod"].notna()
    elif source == "storm":
        out["hn"] = frame["hn"].str.strip()
        out["local"] = instant_local(frame["start"])
        out["hobit"] = fold_hobit(frame["hobit"])
        out["handelsekod"] = frame["handelsekod"].str.strip()
        out["typ_key"] = text_key(frame["handelsetyp"])
        out["enhet_key"] = text_key(frame["enhet"])
        ok = (out["hn"] != "") & (out["hobit"] != "")
    else:
        out["local"] = pd.to_datetime(frame["datum"].str.strip(), format="%Y-%m-%d", errors="coerce")
        out["plats"] = frame["plats"].str.strip()
        out["akt_key"] = text_key(frame["aktivitet"])
        out["plats_key"] = text_key(frame["plats"])
        ok = (out["akt_key"] != "") & (out["plats_key"] != "")
        out["datum"] = out["local"]
    ok &= out["kommunkod"].notna() & out["local"].notna()
    out["year"] = out["local"].dt.year
    out["tertial"] = (out["local"].dt.month - 1) // 4 + 1
    out["day"] = out["local"].dt.normalize()
    if source != "activities":
        nord, ost = coordinate(frame["nord"]), coordinate(frame["ost"])
        valid = nord.between(*NORTH) & ost.between(*EAST)
        out["nord"], out["ost"] = nord.where(valid), ost.where(valid)
        out["has_coords"] = valid
    rejected = out.loc[~ok & out["kommunkod"].notna() & out["local"].notna(), ["kommunkod", "year"]]
    return out[ok], rejected


# --- areas -----------------------------------------------------------------------------------------


def load_areas(path: Path) -> pd.DataFrame:
    document = json.loads(path.read_text(encoding="utf-8"))
    project = Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
    rows = []
    for feature in document["features"]:
        p = feature["properties"]
        polygon = shapely.transform(
            shape(feature["geometry"]), lambda xy: np.column_stack(project.transform(xy[:, 0], xy[:, 1]))
        )
        shapely.prepare(polygon)
        rows.append(
            {
                "area_id": p["area_id"],
                "layer": p["layer"],
                "kommunkod": p["kommunkod"],
                "valid_from": pd.Timestamp(p["valid_from"]) if p.get("valid_from") else pd.Timestamp.min,
                "valid_to": pd.Timestamp(p["valid_to"]) if p.get("valid_to") else pd.Timestamp.max,
                "polygon": polygon,
            }
        )
    return pd.DataFrame(rows)


def classify(facts: pd.DataFrame, areas: pd.DataFrame, layer: str) -> pd.Series:
    """The area of `layer` holding each row's point on the row's local date (NaN where none)."""
    result = pd.Series(np.nan, index=facts.index, dtype=object)
    if not len(facts):
        return result
    ost, nord = facts["ost"].to_numpy(), facts["nord"].to_numpy()
    kommun, day = facts["kommunkod"].to_numpy(dtype=object), facts["day"].to_numpy()
    free = facts["has_coords"].to_numpy(dtype=bool).copy()
    for area in areas[areas["layer"] == layer].itertuples():
        minx, miny, maxx, maxy = area.polygon.bounds
        candidate = free & (kommun == area.kommunkod) & (ost >= minx) & (ost <= maxx)
        candidate &= (nord >= miny) & (nord <= maxy)
        candidate &= (day >= np.datetime64(area.valid_from)) & (day <= np.datetime64(area.valid_to))
        index = np.flatnonzero(candidate)
        if not len(index):
            continue
        inside = index[shapely.contains_xy(area.polygon, ost[index], nord[index])]
        result.iloc[inside] = area.area_id
        free[inside] = False
    return result


# --- the follow-up ---------------------------------------------------------------------------------


def per_tertial(values: pd.DataFrame) -> dict[str, Any]:
    """`values`: rows with tertial and area (NaN area = not counted in an area breakdown)."""
    out: dict[str, Any] = {}
    cumulative = 0
    for t in (1, 2, 3):
        rows = values[values["tertial"] == t]
        value = len(rows)
        cumulative += value
        areas = rows["area"].dropna().value_counts()
        out[str(t)] = {
            "value": value,
            "cumulative_value": cumulative,
            "areas": {str(a): int(n) for a, n in sorted(areas.items()) if n},
        }
    return out


def followup(root: Path) -> dict[str, Any]:
    config, inbox = root / "config", root / "inbox"
    areas = load_areas(config / "areas.geojson")
    facts: dict[str, pd.DataFrame] = {}
    rejected: dict[str, pd.DataFrame] = {}
    for source in ("status", "storm", "activities"):
        raw = read_source(inbox / source, source)
        kept, rejected[source] = typed(raw, source)
        del raw
        # the same unit twice: the later line in file-name order wins
        facts[source] = kept.sort_values("order").drop_duplicates(KEYS[source], keep="last")
        del kept
    answers: dict[str, Any] = {}
    for path in sorted((config / "promises").glob("*.yaml")):
        promises = yaml.safe_load(path.read_text(encoding="utf-8"))
        kommunkod, year = str(promises["kommunkod"]).zfill(4), int(promises["year"])
        mine = {s: f[(f["kommunkod"] == kommunkod) & (f["year"] == year)] for s, f in facts.items()}
        measures: dict[str, Any] = {}
        for section in promises["sections"]:
            for m in section["measures"]:
                rows = mine[m["source"]]
                for column, allowed in (m.get("match") or {}).items():
                    field = MATCH[column.strip().lower()]
                    if field in ("brottskod", "kommunkod"):
                        allowed = [str(v).zfill(4) for v in allowed]
                    elif field == "hobit":
                        allowed = list(fold_hobit(pd.Series([str(v) for v in allowed])))
                    elif field.endswith("_key"):
                        allowed = list(text_key(pd.Series([str(v) for v in allowed])))
                    rows = rows[rows[field].isin([str(v) for v in allowed])]
                if m["source"] == "activities":
                    out: dict[str, Any] = {}
                    cumulative = 0
                    for t in (1, 2, 3):
                        held = rows[rows["tertial"] == t]
                        cumulative += len(held)
                        items = sorted(
                            f"{p} {d:%Y-%m-%d}" for p, d in zip(held["plats"], held["datum"], strict=True)
                        )
                        out[str(t)] = {"value": len(held), "cumulative_value": cumulative, "items": items}
                    measures[m["id"]] = out
                    continue
                layer = m.get("scope_layer") or m.get("breakdown_layer")
                values = pd.DataFrame({"tertial": rows["tertial"], "area": np.nan})
                if layer:
                    values["area"] = classify(rows, areas, layer)
                    if m.get("scope_layer"):
                        values = values[values["area"].notna()]
                    else:
                        values.loc[values["area"].isna() & rows["has_coords"], "area"] = "OUTSIDE"
                        values.loc[values["area"].isna(), "area"] = "NO_COORDINATES"
                measures[m["id"]] = per_tertial(values)
        quality = {}
        for source, rows in mine.items():
            with_coords = int(rows["has_coords"].sum()) if source != "activities" else 0
            rej = rejected[source]
            quality[source] = {
                "rows_counted": len(rows),
                "rows_with_coordinates": with_coords,
                "rows_missing_coordinates": len(rows) - with_coords if source != "activities" else 0,
                "rows_rejected": int(((rej["kommunkod"] == kommunkod) & (rej["year"] == year)).sum()),
            }
        answers[f"{kommunkod}-{year}"] = {"measures": measures, "source_quality": quality}
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a `lofte sample` folder")
    parser.add_argument("--out", type=Path, help="write the answers here (JSON)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    answers = followup(args.root)
    text = json.dumps(answers, indent=1, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    print(f"reference: {len(answers)} partitions in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
