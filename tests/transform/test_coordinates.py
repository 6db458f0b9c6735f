"""Coordinate pairs: Sweden's SWEREF 99 TM box, decimal commas, and the file-level diagnosis."""

from __future__ import annotations

import numpy as np
import pandas as pd

from transform.coordinates import INVALID, MISSING, OK, check_pairs, file_warnings, parse_number


def test_pairs_are_parsed_checked_and_kept_or_dropped() -> None:
    nord = pd.Series(["6582365,4", "", "584000", "6582365.4", "7700000", "abc", "6 582 365,4"])
    ost = pd.Series(["584000,1", "", "6582365", "1550000", "584000", "584000", "584 000,1"])
    pairs = check_pairs(nord, ost)
    assert pairs.status.tolist() == [OK, MISSING, INVALID, INVALID, INVALID, INVALID, OK]
    assert pairs.nord[0] == 6582365.4 and np.isnan(pairs.nord[2]) and pairs.ost[6] == 584000.1
    assert "swapped" in pairs.warning[2]
    assert "RT90" in pairs.warning[3]
    assert "not a number" in pairs.warning[5]
    assert pd.isna(pairs.warning[0]) and pd.isna(pairs.warning[1])
    assert (pairs.pairs_given, pairs.looks_swapped, pairs.looks_rt90) == (6, 1, 1)


def test_a_file_is_warned_only_when_most_pairs_look_wrong() -> None:
    assert file_warnings(pairs_given=10, looks_swapped=6, looks_rt90=0)[0].startswith(
        "6 of 10 coordinate pairs look swapped"
    )
    assert "RT90" in file_warnings(pairs_given=10, looks_swapped=0, looks_rt90=9)[0]
    assert file_warnings(pairs_given=10, looks_swapped=5, looks_rt90=0) == []
    assert file_warnings(pairs_given=0, looks_swapped=0, looks_rt90=0) == []


def test_numbers_parse_the_same_by_the_fast_path_and_the_cleaning_path() -> None:
    """Plain numbers are cast in one kernel; spaced ones are cleaned first: both give the same value."""
    text = [
        "6582365,4",
        "6 582 365,4",
        "6\u00a0582\u00a0365.4",
        "+584000",
        "584000.",
        "-1,5",
        "1,2,3",
        " ",
        "",
        "e5",
    ]
    got = parse_number(pd.Series(text, dtype="str")).tolist()
    assert got[:6] == [6582365.4, 6582365.4, 6582365.4, 584000.0, 584000.0, -1.5]
    assert all(np.isnan(v) for v in got[6:])
