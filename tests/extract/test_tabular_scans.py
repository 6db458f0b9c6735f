"""Whole-column shortcuts in the CSV reader give what a kernel value by value gives."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extract.tabular import _holds_newline, _Utf8Check


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


tricky = [
    b"\xc0\x80",  # overlong
    b"\xe0\x80\x80",
    b"\xe0\xa0\x80",
    b"\xed\xa0\x80",  # a surrogate
    b"\xed\x9f\xbf",
    b"\xf4\x8f\xbf\xbf",
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xf5\x80\x80\x80",
    b"\xff",
    b"\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    "åäö€😀".encode(),
    b"abc;",
]
pieces = st.lists(
    st.one_of(st.sampled_from(tricky), st.binary(max_size=6), st.text(max_size=4).map(str.encode))
)


def _python_says(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@settings(max_examples=500)
@given(pieces, st.lists(st.integers(0, 64), max_size=6))
def test_the_utf8_check_judges_as_pythons_decoder(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts)
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    check = _Utf8Check()
    fine = all([check.feed(data[a:b]) for a, b in itertools.pairwise(bounds)])
    assert (fine and check.final()) == _python_says(data)
