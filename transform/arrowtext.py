"""Vectorised text operations on pyarrow's compute kernels.

pandas falls back to a Python loop per value for regex extraction and regex replacement; pyarrow's
kernels (RE2) do the same work on whole arrays, which is what keeps national-scale exports fast.
Every function takes and returns pandas objects on the index it was given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def arrow(text: pd.Series) -> pa.Array:
    """The Series as a pyarrow string array (zero-copy for pyarrow-backed strings); NA stays null."""
    array = pa.array(text, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = pc.cast(array, pa.large_string())
    return array


def series(array: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.array(array, dtype="str") if len(array) else [], index=index, dtype="str")


def strip(text: pd.Series) -> pd.Series:
    return series(pc.utf8_trim_whitespace(arrow(text)), text.index)


def collapse_spaces(text: pd.Series) -> pd.Series:
    """Trimmed, with every run of white space as one space."""
    collapsed = pc.replace_substring_regex(arrow(text), r"\s+", " ")
    return series(pc.utf8_trim_whitespace(collapsed), text.index)


def matches_array(values: pa.Array, pattern: str) -> np.ndarray:
    """True where the whole value matches `pattern` (anchor it); False for null."""
    found = pc.match_substring_regex(values, pattern)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def extract(text: pd.Series, pattern: str) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Named groups of `pattern` as Arrow string arrays ('' where a group did not take part), and
    which values matched at all. The groups stay in Arrow: no Python string per value."""
    return extract_array(arrow(text), pattern)


def extract_array(values: pa.Array, pattern: str) -> tuple[dict[str, pa.Array], np.ndarray]:
    """`extract` of an Arrow string array."""
    found = pc.extract_regex(values, pattern)
    matched = np.asarray(found.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    groups = {
        found.type.field(i).name: pc.fill_null(found.field(i), "") for i in range(found.type.num_fields)
    }
    return groups, matched


def digits_of(values: pa.Array, width: int) -> tuple[pa.Array, np.ndarray]:
    r"""`extract_array` with `^(?P<digits>\d{1,width})(?:\.0*)?$` (a code or count as Excel may write it:
    `484`, `484.0`): the group `digits` ('' where no match) and which values matched. Values of 1..width
    ASCII digits, nearly all of them, are their own group and skip the regex (a tenth of its cost)."""
    plain = pc.and_(pc.ascii_is_decimal(values), pc.less_equal(pc.binary_length(values), width))
    matched = np.asarray(pc.fill_null(plain, False).to_numpy(zero_copy_only=False), dtype=bool)
    rest = ~matched
    if not rest.any():
        return values, matched
    groups, found = extract_array(values.filter(pa.array(rest)), rf"^(?P<digits>\d{{1,{width}}})(?:\.0*)?$")
    digits = pc.replace_with_mask(values, pa.array(rest), groups["digits"])
    matched[rest] = found
    return digits, matched


def nonempty(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.greater(pc.binary_length(values), 0).to_numpy(zero_copy_only=False), dtype=bool)


def integers(digits: pa.Array, matched: np.ndarray, default: int = 0) -> np.ndarray:
    """Digit strings (as `extract` gives them) to int64 where matched and non-empty; `default` elsewhere."""
    usable = pa.array(matched & nonempty(digits))
    filled = pc.if_else(usable, digits, pa.scalar(str(default), digits.type))
    return np.asarray(pc.cast(filled, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
