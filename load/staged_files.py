"""A run's staged rows as Parquet files, read at the merge through views named like the staging tables.

Inserting a batch into DuckDB (even into a temporary table) costs about three times what writing it as
a Parquet file does, and it holds the run's one connection meanwhile; COPYing it into PostgreSQL's
staging tables cost the server as much as the merge's own insert, only to be read once. So each staged
batch is written as one file per staging table, into a folder of the run's own (`<root>/<run id>/
<table>/`: the backend says where the root is), and at the merge a temporary DuckDB view named like the
staging table reads them, casting every column to the table's type as an insert would. A run that ends
or is abandoned removes its folder; a killed run's folder is removed by the next run that is the
warehouse's only writer.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection


class StagedFiles:
    """The run's staging folder: one Parquet file per staged batch and staging table."""

    def __init__(self, root: Path | None, run_id: str, *, alone: bool) -> None:
        """`root`: the warehouse's staging folder (None: a temporary folder of the run's own); `alone`:
        this run is the warehouse's only writer, so every other run's folder there is a dead run's."""
        self.root = root
        self.run_id = run_id
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._columns: dict[str, set[str]] = {}  # table → columns some file holds
        if root is None:
            self.folder = Path(tempfile.mkdtemp(prefix="lofte-staging-"))
            return
        if alone:
            shutil.rmtree(root, ignore_errors=True)
        # The facts are de-identified, but still nobody else's to read: the folders are the owner's.
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder = root / run_id
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(mode=0o700)

    def write(self, table: sa.Table, frame: pd.DataFrame, file_seq: int) -> None:
        """One batch of one table, of the input file `file_seq`; columns are matched by name, as an
        insert would. The run's id is not written: every file in the folder is the run's (`view`)."""
        columns = [c.name for c in table.columns if c.name in frame.columns and c.name not in _IMPLIED]
        rows = pa.Table.from_pandas(frame, columns=columns, preserve_index=False).replace_schema_metadata(
            None
        )
        rows = rows.append_column("file_seq", pa.array(np.full(rows.num_rows, file_seq, dtype=np.int64)))
        with self._lock:
            number = next(self._numbers)
            self._columns.setdefault(table.name, set()).update([*columns, "file_seq"])
        folder = self.folder / table.name
        folder.mkdir(exist_ok=True)
        # Min/max statistics for numbers and times only (the merge filters on year, file_seq and line):
        # those of the text columns, a unique case number on every row, took a third of the write.
        counted = [
            f.name
            for f in rows.schema
            if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        ]
        # Named by the input file's sequence number: a file found unreadable part-way drops its own.
        pq.write_table(
            rows,
            folder / f"{file_seq:06d}-{number:08d}.parquet",
            compression="snappy",
            write_statistics=counted,
        )

    def drop(self, file_seq: int) -> None:
        for path in self.folder.glob(f"*/{file_seq:06d}-*.parquet"):
            path.unlink()

    def view(self, conn: Connection, table: sa.Table) -> None:
        """(Re)make the temporary view `table.name`: the staged files' rows, typed as the table's columns
        (no file yet: no row)."""
        files = sorted((self.folder / table.name).glob("*.parquet"))
        written = self._columns.get(table.name, set())
        preparer = conn.dialect.identifier_preparer

        def value(column: str) -> str:
            if column == "run_id":
                return _literal(self.run_id)
            return preparer.quote(column) if files and column in written else "NULL"

        columns = ", ".join(
            f"CAST({value(c.name)} AS {c.type.compile(dialect=conn.dialect)}) AS {preparer.quote(c.name)}"
            for c in table.columns
        )
        if files:
            listed = ", ".join(_literal(str(p)) for p in files)
            source = f"read_parquet([{listed}], union_by_name = true)"
        else:
            source = "(SELECT 1) AS nothing WHERE false"
        name = preparer.quote(table.name)
        conn.exec_driver_sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS SELECT {columns} FROM {source}")

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.root is not None:
            with contextlib.suppress(OSError):  # empty now, unless someone else's file lies there
                self.root.rmdir()


_IMPLIED = ("run_id", "file_seq")  # the folder's run; the file's number, written by `write` itself


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
