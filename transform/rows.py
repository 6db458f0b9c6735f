"""Type a batch of export text into fact rows, rejected rows and row warnings (pure, vectorised).

A row whose required field is missing or unparseable is rejected with the first such column in contract
order; an optional field that cannot be read is dropped with a row warning. Nothing else is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.contracts import (
    CONTRACTS,
    IDENTIFIER_FIELDS,
    KNOWN_HOBIT_CODES,
    Column,
    InputContract,
    Kind,
    Source,
)
from transform.arrowtext import arrow, collapse_spaces, digits_of, integers, strip
from transform.coordinates import INVALID, MISSING, OK, check_pairs
from transform.periods import TZ, parse_date, parse_instant, parse_local, tertial_of_month
from transform.personnummer import redact_series
from transform.text import fold_hobit_series, pad_code4_stripped, text_key_series

_TEXT = pd.StringDtype(storage="pyarrow", na_value=np.nan)  # dtype="str", as the readers build text
REJECTED_COLUMNS = ["line", "column_name", "reason", "kommunkod", "year", "fields_json"]
WARNING_COLUMNS = ["line", "column_name", "warning"]


@dataclass
class TypedBatch:
    facts: pd.DataFrame  # one row per loaded line, columns of the source's fact table + `line`
    rejected: pd.DataFrame  # REJECTED_COLUMNS
    warnings: pd.DataFrame  # WARNING_COLUMNS
    coordinate_counts: dict[str, int] = field(default_factory=dict)  # for the file-level diagnosis
    values_redacted: int = 0  # text values in which a personnummer was replaced by the mark


def type_rows(source: Source, raw: pd.DataFrame, lines: np.ndarray) -> TypedBatch:
    """`raw` holds the text of the contract's non-personal columns by field name ('' where absent)."""
    contract = CONTRACTS[source]
    raw, values_redacted = _redacted(contract, raw.reset_index(drop=True))
    typed, missing, unparseable = _parse_columns(contract, raw)
    # Per row, the first failing required column in contract order (-1: none). Masks in numpy: pandas'
    # string Series cost more to assign into than the parsing itself.
    required = [c for c in contract.columns if c.required]
    first = np.full(len(raw), -1, dtype=np.int64)
    for k in reversed(range(len(required))):
        name = required[k].field
        first[missing[name] | unparseable[name]] = k
    rejected_mask = first >= 0
    kept = ~rejected_mask
    kept_rows = np.flatnonzero(kept)

    warnings = [_warnings_of(contract, unparseable, lines, kept)]
    facts = typed.take(kept_rows).reset_index(drop=True) if not kept.all() else typed
    coordinate_counts: dict[str, int] = {}
    if "nord" in typed:
        nord, ost = raw["nord"], raw["ost"]
        if not kept.all():
            nord, ost = nord.take(kept_rows), ost.take(kept_rows)
        coords = check_pairs(nord, ost)
        facts["nord"] = coords.nord
        facts["ost"] = coords.ost
        facts["koordinat_status"] = _statuses(coords.status)
        warned = coords.warning.notna().to_numpy()
        warnings.append(
            pd.DataFrame(
                {
                    "line": lines[kept][warned],
                    "column_name": "Nord/Öst",
                    "warning": coords.warning[warned].to_numpy(),
                }
            )
        )
        coordinate_counts = {
            "pairs_given": coords.pairs_given,
            "looks_swapped": coords.looks_swapped,
            "looks_rt90": coords.looks_rt90,
        }

    facts["line"] = lines[kept]
    rejected = _rejected_frame(contract, raw, typed, lines, first, required, missing)
    return TypedBatch(
        facts=facts,
        rejected=rejected,
        warnings=pd.concat(warnings, ignore_index=True),
        coordinate_counts=coordinate_counts,
        values_redacted=values_redacted,
    )


_STATUSES = pa.array([OK, MISSING, INVALID])


def _statuses(status: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """`pd.array(status, dtype="str")` of the three coordinate statuses, built in Arrow from their codes
    (pandas converts a numpy text array value by value: four times the cost)."""
    codes = np.zeros(len(status), dtype=np.int8)
    codes[status == MISSING] = 1
    codes[status == INVALID] = 2
    return pd.array(_STATUSES.take(pa.array(codes)), dtype="str")


def _redacted(contract: InputContract, raw: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Every text but the police's identifiers with personnummer replaced, before anything is typed: so
    facts, rejected rows, warnings, logs and reports only ever see the mark."""
    total = 0
    coordinates = {c.field for c in contract.columns if c.kind is Kind.COORDINATE}
    for name in raw.columns:
        if name in IDENTIFIER_FIELDS:
            continue
        column, changed = redact_series(raw[name], coordinates=name in coordinates)
        if changed:
            raw = raw.assign(**{name: column})
            total += changed
    return raw, total


def _parse_columns(
    contract: InputContract, raw: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Typed values by field, and per field which rows are missing (empty) and which unparseable."""
    typed = pd.DataFrame(index=raw.index)
    missing: dict[str, np.ndarray] = {}
    unparseable: dict[str, np.ndarray] = {}
    for column in contract.stored:
        if column.field in raw:
            text = strip(raw[column.field])
        else:
            text = pd.Series("", index=raw.index, dtype="str")
        empty = (text == "").to_numpy(dtype=bool, na_value=False)
        value, ok_series = _parse(column.kind, text)
        ok = ok_series.to_numpy(dtype=bool, na_value=False)
        missing[column.field] = empty
        unparseable[column.field] = ~empty & ~ok
        if column.kind is not Kind.COORDINATE:
            usable = ok & ~empty
            if column.required or usable.all():
                typed[column.field] = value
            else:
                typed[column.field] = value.where(usable)
    _derive(contract.source, typed)
    return typed, missing, unparseable


def _parse(kind: Kind, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    if kind is Kind.CODE4:
        value = pad_code4_stripped(text)
        return value, value.notna()
    if kind is Kind.INTEGER:
        digits, matched = digits_of(arrow(text), 9)
        number = pd.Series(integers(digits, matched), index=text.index, dtype="Int64")
        ok = pd.Series(matched, index=text.index)
        return number.where(ok), ok
    if kind is Kind.LOCAL_DATETIME:
        value = parse_local(text)
        return value, value.notna()
    if kind is Kind.INSTANT:
        value = parse_instant(text)
        return value, value.notna()
    if kind is Kind.DATE:
        value = parse_date(text)
        return value, value.notna()
    if kind is Kind.COORDINATE:
        return text, pd.Series(True, index=text.index)  # checked as pairs, see check_pairs
    return text, pd.Series(True, index=text.index)


def _derive(source: Source, typed: pd.DataFrame) -> None:
    """The local date, year and tertial, and the normalised keys that matching and de-duplication use."""
    # The local wall clock, taken once: its date, year and month are those of the local time (and each
    # field read off a tz-aware time converts it to the wall clock again).
    if source is Source.STATUS:
        local = typed["registreringstid"]
        wall = local.dt.tz_localize(None)
        typed["registreringstid"] = wall
    elif source is Source.STORM:
        local = typed["starttid"]
        wall = local.dt.tz_localize(None)
        typed["starttid_utc"] = local.dt.tz_convert("UTC")
        typed["starttid_lokal"] = wall
        del typed["starttid"]
        typed["hobit"] = fold_hobit_series(typed["hobit"].fillna(""))
        typed["hobit_kand"] = typed["hobit"].isin(KNOWN_HOBIT_CODES)
        typed["handelsetyp_key"] = text_key_series(typed["handelsetyp"])
        typed["enhet_key"] = text_key_series(typed["enhet"])
    else:
        local = typed["datum"].dt.tz_localize(TZ)
        wall = local.dt.tz_localize(None)
        # Shown as written, but trimmed with inner spaces collapsed ("  NORRA   BERGA " → "NORRA BERGA").
        for name in ("aktivitet", "plats"):
            typed[name] = collapse_spaces(typed[name])
        typed["aktivitet_key"] = text_key_series(typed["aktivitet"])
        typed["plats_key"] = text_key_series(typed["plats"])
    typed["datum"] = wall.dt.normalize()
    typed["year"] = wall.dt.year.astype("Int64")
    month = wall.dt.month.fillna(1)
    tertial = pd.Series(tertial_of_month(month), index=typed.index)
    typed["tertial"] = tertial.where(local.notna()).astype("Int64")
    for field_name in ("nord", "ost"):
        if source is not Source.ACTIVITIES:
            typed[field_name] = np.nan
    if source is not Source.ACTIVITIES:
        typed["koordinat_status"] = "saknas"


def _warnings_of(
    contract: InputContract, unparseable: dict[str, np.ndarray], lines: np.ndarray, kept: np.ndarray
) -> pd.DataFrame:
    """Optional fields that could not be read: the row is kept, the field dropped, a warning recorded."""
    frames = []
    for column in contract.stored:
        if column.required or column.kind in (Kind.TEXT, Kind.COORDINATE):
            continue
        bad = unparseable[column.field] & kept
        if bad.any():
            frames.append(
                pd.DataFrame(
                    {"line": lines[bad], "column_name": column.name, "warning": f"{column.name} unparseable"}
                )
            )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=WARNING_COLUMNS)


def _rejected_frame(
    contract: InputContract,
    raw: pd.DataFrame,
    typed: pd.DataFrame,
    lines: np.ndarray,
    first: np.ndarray,
    required: list[Column],
    missing: dict[str, np.ndarray],
) -> pd.DataFrame:
    mask = first >= 0
    if not mask.any():
        return pd.DataFrame(columns=REJECTED_COLUMNS)
    rows = np.flatnonzero(mask)
    column_name = np.empty(len(rows), dtype=object)
    reason = np.empty(len(rows), dtype=object)
    for k, column in enumerate(required):
        here = first[rows] == k
        if here.any():
            column_name[here] = column.name
            empty = missing[column.field][rows[here]]
            reason[here] = np.where(empty, f"{column.name} missing", f"{column.name} unparseable")
    names = {c.field: c.name for c in contract.stored if c.field in raw}
    fields = raw.take(rows)[list(names)]
    keys = list(names.values())
    records: Iterable[Iterable[object]]
    if all(dtype == _TEXT for dtype in fields.dtypes):
        # Each row's text as `to_dict("records")` gives it (str, or NaN where missing), read column by
        # column: pandas boxes every value of every record on its own, at twice the cost.
        records = zip(*(fields[name].tolist() for name in names), strict=True)
    else:
        records = (record.values() for record in fields.to_dict("records"))
    return pd.DataFrame(
        {
            "line": lines[mask],
            "column_name": column_name,
            "reason": reason,
            # Partition of a rejected row, where its Kommunkod and date could still be read.
            "kommunkod": typed["kommunkod"].take(rows).to_numpy(),  # not the whole column to objects
            "year": typed["year"].take(rows).to_numpy(),
            "fields_json": [json.dumps(dict(zip(keys, r, strict=True)), ensure_ascii=False) for r in records],
        }
    )
