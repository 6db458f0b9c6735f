"""Rejected rows keep their text as the export wrote it, whatever the dtype the text arrives in."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from schemas.contracts import CONTRACTS, Source
from transform.rows import type_rows


@pytest.mark.parametrize("dtype", ["str", "string", "object"])
def test_rejected_fields_are_the_rows_text_as_records(dtype: str) -> None:
    contract = CONTRACTS[Source.STATUS]
    raw = pd.DataFrame({c.field: pd.array(["", "x", None], dtype=dtype) for c in contract.stored})
    raw["arendenummer"] = pd.array(["5000-K1-19", "5000-K2-19", "5000-K3-19"], dtype=dtype)
    raw["kommun"] = pd.array(["Eskilstuna", None, "Ö 860101-0101"], dtype=dtype)
    typed = type_rows(Source.STATUS, raw, np.array([2, 3, 4], dtype=np.int64))
    names = {c.field: c.name for c in contract.stored}
    expected = [
        json.dumps(r, ensure_ascii=False)
        for r in raw.rename(columns=names)[list(names.values())].to_dict("records")
    ]
    expected[2] = expected[2].replace("860101-0101", "[personnummer borttaget]")
    assert list(typed.rejected["fields_json"]) == expected
    # A missing value (NA) is not an empty one: it reads as unparseable.
    assert list(typed.rejected["reason"]) == [
        "Brottsnummer missing",
        "Brottsnummer unparseable",
        "Brottsnummer unparseable",
    ]
