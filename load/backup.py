"""A consistent copy of a DuckDB warehouse: taken while holding the file, as a run does.

A DuckDB file has one writer: opening it as a writer waits for a running load (up to the lock wait) and
keeps the next one out until the copy is done. CHECKPOINT first folds the write-ahead log into the file,
so the copy is the whole warehouse. PostgreSQL warehouses are backed up with pg_dump
(docs/operations.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa

from load.warehouse import Warehouse
from load.warehouse_url import WarehouseUrl
from schemas import warehouse as w
from schemas.errors import WarehouseError
from schemas.settings import Settings


def backup_duckdb(target: WarehouseUrl, dest: Path, settings: Settings | None = None) -> int:
    """Copy the warehouse file to `dest` (not overwriting); returns the copy's schema revision."""
    if target.path is None:
        raise WarehouseError("lofte backup copies a DuckDB file: back up PostgreSQL with pg_dump")
    if not target.path.exists():
        raise WarehouseError(f"{target.path}: no such warehouse file")
    if dest.exists():
        raise WarehouseError(f"{dest} exists: choose a new file name")
    store = Warehouse(target, settings=settings)  # waits while a run holds the file
    try:
        with store.begin() as conn:
            conn.execute(sa.text("CHECKPOINT"))
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        shutil.copyfile(target.path, partial)  # still holding the file: no run can write meanwhile
        partial.rename(dest)
    finally:
        store.dispose()
    copy = Warehouse(str(dest), settings=settings, read_only=True)
    try:
        with copy.begin() as conn:
            return int(conn.execute(sa.select(sa.func.max(w.schema_version.c.version))).scalar_one())
    finally:
        copy.dispose()
