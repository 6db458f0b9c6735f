"""The backends' fast append (DuckDB's Arrow scan, PostgreSQL's COPY) keeps every value as given."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from load.warehouse import Warehouse

TIMES = sa.Table(
    "times_under_test",
    sa.MetaData(),
    sa.Column("day", sa.Date),
    sa.Column("local", sa.DateTime(timezone=False)),
    sa.Column("utc", sa.DateTime(timezone=True)),
    sa.Column("note", sa.Text),
)


def _ns(values: list[str | None], utc: bool = False) -> pd.Series:
    """As the typing makes them: datetime64[ns]."""
    return pd.Series(pd.to_datetime(values, format="ISO8601", utc=utc)).dt.as_unit("ns")


def test_dates_and_times_round_trip(warehouse_url: str) -> None:
    """Dates, whole seconds and fractions of a second, with and without a time zone, as given."""
    frame = pd.DataFrame(
        {
            "day": _ns(["2019-01-01", "2019-12-31", None]),
            "local": _ns(["2019-01-01 00:00", "2019-06-30 23:59:59", "2019-03-31 02:30"]),
            "utc": _ns(["2018-12-31 23:00", "2019-06-30 21:59:59", None], utc=True),
            "note": ["a", "", None],
        }
    )
    fractional = frame.assign(local=_ns(["2019-01-01 00:00:00.25", None, None]), note="fraction")
    warehouse = Warehouse(warehouse_url)
    with warehouse.begin() as conn:
        TIMES.create(conn)
        assert warehouse.bulk_insert(conn, TIMES, frame) == 3
        assert warehouse.bulk_insert(conn, TIMES, fractional) == 3
        rows = conn.execute(sa.select(TIMES).order_by(TIMES.c.note, TIMES.c.local)).all()
    warehouse.dispose()
    utc = [r.utc.astimezone(UTC) if r.utc else None for r in rows]
    assert [(r.day, r.local, u, r.note) for r, u in zip(rows, utc, strict=True)][:3] == [
        (
            date(2019, 12, 31),
            datetime(2019, 6, 30, 23, 59, 59),
            datetime(2019, 6, 30, 21, 59, 59, tzinfo=UTC),
            "",
        ),
        (date(2019, 1, 1), datetime(2019, 1, 1), datetime(2018, 12, 31, 23, tzinfo=UTC), "a"),
        (
            date(2019, 1, 1),
            datetime(2019, 1, 1, 0, 0, 0, 250000),
            datetime(2018, 12, 31, 23, tzinfo=UTC),
            "fraction",
        ),
    ]
    assert sum(r.note is None for r in rows) == 1  # a missing text stays NULL, an empty one stays ''
