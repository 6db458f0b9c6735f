"""Normalised forms of codes and names, so that equal things compare equal (vectorised, pure)."""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

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


def fold_hobit_series(values: pd.Series) -> pd.Series:
    folded = values.str.normalize("NFC").str.strip().str.upper()
    folded = folded.str.replace("Å", "A").str.replace("Ä", "A").str.replace("Ö", "O")
    return folded.str.replace(_SPACES, " ", regex=True)


def text_key_series(values: pd.Series) -> pd.Series:
    return values.str.normalize("NFC").str.strip().str.replace(_SPACES, " ", regex=True).str.casefold()


def pad_code4_series(values: pd.Series) -> pd.Series:
    """Vectorised `pad_code4`: NA where the text is not a 1–4 digit code."""
    digits = values.str.strip().str.extract(r"^(\d{1,4})(?:\.0*)?$", expand=False)
    return digits.str.zfill(4)
