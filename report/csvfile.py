"""The one CSV writer of lofte: `lofte export` and `lofte report --format csv` both go through it.

A spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` (and, in some, a tab or carriage return)
as a formula: `=HYPERLINK(…)` typed into an export's place name would run on an analyst's machine. Text
cells beginning so get a leading `'` (OWASP's convention: Excel shows the text and runs nothing).
Numeric columns are written as numbers, `-2` included: only text is neutralised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text starting like a formula, with `'` before it; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _is_text(column: pd.Series) -> bool:
    return column.dtype == object or pd.api.types.is_string_dtype(column.dtype)


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell neutralised; numeric, boolean and time columns untouched."""
    out = frame.copy()
    for name in out.columns:
        if _is_text(out[name]):
            out[name] = out[name].map(neutralise, na_action="ignore")
    return out


def csv_text(frame: pd.DataFrame, *, decimal: str = ".", lineterminator: str = "\n") -> str:
    """`;`-separated text with a header row."""
    return safe_frame(frame).to_csv(sep=";", decimal=decimal, index=False, lineterminator=lineterminator)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """For Swedish Excel: UTF-8 with BOM, `;`, decimal comma, CRLF."""
    text = csv_text(frame, decimal=",", lineterminator="\r\n")
    path.write_bytes(text.encode("utf-8-sig"))
    return path
