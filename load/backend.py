"""Every difference between the two warehouses, in one object per database.

Everything else in load/ is written once with SQLAlchemy constructs and asks its `Backend` where the two
databases differ: how a DataFrame is bulk-loaded (DuckDB scans Arrow, PostgreSQL takes COPY), how runs
exclude each other (DuckDB: the open file; PostgreSQL: row locks), where a run stages its rows (both:
Parquet files of its own, load/staged_files.py) and how the merge reads them, how the merge ranks
versions and tunes itself, and how keys are dropped and rebuilt around a bulk load.
Table and column names in raw SQL come from our own metadata only, quoted by the dialect.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pgpq
import pyarrow as pa
import sqlalchemy as sa
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateTableAs

from load.staged_files import StagedFiles
from load.warehouse_url import WarehouseUrl, mask_url
from schemas import warehouse as w
from schemas.settings import Settings, default_staging_dir

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
# Staged rejected rows and warnings: few, and compared in SQL with those already published, so a
# PostgreSQL merge COPYs them into their staging tables; the facts go from the files to their tables.
ISSUE_STAGING = [w.stg_rejected_row, w.stg_row_warning]
# Rows per chunk of a COPY: a chunk is encoded while the one before is sent.
COPY_CHUNK_ROWS = 200_000


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
        self._staged: StagedFiles | None = None

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

    def staging_root(self) -> Path | None:
        """The warehouse's staging folder, a folder per run inside (None: a temporary folder per run)."""
        raise NotImplementedError

    def prepare_staging(self, conn: Connection, run_id: str, *, alone: bool) -> None:
        """At the start of a run: the run's staging folder (`alone`: this run is the warehouse's only
        writer, so what other runs left there is removed)."""
        if self._staged is not None:
            self._staged.remove()
        self._staged = StagedFiles(self.staging_root(), run_id, alone=alone)

    def stage(self, batch: StagedBatch) -> None:
        """Stage one batch: a Parquet file per staging table it fills. Written by the reading thread
        itself: no connection is taken, and Parquet's writer runs in C++."""
        staged = self._staging_files()
        if batch.run_id != staged.run_id:  # the folder's files are read as its run's (StagedFiles.view)
            raise RuntimeError(f"a batch of run {batch.run_id} staged while run {staged.run_id} stages")
        for table, frame in batch.frames:
            if len(frame):
                staged.write(table, frame, batch.file_seq)

    def drop_staged(self, conn: Connection, run_id: str, file_seq: int | None = None) -> None:
        """Drop a run's staged rows (of one of its files, with `file_seq`)."""
        if self._staged is None:
            return
        if file_seq is not None:
            self._staged.drop(file_seq)
            return
        self._staged.remove()
        self._staged = None
        self._staging_closed(conn)

    def _staging_closed(self, conn: Connection) -> None:
        """The run's staged files are gone: let go of what read them."""

    def drop_finished_staging(self, conn: Connection, finished: sa.Select[Any]) -> None:
        """At the start of a run: what runs that have ended (`finished`: their ids) left staged in the
        database."""

    def publish_staging(self, conn: Connection) -> None:
        """In the merge's transaction, before it reads the staged rows: the staging tables' names read
        the run's staged files (`staged_rows`)."""
        raise NotImplementedError

    def staged_rows(self, conn: Connection) -> Connection:
        """The connection on which the staging tables' names read the run's staged rows."""
        return conn

    def staging_merged(self, conn: Connection, run_id: str) -> None:
        """After the merge that finished the run has committed: its staged files are removed."""
        self.drop_staged(conn, run_id)

    def close(self) -> None:
        """At the end of the command."""

    def _staging_files(self) -> StagedFiles:
        if self._staged is None:
            raise RuntimeError("no run has begun staging on this warehouse")
        return self._staged

    @property
    def exclusive_writer(self) -> bool:
        """True where the process's connection excludes every other writer (DuckDB: the open file), so
        that it is the warehouse's only writer without a run lock."""
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
        table where the staged rows are (`staged_rows`, DuckDB on either backend): key, partition and
        (file_seq, line), which name the staged row.

        Grouped by key, not ranked by a window: each key's latest (file_seq, line), packed in one
        number, and the partition of that row (`arg_max_null`: a NULL there is the winner's, where
        `arg_max` would skip to an older version's value). 0.6 s instead of 0.8-1.0 s for the 2.56 M
        staged crimes of the replicated national sample."""
        latest_of = (sa.cast(staged.c.file_seq, sa.BigInteger).op("<<")(32)).op("|")(staged.c.line)
        keys = [staged.c[k] for k in key]
        carried = [c for c in _winner_columns(staged, key) if c.name not in (*key, "file_seq", "line")]
        grouped = (
            sa.select(
                *keys,
                *[sa.func.arg_max_null(c, latest_of, type_=c.type).label(c.name) for c in carried],
                sa.func.max(latest_of).label("latest"),
            )
            .where(mine)
            .group_by(*keys)
            .subquery("grouped")
        )
        latest = grouped.c.latest
        winners = sa.select(
            *[grouped.c[k] for k in key],
            *[grouped.c[c.name] for c in carried],
            sa.cast(latest.op(">>")(32), sa.Integer).label("file_seq"),
            sa.cast(latest.op("&")(0xFFFFFFFF), sa.Integer).label("line"),
        )
        if years is not None:
            winners = winners.where(grouped.c.year.in_(sorted(years)))
        create = CreateTableAs(winners, f"lofte_won_{staged.name}", temporary=True)
        self.staged_rows(conn).execute(create)
        return create.table

    def publish_winners(self, conn: Connection, won: sa.Table, key: tuple[str, ...]) -> sa.Table:
        """The winners where the facts are (key and partition), for statements on the facts that they
        replace; DuckDB: the same table."""
        return won

    def insert_selected(
        self, conn: Connection, table: sa.Table, columns: list[str], rows: sa.Select[Any]
    ) -> int:
        """Insert what `rows` (a query of the staged rows and the winners) selects; the number inserted."""
        return int(conn.execute(sa.insert(table).from_select(columns, rows)).rowcount or 0)

    def drop_winners(self, conn: Connection, won: sa.Table, published: sa.Table | None) -> None:
        won.drop(self.staged_rows(conn))

    def is_bulk(self, conn: Connection, winners: int, fact: sa.Table) -> bool:
        """More new versions than the fact table holds (a first or a national load): keys are dropped
        during the insert and built once after it."""
        return winners > conn.execute(sa.select(sa.func.count()).select_from(fact)).scalar_one()

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
        """In the merge's transaction: drop what it staged in the database; `alone`: the staging tables
        hold this run's rows only. (The staged files outlast the transaction: a merge that fails to
        commit leaves the run as it was.)"""


def _winner_columns(staged: sa.Table, key: tuple[str, ...]) -> list[sa.ColumnElement[Any]]:
    names = dict.fromkeys([*key, "kommunkod", "year", "file_seq", "line"])  # a key may hold the kommun
    return [staged.c[name] for name in names]


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

    def staging_root(self) -> Path | None:
        path = self.target.path  # beside the warehouse file; an in-memory warehouse: a temporary folder
        return None if path is None else path.with_name(path.name + ".staging")

    def prepare_staging(self, conn: Connection, run_id: str, *, alone: bool) -> None:
        """Never into the warehouse file: until the merge, each staging table is a temporary view of no
        rows. (The open file makes the run the only writer: every other folder is a dead run's.)"""
        super().prepare_staging(conn, run_id, alone=True)
        for table in STAGING_TABLES:
            self._staging_files().view(conn, table)

    def _staging_closed(self, conn: Connection) -> None:
        preparer = conn.dialect.identifier_preparer
        for table in STAGING_TABLES:  # the views' files are gone: the persistent (empty) tables again
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS temp.{preparer.quote(table.name)}")

    def publish_staging(self, conn: Connection) -> None:
        staged = self._staging_files()
        for table in STAGING_TABLES:
            staged.view(conn, table)

    @property
    def exclusive_writer(self) -> bool:
        return True

    def tune_merge(self, conn: Connection) -> None:
        # The staging's limit holds while the file threads hold batches; the merge runs alone.
        limit = self.settings.duckdb_merge_memory_limit
        conn.execute(sa.text(f"SET memory_limit = '{limit}'"))  # a validated size, never user text

    def _drop_primary_key(self, conn: Connection, table: sa.Table) -> None:
        # DuckDB cannot drop a constraint: its fact tables' keys are unique indexes, dropped above.
        pass


class PostgresBackend(Backend):
    """The shared warehouse: analysts read while runs write; runs exclude each other by row locks.

    A run stages in Parquet files on this machine, not in the database: at the merge an in-memory DuckDB
    of the process ranks the staged versions, and only the winners travel, by COPY, straight into the
    fact tables. Staging in the database had the server parse every staged row, rank it, and hash-join
    it back to copy it once more: two thirds of a national merge."""

    name = "postgresql"

    def __init__(self, target: WarehouseUrl, settings: Settings) -> None:
        super().__init__(target, settings)
        self._reader: Connection | None = None  # the in-memory DuckDB reading the staged files

    def staging_root(self) -> Path | None:
        # One folder per warehouse: a dead run's files are cleared by the next run on the same warehouse.
        key = hashlib.sha256(mask_url(self.target.url).encode()).hexdigest()[:16]
        return (self.settings.staging_dir or default_staging_dir()) / key

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

    def prepare_staging(self, conn: Connection, run_id: str, *, alone: bool) -> None:
        """Staging is the writer's alone: a reader's open transaction on it would hold up the TRUNCATE
        that empties it, so readers get no privilege on it (default privileges grant them SELECT)."""
        _keep_to_owner(conn, [t.name for t in STAGING_TABLES])
        super().prepare_staging(conn, run_id, alone=alone)

    def bulk_insert(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        columns = [c.name for c in table.columns if c.name in frame.columns]
        rows = pa.Table.from_pandas(frame[columns], preserve_index=False)
        return _copy(conn, table, columns, rows.to_batches(COPY_CHUNK_ROWS))

    def drop_staged(self, conn: Connection, run_id: str, file_seq: int | None = None) -> None:
        super().drop_staged(conn, run_id, file_seq)
        if file_seq is None:  # and what a merge of it COPYed, should a transaction have kept it
            _delete_issue_rows(conn, run_id)

    def drop_finished_staging(self, conn: Connection, finished: sa.Select[Any]) -> None:
        for table in STAGING_TABLES:
            conn.execute(sa.delete(table).where(table.c.run_id.in_(finished)))

    def _staging_closed(self, conn: Connection) -> None:
        self.close()

    def close(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            engine = reader.engine
            reader.close()
            engine.dispose()

    def publish_staging(self, conn: Connection) -> None:
        """The staged files become views of the process's DuckDB; the run's rejected rows and warnings
        are COPYed into their staging tables (again, should a backfill publish year after year)."""
        staged = self._staging_files()
        reader = self.staged_rows(conn)
        for table in STAGING_TABLES:
            staged.view(reader, table)
        _delete_issue_rows(conn, staged.run_id)
        for table in ISSUE_STAGING:
            columns = [c.name for c in table.columns]
            self._copy_selected(conn, table, columns, sa.select(*[table.c[c] for c in columns]))
            with _settings(conn, default_statistics_target=STAGING_STATISTICS_TARGET):
                self.analyze(conn, table)

    def staged_rows(self, conn: Connection) -> Connection:
        if self._reader is None:
            folder = self._staging_files().folder
            # Bounded like an embedded warehouse's merge (beyond it DuckDB spills into the run's folder).
            config = {
                "memory_limit": self.settings.duckdb_merge_memory_limit,
                "temp_directory": str(folder / "spill"),
            }
            engine = sa.create_engine(
                "duckdb:///:memory:", connect_args={"config": config}, poolclass=sa.pool.StaticPool
            )
            self._reader = engine.connect()
        return self._reader

    def tune_merge(self, conn: Connection) -> None:
        # The merge joins and counts millions of facts: sorts and hashes in memory, not on disk.
        conn.execute(sa.select(sa.func.set_config("work_mem", self.settings.pg_work_mem, True)))
        # JIT compiling cost more than it saved on these scans and joins (up to 0.3 s a statement).
        conn.execute(sa.select(sa.func.set_config("jit", "off", True)))
        # PostgreSQL prices handing millions of rows from parallel workers too high and plans alone: a
        # national count of a measure (facts joined to their areas) took 1.9 s with them, 3.5 s without.
        for name, value in (("parallel_setup_cost", "10"), ("parallel_tuple_cost", "0.001")):
            conn.execute(sa.select(sa.func.set_config(name, value, True)))

    def publish_winners(self, conn: Connection, won: sa.Table, key: tuple[str, ...]) -> sa.Table:
        """Ranked in the process's DuckDB, the winners' keys and partitions are COPYed into a temporary
        table of the same name (only when the facts hold rows they may replace: a first load needs none)."""
        names = list(dict.fromkeys([*key, "kommunkod", "year"]))
        columns = [sa.Column(won.c[name].name, won.c[name].type) for name in names]
        published = sa.Table(won.name, sa.MetaData(), *columns, prefixes=["TEMPORARY"])
        published.create(conn)
        self._copy_selected(conn, published, names, sa.select(*[won.c[name] for name in names]))
        with _settings(conn, default_statistics_target=STAGING_STATISTICS_TARGET):
            self.analyze(conn, published)
        return published

    def insert_selected(
        self, conn: Connection, table: sa.Table, columns: list[str], rows: sa.Select[Any]
    ) -> int:
        return self._copy_selected(conn, table, columns, rows)

    def drop_winners(self, conn: Connection, won: sa.Table, published: sa.Table | None) -> None:
        super().drop_winners(conn, won, published)
        if published is not None:
            published.drop(conn)

    def _copy_selected(
        self, conn: Connection, table: sa.Table, columns: list[str], rows: sa.Select[Any]
    ) -> int:
        """What `rows` selects from the staged files (in the process's DuckDB), COPYed into `table`, in
        chunks as DuckDB hands them over: the two run side by side, memory stays flat."""
        reader = self.staged_rows(conn)
        # Literal values only: the run's id, file numbers and SHA-256s, years (never text from a file).
        query = str(rows.compile(dialect=reader.dialect, compile_kwargs={"literal_binds": True}))
        driver = reader.connection.driver_connection
        batches = driver.execute(query).to_arrow_reader(COPY_CHUNK_ROWS)  # type: ignore[union-attr]
        return _copy(conn, table, columns, batches)

    def is_bulk(self, conn: Connection, winners: int, fact: sa.Table) -> bool:
        holds = conn.execute(
            sa.text("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = CAST(:t AS regclass)"),
            {"t": fact.name},
        ).scalar_one()
        return bool(winners > holds)

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
        _delete_issue_rows(conn, run_id)


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


def _delete_issue_rows(conn: Connection, run_id: str) -> None:
    """The run's rejected rows and warnings COPYed into their staging tables (PostgreSQL)."""
    for table in ISSUE_STAGING:
        conn.execute(sa.delete(table).where(table.c.run_id == run_id))


def _copy(conn: Connection, table: sa.Table, columns: list[str], batches: Iterable[pa.RecordBatch]) -> int:
    """COPY Arrow batches into `table` in PostgreSQL's binary format (pgpq encodes it in Rust): the
    server parses no text, and the national crimes' COPY took 3.4 s instead of 5.8 s. Each batch is
    cast to the column types of `table` first (binary COPY takes no int8 for an int4)."""
    schema = pa.schema([pa.field(c, _arrow_type(table.c[c].type)) for c in columns])
    encoder = pgpq.ArrowToPostgresBinaryEncoder(schema)
    preparer = conn.dialect.identifier_preparer
    names = ", ".join(preparer.quote(c) for c in columns)
    statement = f"COPY {preparer.format_table(table)} ({names}) FROM STDIN WITH (FORMAT binary)"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    written = 0
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        copy.write(encoder.write_header())
        for batch in batches:
            if batch.num_rows:
                typed = pa.RecordBatch.from_arrays(batch.columns, names=columns).cast(schema)
                copy.write(encoder.write_batch(typed))
                written += batch.num_rows
        copy.write(encoder.finish())
    return written


def _arrow_type(column_type: sa.types.TypeEngine[Any]) -> pa.DataType:
    """The Arrow type pgpq writes as the PostgreSQL type of a warehouse column."""
    for sql_type, arrow_type in _ARROW_TYPES:
        if isinstance(column_type, sql_type):
            if isinstance(column_type, sa.DateTime) and column_type.timezone:
                return pa.timestamp("us", tz="UTC")
            return arrow_type
    raise TypeError(f"no binary COPY for a column of type {column_type!r}")


# Most specific first: SmallInteger and BigInteger are Integers, Double is a Float.
_ARROW_TYPES: list[tuple[type[sa.types.TypeEngine[Any]], pa.DataType]] = [
    (sa.SmallInteger, pa.int16()),
    (sa.BigInteger, pa.int64()),
    (sa.Integer, pa.int32()),
    (sa.Float, pa.float64()),
    (sa.Boolean, pa.bool_()),
    (sa.DateTime, pa.timestamp("us")),
    (sa.Date, pa.date32()),
    (sa.String, pa.string()),
]
