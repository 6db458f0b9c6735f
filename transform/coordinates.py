"""SWEREF 99 TM coordinate pairs: parsed, checked against Sweden's box, and diagnosed per file."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.contracts import EASTING_RANGE, NORTHING_RANGE, RT90_EASTING_RANGE
from transform.arrowtext import arrow, matches_array, nonempty

OK, MISSING, INVALID = "ok", "saknas", "ogiltig"
_NUMBER = r"^[+-]?\d+(\.\d*)?$"


@dataclass(frozen=True)
class Coordinates:
    """Per row: the usable pair (NaN where none), its status, and why an invalid pair is invalid."""

    nord: np.ndarray
    ost: np.ndarray
    status: np.ndarray  # OK | MISSING | INVALID
    warning: pd.Series  # text for INVALID rows, else NA
    looks_swapped: int  # invalid pairs that would be in Sweden with northing and easting exchanged
    looks_rt90: int  # invalid pairs whose easting is in RT90's range
    pairs_given: int  # rows with any coordinate text


def parse_number(text: pd.Series) -> pd.Series:
    """Decimal point or comma; spaces as thousands separators. NaN where empty or unparseable."""
    dotted = pc.replace_substring(arrow(text.fillna("")), ",", ".")
    # Most values are plain numbers: cast them in one kernel; only the rest go through the cleaning.
    plain = matches_array(dotted, _NUMBER)
    values = np.full(len(text), np.nan)
    if plain.any():
        values[plain] = pc.cast(dotted.filter(pa.array(plain)), pa.float64()).to_numpy(zero_copy_only=False)
    other = ~plain & nonempty(dotted)
    if other.any():
        cleaned = pc.replace_substring_regex(dotted.filter(pa.array(other)), r"[\s\x{00a0}]", "")
        number = matches_array(cleaned, _NUMBER)
        parsed = np.full(len(cleaned), np.nan)
        if number.any():
            parsed[number] = pc.cast(cleaned.filter(pa.array(number)), pa.float64()).to_numpy()
        values[other] = parsed
    return pd.Series(values, index=text.index)


def _within(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    return (values >= bounds[0]) & (values <= bounds[1])


_STATUSES = np.array([OK, MISSING, INVALID])
_WARNINGS = pa.array(
    [
        None,
        "coordinate pair outside Sweden's SWEREF 99 TM box: kept without coordinates",
        "coordinate pair incomplete or not a number: kept without coordinates",
        "coordinate pair outside Sweden (Nord and Öst swapped?): kept without coordinates",
        "coordinate pair outside Sweden (RT90 easting?): kept without coordinates",
    ],
    type=pa.large_string(),
)
_WARNING_DTYPE = pd.StringDtype()  # dtype="string": NA where a pair has no warning


def check_pairs(nord_text: pd.Series, ost_text: pd.Series) -> Coordinates:
    nord = parse_number(nord_text).to_numpy(dtype="float64", na_value=np.nan)
    ost = parse_number(ost_text).to_numpy(dtype="float64", na_value=np.nan)
    given = (nord_text.str.strip() != "") | (ost_text.str.strip() != "")
    given_np = given.to_numpy(dtype=bool)
    in_box = _within(nord, NORTHING_RANGE) & _within(ost, EASTING_RANGE)
    code = np.full(len(nord), 2, dtype=np.int8)  # _STATUSES: OK, MISSING, INVALID
    code[in_box] = 0
    code[~given_np] = 1
    status = _STATUSES[code]
    invalid = code == 2
    unparseable = invalid & (np.isnan(nord) | np.isnan(ost))
    swapped = invalid & _within(ost, NORTHING_RANGE) & _within(nord, EASTING_RANGE)
    rt90 = invalid & _within(ost, RT90_EASTING_RANGE)
    # Each row's warning, the most specific one winning; built in Arrow from codes (a masked assignment
    # into a pandas text Series rebuilds it each time).
    reason = np.zeros(len(nord), dtype=np.int8)  # _WARNINGS
    reason[invalid] = 1
    reason[unparseable] = 2
    reason[swapped] = 3
    reason[rt90] = 4
    warning = pd.Series(
        pd.array(_WARNINGS.take(pa.array(reason)), dtype=_WARNING_DTYPE) if len(reason) else [],
        index=nord_text.index,
        dtype=_WARNING_DTYPE,
    )
    usable = code == 0
    return Coordinates(
        nord=np.where(usable, nord, np.nan),
        ost=np.where(usable, ost, np.nan),
        status=status,
        warning=warning,
        looks_swapped=int(swapped.sum()),
        looks_rt90=int(rt90.sum()),
        pairs_given=int(given_np.sum()),
    )


def file_warnings(pairs_given: int, looks_swapped: int, looks_rt90: int) -> list[str]:
    """A file-level warning when most pairs of a file look swapped or look like RT90 (never converted)."""
    warnings = []
    if pairs_given and looks_swapped * 2 > pairs_given:
        warnings.append(
            f"{looks_swapped} of {pairs_given} coordinate pairs look swapped (Nord and Öst exchanged): "
            "those rows were kept without coordinates; fix the export's column mapping"
        )
    if pairs_given and looks_rt90 * 2 > pairs_given:
        warnings.append(
            f"{looks_rt90} of {pairs_given} coordinate pairs look like RT90, not SWEREF 99 TM: "
            "those rows were kept without coordinates; export in SWEREF 99 TM (EPSG:3006)"
        )
    return warnings
