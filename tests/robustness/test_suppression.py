"""Public tables: small counts hidden, and no hidden cell recoverable from totals and published cells."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from report.suppression import COMPLEMENTARY, SMALL, bounds, primary, shown, suppress


def _values_seen(table: list[list[int]], hidden: set[tuple[int, int]]) -> dict[tuple[int, int], set[int]]:
    """Per hidden cell, the values it takes over the tables a reader cannot rule out: hidden cells within
    what their marks say, row and column totals as published. Brute force (backtracking), small tables."""
    cells = sorted(hidden)
    rows, cols = len(table), len(table[0])
    rest_row = [sum(v for c, v in enumerate(table[r]) if (r, c) not in hidden) for r in range(rows)]
    rest_col = [sum(table[r][c] for r in range(rows) if (r, c) not in hidden) for c in range(cols)]
    need_row = [sum(table[r]) - rest_row[r] for r in range(rows)]
    need_col = [sum(table[r][c] for r in range(rows)) - rest_col[c] for c in range(cols)]
    last_in_row = {r: max(i for i, cell in enumerate(cells) if cell[0] == r) for r, _ in cells}
    last_in_col = {c: max(i for i, cell in enumerate(cells) if cell[1] == c) for _, c in cells}
    seen: dict[tuple[int, int], set[int]] = {cell: set() for cell in cells}
    chosen: list[int] = []

    def walk(i: int) -> None:
        if all(len(v) >= 2 for v in seen.values()):
            return  # every cell already shown to be ambiguous
        if i == len(cells):
            for cell, value in zip(cells, chosen, strict=True):
                seen[cell].add(value)
            return
        r, c = cells[i]
        low, high = bounds(table[r][c])
        top = int(min(high, need_row[r], need_col[c]))
        options = list(range(low, top + 1))
        if last_in_row[r] == i:
            options = [v for v in options if v == need_row[r]]
        if last_in_col[c] == i:
            options = [v for v in options if v == need_col[c]]
        for value in options:
            need_row[r] -= value
            need_col[c] -= value
            chosen.append(value)
            walk(i + 1)
            chosen.pop()
            need_row[r] += value
            need_col[c] += value

    walk(0)
    return seen


small_tables = st.integers(2, 4).flatmap(
    lambda rows: st.integers(2, 3).flatmap(
        lambda cols: st.lists(
            st.lists(st.integers(0, 7), min_size=cols, max_size=cols), min_size=rows, max_size=rows
        )
    )
)


@settings(max_examples=300, deadline=None)
@given(table=small_tables)
def test_no_hidden_cell_is_uniquely_determined(table: list[list[int]]) -> None:
    hidden = suppress(table)
    assert primary(table) <= hidden
    if len(hidden) == sum(len(r) for r in table):
        return  # all hidden: nothing published but the totals
    seen = _values_seen(table, hidden)
    for (r, c), values in seen.items():
        assert values, "the real table itself is consistent with what is published"
        assert len(values) >= 2, f"{(r, c)} of {table} is determined when {sorted(hidden)} are hidden"


@settings(max_examples=200, deadline=None)
@given(table=small_tables)
def test_published_cells_are_true_and_marks_match_values(table: list[list[int]]) -> None:
    for row, published in zip(table, shown(table), strict=True):
        for value, text in zip(row, published, strict=True):
            if text == SMALL:
                assert value < 3
            elif text == COMPLEMENTARY:
                assert value >= 3
            else:
                assert int(text) == value and not 0 < value < 3


def test_a_single_small_cell_takes_three_more_with_it() -> None:
    table = [[10, 12, 9], [2, 15, 11], [8, 7, 20]]
    hidden = suppress(table)
    assert (1, 0) in hidden and len(hidden) == 4
    # The four hidden cells form a rectangle: each row and column holding one holds two.
    assert all(sum(1 for h in hidden if h[0] == r) == 2 for r, _ in hidden)
    assert all(sum(1 for h in hidden if h[1] == c) == 2 for _, c in hidden)


def test_two_small_cells_in_one_column_that_add_up_to_their_range_edge_are_protected() -> None:
    # 2 and 2 in one column with a known total: alone they would both be pinned at 2.
    table = [[2, 5, 6], [2, 4, 9], [10, 10, 10]]
    hidden = suppress(table)
    assert all(len(values) >= 2 for values in _values_seen(table, hidden).values())


def test_tables_without_small_counts_are_published_whole() -> None:
    table = [[0, 3, 4], [5, 0, 6]]
    assert suppress(table) == set()
    assert shown(table) == [["0", "3", "4"], ["5", "0", "6"]]
