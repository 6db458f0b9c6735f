"""Time rules: Swedish local time decides the date, the tertial and the year."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transform.periods import parse_date, parse_instant, parse_local, tertial_of_month


def local(text: str) -> pd.Timestamp:
    return parse_instant(pd.Series([text])).iloc[0]


@pytest.mark.parametrize(
    ("text", "date", "tertial"),
    [
        ("2019-04-30 23:59", "2019-04-30", 1),
        ("2019-05-01 00:00", "2019-05-01", 2),
        ("2019-08-31 23:59:59", "2019-08-31", 2),
        ("2019-09-01 00:00:00", "2019-09-01", 3),
        ("2019-01-01 00:00", "2019-01-01", 1),
        ("2019-12-31 23:59", "2019-12-31", 3),
    ],
)
def test_tertial_edges_in_local_time(text: str, date: str, tertial: int) -> None:
    value = parse_local(pd.Series([text])).iloc[0]
    assert str(value.date()) == date
    assert tertial_of_month([value.month])[0] == tertial


@pytest.mark.parametrize(
    ("text", "local_wall"),
    [
        ("2019-04-30T22:30:00Z", "2019-05-01 00:30"),  # UTC on 30 April is 1 May in Sweden: T2
        ("2019-05-01T00:30:00+02:00", "2019-05-01 00:30"),
        ("2019-04-30T23:30:00+02:00", "2019-04-30 23:30"),
        ("2019-08-31T22:10:00Z", "2019-09-01 00:10"),  # → T3
        ("2018-12-31T23:30:00Z", "2019-01-01 00:30"),  # → the next year
        ("2019-12-31T23:30:00Z", "2020-01-01 00:30"),  # → 2020, not 2019
        ("2019-01-15T08:00:00-0500", "2019-01-15 14:00"),
        ("2019-06-01 12:00:00", "2019-06-01 12:00"),  # naive: Swedish local time
    ],
)
def test_instants_convert_to_swedish_local_time(text: str, local_wall: str) -> None:
    assert local(text).strftime("%Y-%m-%d %H:%M") == local_wall


def test_repeated_autumn_hour_reads_as_the_first_summer_time_one() -> None:
    value = local("2019-10-27 02:30:00")
    assert value.utcoffset() == pd.Timedelta(hours=2)
    assert value.tz_convert("UTC").strftime("%H:%M") == "00:30"


def test_skipped_spring_hour_moves_forward_to_the_real_clock() -> None:
    value = local("2019-03-31 02:30:00")
    assert value.strftime("%H:%M") == "03:30"
    assert value.tz_convert("UTC").strftime("%H:%M") == "01:30"


@pytest.mark.parametrize(
    "text", ["2019-13-45 10:00", "2019-02-30 10:00", "2019-02-10 25:00", "igår", "", "31/02/2019 12:00"]
)
def test_impossible_times_are_not_parsed(text: str) -> None:
    assert pd.isna(parse_local(pd.Series([text])).iloc[0])
    assert pd.isna(parse_instant(pd.Series([text])).iloc[0])


def test_dates() -> None:
    parsed = parse_date(pd.Series(["2019-11-11", "2019-02-29", "2020-02-29", "2019-11-11 00:00:00", "x"]))
    assert [None if pd.isna(v) else str(v.date()) for v in parsed] == [
        "2019-11-11",
        None,
        "2020-02-29",
        "2019-11-11",
        None,
    ]


def test_common_shapes_and_the_others_read_alike() -> None:
    """Common shapes take a faster path (strptime): it must agree with the full path around its edges."""
    texts = [
        "2019-02-28 23:59",
        "2019-02-28 23:59:59",
        "2019-02-29 10:00",  # not a date: strptime would roll it into March
        "2020-02-29 10:00",
        "2019-04-31 10:00:00",
        "2019-01-01 23:59:60",
        "2019-01-01 24:00",
        "2019-01-01T10:00:00",
        " 2019-01-01 10:00 ",
        "1899-12-31 10:00",
        "2019-01-01 10:00:00.5",
    ]
    mixed = parse_local(pd.Series(texts))
    one_by_one = [parse_local(pd.Series([t, "x"])).iloc[0] for t in texts]
    assert [None if pd.isna(v) else v.isoformat() for v in mixed] == [
        None if pd.isna(v) else v.isoformat() for v in one_by_one
    ]
    assert [None if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M:%S") for v in mixed] == [
        "2019-02-28 23:59:00",
        "2019-02-28 23:59:59",
        None,
        "2020-02-29 10:00:00",
        None,
        None,
        None,
        "2019-01-01 10:00:00",
        "2019-01-01 10:00:00",
        "1899-12-31 10:00:00",
        "2019-01-01 10:00:00",
    ]
    dates = parse_date(pd.Series(["2019-02-28", "2019-02-29", "2019-12-31", "2019-1-01"]))
    assert [None if pd.isna(v) else str(v.date()) for v in dates] == ["2019-02-28", None, "2019-12-31", None]


@settings(max_examples=200)
@given(
    st.datetimes(min_value=datetime(1890, 1, 1), max_value=datetime(2110, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.sampled_from(["T", " "]),
    st.sampled_from(["Z", "+02:00", "-05:30", "+01:00", "+0200", "+02", ""]),
)
def test_common_instants_read_as_the_full_path_reads_them(when: datetime, sep: str, offset: str) -> None:
    """An instant in a common shape (strptime) reads as the same instant with a zero fraction (which
    only the full regex path reads)."""
    text = when.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    fast, full = parse_instant(pd.Series([text + offset, text + ".0" + offset]))
    assert (pd.isna(fast) and pd.isna(full)) or fast == full


def test_instants_of_every_shape_read_alike_together_and_alone() -> None:
    texts = [
        "2020-07-03T13:11:14Z",
        "2020-08-14T01:40:12+02:00",
        "2020-07-23 15:10:04",
        "2020-07-23 15:10",
        "2020-10-25T02:30:00",
        "2020-03-29 02:30",
        "2020-07-03T13:11:14+0200",
        "2020-07-03T13:11:14-05",
        "2020-07-03T13:11:14.123Z",
        "2020-02-30T10:00:00Z",
        "2020-12-31T23:30:00Z",
        "2020-10-25T00:30:00Z",
        "2020-10-25T01:30:00Z",
        " 2020-07-03T13:11:14Z ",
        "2020-07-03t13:11:14z",
        "",
        "bad",
    ]
    together = parse_instant(pd.Series(texts))
    alone = [parse_instant(pd.Series([t])).iloc[0] for t in texts]
    assert [None if pd.isna(v) else v.isoformat() for v in together] == [
        None if pd.isna(v) else v.isoformat() for v in alone
    ]
    assert together.iloc[0].isoformat() == "2020-07-03T15:11:14+02:00"
    assert together.iloc[11].isoformat() == "2020-10-25T02:30:00+02:00"
    assert together.iloc[12].isoformat() == "2020-10-25T02:30:00+01:00"


@settings(max_examples=300)
@given(
    st.integers(1890, 2110),
    st.integers(1, 12),
    st.integers(1, 31),
    st.sampled_from(["", " 23:59", " 00:00:00", " 10:11:12"]),
)
def test_every_day_of_every_month_reads_as_the_full_path_reads_it(
    year: int, month: int, day: int, time: str
) -> None:
    """Days past a month's end (2019-02-29, 2019-04-31) are refused, others read, on the fast path as on
    the full one (forced by a zero fraction, or a midnight time for a date)."""
    text = f"{year:04d}-{month:02d}-{day:02d}"
    if time:
        full = text + time + (".0" if time.count(":") == 2 else ":00.0")
        fast_value, full_value = parse_local(pd.Series([text + time, full]))
        instant, full_instant = parse_instant(
            pd.Series([text + "T" + (time.strip() + ":00")[:8] + "Z", full + "Z"])
        )
        assert (pd.isna(instant) and pd.isna(full_instant)) or instant == full_instant
    else:
        fast_value, full_value = parse_date(pd.Series([text, text + " 00:00"]))
    assert (pd.isna(fast_value) and pd.isna(full_value)) or fast_value == full_value
    assert pd.isna(fast_value) == (not _is_date(year, month, day))


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        datetime(year, month, day)
    except ValueError:
        return False
    return True
