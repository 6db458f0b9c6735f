"""STORM-HOBIT event logs: one row per händelserapport (HR), two overlapping logs per year.

`storm_hobit_<Y>_1_h1.csv` (Windows-1252, CRLF; January-July) and `storm_hobit_<Y>_2_h2.csv` (UTF-8, LF,
columns in another order; June-December). Starttid is written with an offset, in UTC (`Z`) or as naive
local time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa

from sample import clock, geo, text, truth
from sample.geo import Kommun
from sample.writers import write_csv

STOCKHOLM = ZoneInfo("Europe/Stockholm")
H1, H2 = 0, 1
SLOT_MONTHS = {H1: (1, 7), H2: (6, 12)}
OFFSET, UTC, NAIVE = 0, 1, 2  # how Starttid is written

TRAFIKKONTROLL = "TRAFIKKONTROLL"
# HOBIT code -> (Händelsekod, Händelsetyp, spellings seen in exports: case and Å/Ä/Ö vary)
HOBIT: dict[str, tuple[str, str, list[str]]] = {
    "TRAFIKKONTROLL": ("65", "TRAFIKKONTROLL", ["TRAFIKKONTROLL", "trafikkontroll", "Trafikkontroll"]),
    "FOTPATRULL": ("20", "KONTROLL PERSON/FORDON", ["FOTPATRULL", "Fotpatrull"]),
    "ORDNINGSHALLNING": (
        "50",
        "ORDNINGSHÅLLNING",
        ["ORDNINGSHALLNING", "ORDNINGSHÅLLNING", "Ordningshållning"],
    ),
    "PLATSUNDERSOKNING": (
        "77",
        "PLATSUNDERSÖKNING",
        ["PLATSUNDERSOKNING", "PLATSUNDERSÖKNING", "Platsundersökning"],
    ),
    "NARKOTIKAINSATS": ("40", "NARKOTIKABROTT", ["NARKOTIKAINSATS", "Narkotikainsats"]),
    "MEDBORGARDIALOG": ("90", "MEDBORGARDIALOG", ["MEDBORGARDIALOG", "Medborgardialog"]),
    "OVRIGT": ("99", "ÖVRIGT", ["OVRIGT", "ÖVRIGT", "Övrigt"]),
    "DRONARINSATS": ("98", "DRÖNARE", ["DRONARINSATS"]),  # not in the contract's list: unknown code
}
OTHER_HOBIT = [
    "FOTPATRULL",
    "ORDNINGSHALLNING",
    "PLATSUNDERSOKNING",
    "NARKOTIKAINSATS",
    "MEDBORGARDIALOG",
    "OVRIGT",
]
ENHETER = ["LPO {} Trafik", "LPO {} IG", "Områdespolis {}"]

# HRs per kommun and year at scale 1 (about 800 HRs, 950 lines once the June-July overlap is counted).
TRAFFIC_IN_SCOPE, TRAFFIC_IN_INVALID_AREA, TRAFFIC_OUTSIDE, TRAFFIC_NO_COORDS, OTHER = 180, 15, 150, 10, 450
BLOCK_PER_SCALE = 1000  # Händelsenummer block per kommun and year

HEADER = [
    "Händelsenummer",
    "Starttid",
    "Händelsekod",
    "Händelsetyp",
    "HOBIT",
    "Kommunkod",
    "Plats",
    "Nord",
    "Öst",
    "Enhet",
    "Sammanfattning",
]
# The UTF-8 log: reversed columns, a header with a trailing space and one in mixed case.
H2_HEADER = [
    "Sammanfattning",
    "Enhet",
    "Öst",
    "Nord",
    "Plats",
    "Kommunkod ",
    "Hobit",
    "Händelsetyp",
    "Händelsekod",
    "Starttid",
    "Händelsenummer",
]

LINE = pa.schema(
    [
        ("slot", pa.int8()),
        ("seq", pa.int64()),
        ("hn", pa.string()),
        ("utc", pa.timestamp("s")),
        ("fmt", pa.int8()),
        ("start_raw", pa.string()),
        ("hobit", pa.string()),
        ("kod", pa.string()),
        ("typ", pa.string()),
        ("kommunkod", pa.string()),
        ("plats", pa.string()),
        ("nord", pa.float64()),
        ("ost", pa.float64()),
        ("enhet", pa.string()),
        ("summ", pa.string()),
        ("planted", pa.bool_()),
    ]
)


def hn_block_size(scale: int) -> int:
    return BLOCK_PER_SCALE * scale + 1000


def scope_area(layer: geo.Layer, target: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The utsatt område an HR counts in: the area it was placed in, when valid on its local date."""
    return np.where(layer.valid_on(target, day), layer.ids()[np.maximum(target, 0)], truth.NOT_IN_SCOPE)


def generate(
    k: Kommun, year: int, scale: int, first_hn: int, rng: np.random.Generator, rejected: truth.Rejected
) -> tuple[pa.Table, pd.DataFrame]:
    bulk_lines, bulk_units = _bulk(k, year, scale, first_hn, rng)
    planter = _Planter(
        k, rng, iter(range(first_hn + bulk_units.shape[0], first_hn + hn_block_size(scale))), rejected
    )
    _plant(planter, k, year)
    return pa.concat_tables([bulk_lines, planter.lines()]), pd.concat([bulk_units, planter.units()])


def _groups(k: Kommun, year: int, scale: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Canonical HOBIT code and placement (polygon index in the utsatta layer, -1 outside, -2 none)."""
    layer = k.utsatta
    valid = layer.indices_valid_in_year(year)
    invalid = [i for i in range(len(layer.areas)) if i not in valid]
    codes, targets = [], []

    def add(code: str | np.ndarray, target: np.ndarray) -> None:
        codes.append(np.broadcast_to(np.asarray(code, dtype=object), len(target)))
        targets.append(target)

    add(TRAFIKKONTROLL, rng.choice(valid, TRAFFIC_IN_SCOPE * scale))
    if invalid:
        add(TRAFIKKONTROLL, rng.choice(invalid, TRAFFIC_IN_INVALID_AREA * scale))
    add(TRAFIKKONTROLL, np.full(TRAFFIC_OUTSIDE * scale, -1))
    add(TRAFIKKONTROLL, np.full(TRAFFIC_NO_COORDS * scale, -2))
    n = OTHER * scale
    kind = rng.choice(3, p=[0.05, 0.45, 0.50], size=n)
    add(
        np.array(OTHER_HOBIT, dtype=object)[rng.integers(0, len(OTHER_HOBIT), n)],
        np.where(kind == 0, -2, np.where(kind == 1, rng.integers(0, len(layer.areas), n), -1)),
    )
    return np.concatenate(codes), np.concatenate(targets)


def _spellings(codes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hobit = np.empty(len(codes), dtype=object)
    kod, typ = hobit.copy(), hobit.copy()
    for code, (event_code, event_type, spellings) in HOBIT.items():
        m = codes == code
        hobit[m] = np.array(spellings, dtype=object)[rng.integers(0, len(spellings), int(m.sum()))]
        kod[m], typ[m] = event_code, event_type
    return hobit, kod, typ


def _bulk(
    k: Kommun,
    year: int,
    scale: int,
    first_hn: int,
    rng: np.random.Generator,
) -> tuple[pa.Table, pd.DataFrame]:
    codes, target = _groups(k, year, scale, rng)
    n = len(codes)
    start, end = clock.local_year_start_utc(year), clock.local_year_start_utc(year + 1)
    utc = start + rng.integers(0, int((end - start).astype(np.int64)), n).astype("timedelta64[s]")
    order = np.argsort(utc, kind="stable")  # Händelsenummer grow with time
    codes, target, utc = codes[order], target[order], utc[order]
    local = clock.to_local(utc)
    fmt = rng.choice(3, p=[0.4, 0.3, 0.3], size=n).astype(np.int8)
    repeated = np.datetime64(clock.repeated_hour(year), "s")
    ambiguous = (local >= repeated) & (local < repeated + clock.HOUR)
    fmt[ambiguous & (fmt == NAIVE)] = OFFSET  # keep bulk times exact; planted rows test the repeated hour
    xy = np.full((n, 2), np.nan)
    out = target == -1
    xy[out] = geo.points_outside(k.utsatta, int(out.sum()), rng)
    for i, polygon in enumerate(k.utsatta.polygons):
        xy[target == i] = geo.points_in(polygon, int((target == i).sum()), rng)
    hobit, kod, typ = _spellings(codes, rng)
    enhet = np.array([e.format(k.name) for e in ENHETER], dtype=object)[rng.integers(0, len(ENHETER), n)]
    events = pa.table(
        {
            "hn": text.num(first_hn + np.arange(n)),
            "utc": pa.array(utc),
            "fmt": pa.array(fmt),
            "start_raw": pa.nulls(n, pa.string()),
            "hobit": pa.array(hobit, pa.string()),
            "kod": pa.array(kod, pa.string()),
            "typ": pa.array(typ, pa.string()),
            "kommunkod": pa.array(np.full(n, k.kommunkod)),
            "plats": pa.array(np.full(n, k.name)),
            "nord": pa.array(xy[:, 1]),
            "ost": pa.array(xy[:, 0]),
            "enhet": pa.array(enhet, pa.string()),
            "summ": text.join("Kontroll av person ", text.personnummer(rng, n), " på ", text.address(rng, n)),
            "planted": pa.array(np.zeros(n, bool)),
        }
    )
    month = clock.months(local)
    parts = []
    for slot, (lo, hi) in SLOT_MONTHS.items():
        idx = np.flatnonzero((month >= lo) & (month <= hi))
        part = events.take(idx)
        part = part.append_column("slot", pa.array(np.full(len(idx), slot, np.int8)))
        part = part.append_column("seq", pa.array(utc[idx].astype(np.int64)))
        parts.append(part.select(LINE.names).cast(LINE))
    has_coords = target >= -1
    area = scope_area(k.utsatta, target, local.astype("datetime64[D]"))
    return pa.concat_tables(parts), truth.units(k.kommunkod, local, codes, area, has_coords)


def local_time(starttid: str) -> datetime:
    """Swedish local time of a written Starttid, by the contract's rules (zoneinfo, independent of clock.py):
    offsets and Z are converted; a naive time is local, a repeated hour read as the first (summer) one and a
    skipped hour moved forward to the real clock."""
    moment = datetime.fromisoformat(starttid.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STOCKHOLM, fold=0)
    return moment.astimezone(STOCKHOLM).replace(tzinfo=None)


class _Planter:
    """Planted HRs with their versions in load order; the last version is the truth."""

    def __init__(
        self, k: Kommun, rng: np.random.Generator, numbers: Iterator[int], rejected: truth.Rejected
    ) -> None:
        self.k, self.rng, self.numbers, self.rejected = k, rng, numbers, rejected
        self.rows: list[dict[str, Any]] = []
        self.finals: list[dict[str, Any]] = []

    def place(self, kind: str, index: int = 0) -> dict[str, Any]:
        """Coordinates and the utsatt område placed in: in / near_in / near_out / out / none."""
        return geo.place(self.k.utsatta, kind, index, self.rng)

    def hr(
        self,
        starttid: str,
        code: str,
        where: dict[str, Any],
        versions: list[tuple[int, dict[str, Any]]],
        counted: bool = True,
        spelling: str | None = None,
    ) -> None:
        try:
            local: datetime | None = local_time(starttid)
        except ValueError:  # an unreadable Starttid: the row is rejected and belongs to no partition
            local = None
        event_code, event_type, spellings = HOBIT[code]
        utc = (local or datetime(1970, 1, 1)).replace(tzinfo=STOCKHOLM).astimezone(ZoneInfo("UTC"))
        base = {
            "hn": str(next(self.numbers)),
            "utc": utc.replace(tzinfo=None),
            "fmt": NAIVE,
            "start_raw": starttid,
            "hobit": spelling or spellings[0],
            "code": code,
            "kod": event_code,
            "typ": event_type,
            "kommunkod": self.k.kommunkod,
            "plats": self.k.name,
            "enhet": f"LPO {self.k.name} Trafik",
            "summ": f"Kontroll av person 190001{int(self.rng.integers(1, 10)):02d}-"
            f"{int(self.rng.integers(0, 10_000)):04d} på Provgatan {int(self.rng.integers(1, 100))}",
            "planted": True,
            "local": local,
            **where,
        }
        row = base
        for slot, changes in versions:
            row = {**base, **changes, "slot": slot, "seq": int(utc.timestamp())}
            self.rows.append(row)
        if counted:
            self.finals.append(row)
        else:
            readable = row["kommunkod"] and local is not None
            self.rejected.add((row["kommunkod"], local.year) if readable and local else None)

    def lines(self) -> pa.Table:
        return pa.Table.from_pylist([{n: r.get(n) for n in LINE.names} for r in self.rows], schema=LINE)

    def units(self) -> pd.DataFrame:
        f = self.finals
        local = np.array([r["local"] for r in f], dtype="datetime64[s]")
        nord = np.array([np.nan if r["nord"] is None else r["nord"] for r in f])
        ost = np.array([np.nan if r["ost"] is None else r["ost"] for r in f])
        has_coords = (
            (nord >= geo.NORD_MIN) & (nord <= geo.NORD_MAX) & (ost >= geo.OST_MIN) & (ost <= geo.OST_MAX)
        )
        target = np.array(
            [r["target"] if h else -1 for r, h in zip(f, has_coords, strict=True)], dtype=np.int64
        )
        area = scope_area(self.k.utsatta, target, local.astype("datetime64[D]"))
        return truth.units(
            self.k.kommunkod, local, np.array([r["code"] for r in f], dtype=object), area, has_coords
        )


def _plant(p: _Planter, k: Kommun, y: int) -> None:
    """Every trap of the contract that concerns STORM, once per kommun and year."""
    valid = k.utsatta.indices_valid_in_year(y)
    a, b = valid[0], valid[1 % len(valid)]
    march, october = clock.last_sunday(y, 3), clock.last_sunday(y, 10)
    tk = TRAFIKKONTROLL
    # Instants at tertial and year edges: the local date decides (30 April 22:30Z is 1 May local -> T2).
    p.hr(f"{y}-04-30T22:30:00Z", tk, {**p.place("in", a), "plats": f"{k.name}; Resecentrum"}, [(H1, {})])
    p.hr(f"{y}-04-30T23:30:00+02:00", tk, p.place("in", b), [(H1, {})])
    p.hr(f"{y}-08-31T22:10:00Z", tk, p.place("in", a), [(H2, {})])
    p.hr(f"{y}-08-31T23:50:00+02:00", tk, p.place("in", b), [(H2, {})])
    p.hr(f"{y - 1}-12-31T23:30:00Z", tk, p.place("in", a), [(H1, {})])  # 1 January local: year y, T1
    p.hr(f"{y}-12-31T23:30:00Z", tk, p.place("in", a), [(H2, {})])  # 1 January y+1: not in year y
    p.hr(f"{y}-12-31 23:59:59", tk, p.place("in", b), [(H2, {})])
    p.hr(f"{y}-01-01 00:00:00", tk, p.place("in", b), [(H1, {})])
    # Naive local times in the hour the clock skips (March) and repeats (October): valid, counted.
    p.hr(f"{march.isoformat()} 02:30:00", tk, p.place("in", a), [(H1, {})], spelling="trafikkontroll")
    p.hr(f"{october.isoformat()} 02:30:00", tk, p.place("in", b), [(H2, {})], spelling="Trafikkontroll")
    p.hr(f"{october.isoformat()}T02:30:00+01:00", tk, p.place("in", a), [(H2, {})])
    # An unknown HOBIT code: counted in the HR totals, matches no measure.
    p.hr(f"{y}-03-15T10:00:00+01:00", "DRONARINSATS", p.place("in", a), [(H1, {})])
    p.hr(f"{y}-09-15T10:00:00Z", "DRONARINSATS", p.place("out"), [(H2, {})])
    p.hr(f"{y}-10-15 10:00:00", "DRONARINSATS", p.place("none"), [(H2, {})])
    # Overlapping logs with a changed value: the later file wins.
    p.hr(
        f"{y}-06-15T10:00:00+02:00",
        tk,
        p.place("in", a),
        [
            (H1, {"code": "FOTPATRULL", "hobit": "FOTPATRULL", "kod": "20", "typ": "KONTROLL PERSON/FORDON"}),
            (H2, {}),
        ],
    )
    p.hr(f"{y}-07-03T11:00:00Z", tk, p.place("out"), [(H1, p.place("in", b)), (H2, {})])
    p.hr(f"{y}-07-20 15:00:00", tk, p.place("in", b), [(H1, p.place("out")), (H2, {})])
    p.hr(
        f"{y}-06-25T08:00:00+02:00",
        "OVRIGT",
        p.place("in", a),
        [(H1, {"code": tk, "hobit": tk, "kod": "65", "typ": tk}), (H2, {"hobit": "ÖVRIGT"})],
    )
    # Twice in one file: the later line wins.
    p.hr(f"{y}-10-05T18:00:00+02:00", tk, p.place("in", b), [(H2, p.place("none")), (H2, {})])
    p.hr(
        f"{y}-03-05T18:00:00+01:00",
        "ORDNINGSHALLNING",
        p.place("in", a),
        [(H1, {"code": tk, "hobit": tk}), (H1, {"hobit": "ORDNINGSHÅLLNING"})],
    )
    # Points 3-10 m inside (counted) and outside (not counted) an utsatt område's border.
    for i, (month, slot) in enumerate([(2, H1), (5, H1), (9, H2), (11, H2)]):
        area = valid[i % len(valid)]
        p.hr(f"{y}-{month:02d}-{10 + i}T09:30:00Z", tk, p.place("near_in", area), [(slot, {})])
        p.hr(f"{y}-{month:02d}-{20 + i} 21:15:00", tk, p.place("near_out", area), [(slot, {})])
    # Pairs outside Sweden's box (a WGS84 pair and a swapped pair): counted as without coordinates.
    p.hr(f"{y}-04-04T12:00:00+02:00", tk, {"nord": 59.3712, "ost": 16.5101, "target": -1}, [(H1, {})])
    p.hr(f"{y}-11-11T12:00:00Z", tk, {"nord": 585_012.3, "ost": 6_582_345.6, "target": -1}, [(H2, {})])
    # Rejected: missing Händelsenummer / HOBIT (partition known), unreadable Starttid / Kommunkod (none).
    p.hr(f"{y}-02-20T12:00:00+01:00", tk, p.place("in", a), [(H1, {"hn": None})], counted=False)
    p.hr(f"{y}-09-20T12:00:00+02:00", tk, p.place("in", a), [(H2, {"hobit": None})], counted=False)
    p.hr(f"{y}-02-30T25:61:00", tk, p.place("in", a), [(H2, {})], counted=False)
    p.hr(f"{y}-03-20T12:00:00+01:00", tk, p.place("in", a), [(H1, {"kommunkod": None})], counted=False)


# --- writing -----------------------------------------------------------------------------------------------


def _columns(lines: pa.Table, order: list[str]) -> list[pa.Array]:
    utc = lines["utc"].to_numpy().astype("datetime64[s]")
    offset = clock.utc_offset_hours(utc)
    local = utc + offset * clock.HOUR
    fmt = lines["fmt"].to_numpy()
    with_offset = text.join(
        text.timestamp(local, "%Y-%m-%dT%H:%M:%S"), pa.array(np.where(offset == 2, "+02:00", "+01:00"))
    )
    in_utc = text.join(text.timestamp(utc, "%Y-%m-%dT%H:%M:%S"), "Z")
    naive = text.timestamp(local, "%Y-%m-%d %H:%M:%S")
    written = pa.array(
        np.where(
            fmt == OFFSET,
            with_offset.to_numpy(zero_copy_only=False),
            np.where(fmt == UTC, in_utc.to_numpy(zero_copy_only=False), naive.to_numpy(zero_copy_only=False)),
        ),
        pa.string(),
    )
    by_name = {
        "Händelsenummer": lines["hn"].combine_chunks(),
        "Starttid": text.override(lines["start_raw"].combine_chunks(), written),
        "Händelsekod": lines["kod"].combine_chunks(),
        "Händelsetyp": lines["typ"].combine_chunks(),
        "HOBIT": lines["hobit"].combine_chunks(),
        "Kommunkod": lines["kommunkod"].combine_chunks(),
        "Plats": text.csv_safe(lines["plats"].combine_chunks()),
        "Nord": text.coordinate(lines["nord"].to_numpy(zero_copy_only=False)),
        "Öst": text.coordinate(lines["ost"].to_numpy(zero_copy_only=False)),
        "Enhet": lines["enhet"].combine_chunks(),
        "Sammanfattning": text.csv_safe(lines["summ"].combine_chunks()),
    }
    return [by_name[name.strip().upper() if name.strip() == "Hobit" else name.strip()] for name in order]


def write_year(folder: Path, year: int, lines: pa.Table) -> dict[str, int]:
    order = np.lexsort((np.arange(len(lines)), lines["seq"].to_numpy(), lines["slot"].to_numpy()))
    lines = lines.take(order)
    slot = lines["slot"].to_numpy()
    h1, h2 = lines.filter(pa.array(slot == H1)), lines.filter(pa.array(slot == H2))
    written = {}
    name = f"storm_hobit_{year}_1_h1.csv"
    written[name] = write_csv(folder / name, HEADER, _columns(h1, HEADER), encoding="cp1252", newline="\r\n")
    name = f"storm_hobit_{year}_2_h2.csv"
    written[name] = write_csv(
        folder / name, H2_HEADER, _columns(h2, H2_HEADER), encoding="utf-8", newline="\n"
    )
    return written
