"""Shortcuts in the Arrow text helpers give what the regex they stand in for gives."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from transform.arrowtext import digits_of, extract_array

pieces = st.sampled_from(
    ["0", "4", "84", "484", "0484", "12345", ".", ".0", ".00", " ", "a", "\u0663", "-", ""]
)
values = st.lists(st.one_of(st.none(), st.lists(pieces, max_size=4).map("".join), st.text(max_size=6)))


@settings(max_examples=300)
@given(values, st.sampled_from([4, 9]))
def test_digits_of_is_the_regex_extract(texts: list[str | None], width: int) -> None:
    array = pa.array(texts, type=pa.string())
    groups, matched = extract_array(array, rf"^(?P<digits>\d{{1,{width}}})(?:\.0*)?$")
    digits, found = digits_of(array, width)
    assert found.tolist() == matched.tolist()
    assert digits.to_pylist() == groups["digits"].to_pylist()
