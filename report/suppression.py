"""Disclosure control for public tables (pure): small counts hidden, and hidden for good.

A table is areas × tertials whose row totals (an area's year) and column totals (the `ALL` row, published
in the main table) are taken as known to a reader. Primary suppression hides every count of 1 or 2,
shown as "<3". Secondary suppression then hides further cells until no hidden cell can be worked out from
the totals and the published cells: counts of 3 or more are shown as "..", and where only zeros can
protect a cell, a zero is hidden and shown as "<3" (which is true of 0).

"Cannot be worked out" is checked exactly. A reader knows each hidden cell's range (1–2 for a small count,
0–2 for a hidden zero, 3 or more for ".."). Another table consistent with everything published differs
from the real one by a circulation on the hidden cells (rows and columns keep their totals), and any
circulation splits into simple alternating cycles that each stay within the ranges. So a hidden cell is
undetermined exactly when a single alternating +1/−1 cycle through it stays within the ranges: a
reachability question on the bipartite graph of rows and columns (`_movable`).
"""

from __future__ import annotations

from collections.abc import Sequence

THRESHOLD = 3
SMALL = "<3"
COMPLEMENTARY = ".."

Table = Sequence[Sequence[int]]
Cell = tuple[int, int]


def primary(table: Table) -> set[Cell]:
    """Cells small enough to point at a person: 0 < value < THRESHOLD."""
    return {(r, c) for r, row in enumerate(table) for c, v in enumerate(row) if 0 < v < THRESHOLD}


def suppress(table: Table) -> set[Cell]:
    """The cells to hide: the primary ones plus complementary ones chosen greedily until no hidden cell
    is determined. For a determined cell the cheapest fix is taken: one more cell if one suffices, else
    two (closing a rectangle); cheap means a count of 3+ rather than a zero, then the smallest count."""
    hidden = primary(table)
    cells = [(r, c) for r in range(len(table)) for c in range(len(table[r]))]

    def cost(*extra: Cell) -> tuple[int, int]:
        values = [table[r][c] for r, c in extra]
        return sum(v < THRESHOLD for v in values), sum(values)

    while True:
        weak = sorted(cell for cell in hidden if not _movable(table, hidden, cell))
        if not weak:
            return hidden
        target = weak[0]
        free = [cell for cell in cells if cell not in hidden]
        if not free:
            return hidden  # everything is hidden: nothing more to do
        singles = [(cost(a), (a,)) for a in free if _movable(table, hidden | {a}, target)]
        pairs = (
            []
            if singles
            else [
                (cost(a, b), (a, b))
                for i, a in enumerate(free)
                for b in free[i + 1 :]
                if _movable(table, hidden | {a, b}, target)
            ]
        )
        if singles or pairs:
            hidden.update(min(singles or pairs)[1])
        else:  # no small fix: widen the hidden set along the cell's row or column and look again
            lines = [cell for cell in free if target[0] == cell[0] or target[1] == cell[1]] or free
            hidden.add(min(lines, key=lambda cell: (cost(cell), cell)))


def shown(table: Table) -> list[list[str]]:
    """The table as published: counts, "<3" for small counts (and hidden zeros), ".." for the others."""
    hidden = suppress(table)
    return [
        [
            (SMALL if v < THRESHOLD else COMPLEMENTARY) if (r, c) in hidden else str(v)
            for c, v in enumerate(row)
        ]
        for r, row in enumerate(table)
    ]


def bounds(value: int) -> tuple[int, float]:
    """What a reader knows of a hidden cell from its mark."""
    if value >= THRESHOLD:
        return THRESHOLD, float("inf")
    return (0 if value == 0 else 1), THRESHOLD - 1


def _movable(table: Table, hidden: set[Cell], cell: Cell) -> bool:
    """Whether another table consistent with the totals and the published cells differs at `cell`."""
    return _cycle(table, hidden, cell, +1) or _cycle(table, hidden, cell, -1)


def _cycle(table: Table, hidden: set[Cell], cell: Cell, sign: int) -> bool:
    """An alternating cycle through `cell` that moves it by `sign`, every hidden cell staying in range.

    Moving `cell` unbalances its row and column; the cycle leaves its row through a cell moved the other
    way, enters a row through a cell moved the same way as `cell`, and so on, until it reaches `cell`'s
    column through a cell moved the other way.
    """
    r0, c0 = cell

    def can(other: Cell, step: int) -> bool:
        low, high = bounds(table[other[0]][other[1]])
        value = table[other[0]][other[1]] + step
        return low <= value <= high

    if not can(cell, sign):
        return False
    seen_rows, seen_cols = {r0}, set()
    frontier = [r0]
    while frontier:
        row = frontier.pop()
        for r, c in hidden:
            if r != row or (r, c) == cell or c in seen_cols or not can((r, c), -sign):
                continue
            if c == c0:
                return True
            seen_cols.add(c)
            for r2, c2 in hidden:
                if c2 == c and (r2, c2) != cell and r2 not in seen_rows and can((r2, c2), sign):
                    seen_rows.add(r2)
                    frontier.append(r2)
    return False
