"""The warehouse connection: which database, its schema version, bulk loads, and the writers' lock.

DuckDB (a file, the embedded default) and PostgreSQL (the shared warehouse) are both first-class; every
statement is built with SQLAlchemy constructs. Only the bulk paths reach below SQLAlchemy to the driver
(DuckDB's DataFrame scan, PostgreSQL's COPY), with table and column names taken from our own metadata.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from load import migrations
from schemas.errors import WarehouseError

DEFAULT_URL = "duckdb:///lofte.duckdb"
LOCK_WAIT_SECONDS = float(os.environ.get("LOFTE_LOCK_WAIT_SECONDS", "600"))
# PostgreSQL advisory lock keys (the number spells "lofte"): one merge at a time, and one run at a time.
_ADVISORY_LOCK_KEY = 0x6C6F667465
_RUN_LOCK_KEY = _ADVISORY_LOCK_KEY + 1


def resolve_url(url: str | None) -> str:
    """--warehouse, else LOFTE_WAREHOUSE_URL, else the embedded ./lofte.duckdb."""
    resolved = url or os.environ.get("LOFTE_WAREHOUSE_URL") or DEFAULT_URL
    if resolved.startswith("postgresql://"):
        resolved = "postgresql+psycopg://" + resolved.removeprefix("postgresql://")
    return resolved


def mask_url(url: str) -> str:
    """The URL without its password, for logs and messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def now_utc() -> datetime:
    return datetime.now(UTC)


class Warehouse:
    """One warehouse for the length of a command."""

    def __init__(self, url: str | None = None, *, read_only: bool = False):
        self.url = resolve_url(url)
        self.read_only = read_only
        self._run_lock: Connection | None = None
        # DuckDB runs on one connection (its temporary staging tables live there): files staged by
        # parallel tasks take turns at it, one transaction at a time. PostgreSQL gives each its own.
        self._turn = threading.RLock()
        self.is_duckdb = self.url.startswith("duckdb")
        if self.is_duckdb:
            path = self.url.split(":///", 1)[1] if ":///" in self.url else ""
            if path and path != ":memory:" and not read_only:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            if read_only and path and not Path(path.split("?")[0]).exists():
                raise WarehouseError(f"{path}: no such warehouse file: run `lofte run` first")
            # DuckDB runs inside this process: bound its memory (it spills to disk beyond it), so a
            # national load's peak is set by this limit and the batch size, not by the input.
            config = {"memory_limit": os.environ.get("LOFTE_DUCKDB_MEMORY_LIMIT", "200MB")}
            args: dict[str, object] = {"config": config}
            if read_only:
                args["read_only"] = True
            self.engine: Engine = sa.create_engine(self.url, connect_args=args, poolclass=sa.pool.StaticPool)
        else:
            self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        self._connect_with_retry()

    def _connect_with_retry(self) -> None:
        """DuckDB allows one writing process: wait for another's lock (an analyst's open connection)."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        delay = 0.5
        announced = False
        while True:
            try:
                with self.engine.connect() as conn:
                    conn.execute(sa.select(1))
                return
            except sa.exc.DBAPIError as exc:
                message = str(exc.orig) if exc.orig else str(exc)
                locked = "lock" in message.lower()
                if not locked or time.monotonic() > deadline:
                    reason = "is locked by another process" if locked else "cannot be reached"
                    detail = message.splitlines()[0][:200]
                    raise WarehouseError(f"warehouse {mask_url(self.url)} {reason}: {detail}") from None
                if not announced:
                    print(
                        f"warehouse {mask_url(self.url)} is locked by another process "
                        f"(an open connection?): waiting up to {LOCK_WAIT_SECONDS:.0f} s",
                        flush=True,
                    )
                    announced = True
                time.sleep(delay)
                delay = min(delay * 2, 10)

    def migrate(self) -> int:
        """Create or upgrade the schema in place; returns the schema version."""
        try:
            with self.writer() as conn:
                return migrations.upgrade(conn)
        except sa.exc.DBAPIError as exc:
            raise WarehouseError(
                f"warehouse {mask_url(self.url)}: schema upgrade failed: {exc.orig}"
            ) from None

    @contextmanager
    def _connection_turn(self) -> Iterator[None]:
        if self.is_duckdb:
            with self._turn:
                yield
        else:
            yield

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self._connection_turn(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def writer(self) -> Iterator[Connection]:
        """A transaction that holds the writers' lock: merges never interleave."""
        with self._connection_turn(), self.engine.begin() as conn:
            if not self.is_duckdb:
                timeout_ms = int(LOCK_WAIT_SECONDS * 1000)
                conn.execute(sa.select(sa.func.set_config("lock_timeout", f"{timeout_ms}ms", True)))
                try:
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK_KEY)))
                except sa.exc.OperationalError:
                    raise WarehouseError(
                        f"warehouse {mask_url(self.url)}: another lofte run held the lock for "
                        f"{LOCK_WAIT_SECONDS:.0f} s: try again later"
                    ) from None
                conn.execute(sa.select(sa.func.set_config("lock_timeout", "0", True)))
            yield conn

    def hold_run_lock(self) -> None:
        """Hold the writers' lock for the whole run, so runs never interleave (a backfill and a nightly
        run started together: one waits for the other). On DuckDB the open file is the lock already."""
        if self.is_duckdb or self._run_lock is not None:
            return
        conn = self.engine.connect()
        if not conn.execute(sa.select(sa.func.pg_try_advisory_lock(_RUN_LOCK_KEY))).scalar_one():
            print(
                f"warehouse {mask_url(self.url)}: another lofte run is writing: "
                f"waiting up to {LOCK_WAIT_SECONDS:.0f} s",
                flush=True,
            )
            wait_ms = f"{int(LOCK_WAIT_SECONDS * 1000)}ms"
            conn.execute(sa.select(sa.func.set_config("lock_timeout", wait_ms, False)))
            try:
                conn.execute(sa.select(sa.func.pg_advisory_lock(_RUN_LOCK_KEY)))
            except sa.exc.OperationalError:
                conn.close()
                raise WarehouseError(
                    f"warehouse {mask_url(self.url)}: another lofte run held the lock for "
                    f"{LOCK_WAIT_SECONDS:.0f} s: try again later"
                ) from None
            conn.execute(sa.select(sa.func.set_config("lock_timeout", "0", False)))
        conn.commit()
        self._run_lock = conn

    @property
    def holds_run_lock(self) -> bool:
        return self._run_lock is not None

    def dispose(self) -> None:
        if self._run_lock is not None:
            self._run_lock.close()  # closing the session releases its advisory lock
            self._run_lock = None
        self.engine.dispose()


def bulk_insert(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Append a DataFrame by the backend's fast path; columns are matched by name."""
    if frame.empty:
        return 0
    columns = [c.name for c in table.columns if c.name in frame.columns]
    frame = frame[columns]
    if conn.dialect.name == "duckdb":
        driver = conn.connection.driver_connection
        view = f"lofte_bulk_{table.name}"
        # An Arrow table scans faster than a DataFrame with Python-object columns.
        driver.register(view, pa.Table.from_pandas(frame, preserve_index=False))  # type: ignore[union-attr]
        try:
            source: sa.Select = sa.select(*[sa.column(c) for c in columns]).select_from(sa.table(view))
            conn.execute(sa.insert(table).from_select(columns, source))
        finally:
            driver.unregister(view)  # type: ignore[union-attr]
    else:
        _copy_postgres(conn, table, frame, columns)
    return len(frame)


def _copy_postgres(conn: Connection, table: sa.Table, frame: pd.DataFrame, columns: list[str]) -> None:
    for name in columns:  # PostgreSQL reads "2.0" as no integer: integers with gaps travel as Int64
        if isinstance(table.c[name].type, sa.Integer) and frame[name].dtype.kind == "f":
            frame = frame.assign(**{name: frame[name].astype("Int64")})
    preparer = conn.dialect.identifier_preparer
    target = preparer.format_table(table)
    names = ", ".join(preparer.quote(c) for c in columns)
    # pyarrow writes the CSV in C++ (pandas' writer was the slowest step of a load): text is always
    # quoted, so an empty string reads as '' and a missing value (unquoted, empty) as NULL.
    statement = f"COPY {target} ({names}) FROM STDIN WITH (FORMAT csv)"
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(statement) as copy:
        for start in range(0, len(frame), 200_000):
            buffer = io.BytesIO()
            chunk = pa.Table.from_pandas(frame.iloc[start : start + 200_000], preserve_index=False)
            pacsv.write_csv(_short_times(chunk, table), buffer, write_options=options)
            copy.write(buffer.getvalue())


def _short_times(chunk: pa.Table, table: sa.Table) -> pa.Table:
    """Dates as dates, and times without the nanoseconds they never have: pandas' datetime64[ns]
    otherwise reaches the CSV as '2019-01-01 00:00:00.000000000', a third or more of a fact row's text."""
    for position, name in enumerate(chunk.column_names):
        column = chunk.column(position)
        if not pa.types.is_timestamp(column.type):
            continue
        if isinstance(table.c[name].type, sa.Date):  # the date alone, as PostgreSQL reads it anyway
            short = pa.date32()
        else:
            short = pa.timestamp("s", tz=column.type.tz)
        try:  # a safe cast refuses to drop a fraction of a second: then the column is written in full
            chunk = chunk.set_column(position, name, column.cast(short))
        except pa.ArrowInvalid:
            continue
    return chunk
