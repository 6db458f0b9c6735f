"""A run's life as plain functions: open the warehouse, begin, stage, merge, finish or abandon.

The Prefect flows (flows/) wrap each step in a task; `load_exports` runs the same steps in this process
without orchestration (tests, profiling, embedding). Both go through `run_guard`: a run that fails is
marked failed and its staged rows dropped, and the warehouse is always released.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from load.merge import MergeResult, merge_run
from load.merge import merge_backfill as merge_backfill_run
from load.staging import FileAudit, abandon_run, start_run
from load.warehouse import Warehouse
from load.warehouse_url import WarehouseUrl
from pipeline import interrupt
from pipeline.config import RunConfig
from pipeline.memory import release_freed_memory
from pipeline.stage import stage_export
from schemas.contracts import Source
from schemas.errors import DiskFullError
from schemas.promises import Promises
from schemas.settings import Settings
from transform.areas import Area


@dataclass
class RunSummary:
    run_id: str
    audits: list[FileAudit] = field(default_factory=list)
    merged: MergeResult | None = None
    skipped: list[str] = field(default_factory=list)  # entries of input folders not read, one line each
    not_read: list[str] = field(default_factory=list)  # inbox entries outside the source folders

    @property
    def unreadable(self) -> list[FileAudit]:
        return [a for a in self.audits if a.status == "unreadable"]


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and unique: the UTC start time and a random suffix."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def open_warehouse(target: WarehouseUrl | str | None, settings: Settings | None = None) -> Warehouse:
    """Connect, take the run lock (runs never interleave), and upgrade the schema in place."""
    warehouse = Warehouse(target, settings=settings)
    try:
        warehouse.hold_run_lock()
        warehouse.migrate()
    except BaseException:
        warehouse.dispose()
        raise
    return warehouse


@contextmanager
def run_guard(
    warehouse: Warehouse,
    run_id: str,
    on_failure: Callable[[Warehouse, str, BaseException], None] | None = None,
) -> Iterator[None]:
    """A run that fails is marked failed and its staged rows dropped; the warehouse is released always.
    `on_failure`: the step that marks it, `abandon` by default (the flows pass their task of it)."""
    try:
        yield
    except BaseException as exc:
        end_failed_run(warehouse, run_id, exc, on_failure)
        raise
    finally:
        warehouse.dispose()


def end_failed_run(
    warehouse: Warehouse,
    run_id: str,
    exc: BaseException,
    on_failure: Callable[[Warehouse, str, BaseException], None] | None = None,
) -> None:
    """Mark a run that failed (`on_failure`, `abandon` by default) or was interrupted, and drop its
    staged rows."""
    if interrupt.is_interrupt(exc) or interrupt.requested():
        # Plain function, not the flow's task: after a signal the orchestration may be gone, and the
        # reading threads are stopped first so nothing is staged after the clean-up.
        interrupt.request()
        abandon_interrupted(warehouse, run_id)
    else:
        # Marking the run can fail for the same reason (a full disk): the first cause is the one
        # reported, and the next run finds this one 'running' and marks it interrupted.
        with suppress(Exception):
            (on_failure or abandon)(warehouse, run_id, exc)


# What a run needs on a DuckDB warehouse's disk, estimated from its inputs: the new facts, the write-ahead
# log, the staged Parquet files and DuckDB's spill files stay well under twice the exports' size; the
# overhead covers the schema and the crime codes of a new warehouse.
FREE_SPACE_FACTOR = 2.0
FREE_SPACE_OVERHEAD_BYTES = 16 * 2**20
# A run on PostgreSQL needs room on its own machine for the staged Parquet files only (63 MB for the
# 444 MB of exports of the replicated national sample) and what the merge's DuckDB may spill.
STAGING_SPACE_FACTOR = 1.0


def begin_run(warehouse: Warehouse, run_id: str, kind: str, inputs: Sequence[Path] = ()) -> None:
    """Check the disk has room for the run, then register it."""
    check_free_space(warehouse, inputs)
    start_run(warehouse, run_id, kind)


def check_free_space(warehouse: Warehouse, inputs: Sequence[Path]) -> None:
    """A disk without room for the run: one line before anything is written (a disk that fills during a
    DuckDB commit leaves DuckDB's write-ahead log to repair). DuckDB: the warehouse file's disk;
    PostgreSQL: the disk the run stages on (the server's own disk is not visible from here)."""
    path = warehouse.target.path
    if path is not None:
        folder, factor = path.resolve().parent, FREE_SPACE_FACTOR
    else:
        root = warehouse.backend.staging_root()
        if root is None:
            return
        folder, factor = _nearest_existing(root.resolve()), STAGING_SPACE_FACTOR
    size = sum(p.stat().st_size for p in inputs if p.is_file())
    need = int(FREE_SPACE_OVERHEAD_BYTES + factor * size)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise DiskFullError(
            f"disk full: {folder} has {_mb(free)} free, and a run of {len(inputs)} files "
            f"({_mb(size)}) needs about {_mb(need)}: make room there and run again (nothing changed)"
        )


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def abandon(warehouse: Warehouse, run_id: str, reason: BaseException) -> None:
    abandon_run(warehouse, run_id, f"{type(reason).__name__}: {reason}"[:500])


def abandon_interrupted(warehouse: Warehouse, run_id: str) -> None:
    """Marked 'interrupted' with its staging cleared, on a fresh connection: the one the signal reached
    may be mid-statement."""
    abandon_run(warehouse, run_id, "interrupted by a signal before its load committed", "interrupted")


def merge_files(
    warehouse: Warehouse,
    run_id: str,
    promises: list[Promises],
    areas: list[Area] | None,
    updated_at: datetime | None = None,
    *,
    population: pd.DataFrame | None = None,
) -> MergeResult:
    """The one transaction that publishes the run."""
    release_freed_memory()
    return merge_run(warehouse, run_id, promises, areas, updated_at=updated_at, population=population)


def merge_backfill(
    warehouse: Warehouse,
    run_id: str,
    promises: list[Promises],
    years: list[int],
    areas: list[Area] | None,
    updated_at: datetime,
) -> MergeResult:
    """Every backfilled year (its facts, rejected rows and partitions), then the rows without a readable
    date, the warnings and the areas: one transaction, so a killed backfill publishes nothing."""
    release_freed_memory()
    return merge_backfill_run(warehouse, run_id, promises, years, areas, updated_at)


def load_exports(
    target: WarehouseUrl | str | None,
    files: list[tuple[Source, Path]],
    config: RunConfig,
    *,
    settings: Settings | None = None,
    run_id: str | None = None,
) -> RunSummary:
    """A whole `lofte run` without Prefect: the flow's steps in this process, one file after another."""
    warehouse = open_warehouse(target, settings)
    summary = RunSummary(run_id=run_id or new_run_id())
    with run_guard(warehouse, summary.run_id):
        begin_run(warehouse, summary.run_id, "run", [path for _, path in files])
        summary.audits = [
            stage_export(warehouse, summary.run_id, file_seq, source, path, config)
            for file_seq, (source, path) in enumerate(files, start=1)
        ]
        summary.merged = merge_files(
            warehouse, summary.run_id, config.promises, config.areas, population=config.population
        )
    return summary
