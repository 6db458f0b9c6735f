"""Swedish local time (Europe/Stockholm) for whole arrays at once.

Sweden follows the EU rule: summer time (+02:00) from the last Sunday of March 01:00 UTC to the last Sunday
of October 01:00 UTC, otherwise +01:00. Computing it directly keeps generation vectorised; the tests check
it against zoneinfo.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np

HOUR = np.timedelta64(3600, "s")


def last_sunday(year: int, month: int) -> date:
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def summer_time_utc(year: int) -> tuple[np.datetime64, np.datetime64]:
    """[start, end) of summer time as UTC instants."""
    start = np.datetime64(f"{last_sunday(year, 3).isoformat()}T01:00:00", "s")
    end = np.datetime64(f"{last_sunday(year, 10).isoformat()}T01:00:00", "s")
    return start, end


def utc_offset_hours(utc: np.ndarray) -> np.ndarray:
    """1 or 2 for each UTC instant (datetime64[s])."""
    years = utc.astype("datetime64[Y]").astype(np.int64) + 1970
    offset = np.ones(len(utc), dtype=np.int64)
    for year in np.unique(years):
        start, end = summer_time_utc(int(year))
        offset[(years == year) & (utc >= start) & (utc < end)] = 2
    return offset


def to_local(utc: np.ndarray) -> np.ndarray:
    return utc + utc_offset_hours(utc) * HOUR


def local_year_start_utc(year: int) -> np.datetime64:
    """Local midnight of 1 January (always winter time, +01:00) as a UTC instant."""
    return np.datetime64(f"{year}-01-01T00:00:00", "s") - HOUR


def skipped_hour(year: int) -> datetime:
    """02:00 local on the last Sunday of March: that hour does not exist on the clock."""
    d = last_sunday(year, 3)
    return datetime(d.year, d.month, d.day, 2)


def repeated_hour(year: int) -> datetime:
    """02:00 local on the last Sunday of October: that hour happens twice."""
    d = last_sunday(year, 10)
    return datetime(d.year, d.month, d.day, 2)


def tertial(month: np.ndarray) -> np.ndarray:
    return (month - 1) // 4 + 1


def months(local: np.ndarray) -> np.ndarray:
    return local.astype("datetime64[M]").astype(np.int64) % 12 + 1


def years(local: np.ndarray) -> np.ndarray:
    return local.astype("datetime64[Y]").astype(np.int64) + 1970
