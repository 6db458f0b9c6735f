"""Every difference between the two warehouses, in one object per database.

Everything else in load/ is written once with SQLAlchemy constructs and asks its `Backend` where the two
databases differ: how a DataFrame is bulk-loaded (DuckDB scans Arrow, PostgreSQL takes COPY), how runs
exclude each other (DuckDB: the open file; PostgreSQL: advisory locks), where a run stages its rows,
how the merge ranks versions and tunes itself, and how keys are dropped and rebuilt around a bulk load.
Table and column names in raw SQL come from our own metadata only, quoted by the dialect.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateTableAs

from load.staged_files import StagedFiles
from load.warehouse_url import WarehouseUrl
from schemas import warehouse as w
from schemas.settings import Settings

# Statistics sample of the run's own transient tables (staging, winners): PostgreSQL's default is 100.
STAGING_STATISTICS_TARGET = "10"
# PostgreSQL: runs exclude each other by row locks on this table, one row per lock ('run': one run at a
# time; 'merge': one merge at a time). Not advisory locks: any role may take any advisory key, so a
# read-only analyst could stop every run; a row lock (FOR UPDATE) needs UPDATE on the table, which only
# the writer has. Made by the writer on first use, outside the versioned schema (it must exist before
# the run lock that guards the migrations), in a schema of its own: analysts get no USAGE on it, and
# the warehouse's own schema holds only the warehouse.
LOCK_SCHEMA = "lofte_lock"
LOCK_TABLE = f"{LOCK_SCHEMA}.run_lock"
LOCK_ROWS = ("run", "merge")
# How long a writer's statement waits for a lock another session holds before it takes a path that needs
# no strong lock, or gives up with a message (the analyst's readers must never hold a run up for long).
STRONG_LOCK_WAIT_S = 30
# A lock held by another session (lock_timeout expired, or NOWAIT).
LOCK_NOT_AVAILABLE = "55P03"

STAGING_TABLES = [t for t in w.metadata.sorted_tables if t.name.startswith("stg_")]


@dataclass(frozen=True)
class StagedBatch:
    """One batch of one input file, for each staging table it fills: the table and its rows."""

    run_id: str
    file_seq: int
    frames: list[tuple[sa.Table, pd.DataFrame]]


class LockTimeout(Exception):
    """Another run held the warehouse for longer than the settings allow."""


class Backend:
    """What differs between DuckDB and PostgreSQL. One instance per warehouse connection."""

    name: ClassVar[str]

    def __init__(self, target: WarehouseUrl, settings: Settings) -> None:
        self.target = target
        self.settings = settings

    # --- connecting ------------------------------------------------------------------------------

    def create_engine(self, *, read_only: bool) -> Engine:
        raise NotImplementedError

    def turn(self) -> AbstractContextManager[None]:
        """Held around every transaction: DuckDB's one connection takes turns between threads."""
        return nullcontext()

    def is_lock_error(self, message: str) -> bool:
        """Whether a failure to connect means another process holds the warehouse."""
        return False

    # --- runs excluding each other --------------------------------------------------------------

    def prepare_locks(self, engine: Engine) -> None:
        """Before the first lock of a writer: make what the locks are taken on."""

    def take_run_lock(self, engine: Engine, announce: Any) -> Connection | None:
        """Hold the run lock for the whole run (a session that lives as long as the run); None where the
        open file is the lock already."""
        return None

    def lock_merge(self, conn: Connection) -> None:
        """Inside a writing transaction: merges never interleave."""

    # --- loading ---------------------------------------------------------------------------------

    def bulk_insert(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
        raise NotImplementedError

    def prepare_staging(self, conn: Connection, run_id: str) -> None:
        """At the start of a run: make the run's staging where it is per run."""

    def stage(self, begin: Callable[[], AbstractContextManager[Connection]], batch: StagedBatch) -> None:
        """Stage one batch (table and rows, for each staging table it fills) in one transaction."""
        with begin() as conn:
            for table, frame in batch.frames:
                self.bulk_insert(conn, table, frame.assign(run_id=batch.run_id, file_seq=batch.file_seq))

    def drop_staged(self, conn: Connection, run_id: str, file_seq: int | None = None) -> None:
        """Drop a run's staged rows (of one of its files, with `file_seq`)."""
        for table in STAGING_TABLES:
            mine = table.c.run_id == run_id
            if file_seq is not None:
                mine &= table.c.file_seq == file_seq
            conn.execute(sa.delete(table).where(mine))

    def drop_finished_staging(self, conn: Connection, finished: sa.Select[Any]) -> None:
        """At the start of a run: what runs that have ended (`finished`: their ids) left staged."""
        for table in STAGING_TABLES:
            conn.execute(sa.delete(table).where(table.c.run_id.in_(finished)))

    def publish_staging(self, conn: Connection) -> None:
        """In the merge's transaction, before it reads the staging tables."""

    def staging_merged(self, conn: Connection, run_id: str) -> None:
        """After the merge that finished the run has committed (staged rows in the database went with
        it: `empty_staging`)."""

    @property
    def staging_is_per_run(self) -> bool:
        """True where what a run stages is its own (DuckDB: its own files), not shared with other runs."""
        return False

    # --- the merge -------------------------------------------------------------------------------

    def tune_merge(self, conn: Connection) -> None:
        """Session settings and statistics for the merge transaction."""

    def rank_winners(
        self,
        conn: Connection,
        staged: sa.Table,
        key: tuple[str, ...],
        mine: sa.ColumnElement[bool],
        years: set[int] | None,
    ) -> sa.Table:
        """The winning version of each key (the later file, then the later line) into a narrow temporary
        table: key, partition and (file_seq, line), which name the staged row."""
        latest_first = [staged.c.file_seq.desc(), staged.c.line.desc()]
        rank = sa.func.row_number().over(partition_by=[staged.c[k] for k in key], order_by=latest_first)
        ranked = sa.select(*_winner_columns(staged, key), rank.label("rank")).where(mine).subquery("ranked")
        winning = [ranked.c.rank == 1]
        if years is not None:
            winning.append(ranked.c.year.in_(sorted(years)))
        winners = sa.select(*[ranked.c[c.name] for c in _winner_columns(staged, key)]).where(*winning)
        create = CreateTableAs(winners, f"lofte_won_{staged.name}", temporary=True)
        conn.execute(create)
        return create.table

    def is_bulk(self, conn: Connection, won: sa.Table, fact: sa.Table) -> bool:
        """More new versions than the fact table holds (a first or a national load): keys are dropped
        during the insert and built once after it."""
        holds = conn.execute(sa.select(sa.func.count()).select_from(fact)).scalar_one()
        return conn.execute(sa.select(sa.func.count()).select_from(won)).scalar_one() > holds

    @contextmanager
    def keys_rebuilt_after(self, conn: Connection, tables: list[sa.Table], bulk: bool) -> Iterator[None]:
        """For a bulk load, the tables' keys and indexes are dropped, and built once after the insert
        instead of row by row; the tables get fresh statistics. The tables stay locked until the merge
        commits either way."""
        if bulk:
            bulk = self._may_lock_strongly(conn, tables)
        if not bulk:
            yield
            return
        for table in tables:
            for index in table.indexes:
                if _applies(index, conn):
                    conn.execute(sa.schema.DropIndex(index))
            self._drop_primary_key(conn, table)
        yield
        for table in tables:
            self._add_primary_key(conn, table)
            for index in table.indexes:
                if _applies(index, conn):
                    index.create(conn)
            self.analyze(conn, table)

    def _may_lock_strongly(self, conn: Connection, tables: list[sa.Table]) -> bool:
        """Whether dropping the tables' keys (an exclusive lock) is free to go ahead."""
        return True

    def _drop_primary_key(self, conn: Connection, table: sa.Table) -> None:
        pass

    def _add_primary_key(self, conn: Connection, table: sa.Table) -> None:
        pass

    def analyze(self, conn: Connection, table: sa.Table) -> None:
        pass

    def empty_staging(self, conn: Connection, run_id: str, *, alone: bool) -> None:
        """Drop the run's staged rows at its end; `alone`: the staging tables hold this run's rows only."""
        self.drop_staged(conn, run_id)


def _winner_columns(staged: sa.Table, key: tuple[str, ...]) -> list[sa.ColumnElement[Any]]:
    return [*(staged.c[k] for k in key), *(staged.c[c] for c in ("kommunkod", "year", "file_seq", "line"))]


def _applies(index: sa.Index, conn: Connection) -> bool:
    """Whether an index is made on this database (indexes may be limited to one with `ddl_if`)."""
    ddl_if = index._ddl_if  # SQLAlchemy keeps the condition there; no public accessor
    return ddl_if is None or ddl_if.dialect is None or ddl_if.dialect == conn.dialect.name


class DuckDBBackend(Backend):
    """The embedded warehouse: a file this process holds open for the whole run."""

    name = "duckdb"

    def __init__(self, target: WarehouseUrl, settings: Settings) -> None:
        super().__init__(target, settings)
        # One connection: parallel file tasks take turns at it, one transaction at a time.
        self._turn = threading.RLock()
        self._staged: StagedFiles | None = None

    def create_engine(self, *, read_only: bool) -> Engine:
        # DuckDB runs inside this process: bound its memory (it spills to disk beyond it), so a national
        # load's peak is set by this limit and the batch size, not by the input.
        config = {"memory_limit": self.settings.duckdb_memory_limit}
        args: dict[str, object] = {"config": config}
        if read_only:
            args["read_only"] = True
        return sa.create_engine(self.target.engine_url(), connect_args=args, poolclass=sa.pool.StaticPool)

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._turn:
            yield

    def is_lock_error(self, message: str) -> bool:
        return "lock" in message.lower()

    def bulk_insert(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        columns = [c.name for c in table.columns if c.name in frame.columns]
        driver = conn.connection.driver_connection
        view = f"lofte_bulk_{table.name}"
        # An Arrow table scans faster than a DataFrame with Python-object columns.
        driver.register(view, pa.Table.from_pandas(frame[columns], preserve_index=False))  # type: ignore[union-attr]
        try:
            source = sa.select(*[sa.column(c) for c in columns]).select_from(sa.table(view))  # type: ignore[var-annotated]
            conn.execute(sa.insert(table).from_select(columns, source))
        finally:
            driver.unregister(view)  # type: ignore[union-attr]
        return len(frame)

    def prepare_staging(self, conn: Connection, run_id: str) -> None:
        """The run stages into Parquet files of its own (load/staged_files.py), never into the warehouse
        file; until its merge, each staging table is a temporary view of no rows."""
        if self._staged is not None:
            self._staged.remove()
        self._staged = StagedFiles(self.target.path, run_id)
        for table in STAGING_TABLES:
            self._staged.view(conn, table)

    def stage(self, begin: Callable[[], AbstractContextManager[Connection]], batch: StagedBatch) -> None:
        # Written by the reading thread itself: the connection is not taken, Parquet's writer runs in C++.
        staged = self._staging_files()
        for table, frame in batch.frames:
            if len(frame):
                staged.write(table, frame.assign(run_id=batch.run_id, file_seq=batch.file_seq))

    def drop_staged(self, conn: Connection, run_id: str, file_seq: int | None = None) -> None:
        if self._staged is None:
            return
        if file_seq is not None:
            self._staged.drop(file_seq)
            return
        self._staged.remove()
        self._staged = None
        preparer = conn.dialect.identifier_preparer
        for table in STAGING_TABLES:  # the views' files are gone: the persistent (empty) tables again
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS temp.{preparer.quote(table.name)}")

    def drop_finished_staging(self, conn: Connection, finished: sa.Select[Any]) -> None:
        pass  # prepare_staging removed every earlier run's folder

    def empty_staging(self, conn: Connection, run_id: str, *, alone: bool) -> None:
        pass  # the files outlast the transaction: a merge that fails to commit leaves the run as it was

    def staging_merged(self, conn: Connection, run_id: str) -> None:
        self.drop_staged(conn, run_id)

    def publish_staging(self, conn: Connection) -> None:
        staged = self._staging_files()
        for table in STAGING_TABLES:
            staged.view(conn, table)

    def _staging_files(self) -> StagedFiles:
        if self._staged is None:
            raise RuntimeError("no run has begun staging on this warehouse")
        return self._staged

    @property
    def staging_is_per_run(self) -> bool:
        return True

    def tune_merge(self, conn: Connection) -> None:
        # The staging's limit holds while the file threads hold batches; the merge runs alone.
        limit = self.settings.duckdb_merge_memory_limit
        conn.execute(sa.text(f"SET memory_limit = '{limit}'"))  # a validated size, never user text

    def _drop_primary_key(self, conn: Connection, table: sa.Table) -> None:
        # DuckDB cannot drop a constraint: its fact tables' keys are unique indexes, dropped above.
        pass


class PostgresBackend(Backend):
    """The shared warehouse: analysts read while runs write; runs exclude each other by advisory locks."""

    name = "postgresql"

    def create_engine(self, *, read_only: bool) -> Engine:
        return sa.create_engine(self.target.engine_url(), pool_pre_ping=True)

    def prepare_locks(self, engine: Engine) -> None:
        """The lock table and its rows, made once by the writer; readers get no privilege on them."""
        with engine.begin() as conn:
            if conn.execute(sa.text(f"SELECT to_regclass('{LOCK_TABLE}')")).scalar() is None:
                conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {LOCK_SCHEMA}"))
                conn.execute(sa.text(f"REVOKE ALL ON SCHEMA {LOCK_SCHEMA} FROM PUBLIC"))
                conn.execute(sa.text(f"CREATE TABLE IF NOT EXISTS {LOCK_TABLE} (name text PRIMARY KEY)"))
            have = set(conn.execute(sa.text(f"SELECT name FROM {LOCK_TABLE}")).scalars())
            for name in LOCK_ROWS:
                if name not in have:
                    conn.execute(
                        sa.text(f"INSERT INTO {LOCK_TABLE} VALUES (:n) ON CONFLICT DO NOTHING"), {"n": name}
                    )

    def take_run_lock(self, engine: Engine, announce: Any) -> Connection | None:
        # The row stays locked while this session's transaction stays open: for the whole run.
        conn = engine.connect()
        lock = sa.text(f"SELECT name FROM {LOCK_TABLE} WHERE name = 'run' FOR UPDATE")
        try:
            try:
                with conn.begin_nested():
                    conn.execute(sa.text(f"{lock.text} NOWAIT"))
            except sa.exc.OperationalError as exc:
                if _sqlstate(exc) != LOCK_NOT_AVAILABLE:
                    raise
                announce()
                wait_ms = f"{int(self.settings.lock_wait_seconds * 1000)}ms"
                conn.execute(sa.select(sa.func.set_config("lock_timeout", wait_ms, True)))
                try:
                    conn.execute(lock)
                except sa.exc.OperationalError:
                    raise LockTimeout from None
                conn.execute(sa.select(sa.func.set_config("lock_timeout", "0", True)))
        except BaseException:
            conn.close()  # a failed attempt keeps no session (and no lock) behind
            raise
        return conn

    def lock_merge(self, conn: Connection) -> None:
        timeout_ms = int(self.settings.lock_wait_seconds * 1000)
        conn.execute(sa.select(sa.func.set_config("lock_timeout", f"{timeout_ms}ms", True)))
        try:
            conn.execute(sa.text(f"SELECT name FROM {LOCK_TABLE} WHERE name = 'merge' FOR UPDATE"))
        except sa.exc.OperationalError:
            raise LockTimeout from None
        # Every later statement of the transaction: a lock held elsewhere is waited for briefly, never
        # for as long as a forgotten session lives.
        conn.execute(sa.select(sa.func.set_config("lock_timeout", f"{STRONG_LOCK_WAIT_S}s", True)))

    def prepare_staging(self, conn: Connection, run_id: str) -> None:
        """Staging is the writer's alone: a reader's open transaction on it would hold up the TRUNCATE
        that empties it, so readers get no privilege on it (default privileges grant them SELECT)."""
        _keep_to_owner(conn, [t.name for t in STAGING_TABLES])

    def bulk_insert(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        columns = [c.name for c in table.columns if c.name in frame.columns]
        frame = frame[columns]
        for name in columns:  # PostgreSQL reads "2.0" as no integer: integers with gaps travel as Int64
            if isinstance(table.c[name].type, sa.Integer) and frame[name].dtype.kind == "f":
                frame = frame.assign(**{name: frame[name].astype("Int64")})
        preparer = conn.dialect.identifier_preparer
        names = ", ".join(preparer.quote(c) for c in columns)
        # pyarrow writes the CSV in C++ (pandas' writer was the slowest step of a load): text is always
        # quoted, so an empty string reads as '' and a missing value (unquoted, empty) as NULL.
        statement = f"COPY {preparer.format_table(table)} ({names}) FROM STDIN WITH (FORMAT csv)"
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(statement) as copy:
            for start in range(0, len(frame), 200_000):
                buffer = io.BytesIO()
                chunk = pa.Table.from_pandas(frame.iloc[start : start + 200_000], preserve_index=False)
                pacsv.write_csv(_short_times(chunk, table), buffer, write_options=options)
                copy.write(buffer.getvalue())
        return len(frame)

    def tune_merge(self, conn: Connection) -> None:
        # The merge ranks and joins millions of staged rows: sorts and hashes in memory, not on disk.
        conn.execute(sa.select(sa.func.set_config("work_mem", self.settings.pg_work_mem, True)))
        # JIT compiling cost more than it saved on these scans and joins (up to 0.3 s a statement).
        conn.execute(sa.select(sa.func.set_config("jit", "off", True)))
        # Fresh statistics for what was just COPYed, or PostgreSQL plans the merge's joins blind. The
        # joins need row counts, not fine distributions: a tenth of the default sample.
        with _settings(conn, default_statistics_target=STAGING_STATISTICS_TARGET):
            for table in STAGING_TABLES:
                self.analyze(conn, table)

    def rank_winners(
        self,
        conn: Connection,
        staged: sa.Table,
        key: tuple[str, ...],
        mine: sa.ColumnElement[bool],
        years: set[int] | None,
    ) -> sa.Table:
        # DISTINCT ON keeps each key's first row of one sort; byte order ("C") sorts text fastest and
        # tells the same keys apart as any other deterministic collation.
        keys = [_bytewise(staged.c[k]) for k in key]
        latest_first = [staged.c.file_seq.desc(), staged.c.line.desc()]
        columns = _winner_columns(staged, key)
        ranked = (
            sa.select(*columns).where(mine).ext(distinct_on(*keys)).order_by(*keys, *latest_first)
        ).subquery("ranked")
        winners = sa.select(*[ranked.c[c.name] for c in columns])
        if years is not None:
            winners = winners.where(ranked.c.year.in_(sorted(years)))
        create = CreateTableAs(winners, f"lofte_won_{staged.name}", temporary=True)
        # PostgreSQL prices handing millions of sorted rows from its parallel workers too high and sorts
        # alone: with the workers the national STATUS ranking took 1.6 s instead of 2.3 s.
        with _settings(conn, parallel_setup_cost="10", parallel_tuple_cost="0.001"):
            conn.execute(create)
        with _settings(conn, default_statistics_target=STAGING_STATISTICS_TARGET):
            self.analyze(conn, create.table)
        return create.table

    def is_bulk(self, conn: Connection, won: sa.Table, fact: sa.Table) -> bool:
        holds = conn.execute(
            sa.text("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = CAST(:t AS regclass)"),
            {"t": fact.name},
        ).scalar_one()
        return conn.execute(sa.select(sa.func.count()).select_from(won)).scalar_one() > holds

    def _may_lock_strongly(self, conn: Connection, tables: list[sa.Table]) -> bool:
        """Dropping keys needs an exclusive lock, which waits for every reader of the table (an analyst's
        transaction left open): with any other session on the tables the keys stay, and the insert
        updates them row by row instead (slower, never blocked)."""
        others = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_locks WHERE pid <> pg_backend_pid() AND relation = ANY("
                "SELECT oid FROM pg_class WHERE relname = ANY(:names) "
                "AND relnamespace = current_schema()::regnamespace)"
            ),
            {"names": [t.name for t in tables]},
        ).scalar_one()
        return not others

    # SQLAlchemy's DropConstraint/AddConstraint mark the key as made by ALTER, so the shared metadata's
    # CREATE TABLE would leave it out from then on: the drop is spelled out, the add told not to.
    def _drop_primary_key(self, conn: Connection, table: sa.Table) -> None:
        name = table.primary_key.name
        if name:
            preparer = conn.dialect.identifier_preparer
            table_name, key = preparer.format_table(table), preparer.quote(str(name))
            conn.execute(sa.text(f"ALTER TABLE {table_name} DROP CONSTRAINT {key}"))

    def _add_primary_key(self, conn: Connection, table: sa.Table) -> None:
        if table.primary_key.name:
            conn.execute(sa.schema.AddConstraint(table.primary_key, isolate_from_table=False))

    def analyze(self, conn: Connection, table: sa.Table) -> None:
        conn.execute(sa.text(f"ANALYZE {conn.dialect.identifier_preparer.format_table(table)}"))

    def empty_staging(self, conn: Connection, run_id: str, *, alone: bool) -> None:
        if alone:  # holding the run lock, the staging tables hold this run's rows only
            names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in STAGING_TABLES)
            conn.execute(sa.text(f"TRUNCATE {names}"))
            return
        super().empty_staging(conn, run_id, alone=alone)


BACKENDS: dict[str, type[Backend]] = {"duckdb": DuckDBBackend, "postgresql": PostgresBackend}


def backend_for(target: WarehouseUrl, settings: Settings) -> Backend:
    return BACKENDS[target.backend](target, settings)


@contextmanager
def _settings(conn: Connection, **settings: str) -> Iterator[None]:
    """PostgreSQL settings for the statements inside, then back to what they were."""
    before = {name: conn.execute(sa.select(sa.func.current_setting(name))).scalar_one() for name in settings}
    for name, value in settings.items():
        conn.execute(sa.select(sa.func.set_config(name, value, True)))
    yield
    for name, value in before.items():
        conn.execute(sa.select(sa.func.set_config(name, value, True)))


def _sqlstate(exc: sa.exc.DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def _keep_to_owner(conn: Connection, names: list[str]) -> None:
    """Revoke every privilege another role holds on these tables (run by their owner; a role that may
    not revoke leaves them as they are)."""
    granted = conn.execute(
        sa.text(
            "SELECT DISTINCT c.relname, a.grantee FROM pg_class c, aclexplode(c.relacl) a "
            "WHERE c.relname = ANY(:names) AND c.relnamespace = current_schema()::regnamespace "
            "AND a.grantee <> c.relowner"
        ),
        {"names": names},
    ).all()
    preparer = conn.dialect.identifier_preparer
    for table, grantee in granted:
        role = (
            "PUBLIC"
            if grantee == 0
            else preparer.quote(
                conn.execute(
                    sa.text("SELECT rolname FROM pg_roles WHERE oid = :g"), {"g": grantee}
                ).scalar_one()
            )
        )
        try:
            with conn.begin_nested():
                conn.execute(sa.text(f"REVOKE ALL ON {preparer.quote(table)} FROM {role}"))
        except sa.exc.ProgrammingError:
            continue


def _bytewise(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return column.collate("C") if isinstance(column.type, sa.Text) else column


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
