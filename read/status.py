"""What the warehouse holds, for `lofte status`: per kommun-year the sources loaded, the data's last date
per source, the last run of each kind, and the runs that failed since the last success."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from schemas import warehouse as w

FACTS = {"status": w.fact_brott, "storm": w.fact_handelserapport, "activities": w.fact_aktivitet}


@dataclass
class SourceLoaded:
    """One source of one kommun-year: its rows, and the file loaded last with the dates it holds there."""

    source: str
    rows: int
    latest_file: str | None
    latest_loaded_at: datetime | None
    first_date: date
    last_date: date


@dataclass
class RunSeen:
    run_id: str
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    message: str | None


@dataclass
class WarehouseStatus:
    partitions: dict[tuple[str, int], list[SourceLoaded]] = field(default_factory=dict)
    last_date: dict[str, date] = field(default_factory=dict)  # source → the latest date in the data
    last_runs: list[RunSeen] = field(default_factory=list)  # the last of each kind
    failed_since_success: list[RunSeen] = field(default_factory=list)


def read_status(conn: Connection) -> WarehouseStatus:
    status = WarehouseStatus()
    # A file's place in the load order: its run's start, then its place in the run. A file loaded twice
    # counts by its latest load.
    lf, lr = w.load_file.c, w.load_run.c
    files = {
        sha: (name, loaded_at, (started, seq))
        for sha, name, loaded_at, started, seq in conn.execute(
            sa.select(lf.sha256, lf.file_name, lf.loaded_at, lr.started_at, lf.file_seq)
            .join(w.load_run, lr.run_id == lf.run_id)
            .where(lf.status == "loaded")
            .order_by(lr.started_at, lf.file_seq)
        )
    }
    order = {sha: (_naive(started), seq) for sha, (_, _, (started, seq)) in files.items()}
    for source, table in FACTS.items():
        t = table.c
        grouped = conn.execute(
            sa.select(
                t.kommunkod,
                t.year,
                t.file_sha256,
                sa.func.count(),
                sa.func.min(t.datum),
                sa.func.max(t.datum),
            ).group_by(t.kommunkod, t.year, t.file_sha256)
        ).all()
        per_partition: dict[tuple[str, int], list[tuple[str, int, date, date]]] = {}
        for kommunkod, year, sha, n, first, last in grouped:
            per_partition.setdefault((kommunkod, int(year)), []).append((sha, int(n), first, last))
            if source not in status.last_date or last > status.last_date[source]:
                status.last_date[source] = last
        for key, by_file in per_partition.items():
            sha, _, first, last = max(by_file, key=lambda f: order.get(f[0], (datetime.min, 0)))
            name, loaded_at = files[sha][:2] if sha in files else (None, None)
            status.partitions.setdefault(key, []).append(
                SourceLoaded(source, sum(f[1] for f in by_file), name, loaded_at, first, last)
            )
    runs = [
        RunSeen(*row)
        for row in conn.execute(
            sa.select(
                w.load_run.c.run_id,
                w.load_run.c.kind,
                w.load_run.c.status,
                w.load_run.c.started_at,
                w.load_run.c.finished_at,
                w.load_run.c.message,
            ).order_by(w.load_run.c.started_at.desc())
        )
    ]
    seen: set[str] = set()
    for run in runs:
        if run.kind not in seen:
            seen.add(run.kind)
            status.last_runs.append(run)
    for run in runs:  # newest first, up to the last success
        if run.status == "finished":
            break
        if run.status in ("failed", "interrupted"):
            status.failed_since_success.append(run)
    status.partitions = dict(sorted(status.partitions.items()))
    return status


def _naive(moment: datetime) -> datetime:
    """Comparable whatever the backend returns (DuckDB: naive UTC; PostgreSQL: aware)."""
    return moment.replace(tzinfo=None) if moment.tzinfo else moment
