"""A run's life in the warehouse: registered, its files staged one by one, then merged or abandoned.

Staging is done batch by batch so memory stays flat; nothing a reader or an analyst sees changes until
the run's merge (load/merge.py) commits. A run killed before then leaves only its staged files (beside
a DuckDB warehouse, in LOFTE_STAGING_DIR for PostgreSQL) and a `load_run` row still marked 'running',
which the next run marks 'interrupted' and clears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pandas as pd
import sqlalchemy as sa

from load.backend import StagedBatch
from load.warehouse import Warehouse, now_utc
from schemas import warehouse as w
from schemas.contracts import Source
from transform.rows import TypedBatch

FACT_STAGING = {
    Source.STATUS: (w.stg_brott, w.stg_brott_area),
    Source.STORM: (w.stg_handelserapport, w.stg_handelserapport_area),
    Source.ACTIVITIES: (w.stg_aktivitet, None),
}
# Without the run lock (a run opened by other means), a 'running' run is taken as dead after this long.
STALE_AFTER = timedelta(hours=12)


@dataclass
class RejectedLines:
    """A file's rows rejected for one reason: how many, and the first lines (every one of them is in
    `rejected_row`). Not the whole list: a run's summary travels through Prefect, which walks every
    value of a task's parameters and a flow's result (5 s per million line numbers, three times)."""

    rows: int = 0
    first: list[int] = field(default_factory=list)

    def add(self, lines: pd.Series) -> None:
        """A batch's lines, batches in file order."""
        self.rows += len(lines)
        if len(self.first) < FIRST_LINES_KEPT:
            self.first.extend(int(x) for x in lines.iloc[: FIRST_LINES_KEPT - len(self.first)])


FIRST_LINES_KEPT = 10  # as many as the command's output shows


@dataclass
class FileAudit:
    """What one input file gave: rows_read = rows_loaded + rows_rejected."""

    file_seq: int
    source: Source
    path: str
    sha256: str | None = None
    size_bytes: int | None = None
    encoding: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_with_warnings: int = 0
    status: str = "reading"  # reading | staged | unreadable | loaded
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    rejection_reasons: dict[str, RejectedLines] = field(default_factory=dict)
    values_redacted: int = 0  # text values in which a personnummer was replaced

    def add(self, typed: TypedBatch) -> None:
        self.rows_loaded += len(typed.facts)
        self.rows_rejected += len(typed.rejected)
        self.rows_read = self.rows_loaded + self.rows_rejected
        self.values_redacted += typed.values_redacted
        self.rows_with_warnings += int(typed.warnings["line"].nunique()) if len(typed.warnings) else 0
        for reason, lines in typed.rejected.groupby("reason")["line"]:
            self.rejection_reasons.setdefault(str(reason), RejectedLines()).add(lines)


def start_run(warehouse: Warehouse, run_id: str, kind: str) -> None:
    """Register the run, and clear what runs that died left in staging (a run stages in Parquet files
    of its own, load/staged_files.py, in a folder the backend names: load/backend.py)."""
    # Runs never overlap (DuckDB: this process holds the file; PostgreSQL: this process holds the run
    # lock), so any other 'running' run is one that died.
    alone = warehouse.holds_run_lock
    with warehouse.begin() as conn:
        warehouse.backend.prepare_staging(conn, run_id, alone=alone)
    with warehouse.begin() as conn:
        running = w.load_run.c.status == "running"
        dead = running if alone else running & (w.load_run.c.started_at < now_utc() - STALE_AFTER)
        conn.execute(
            sa.update(w.load_run)
            .where(dead)
            .values(status="interrupted", message="the process stopped before its load committed")
        )
        finished = sa.select(w.load_run.c.run_id).where(w.load_run.c.status != "running")
        warehouse.backend.drop_finished_staging(conn, finished)
        conn.execute(
            sa.insert(w.load_run).values(run_id=run_id, kind=kind, status="running", started_at=now_utc())
        )


def stage_batch(
    warehouse: Warehouse,
    run_id: str,
    audit: FileAudit,
    typed: TypedBatch,
    areas: pd.DataFrame | None,
) -> None:
    """Stage one typed batch (facts, area memberships, rejected rows, warnings) at once."""
    fact_table, area_table = FACT_STAGING[audit.source]
    frames = [(fact_table, typed.facts)]  # the file's SHA-256 joins at merge
    if area_table is not None and areas is not None and len(areas):
        frames.append((area_table, areas))
    if len(typed.rejected):
        rejected = typed.rejected.assign(file_sha256=audit.sha256, source=str(audit.source))
        frames.append((w.stg_rejected_row, rejected.astype({"year": "Int64"})))
    if len(typed.warnings):
        warnings = typed.warnings.assign(file_sha256=audit.sha256, source=str(audit.source))
        frames.append((w.stg_row_warning, warnings))
    warehouse.backend.stage(StagedBatch(run_id, audit.file_seq, frames))


def record_file(warehouse: Warehouse, run_id: str, audit: FileAudit) -> None:
    """Write (or rewrite) the file's audit row; it says 'loaded' only once the run's merge commits."""
    values = {
        "source": str(audit.source),
        "file_name": audit.path.rsplit("/", 1)[-1],
        "file_path": audit.path,
        "sha256": audit.sha256,
        "size_bytes": audit.size_bytes,
        "encoding": audit.encoding,
        "rows_read": audit.rows_read,
        "rows_loaded": audit.rows_loaded,
        "rows_rejected": audit.rows_rejected,
        "rows_with_warnings": audit.rows_with_warnings,
        "status": audit.status,
        "error": audit.error,
        "warnings": "\n".join(audit.warnings) or None,
        "loaded_at": now_utc(),
    }
    key = (w.load_file.c.run_id == run_id) & (w.load_file.c.file_seq == audit.file_seq)
    with warehouse.begin() as conn:
        conn.execute(sa.delete(w.load_file).where(key))
        conn.execute(sa.insert(w.load_file).values(run_id=run_id, file_seq=audit.file_seq, **values))


def drop_staged_file(warehouse: Warehouse, run_id: str, file_seq: int) -> None:
    """A file that turned out unreadable part-way: none of its rows may reach the merge."""
    with warehouse.begin() as conn:
        warehouse.backend.drop_staged(conn, run_id, file_seq)


def abandon_run(warehouse: Warehouse, run_id: str, message: str, status: str = "failed") -> None:
    """A run that failed (or was interrupted) before or during its merge: mark it and drop its staging
    rows. A run already finished keeps its status (an interrupt after the commit changed nothing)."""
    with warehouse.begin() as conn:
        conn.execute(
            sa.update(w.load_run)
            .where(w.load_run.c.run_id == run_id, w.load_run.c.status == "running")
            .values(status=status, finished_at=now_utc(), message=message[:1000])
        )
        warehouse.backend.drop_staged(conn, run_id)
