"""Revision 0004 on a warehouse made before it (both backends): followup_aggregate's values become
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


def test_revision_0004_makes_followup_values_nullable_in_place(warehouse_url: str) -> None:
    from alembic import command

    from load import migrations

    store = Warehouse(warehouse_url)
    fa, sv = w.followup_aggregate, w.schema_version
    # The warehouse as revision 0003 left it: the values NOT NULL, one row written.
    with store.begin() as conn:
        command.upgrade(migrations.config(conn), "0003")
        conn.execute(sa.insert(fa), [_row("old", 5)])
    try:
        with store.begin() as conn:
            conn.execute(sa.insert(fa), [_row("missing", None)])
        raise AssertionError("NULL accepted before revision 0004")
    except sa.exc.DBAPIError:
        pass

    assert store.migrate() == migrations.HEAD
    with store.begin() as conn:
        conn.execute(sa.insert(fa), [_row("missing", None)])
        rows = dict(conn.execute(sa.select(fa.c.measure_id, fa.c.value)).all())
        history = dict(conn.execute(sa.select(sv.c.version, sv.c.description)).all())
    store.dispose()
    assert rows == {"old": 5, "missing": None}
    assert max(history) >= 9 and any(d.startswith("0004:") for d in history.values())
