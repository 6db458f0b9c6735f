"""The warehouse connection for the length of a command: which database, its schema, the runs' locks.

DuckDB (a file, the embedded default) and PostgreSQL (the shared warehouse) are both first-class; every
statement is built with SQLAlchemy constructs, and what differs between the two is the `Backend`'s
(load/backend.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from load import migrations
from load.backend import LOCK_NOT_AVAILABLE, STRONG_LOCK_WAIT_S, Backend, LockTimeout, backend_for
from load.retry import retried
from load.warehouse_url import WarehouseUrl, mask_url, parse_warehouse_url
from schemas.errors import WarehouseError
from schemas.settings import Settings, load_settings


def now_utc() -> datetime:
    return datetime.now(UTC)


class Warehouse:
    """One warehouse for the length of a command.

    `target`: a parsed `WarehouseUrl`, or the text of `--warehouse` (None: `LOFTE_WAREHOUSE_URL`, else
    ./lofte.duckdb). `settings`: validated once by the command; read from the environment if not given.
    """

    def __init__(
        self,
        target: WarehouseUrl | str | None = None,
        *,
        settings: Settings | None = None,
        read_only: bool = False,
    ) -> None:
        self.settings = settings or load_settings()
        if not isinstance(target, WarehouseUrl):
            target = parse_warehouse_url(target or self.settings.warehouse_url)
        self.target = target
        self.read_only = read_only
        self.backend: Backend = backend_for(target, self.settings)
        self._run_lock: Connection | None = None
        self._locks_ready = False
        path = target.path
        if path is not None:
            if read_only and not path.exists():
                raise WarehouseError(f"{path}: no such warehouse file: run `lofte run` first")
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = self.backend.create_engine(read_only=read_only)
        self._connect()

    @property
    def shown(self) -> str:
        """The warehouse as messages name it (never with a password)."""
        return mask_url(self.target.url)

    def _connect(self) -> None:
        """A first connection, retried when the server is briefly unreachable. DuckDB allows one writing
        process: another's lock (an analyst's open connection) is waited for up to the lock wait."""
        deadline = time.monotonic() + self.settings.lock_wait_seconds
        delay, announced = 0.5, False

        def probe() -> None:
            with self.engine.connect() as conn:
                conn.execute(sa.select(1))

        while True:
            try:
                retried(probe, cleanup=self.engine.dispose)
                return
            except sa.exc.DBAPIError as exc:
                message = str(exc.orig) if exc.orig else str(exc)
                locked = self.backend.is_lock_error(message)
                if not locked or time.monotonic() > deadline:
                    self.engine.dispose()
                    reason = "is locked by another process" if locked else "cannot be reached"
                    detail = mask_url(message.splitlines()[0][:200]) if message else type(exc).__name__
                    raise WarehouseError(f"warehouse {self.shown} {reason}: {detail}") from None
                if not announced:
                    print(
                        f"warehouse {self.shown} is locked by another process "
                        f"(an open connection?): waiting up to {self.settings.lock_wait_seconds:.0f} s",
                        flush=True,
                    )
                    announced = True
                time.sleep(delay)
                delay = min(delay * 2, 10)

    def migrate(self) -> str:
        """Create or upgrade the schema in place, all or nothing (load/migrations); returns its revision."""
        try:
            with self.writer() as conn:
                return migrations.upgrade(conn)
        except sa.exc.DBAPIError as exc:
            raise WarehouseError(f"warehouse {self.shown}: schema upgrade failed: {exc.orig}") from None
        except WarehouseError as exc:  # a schema this lofte cannot upgrade: name the warehouse
            if str(exc).startswith("warehouse "):
                raise
            raise WarehouseError(f"warehouse {self.shown}: {exc}") from None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.backend.turn(), self.engine.begin() as conn:
            yield conn

    def _prepare_locks(self) -> None:
        if not self._locks_ready:
            self.backend.prepare_locks(self.engine)
            self._locks_ready = True

    @contextmanager
    def writer(self) -> Iterator[Connection]:
        """A transaction that holds the writers' lock: merges never interleave. A statement that waits
        too long for a lock another session holds ends the transaction with one line, nothing changed."""
        self._prepare_locks()
        with self.backend.turn(), self.engine.begin() as conn:
            try:
                self.backend.lock_merge(conn)
            except LockTimeout:
                raise WarehouseError(self._lock_message()) from None
            try:
                yield conn
            except sa.exc.OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                raise WarehouseError(
                    f"warehouse {self.shown}: the merge waited {STRONG_LOCK_WAIT_S} s for a lock another "
                    "session holds (a transaction left open?): nothing changed, try again later"
                ) from None

    def hold_run_lock(self) -> None:
        """Hold the run lock for the whole run, so runs never interleave (a backfill and a nightly run
        started together: one waits for the other). On DuckDB the open file is the lock already."""
        if self._run_lock is not None:
            return

        def announce() -> None:
            print(
                f"warehouse {self.shown}: another lofte run is writing: "
                f"waiting up to {self.settings.lock_wait_seconds:.0f} s",
                flush=True,
            )

        self._prepare_locks()
        try:
            self._run_lock = self.backend.take_run_lock(self.engine, announce)
        except LockTimeout:
            raise WarehouseError(self._lock_message()) from None

    def _lock_message(self) -> str:
        return (
            f"warehouse {self.shown}: another lofte run held the lock for "
            f"{self.settings.lock_wait_seconds:.0f} s: try again later"
        )

    @property
    def holds_run_lock(self) -> bool:
        """Whether this process is the warehouse's only writer for now (DuckDB: it holds the file)."""
        return self._run_lock is not None or self.backend.exclusive_writer

    def bulk_insert(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
        """Append a DataFrame by the backend's fast path; columns are matched by name."""
        return self.backend.bulk_insert(conn, table, frame)

    def dispose(self) -> None:
        if self._run_lock is not None:
            self._run_lock.close()  # ending the session's transaction releases the run lock
            self._run_lock = None
        self.backend.close()
        self.engine.dispose()
