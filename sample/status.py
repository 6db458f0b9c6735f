"""STATUS crime-code exports: one row per registered crime (brott), three overlapping exports per year.

File-name order is the load order:
- `status_<Y>_1_jan-maj.csv`: Windows-1252, CRLF;
- `status_<Y>_2_apr-sep.xlsx`: UPPER-CASE headers, codes as numbers, Excel date cells; at large scale only its
  first rows, the rest in `status_<Y>_2_apr-sep_forts.csv`;
- `status_<Y>_3_aug-dec.csv`: UTF-8 with BOM, other column order, an unknown column.
Crimes of April-May and August-September are in two exports; a few are planted with a changed value in the
later one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sample import clock, geo, text, truth
from sample.geo import Kommun
from sample.writers import write_csv, write_xlsx

BASE_CRIMES = 1950  # per kommun and year at scale 1: about 2,600 lines once overlaps are counted
NARKOTIKA_SHARE = 0.74
OTHER_CODES = ["5005", "0857", "9301", "3005", "1201", "9801"]
XLSX_CAP = 3000  # an Excel export stays small; the bulk of a big year goes to CSV

JAN_MAJ, APR_SEP, AUG_DEC, APR_SEP_FORTS = 0, 1, 2, 3
SLOT_MONTHS = {JAN_MAJ: (1, 5), APR_SEP: (4, 9), AUG_DEC: (8, 12)}

HEADER = [
    "Ärendenummer",
    "Brottsnummer",
    "Brottskod",
    "Brottsdatum",
    "Registreringsdatum",
    "Kommunkod",
    "Kommun",
    "Brottsplats",
    "Nord",
    "Öst",
    "Misstänkt personnummer",
]
BOM_HEADER = [
    "Misstänkt personnummer",
    "Kommunkod",
    "Registreringsdatum",
    "Brottskod",
    "Ärendenummer",
    "Brottsnummer",
    "Öst",
    "Nord",
    "Brottsplats",
    "Kommun",
    "Brottsdatum",
    "Avdelning",
]

LINE = pa.schema(
    [
        ("slot", pa.int8()),
        ("seq", pa.int64()),
        ("arende", pa.string()),
        ("bnr", pa.int32()),
        ("kod", pa.string()),
        ("reg", pa.timestamp("s")),
        ("reg_raw", pa.string()),
        ("bdatum", pa.date32()),
        ("kommunkod", pa.string()),
        ("kommun", pa.string()),
        ("plats", pa.string()),
        ("nord", pa.float64()),
        ("ost", pa.float64()),
        ("pnr", pa.string()),
        ("quote", pa.bool_()),
        ("planted", pa.bool_()),
    ]
)


def slots_of(month: np.ndarray) -> list[np.ndarray]:
    return [(month >= lo) & (month <= hi) for lo, hi in SLOT_MONTHS.values()]


def breakdown_area(
    layer: geo.Layer, target: np.ndarray, has_coords: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """The stadsdel a crime counts in: the area it was placed in when valid on its date, else OUTSIDE or
    NO_COORDINATES."""
    inside = layer.valid_on(target, day)
    ids = layer.ids()[np.maximum(target, 0)]
    return np.where(inside, ids, np.where(has_coords, truth.OUTSIDE, truth.NO_COORDINATES))


def arende(k: Kommun, numbers: np.ndarray, year: int) -> pa.Array:
    return text.join(f"{5000 + k.index}-K", text.num(numbers, 7), f"-{year % 100:02d}")


def generate(
    k: Kommun,
    year: int,
    scale: int,
    rng: np.random.Generator,
    rejected: truth.Rejected,
) -> tuple[pa.Table, pd.DataFrame]:
    """Lines for every export of the year and the final truth of each crime of kommun `k`."""
    n_crimes = BASE_CRIMES * scale
    numbers = 1_000_000 + rng.choice(8_999_000, size=n_crimes + 100, replace=False)
    bulk_lines, bulk_units = _bulk(k, year, n_crimes, np.sort(numbers[:n_crimes]), rng)
    planter = _Planter(k, year, iter(numbers[n_crimes:].tolist()), rng, rejected)
    _plant(planter, year)
    return pa.concat_tables([bulk_lines, planter.lines()]), pd.concat([bulk_units, planter.units()])


def _case_sizes(n_crimes: int, rng: np.random.Generator) -> np.ndarray:
    """A case (ärende) holds one to three crimes."""
    sizes = rng.choice([1, 2, 3], p=[0.82, 0.14, 0.04], size=n_crimes)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n_crimes)) + 1]
    sizes[-1] -= int(sizes.sum()) - n_crimes
    return sizes


def _registration_times(year: int, n: int, rng: np.random.Generator) -> np.ndarray:
    start = np.datetime64(f"{year}-01-01T00:00:00", "s")
    minutes = int((np.datetime64(f"{year + 1}-01-01", "m") - np.datetime64(f"{year}-01-01", "m")).astype(int))
    reg = np.sort(start + rng.integers(0, minutes, n) * np.timedelta64(60, "s"))
    skipped = np.datetime64(clock.skipped_hour(year), "s")
    in_gap = (reg >= skipped) & (reg < skipped + clock.HOUR)  # no such clock time: move to the real one
    return np.where(in_gap, reg + clock.HOUR, reg)


def _placements(layer: geo.Layer, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """12 % without coordinates, 20 % outside every area (OUTSIDE), the rest well inside a random area."""
    kind = rng.choice(3, p=[0.12, 0.20, 0.68], size=n)
    target = np.where(kind == 2, rng.integers(0, len(layer.polygons), n), -1)
    xy = np.full((n, 2), np.nan)
    xy[kind == 1] = geo.points_outside(layer, int((kind == 1).sum()), rng)
    for i, polygon in enumerate(layer.polygons):
        xy[target == i] = geo.points_in(polygon, int((target == i).sum()), rng)
    return xy, target


def _bulk(
    k: Kommun,
    year: int,
    n_crimes: int,
    numbers: np.ndarray,
    rng: np.random.Generator,
) -> tuple[pa.Table, pd.DataFrame]:
    sizes = _case_sizes(n_crimes, rng)
    n_cases = len(sizes)
    case_reg = _registration_times(year, n_cases, rng)
    case_xy, case_target = _placements(k.stadsdelar, n_cases, rng)
    case = np.repeat(np.arange(n_cases), sizes)
    reg, xy, target = case_reg[case], case_xy[case], case_target[case]
    bnr = np.arange(n_crimes) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1
    narkotika = rng.random(n_crimes) < NARKOTIKA_SHARE
    kod = np.where(
        narkotika,
        np.where(rng.random(n_crimes) < 0.6, "5010", "5011"),
        np.array(OTHER_CODES)[rng.integers(0, len(OTHER_CODES), n_crimes)],
    )
    day = reg.astype("datetime64[D]")
    crimes = pa.table(
        {
            "arende": arende(k, numbers[case], year),
            "bnr": pa.array(bnr, pa.int32()),
            "kod": pa.array(kod),
            "reg": pa.array(reg),
            "reg_raw": pa.nulls(n_crimes, pa.string()),
            "bdatum": pa.array(day - rng.integers(0, 4, n_crimes).astype("timedelta64[D]")),
            "kommunkod": pa.array(np.full(n_crimes, k.kommunkod)),
            "kommun": pa.array(np.full(n_crimes, k.name)),
            "plats": text.address(rng, n_crimes),
            "nord": pa.array(xy[:, 1]),
            "ost": pa.array(xy[:, 0]),
            "pnr": text.personnummer(rng, n_crimes),
            "quote": pa.array(np.zeros(n_crimes, bool)),
            "planted": pa.array(np.zeros(n_crimes, bool)),
        }
    )
    parts = []
    seq = reg.astype(np.int64)
    for slot, in_slot in enumerate(slots_of(clock.months(reg))):
        idx = np.flatnonzero(in_slot)
        part = crimes.take(idx)
        part = part.add_column(0, "seq", pa.array(seq[idx])).add_column(
            0, "slot", pa.array(np.full(len(idx), slot, np.int8))
        )
        parts.append(part.select(LINE.names).cast(LINE))
    has_coords = ~np.isnan(xy[:, 0])
    units = truth.units(
        k.kommunkod, reg, kod, breakdown_area(k.stadsdelar, target, has_coords, day), has_coords
    )
    return pa.concat_tables(parts), units


class _Planter:
    """Planted crimes: each with its versions in load order; the last version is the truth."""

    def __init__(
        self, k: Kommun, year: int, numbers: Iterator[int], rng: np.random.Generator, rejected: truth.Rejected
    ) -> None:
        self.k, self.year, self.numbers, self.rng, self.rejected = k, year, numbers, rng, rejected
        self.rows: list[dict[str, Any]] = []
        self.finals: list[dict[str, Any]] = []

    def place(self, kind: str, index: int = 0) -> dict[str, Any]:
        """Coordinates and the stadsdel placed in: in / near_in / near_out / out / none."""
        return geo.place(self.k.stadsdelar, kind, index, self.rng)

    def crime(
        self,
        reg: datetime,
        kod: str,
        where: dict[str, Any],
        versions: list[tuple[int, dict[str, Any]]],
        counted: bool = True,
    ) -> None:
        """`versions`: (slot, changes) in load order; final values: `kod`/`where` plus the last changes."""
        base = {
            "arende": f"{5000 + self.k.index}-K{next(self.numbers):07d}-{self.year % 100:02d}",
            "bnr": 1,
            "kod": kod,
            "reg": reg,
            "reg_raw": None,
            "bdatum": reg.date(),
            "kommunkod": self.k.kommunkod,
            "kommun": self.k.name,
            "plats": f"Provgatan {int(self.rng.integers(1, 100))}",
            "pnr": f"190001{int(self.rng.integers(1, 10)):02d}-{int(self.rng.integers(0, 10_000)):04d}",
            "quote": False,
            "planted": True,
            "seq": int((reg - datetime(1970, 1, 1)).total_seconds()),
            **where,
        }
        row = base
        for slot, changes in versions:
            row = {**base, **changes, "slot": slot}
            self.rows.append(row)
        if counted:
            self.finals.append(row)
        else:
            readable = row["kommunkod"] and row["reg_raw"] is None
            self.rejected.add((row["kommunkod"], reg.year) if readable else None)

    def lines(self) -> pa.Table:
        return pa.Table.from_pylist([{n: r.get(n) for n in LINE.names} for r in self.rows], schema=LINE)

    def units(self) -> pd.DataFrame:
        f = self.finals
        local = np.array([r["reg"] for r in f], dtype="datetime64[s]")
        nord = np.array([np.nan if r["nord"] is None else r["nord"] for r in f])
        ost = np.array([np.nan if r["ost"] is None else r["ost"] for r in f])
        has_coords = (
            (nord >= geo.NORD_MIN) & (nord <= geo.NORD_MAX) & (ost >= geo.OST_MIN) & (ost <= geo.OST_MAX)
        )
        target = np.array(
            [r["target"] if h else -1 for r, h in zip(f, has_coords, strict=True)], dtype=np.int64
        )
        area = breakdown_area(self.k.stadsdelar, target, has_coords, local.astype("datetime64[D]"))
        return truth.units(self.k.kommunkod, local, np.array([r["kod"] for r in f]), area, has_coords)


def _plant(p: _Planter, y: int) -> None:
    """Every trap of the contract that concerns STATUS, once per kommun and year."""
    t = datetime
    # Tertial edges: registered 30 April 23:59 is T1, 1 May 00:00 is T2 (also in the xlsx as date cells).
    p.crime(t(y, 4, 30, 23, 59), "5010", p.place("in", 0), [(JAN_MAJ, {}), (APR_SEP, {})])
    p.crime(t(y, 5, 1, 0, 0), "5011", p.place("in", 1), [(JAN_MAJ, {}), (APR_SEP, {})])
    p.crime(t(y, 8, 31, 23, 59, 59), "5010", p.place("in", 2), [(APR_SEP, {}), (AUG_DEC, {})])
    p.crime(t(y, 9, 1, 0, 0), "5010", p.place("in", 3), [(APR_SEP, {}), (AUG_DEC, {})])
    p.crime(t(y, 1, 1, 0, 0), "5011", p.place("out"), [(JAN_MAJ, {})])
    p.crime(t(y, 12, 31, 23, 59), "5010", p.place("none"), [(AUG_DEC, {})])
    # Overlapping exports with a changed value: the later file in file-name order wins.
    p.crime(t(y, 5, 14, 10, 20), "5005", p.place("in", 0), [(JAN_MAJ, {"kod": "5010"}), (APR_SEP, {})])
    p.crime(t(y, 9, 3, 14, 5), "5011", p.place("in", 1), [(APR_SEP, {"kod": "0857"}), (AUG_DEC, {})])
    p.crime(t(y, 4, 12, 8, 0), "5010", p.place("in", 1), [(JAN_MAJ, p.place("in", 0)), (APR_SEP, {})])
    p.crime(t(y, 8, 20, 20, 0), "5011", p.place("none"), [(APR_SEP, p.place("in", 2)), (AUG_DEC, {})])
    # Twice in one file: the later line wins.
    p.crime(
        t(y, 10, 10, 12, 0),
        "5011",
        p.place("out"),
        [(AUG_DEC, {"kod": "5010", **p.place("in", 0)}), (AUG_DEC, {})],
    )
    p.crime(t(y, 6, 6, 6, 6), "9301", p.place("in", 1), [(APR_SEP, {"kod": "5011"}), (APR_SEP, {})])
    # Points 3-10 m inside and outside a stadsdel's border.
    for i, (month, slot) in enumerate([(2, JAN_MAJ), (6, APR_SEP), (11, AUG_DEC), (3, JAN_MAJ)]):
        p.crime(t(y, month, 10 + i, 9, 30), "5010", p.place("near_in", i), [(slot, {})])
        p.crime(t(y, month, 20 + i, 21, 15), "5011", p.place("near_out", i + 1), [(slot, {})])
    # Pairs outside Sweden's box: kept, counted as without coordinates.
    for i, (nord, ost) in enumerate([(585_012.3, 6_582_345.6), (59.3712, 16.5101), (0.0, 0.0)]):
        p.crime(
            t(y, 3 + 4 * i, 5, 13, 0),
            "5010",
            {"nord": nord, "ost": ost, "target": -1},
            [([JAN_MAJ, APR_SEP, AUG_DEC][i], {})],
        )
    # Quoted values: an address with a `;` inside quotes, and quoted codes.
    p.crime(
        t(y, 2, 14, 16, 40), "5010", {**p.place("in", 2), "plats": "Provgatan 12; port B"}, [(JAN_MAJ, {})]
    )
    p.crime(t(y, 11, 2, 7, 45), "5011", {**p.place("in", 3), "quote": True}, [(AUG_DEC, {})])
    p.crime(t(y, 6, 18, 17, 5), "0857", {**p.place("in", 4), "plats": "Provgatan 3; 2 tr"}, [(APR_SEP, {})])
    # Rejected: missing Brottskod / Ärendenummer (partition known), unreadable date or Kommunkod (none).
    p.crime(t(y, 2, 2, 12, 0), "", p.place("in", 0), [(JAN_MAJ, {"kod": None})], counted=False)
    p.crime(t(y, 7, 7, 12, 0), "", p.place("in", 0), [(APR_SEP, {"kod": None})], counted=False)
    p.crime(t(y, 10, 20, 12, 0), "5010", p.place("in", 1), [(AUG_DEC, {"arende": None})], counted=False)
    p.crime(t(y, 3, 3, 12, 0), "5010", p.place("in", 1), [(JAN_MAJ, {"kommunkod": None})], counted=False)
    p.crime(
        t(y, 12, 12, 12, 0),
        "5010",
        p.place("in", 1),
        [(AUG_DEC, {"reg_raw": f"{y}-13-45 10:00"})],
        counted=False,
    )


# --- writing -----------------------------------------------------------------------------------------------


def _csv_columns(lines: pa.Table, order: list[str], time_format: str) -> list[pa.Array]:
    quote = lines["quote"].to_numpy(zero_copy_only=False)
    reg = text.override(
        lines["reg_raw"].combine_chunks(), text.timestamp(lines["reg"].to_numpy(), time_format)
    )
    by_name: dict[str, pa.Array] = {
        "Ärendenummer": text.quoted(quote, lines["arende"].combine_chunks()),
        "Brottsnummer": text.num(lines["bnr"].to_numpy()),
        "Brottskod": text.quoted(quote, lines["kod"].combine_chunks()),
        "Brottsdatum": pc.cast(lines["bdatum"].combine_chunks(), pa.string()),
        "Registreringsdatum": reg,
        "Kommunkod": text.quoted(quote, lines["kommunkod"].combine_chunks()),
        "Kommun": lines["kommun"].combine_chunks(),
        "Brottsplats": text.csv_safe(lines["plats"].combine_chunks()),
        "Nord": text.coordinate(lines["nord"].to_numpy(zero_copy_only=False)),
        "Öst": text.coordinate(lines["ost"].to_numpy(zero_copy_only=False)),
        "Misstänkt personnummer": lines["pnr"].combine_chunks(),
        "Avdelning": pa.array(np.full(len(lines), "Utredning Mälardalen")),  # unknown column: ignored
    }
    return [by_name[name] for name in order]


def _xlsx_rows(lines: pa.Table) -> list[list[Any]]:
    """Codes as numbers (Excel drops leading zeros), Registreringsdatum as real date cells."""
    rows = []
    for r in lines.to_pylist():
        rows.append(
            [
                r["arende"],
                r["bnr"],
                int(r["kod"]) if r["kod"] else None,
                r["bdatum"].isoformat(),
                r["reg"],
                int(r["kommunkod"]) if r["kommunkod"] else None,
                r["kommun"],
                r["plats"],
                r["nord"],
                r["ost"],
                r["pnr"],
            ]
        )
    return rows


def sort_lines(lines: pa.Table) -> pa.Table:
    """Each export in time order; equal times keep their planted order (so the later line stays later)."""
    order = np.lexsort((np.arange(len(lines)), lines["seq"].to_numpy(), lines["slot"].to_numpy()))
    return lines.take(order)


def write_year(folder: Path, year: int, lines: pa.Table) -> dict[str, int]:
    """All kommuner's lines of one year into the year's exports; returns data lines per file name."""
    lines = sort_lines(lines)
    slot = lines["slot"].to_numpy()
    written: dict[str, int] = {}

    def part(mask: np.ndarray) -> pa.Table:
        return lines.filter(pa.array(mask))

    name = f"status_{year}_1_jan-maj.csv"
    written[name] = write_csv(
        folder / name,
        HEADER,
        _csv_columns(part(slot == JAN_MAJ), HEADER, "%Y-%m-%d %H:%M"),
        encoding="cp1252",
        newline="\r\n",
    )
    apr_sep = slot == APR_SEP
    planted = lines["planted"].to_numpy(zero_copy_only=False)
    room = max(XLSX_CAP - int((apr_sep & planted).sum()), 0)
    bulk_rank = np.cumsum(apr_sep & ~planted)
    in_xlsx = apr_sep & (planted | (bulk_rank <= room))
    name = f"status_{year}_2_apr-sep.xlsx"
    written[name] = write_xlsx(folder / name, [h.upper() for h in HEADER], _xlsx_rows(part(in_xlsx)))
    if (apr_sep & ~in_xlsx).any():
        name = f"status_{year}_2_apr-sep_forts.csv"
        columns = _csv_columns(part(apr_sep & ~in_xlsx), HEADER, "%Y-%m-%d %H:%M")
        written[name] = write_csv(folder / name, HEADER, columns, encoding="utf-8", newline="\n")
    name = f"status_{year}_3_aug-dec.csv"
    columns = _csv_columns(part(slot == AUG_DEC), BOM_HEADER, "%Y-%m-%d %H:%M:%S")
    written[name] = write_csv(folder / name, BOM_HEADER, columns, encoding="utf-8", newline="\n", bom=True)
    return written
