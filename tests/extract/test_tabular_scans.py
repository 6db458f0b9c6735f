"""Whole-column shortcuts in the CSV reader give what a kernel value by value gives."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from extract.tabular import _holds_newline


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
@pytest.mark.parametrize(
    "values",
    [[], [""], ["a", "b"], ["a\nb"], ["a", "", "c\r\n"], [None, "x"], [None, "x\n"], ["\n", None]],
)
def test_a_line_break_is_found_where_the_kernel_finds_one(
    values: list[str | None], kind: pa.DataType
) -> None:
    array = pa.array(values, type=kind)
    for start in range(len(array) + 1):
        for stop in range(start, len(array) + 1):
            part = array.slice(start, stop - start)
            assert _holds_newline(part) == bool(pc.any(pc.match_substring(part, "\n")).as_py())
