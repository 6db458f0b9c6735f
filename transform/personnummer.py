"""Personnummer typed into ordinary text: found and replaced by a mark before anything is stored (pure).

A token is personnummer-shaped when it is YYMMDD or YYYYMMDD with a valid date (the day may be raised by
60: a samordningsnummer), then `-`, `+` or nothing, then four digits, with no digit right before or after
it. A 10- or 12-digit run without separator counts too: an export that carries a personnummer in the wrong
column writes it either way. The police's own identifiers (Ärendenummer, Brottsnummer, Händelsenummer) are
keys, not text, and never pass through here (a 10-digit Händelsenummer can look like a date).
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from transform.arrowtext import arrow

REDACTED = "[personnummer borttaget]"

# 8 digits before 6, so that a 12-digit run is read with its century.
_TOKEN = re.compile(r"(?<!\d)(?P<birth>\d{8}|\d{6})(?P<sep>[-+]?)(?P<tail>\d{4})(?!\d)")
# A cheap test first: text without 10 digits in this shape needs no closer look.
_CANDIDATE = r"\d{6}[-+]?\d{4}"
_CANDIDATE_CHARS = 10  # the shortest text a candidate fits in


def _column_may_hold(array: pa.Array) -> bool:
    """False when no value of the column can hold a candidate: every value is shorter than one, or the
    values joined by line breaks (a candidate cannot span one) hold none. One regex scan over the whole
    column costs a third of a scan value by value; most columns (codes, dates, numbers, names) hold none."""
    if len(array) == 0 or array.null_count:
        return True
    longest = pc.max(pc.binary_length(array)).as_py()
    if longest is None or longest < _CANDIDATE_CHARS:
        return False
    large = pa.types.is_large_string(array.type)
    offsets = pa.array([0, len(array)], type=pa.int64() if large else pa.int32())
    listed = (pa.LargeListArray if large else pa.ListArray).from_arrays(offsets, array)
    try:
        joined = pc.binary_join(listed, pa.scalar("\n", type=array.type))
    except (pa.ArrowInvalid, pa.ArrowCapacityError):  # joined text too long for its offsets
        return True
    found = pc.match_substring_regex(joined, _CANDIDATE)[0].as_py()
    return found is not False


def _valid_birth(birth: str) -> bool:
    """A real calendar date, the day possibly raised by 60; a 2-digit year is valid in 19YY or 20YY."""
    day, month = int(birth[-2:]), int(birth[-4:-2])
    if day > 60:
        day -= 60
    years = [int(birth[:4])] if len(birth) == 8 else [1900 + int(birth[:2]), 2000 + int(birth[:2])]
    for year in years:
        try:
            date(year, month, day)
        except ValueError:
            continue
        return True
    return False


def redact(text: str) -> tuple[str, int]:
    """`text` with every personnummer-shaped token replaced by REDACTED, and how many were."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if not _valid_birth(match["birth"]):
            return match.group(0)
        count += 1
        return REDACTED

    return _TOKEN.sub(replace, text), count


# A coordinate as Excel delivers it (`6582365.412345678901`): its fraction is no personnummer.
_COORDINATE = r"^\s*\d{1,7}[.,]\d*\s*$"


def redact_series(values: pd.Series, *, coordinates: bool = False) -> tuple[pd.Series, int]:
    """Vectorised `redact` over a text column (NA stays NA): values holding no run of ten digits in the
    token's shape are found in Arrow and never reach Python. `coordinates`: the column holds numbers,
    and a value that reads as a coordinate is left alone. Returns the column and how many values had
    something redacted."""
    if values.empty:
        return values, 0
    array = arrow(values)
    if not _column_may_hold(array):
        return values, 0
    found = pc.match_substring_regex(array, _CANDIDATE)
    if coordinates:
        found = pc.and_(found, pc.invert(pc.match_substring_regex(array, _COORDINATE)))
    candidates = pc.fill_null(found, False).to_numpy(zero_copy_only=False)
    if not candidates.any():
        return values, 0
    # Only the candidates leave Arrow: converting a whole column to Python objects cost more (3.7 s per
    # million values) than finding the candidates in it.
    positions = candidates.nonzero()[0]
    changed_at, changed_to = [], []
    for position, text in zip(positions, array.take(positions).to_pylist(), strict=True):
        redacted, n = redact(str(text))
        if n:
            changed_at.append(position)
            changed_to.append(redacted)
    if not changed_at:
        return values, 0
    out = values.copy()
    out.iloc[changed_at] = changed_to
    return out, len(changed_at)
