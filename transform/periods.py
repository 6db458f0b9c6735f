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

TZ = "Europe/Stockholm"

_NAIVE = r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
_OFFSET = r"(Z|[+-]\d{2}(?::?\d{2})?)"


def tertial_of_month(month: pd.Series | np.ndarray) -> np.ndarray:
    """T1 = Jan–Apr, T2 = May–Aug, T3 = Sep–Dec."""
    return (np.asarray(month, dtype=np.int64) - 1) // 4 + 1


def parse_local(text: pd.Series) -> pd.Series:
    """`YYYY-MM-DD HH:MM[:SS]` in Swedish local time → tz-aware Europe/Stockholm; NaT where unparseable."""
    parts = text.str.strip().str.extract(f"^{_NAIVE}$")
    return _localize(_assemble(parts))


def parse_instant(text: pd.Series) -> pd.Series:
    """ISO 8601 with offset, `Z`, or naive local → tz-aware Europe/Stockholm; NaT where unparseable."""
    parts = text.str.strip().str.extract(f"^{_NAIVE}{_OFFSET}?$")
    wall = _assemble(parts)
    offset = parts[7]
    has_offset = offset.notna()
    result = pd.Series(pd.NaT, index=text.index, dtype=f"datetime64[ns, {TZ}]")
    if (~has_offset).any():
        result[~has_offset] = _localize(wall[~has_offset])
    if has_offset.any():
        minutes = offset[has_offset].map(_offset_minutes)
        utc = wall[has_offset] - pd.to_timedelta(minutes, unit="min")
        result[has_offset] = utc.dt.tz_localize("UTC").dt.tz_convert(TZ)
    return result


def parse_date(text: pd.Series) -> pd.Series:
    """`YYYY-MM-DD` (an Excel date cell arrives with a midnight time) → datetime64 date; NaT if not."""
    parts = text.str.strip().str.extract(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00)?)?$")
    frame = parts.astype("float64")
    frame.columns = ["year", "month", "day"]
    return pd.to_datetime(frame, errors="coerce").astype("datetime64[ns]")


def _assemble(parts: pd.DataFrame) -> pd.Series:
    """Wall-clock datetimes from regex groups; NaT for impossible dates or times (2019-13-45, 25:00)."""
    numbers = parts.iloc[:, :6].astype("float64")
    numbers.columns = ["year", "month", "day", "hour", "minute", "second"]
    numbers["second"] = numbers["second"].fillna(0).where(numbers["year"].notna())
    fraction = parts[6].fillna("0").str.ljust(9, "0").astype("int64")
    valid = (numbers["hour"] <= 23) & (numbers["minute"] <= 59) & (numbers["second"] <= 59)
    wall = pd.to_datetime(numbers.where(valid), errors="coerce")
    return (wall + pd.to_timedelta(fraction.where(wall.notna(), 0), unit="ns")).astype("datetime64[ns]")


def _localize(wall: pd.Series) -> pd.Series:
    first = np.ones(len(wall), dtype=bool)  # repeated hour: the first, summer-time reading
    return wall.dt.tz_localize(TZ, ambiguous=first, nonexistent=pd.Timedelta(hours=1))


def _offset_minutes(offset: str) -> int:
    if offset == "Z":
        return 0
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:4] or 0))
