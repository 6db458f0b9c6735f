"""Schema step 7 on a warehouse made before it (both backends): followup_aggregate's values become
nullable in place, rows already there are kept."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from load.warehouse import Warehouse
from schemas import warehouse as w


def _row(measure: str, value: int | None) -> dict[str, object]:
    return {
        "kommunkod": "0484",
        "year": 2020,
        "tertial": 1,
        "measure_id": measure,
        "area_id": "ALL",
        "value": value,
        "cumulative_value": value,
        "target": None,
        "run_id": "r",
        "updated_at": datetime(2020, 1, 1, tzinfo=UTC),
    }


def test_step_7_makes_followup_values_nullable_in_place(warehouse_url: str) -> None:
    store = Warehouse(warehouse_url)
    store.migrate()
    fa, sv = w.followup_aggregate, w.schema_version
    # The warehouse as step 6 left it: the values NOT NULL, step 7 not applied, one row written.
    with store.begin() as conn:
        for column in ("value", "cumulative_value"):
            conn.execute(sa.text(f"ALTER TABLE followup_aggregate ALTER COLUMN {column} SET NOT NULL"))
        conn.execute(sa.delete(sv).where(sv.c.version == 7))
        conn.execute(sa.insert(fa), [_row("old", 5)])
    try:
        with store.begin() as conn:
            conn.execute(sa.insert(fa), [_row("missing", None)])
        raise AssertionError("NULL accepted before step 7")
    except sa.exc.DBAPIError:
        pass

    assert store.migrate() == 7
    with store.begin() as conn:
        conn.execute(sa.insert(fa), [_row("missing", None)])
        rows = dict(conn.execute(sa.select(fa.c.measure_id, fa.c.value)).all())
        versions = set(conn.execute(sa.select(sv.c.version)).scalars())
    store.dispose()
    assert rows == {"old": 5, "missing": None}
    assert versions == {1, 2, 3, 4, 5, 6, 7}
