"""Time: timestamps to Swedish local time, and the tertial and year that follow from the local date.

The contract's rules, each in one place:
- a naive time is Swedish local time (Europe/Stockholm);
- a naive time in the hour the clock repeats in October is the first (summer-time) one;
- a naive time in the hour the clock skips in March is moved forward by the gap, to the real clock
  (02:30 → 03:30), as a wall clock that was not moved would have read;
- offsets and `Z` are instants, converted to Swedish local time before the date is taken.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from transform.arrowtext import arrow, extract_array, integers, matches_array, nonempty, strip

TZ = "Europe/Stockholm"

_NAIVE = (
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[T ](?P<h>\d{2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
)
_OFFSET = r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)"
_NS = {"h": 3_600 * 10**9, "mi": 60 * 10**9, "s": 10**9}


def tertial_of_month(month: pd.Series | np.ndarray) -> np.ndarray:
    """T1 = Jan–Apr, T2 = May–Aug, T3 = Sep–Dec."""
    return (np.asarray(month, dtype=np.int64) - 1) // 4 + 1


# The common shapes, typed by Arrow's strptime instead of a regex with captures and a cast per group
# (a third of the time). Only days 01-28, in-range times and years 1900-2099: strptime rolls 30 February
# over into March, and such values take the full path, which refuses them.
_DAY = r"(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])"
_HM = r"(?:[01]\d|2[0-3]):[0-5]\d"
_FAST_DATE = (rf"^{_DAY}$", ("%Y-%m-%d",))
_FAST_NAIVE = (rf"^{_DAY} {_HM}(?::[0-5]\d)?$", ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"))


def _fast(values: pa.Array, fast: tuple[str, tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Which values have a common shape, and their wall-clock datetime64[ns] (NaT elsewhere)."""
    pattern, formats = fast
    hit = matches_array(values, pattern)
    wall = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    if not hit.any():
        return hit, wall
    rows = np.flatnonzero(hit)
    chosen = values.filter(pa.array(hit))
    # A shape's formats differ in length: each value is given only the format of its own length.
    lengths = np.asarray(pc.binary_length(chosen).to_numpy(zero_copy_only=False))
    left = np.ones(len(rows), dtype=bool)
    for form in formats:
        mine = left & (lengths == _format_length(form))
        if not mine.any():
            continue
        part = np.flatnonzero(mine)
        picked = chosen if mine.all() else chosen.filter(pa.array(mine))
        parsed = pc.strptime(picked, format=form, unit="s", error_is_null=True)
        got = np.asarray(parsed.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if got.any():
            seconds = parsed.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
            wall[rows[part[got]]] = seconds[got]
            left[part[got]] = False
    hit[rows[left]] = False  # not expected: the full path reads them
    return hit, wall


def _format_length(form: str) -> int:
    """The length of the text a fixed-width strptime format reads (%Y four characters, others two)."""
    return len(form) + 2 * form.count("%Y")


def _wall(
    text: pd.Series, pattern: str, fast: tuple[str, tuple[str, ...]]
) -> tuple[np.ndarray, np.ndarray, dict[str, pa.Array], np.ndarray]:
    """Wall-clock times (NaT where unparseable), which values took the fast path, and the regex groups
    and matches of the others (in their order)."""
    return _wall_of(arrow(strip(text)), pattern, fast)


def _wall_of(
    values: pa.Array, pattern: str, fast: tuple[str, tuple[str, ...]]
) -> tuple[np.ndarray, np.ndarray, dict[str, pa.Array], np.ndarray]:
    """`_wall` of trimmed text in Arrow."""
    hit, wall = _fast(values, fast)
    rest = ~hit
    groups, matched = extract_array(values.filter(pa.array(rest)), pattern)
    if rest.any():
        wall[rest] = _assemble(groups, matched)
    return wall, hit, groups, matched


def parse_local(text: pd.Series) -> pd.Series:
    """`YYYY-MM-DD HH:MM[:SS]` in Swedish local time → tz-aware Europe/Stockholm; NaT where unparseable."""
    wall, _, _, _ = _wall(text, f"^{_NAIVE}$", _FAST_NAIVE)
    return _localize(pd.Series(wall, index=text.index))


def parse_instant(text: pd.Series) -> pd.Series:
    """ISO 8601 with offset, `Z`, or naive local → tz-aware Europe/Stockholm; NaT where unparseable."""
    values = arrow(strip(text))
    # The common shapes with an offset are read by strptime and their offset's place; the rest in full.
    fast, wall_np, fast_z = _fast_instants(values)
    has_offset = fast.copy()
    minutes = np.zeros(len(text), dtype=np.int64)
    if fast.any():
        minutes[fast] = _minutes_of(fast_z)
    others = ~fast
    if others.any():
        rest = values if not fast.any() else values.filter(pa.array(others))
        rest_wall, hit, groups, matched = _wall_of(rest, f"^{_NAIVE}{_OFFSET}?$", _FAST_NAIVE)
        wall_np[others] = rest_wall
        full = np.flatnonzero(others)[~hit]  # the rows read by the full regex
        with_z = matched & nonempty(groups["z"])
        has_offset[full] = with_z
        if with_z.any():
            minutes[full[with_z]] = _minutes_of(groups["z"].filter(pa.array(with_z)))
    wall = pd.Series(wall_np, index=text.index)
    result = _localize(wall.where(~has_offset))
    if has_offset.any():
        utc = wall[has_offset] - pd.to_timedelta(minutes[has_offset], unit="min")
        result[has_offset] = utc.dt.tz_localize("UTC").dt.tz_convert(TZ)
    return result


# ISO instants as exports write them: `2020-07-03T13:11:14Z`, `2020-08-14T01:40:12+02:00`.
_FAST_INSTANT = rf"^{_DAY}[T ]{_HM}:[0-5]\d(?:Z|[+-]\d{{2}}:\d{{2}})$"


def _fast_instants(values: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Which values have a common instant shape, their wall-clock datetime64[ns] (NaT elsewhere), and
    the offsets of those values (`Z`, `+02:00`), in their order."""
    hit = matches_array(values, _FAST_INSTANT)
    wall = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    if not hit.any():
        return hit, wall, pa.array([], type=values.type)
    rows = np.flatnonzero(hit)
    chosen = values if hit.all() else values.filter(pa.array(hit))
    naive = pc.utf8_replace_slice(pc.utf8_slice_codeunits(chosen, 0, 19), 10, 11, " ")
    parsed = pc.strptime(naive, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    got = np.asarray(parsed.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    wall[rows[got]] = parsed.to_numpy(zero_copy_only=False).astype("datetime64[ns]")[got]
    offsets = pc.utf8_slice_codeunits(chosen, 19)
    if not got.all():  # not expected: the full path reads them
        hit[rows[~got]] = False
        offsets = offsets.filter(pa.array(got))
    return hit, wall, offsets


def _minutes_of(offsets: pa.Array) -> np.ndarray:
    """Offsets (`Z`, `+02`, `+0200`, `+02:00`) in minutes east of UTC."""
    distinct = pc.unique(offsets)  # a handful of distinct offsets
    codes = pc.index_in(offsets, distinct).to_numpy(zero_copy_only=False)
    return np.array([_offset_minutes(z) for z in distinct.to_pylist()], dtype=np.int64)[codes]


def parse_date(text: pd.Series) -> pd.Series:
    """`YYYY-MM-DD` (an Excel date cell arrives with a midnight time) → datetime64 date; NaT if not."""
    pattern = r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})(?:[T ]00:00(?::00)?)?$"
    wall, _, _, _ = _wall(text, pattern, _FAST_DATE)
    return pd.Series(wall, index=text.index)


def _assemble(groups: dict[str, pa.Array], matched: np.ndarray) -> np.ndarray:
    """Wall-clock datetime64[ns] from regex groups; NaT for impossible dates or times (2019-13-45, 25:00)."""
    year = integers(groups["y"], matched, 1970)
    month = integers(groups["mo"], matched, 1)
    day = integers(groups["d"], matched, 1)
    valid = matched & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    months = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + np.clip(day - 1, 0, 30).astype("timedelta64[D]")
    valid &= dates.astype("datetime64[M]") == months  # 30 February is no date
    wall = dates.astype("datetime64[ns]")
    for name, limit in (("h", 23), ("mi", 59), ("s", 59)):
        if name in groups:
            part = integers(groups[name], matched, 0)
            valid &= part <= limit
            wall = wall + (part * _NS[name]).astype("timedelta64[ns]")
    if "f" in groups and len(wall):
        fraction = pc.utf8_rpad(groups["f"], width=9, padding="0")  # ".5" is 500 000 000 ns
        wall = wall + integers(fraction, matched & nonempty(groups["f"]), 0).astype("timedelta64[ns]")
    wall[~valid] = np.datetime64("NaT")
    return wall


def _localize(wall: pd.Series) -> pd.Series:
    first = np.ones(len(wall), dtype=bool)  # repeated hour: the first, summer-time reading
    return wall.dt.tz_localize(TZ, ambiguous=first, nonexistent=pd.Timedelta(hours=1))


def _offset_minutes(offset: str) -> int:
    if offset == "Z":
        return 0
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:4] or 0))
