"""Vectorised text for export columns (pyarrow compute), shared by STATUS and STORM."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PII_DAYS = 9  # personnummer 19000101-NNNN .. 19000109-NNNN: recognisable fakes
PII_MARKERS = [f"1900010{d}-" for d in range(1, PII_DAYS + 1)] + ["Provgatan", "Kontroll av person"]


def num(values: np.ndarray, width: int = 0) -> pa.Array:
    text = pc.cast(pa.array(values), pa.string())
    return pc.utf8_lpad(text, width, "0") if width else text


def join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def personnummer(rng: np.random.Generator, n: int) -> pa.Array:
    return join("190001", num(rng.integers(1, PII_DAYS + 1, n), 2), "-", num(rng.integers(0, 10_000, n), 4))


def address(rng: np.random.Generator, n: int) -> pa.Array:
    return join("Provgatan ", num(rng.integers(1, 100, n)))


def coordinate(values: np.ndarray) -> pa.Array:
    """Metres with one decimal and a decimal comma (`6582365,4`); NaN becomes an empty field."""
    missing = np.isnan(values)
    tenths = np.round(np.where(missing, 0.0, values) * 10).astype(np.int64)
    text = pc.binary_join_element_wise(num(tenths // 10), num(tenths % 10), ",")
    return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)


def timestamp(values: np.ndarray, fmt: str) -> pa.Array:
    """`YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD HH:MM` or `YYYY-MM-DDTHH:MM:SS` (arrow's cast beats strftime)."""
    full = pc.cast(pa.array(values.astype("datetime64[s]")), pa.string())
    if fmt == "%Y-%m-%d %H:%M:%S":
        return full
    if fmt == "%Y-%m-%d %H:%M":
        return pc.utf8_slice_codeunits(full, 0, 16)
    if fmt == "%Y-%m-%dT%H:%M:%S":
        return join(pc.utf8_slice_codeunits(full, 0, 10), "T", pc.utf8_slice_codeunits(full, 11, 19))
    raise ValueError(fmt)


def override(raw: pa.Array, formatted: pa.Array) -> pa.Array:
    """A planted raw value wins over the formatted one."""
    return pc.if_else(pc.is_null(raw), formatted, raw)


def quoted(mask: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), join('"', values.fill_null(""), '"'), values)


def csv_safe(values: pa.Array) -> pa.Array:
    """CSV quoting for free text: a value holding `;` or `"` is enclosed in quotes, inner quotes doubled."""
    needs = pc.or_(pc.match_substring(values, ";"), pc.match_substring(values, '"'))
    escaped = join('"', pc.replace_substring(values, '"', '""'), '"')
    return pc.if_else(needs, escaped, values)
