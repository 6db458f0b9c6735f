"""Normalised forms of codes and names, so that equal things compare equal (vectorised, pure)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from transform.arrowtext import arrow, digits_of, series, strip

_FOLD = str.maketrans({"Å": "A", "Ä": "A", "Ö": "O"})
_SPACES = re.compile(r"\s+")


def fold_hobit(code: str) -> str:
    """HOBIT codes compare case-insensitively with Å/Ä read as A and Ö as O."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", code).strip().upper().translate(_FOLD))


def text_key(text: str) -> str:
    """Names (places, activities) compare case-insensitively after trimming and collapsing spaces."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text).strip()).casefold()


def pad_code4(code: str) -> str | None:
    """A 4-digit code keeping its leading zeros; Excel delivers `484` or `484.0`. None if not a code."""
    code = code.strip()
    match = re.fullmatch(r"(\d{1,4})(?:\.0*)?", code)
    return match.group(1).zfill(4) if match else None


def _per_distinct(values: pd.Series, scalar: Callable[[str], str]) -> pd.Series:
    """Apply a scalar rule once per distinct value: exports repeat a few codes and names many times."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = pa.array([scalar(str(u)) for u in uniques], pa.string())
    # Taken in Arrow (a missing value's code is -1: null): no Python string per row.
    taken = mapped.take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype="str"), index=values.index)


def fold_hobit_series(values: pd.Series) -> pd.Series:
    return _per_distinct(values, fold_hobit)


def text_key_series(values: pd.Series) -> pd.Series:
    return _per_distinct(values, text_key)


def pad_code4_series(values: pd.Series) -> pd.Series:
    """Vectorised `pad_code4`: NA where the text is not a 1–4 digit code."""
    if values.empty:  # numpy's string kernels have no answer for no strings
        return pd.Series([], index=values.index, dtype="str")
    return pad_code4_stripped(strip(values))


def pad_code4_stripped(values: pd.Series) -> pd.Series:
    """`pad_code4_series` of text already trimmed."""
    if values.empty:
        return pd.Series([], index=values.index, dtype="str")
    digits, matched = digits_of(arrow(values), 4)
    padded = pc.utf8_lpad(digits, width=4, padding="0")
    return series(padded, values.index).where(matched)
